package warmup

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseSchedules(t *testing.T) {
	s, err := ParseSchedules("")
	require.NoError(t, err)
	require.Equal(t, map[string]Schedule{Default: DefaultSchedule}, s)

	s, err = ParseSchedules("default:start=40/ceiling=5000, gmail:start=10/double=1.5 ,yahoo:ceiling=800")
	require.NoError(t, err)
	require.Equal(t, Schedule{Start: 40, DoubleDays: 3, Ceiling: 5000}, s[Default])
	require.Equal(t, Schedule{Start: 10, DoubleDays: 1.5, Ceiling: 5000}, s["gmail"], "the default's keys where not given")
	require.Equal(t, Schedule{Start: 40, DoubleDays: 3, Ceiling: 800}, s["yahoo"])

	for spec, want := range map[string]string{
		"gmail":                         "want NAME:KEY=VALUE",
		"hotmail:start=3":               `unknown destination "hotmail"`,
		"gmail:start=3,gmail:start=4":   "set twice",
		"gmail:start=0":                 "start must be an integer from 1",
		"gmail:double=0":                "double (days over which the cap doubles)",
		"gmail:speed=1":                 `unknown key "speed"`,
		"gmail:start=100/ceiling=50":    "ceiling 50 is below start 100",
		"default:start=20000/ceiling=1": "below start",
	} {
		_, err := ParseSchedules(spec)
		require.ErrorContains(t, err, want, spec)
	}
}

func TestCap(t *testing.T) {
	day1 := time.Date(2026, 12, 1, 23, 59, 0, 0, time.UTC)
	ip := netip.MustParseAddr("192.0.2.1")
	c, err := New("gmail:start=10/double=1/ceiling=50", map[netip.Addr]time.Time{ip: day1})
	require.NoError(t, err)
	for _, tc := range []struct {
		at      time.Time
		dest    string
		cap     int
		limited bool
	}{
		{day1, "gmail", 10, true},
		{day1.Add(2 * time.Minute), "gmail", 20, true}, // the next UTC day
		{day1.Add(-48 * time.Hour), "gmail", 10, true}, // before the start: day 1
		{day1.Add(48 * time.Hour), "gmail", 40, true},
		{day1.Add(72 * time.Hour), "gmail", 0, false}, // 80 ≥ 50: done
		{day1, "gmx", 50, true},                       // the default schedule
		{day1, "mx.example.org", 50, true},            // a host of no provider: "other"
	} {
		got, limited := c.Cap(ip, tc.dest, tc.at)
		require.Equal(t, tc.limited, limited, "%s %s", tc.at, tc.dest)
		require.Equal(t, tc.cap, got, "%s %s", tc.at, tc.dest)
	}
	_, limited := c.Cap(netip.MustParseAddr("192.0.2.9"), "gmail", day1)
	require.False(t, limited, "an IP that does not warm up has no cap")
	_, limited = c.Cap(netip.MustParseAddr("::ffff:192.0.2.1"), "gmail", day1)
	require.True(t, limited, "an IPv4-mapped address is the IPv4 one")
}

func TestParseIPs(t *testing.T) {
	got, err := ParseIPs([]string{"192.0.2.1=2026-12-01", " 2001:db8::1 = 2026-11-30"})
	require.NoError(t, err)
	require.Equal(t, map[netip.Addr]time.Time{
		netip.MustParseAddr("192.0.2.1"):   time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		netip.MustParseAddr("2001:db8::1"): time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC),
	}, got)
	for in, want := range map[string]string{
		"192.0.2.1":               "want IP=YYYY-MM-DD",
		"host=2026-12-01":         "not an IP address",
		"192.0.2.1=yesterday":     "not a day",
		"fe80::1%eth0=2026-12-01": "not an IP address",
	} {
		_, err := ParseIPs([]string{in})
		require.ErrorContains(t, err, want, in)
	}
	_, err = ParseIPs([]string{"192.0.2.1=2026-12-01", "::ffff:192.0.2.1=2026-12-02"})
	require.ErrorContains(t, err, "given twice")
}

func FuzzParseSchedules(f *testing.F) {
	for _, s := range []string{"", "default:start=50/double=3/ceiling=100000", "gmail:start=1/double=0.1/ceiling=10000000,other:start=2",
		"x:y=z", ",,:/=", "gmail:double=1e-300", "gmail:double=NaN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseSchedules(spec)
		if err != nil {
			return
		}
		for name, sc := range s {
			if sc.Start < 1 || sc.Ceiling < sc.Start || !(sc.DoubleDays > 0) {
				t.Fatalf("%q: schedule %s out of range: %+v", spec, name, sc)
			}
			if d := sc.Days(); d < 1 || d > 100000 {
				t.Fatalf("%q: %s lasts %d days", spec, name, d)
			}
			if c, limited := sc.Cap(1); limited && (c < 1 || c >= sc.Ceiling) {
				t.Fatalf("%q: %s day 1 cap %d", spec, name, c)
			}
		}
	})
}

func FuzzParseIPs(f *testing.F) {
	for _, s := range []string{"192.0.2.1=2026-12-01", "2001:db8::1=2026-01-31", "=", "1.2.3.4=2026-02-30", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		got, err := ParseIPs(strings.Split(entry, ","))
		if err != nil {
			return
		}
		for ip, day := range got {
			if !ip.IsValid() || ip.Is4In6() || !day.Equal(Day(day)) {
				t.Fatalf("%q: %s %s", entry, ip, day)
			}
		}
	})
}
