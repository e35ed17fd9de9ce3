// Package warmup holds the daily sending caps of new IP addresses: a
// mailbox provider trusts an address it has never seen little, so a new
// sending IP starts with a small daily volume to each provider and doubles
// it every few days until it reaches a ceiling, at which point its warm-up
// is over and it has no cap.
//
// The schedule is per destination (a provider of internal/destination's
// MX rollup, or "other" for every host of no provider, counted together):
// --warmup sets the default and each destination's schedule; --warmup-ips
// names the addresses that warm up and the day each started. An address
// not named there has no cap.
//
// Caps count per (IP, destination, UTC day); the counts live in the
// database (internal/delivery's SourceStore), so that they hold across a
// restart and across worker nodes. This package only computes the caps:
// it is a leaf that internal/config validates the flags with.
package warmup

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/destination"
)

// Schedule is one destination's ramp: Start messages on the first day,
// doubling every DoubleDays days (a smooth ramp: the cap rises every day),
// until the cap reaches Ceiling, when the warm-up is over.
type Schedule struct {
	Start      int     // messages on day 1 (≥ 1)
	DoubleDays float64 // days over which the cap doubles (> 0)
	Ceiling    int     // the cap at which warm-up ends (≥ Start)
}

// DefaultSchedule: 50 a day to each provider on day 1, doubling every 3
// days, until 100 000 a day (day 34, about 5 weeks).
var DefaultSchedule = Schedule{Start: 50, DoubleDays: 3, Ceiling: 100000}

// Cap returns the cap of day (1 for the first day of the warm-up; a day
// before it counts as 1), and whether the warm-up still limits it (false:
// the ceiling is reached, no cap).
func (s Schedule) Cap(day int) (int, bool) {
	day = max(day, 1)
	c := float64(s.Start) * math.Exp2(float64(day-1)/s.DoubleDays)
	if c >= float64(s.Ceiling) || math.IsInf(c, 0) || math.IsNaN(c) {
		return 0, false
	}
	return int(c), true
}

// Days is how many days the warm-up of s lasts: the first day without a
// cap.
func (s Schedule) Days() int {
	for d := 1; d < 100000; d++ {
		if _, limited := s.Cap(d); !limited {
			return d
		}
	}
	return 100000
}

func (s Schedule) String() string {
	return fmt.Sprintf("start=%d/double=%s/ceiling=%d", s.Start, strconv.FormatFloat(s.DoubleDays, 'f', -1, 64), s.Ceiling)
}

// Default is the name under which --warmup sets the schedule of every
// destination without its own.
const Default = "default"

// Config is the warm-up: the schedules and the addresses that warm up.
// The zero value warms up nothing.
type Config struct {
	schedules map[string]Schedule // by destination name, Default included
	ips       map[netip.Addr]time.Time
}

// New returns the warm-up of ips (address → the UTC day its warm-up
// started) with the schedules of spec (ParseSchedules).
func New(spec string, ips map[netip.Addr]time.Time) (Config, error) {
	s, err := ParseSchedules(spec)
	if err != nil {
		return Config{}, err
	}
	return Config{schedules: s, ips: ips}, nil
}

// Warming reports whether ip warms up at all (named in --warmup-ips).
func (c Config) Warming(ip netip.Addr) bool {
	_, ok := c.ips[ip.Unmap()]
	return ok
}

// IPs lists the addresses that warm up, with the day each started.
func (c Config) IPs() map[netip.Addr]time.Time { return c.ips }

// Schedule is dest's schedule (dest a destination name, as destination.Of
// returns, or its Group).
func (c Config) Schedule(dest string) Schedule {
	if s, ok := c.schedules[destination.Group(dest)]; ok {
		return s
	}
	if s, ok := c.schedules[Default]; ok {
		return s
	}
	return DefaultSchedule
}

// Cap returns ip's cap to dest on the UTC day of now and whether there is
// one: false for an address that does not warm up or whose warm-up is
// over.
func (c Config) Cap(ip netip.Addr, dest string, now time.Time) (int, bool) {
	start, ok := c.ips[ip.Unmap()]
	if !ok {
		return 0, false
	}
	return c.Schedule(dest).Cap(DayNumber(start, now))
}

// DayNumber is the day of the warm-up that now falls on, for a warm-up
// that started on the UTC day of start: 1 on that day.
func DayNumber(start, now time.Time) int {
	s := Day(start)
	n := Day(now)
	return int(n.Sub(s).Hours()/24) + 1
}

// Day is the UTC midnight that begins t's day.
func Day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// DayKey is the day's name in the database: "2026-12-03".
func DayKey(t time.Time) string { return Day(t).Format(time.DateOnly) }

// NextDay is when the day after t's begins (UTC midnight): when the caps
// are counted afresh.
func NextDay(t time.Time) time.Time { return Day(t).AddDate(0, 0, 1) }

// Group is the destination under which dest's messages are counted: its
// provider, or "other" for every host of no provider.
func Group(dest string) string { return destination.Group(dest) }

// ParseSchedules parses --warmup: comma-separated entries
// NAME:KEY=VALUE[/KEY=VALUE…] where NAME is "default", a provider of the
// MX rollup table or "other", and KEY is start (messages on day 1, 1 to
// 10 000 000), double (days over which the cap doubles, 0.1 to 365) or
// ceiling (the cap that ends the warm-up, at least start), e.g.
// "default:start=50/double=3/ceiling=100000,gmail:start=20". A
// destination's keys not given are the default entry's; the default's not
// given are DefaultSchedule's. An empty spec is DefaultSchedule for all.
func ParseSchedules(spec string) (map[string]Schedule, error) {
	type partial struct {
		start, ceiling *int
		double         *float64
	}
	entries := map[string]partial{}
	names := append([]string{Default}, destination.Names()...)
	err := destination.ParseSpec(spec, "warm-up schedule", "default:start=50/double=3/ceiling=100000", names, func(name, key, val string) error {
		p := entries[name]
		switch key {
		case "start", "ceiling":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > 10000000 {
				return fmt.Errorf("%s must be an integer from 1 to 10000000, got %q", key, val)
			}
			if key == "start" {
				p.start = &n
			} else {
				p.ceiling = &n
			}
		case "double":
			d, err := strconv.ParseFloat(val, 64)
			if err != nil || math.IsNaN(d) || d < 0.1 || d > 365 {
				return fmt.Errorf("double (days over which the cap doubles) must be a number from 0.1 to 365, got %q", val)
			}
			p.double = &d
		default:
			return fmt.Errorf("unknown key %q (want start, double or ceiling)", key)
		}
		entries[name] = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	apply := func(base Schedule, p partial) Schedule {
		if p.start != nil {
			base.Start = *p.start
		}
		if p.double != nil {
			base.DoubleDays = *p.double
		}
		if p.ceiling != nil {
			base.Ceiling = *p.ceiling
		}
		return base
	}
	out := map[string]Schedule{Default: apply(DefaultSchedule, entries[Default])}
	for name, p := range entries {
		if name != Default {
			out[name] = apply(out[Default], p)
		}
	}
	for name, s := range out {
		if s.Ceiling < s.Start {
			return nil, fmt.Errorf("warm-up schedule %s: ceiling %d is below start %d", name, s.Ceiling, s.Start)
		}
	}
	return out, nil
}

// ParseIPs parses --warmup-ips: entries IP=YYYY-MM-DD, the address and the
// UTC day its warm-up started (day 1).
func ParseIPs(entries []string) (map[netip.Addr]time.Time, error) {
	out := map[netip.Addr]time.Time{}
	for _, e := range entries {
		ipText, dayText, ok := strings.Cut(strings.TrimSpace(e), "=")
		if !ok {
			return nil, fmt.Errorf("warm-up IP %q: want IP=YYYY-MM-DD (the day its warm-up started)", e)
		}
		ip, err := netip.ParseAddr(strings.TrimSpace(ipText))
		if err != nil || ip.Zone() != "" {
			return nil, fmt.Errorf("warm-up IP %q: %q is not an IP address", e, ipText)
		}
		day, err := time.Parse(time.DateOnly, strings.TrimSpace(dayText))
		if err != nil {
			return nil, fmt.Errorf("warm-up IP %q: %q is not a day YYYY-MM-DD", e, dayText)
		}
		ip = ip.Unmap()
		if _, dup := out[ip]; dup {
			return nil, fmt.Errorf("warm-up IP %s is given twice", ip)
		}
		out[ip] = day
	}
	return out, nil
}
