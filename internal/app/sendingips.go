package app

import (
	"log/slog"
	"net/netip"
	"slices"
	"strings"

	"github.com/godwit/godwit/internal/config"
	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/metrics"
)

// sendingSources returns what binds the delivery worker's connections to
// the sending IPs (--bind-sending-ips, --ip-pool, --warmup-ips), nil when
// nothing is bound. An address this machine cannot bind stops start-up:
// every message of its pool would be deferred.
func sendingSources(cfg config.Config, db delivery.SourceStore, met *metrics.Metrics, log *slog.Logger) (*delivery.Sources, error) {
	pools, err := cfg.SendingPools()
	if err != nil || pools == nil {
		return nil, err
	}
	wu, err := cfg.WarmupConfig()
	if err != nil {
		return nil, err
	}
	var all []netip.Addr
	for _, name := range pools.Names() {
		ips := pools[name]
		var list []string
		for _, ip := range ips {
			list = append(list, ip.String())
			if !slices.Contains(all, ip) {
				all = append(all, ip)
			}
		}
		log.Info("delivery: sending IP pool", "pool", name, "ips", strings.Join(list, ","))
	}
	if err := delivery.CheckBindable(all); err != nil {
		return nil, err
	}
	for ip, start := range wu.IPs() {
		log.Info("delivery: sending IP warming up", "ip", ip, "started", start.Format("2006-01-02"))
	}
	return &delivery.Sources{Pools: pools, Warmup: wu, Store: db, Logger: log, Sent: met.WarmupSent, Capped: met.WarmupCapped}, nil
}
