package app

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/config"
	"github.com/godwit/godwit/internal/deliverability"
	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/ippool"
	"github.com/godwit/godwit/internal/store"
)

// poolStore finds the IP pool assigned to a domain.
type poolStore interface {
	IPPoolFor(ctx context.Context, teamID, domainID string) (string, error)
}

// reverseDNSLookup is the verifier's reverse DNS lookup of a domain's
// sending IPs: those of the pool assigned to the domain or its team (the
// default pool when none is, or the one assigned is not configured) when
// delivery binds to pools, else every --sending-ips address (none: the
// EHLO name's own addresses), compared with the EHLO name.
func reverseDNSLookup(cfg config.Config, db poolStore, r deliverability.PTRResolver, log *slog.Logger) (
	func(ctx context.Context, d *store.Domain, now time.Time) map[string]store.RecordCheck, error) {
	pools, err := cfg.SendingPools()
	if err != nil {
		return nil, err
	}
	var all []netip.Addr
	for _, s := range cfg.SendingIPs {
		if ip, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
			all = append(all, ip.Unmap())
		}
	}
	ehlo := cfg.HELOName()
	return func(ctx context.Context, d *store.Domain, now time.Time) map[string]store.RecordCheck {
		ips := all
		if pools != nil {
			name, err := db.IPPoolFor(ctx, d.TeamID, d.ID)
			if err != nil {
				log.Warn("domain check: reading the domain's IP pool failed; checking the default pool's reverse DNS",
					"domain", d.Name, "err", err)
			}
			p, ok := pools[name]
			if !ok {
				p = pools[ippool.Default]
			}
			ips = p
		}
		return deliverability.LookupReverseDNS(ctx, r, ehlo, ips, now)
	}, nil
}

var _ deliverability.PTRResolver = (*dnscheck.Resolver)(nil)
