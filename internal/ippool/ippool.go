// Package ippool holds the named pools of sending IP addresses (--ip-pool)
// that the delivery worker binds its outbound SMTP connections to. Every
// address of a pool is one of --sending-ips (the addresses published in
// SPF and checked by godwit doctor); the pool "default" is every sending
// IP unless --ip-pool sets it. A team, or one of its domains, is assigned
// a pool in the database (godwit ip-pools assign); the rest send from the
// default pool. It is a leaf: internal/config validates the flags with it.
package ippool

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Default is the pool of teams and domains assigned none.
const Default = "default"

// Pools are the pools by name, each with its addresses in the order given.
type Pools map[string][]netip.Addr

// Names lists the pools' names, sorted.
func (p Pools) Names() []string {
	names := make([]string, 0, len(p))
	for n := range p {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Parse returns the pools of --ip-pool entries, each NAME=IP[,IP…] (one
// value may hold several, separated by ";", for the environment variable),
// over the --sending-ips addresses sending: every pool address must be one
// of them. Without a "default" entry, the default pool is every sending
// IP. No sending IPs and no entries: no pools (nil), delivery binds to
// nothing.
func Parse(entries []string, sending []string) (Pools, error) {
	all := make([]netip.Addr, 0, len(sending))
	for _, s := range sending {
		ip, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("--sending-ips: %q is not an IP address", s)
		}
		all = append(all, ip.Unmap())
	}
	pools := Pools{}
	for _, value := range entries {
		for entry := range strings.SplitSeq(value, ";") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			name, list, ok := strings.Cut(entry, "=")
			name = strings.TrimSpace(name)
			if !ok || !ValidName(name) {
				return nil, fmt.Errorf("--ip-pool %q: want NAME=IP[,IP…], NAME of letters, digits, - and _ (at most 64)", entry)
			}
			if _, dup := pools[name]; dup {
				return nil, fmt.Errorf("--ip-pool: the pool %q is given twice", name)
			}
			var ips []netip.Addr
			for s := range strings.SplitSeq(list, ",") {
				if s = strings.TrimSpace(s); s == "" {
					continue
				}
				ip, err := netip.ParseAddr(s)
				if err != nil || ip.Zone() != "" {
					return nil, fmt.Errorf("--ip-pool %s: %q is not an IP address", name, s)
				}
				ip = ip.Unmap()
				if !slices.Contains(all, ip) {
					return nil, fmt.Errorf("--ip-pool %s: %s is not one of --sending-ips (add it there, so that SPF and godwit doctor know it)", name, ip)
				}
				if slices.Contains(ips, ip) {
					return nil, fmt.Errorf("--ip-pool %s: %s is given twice", name, ip)
				}
				ips = append(ips, ip)
			}
			if len(ips) == 0 {
				return nil, fmt.Errorf("--ip-pool %s: no address", name)
			}
			pools[name] = ips
		}
	}
	if _, ok := pools[Default]; !ok && len(all) > 0 {
		pools[Default] = all
	}
	if len(pools) == 0 {
		return nil, nil
	}
	return pools, nil
}

// ValidName reports whether name may name a pool.
func ValidName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
