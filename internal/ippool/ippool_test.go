package ippool

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

func TestParse(t *testing.T) {
	sending := []string{"192.0.2.1", "192.0.2.2", "2001:db8::1"}
	p, err := Parse(nil, nil)
	require.NoError(t, err)
	require.Nil(t, p, "no sending IPs: no pools")

	p, err = Parse(nil, sending)
	require.NoError(t, err)
	require.Equal(t, Pools{Default: addrs(sending...)}, p)

	p, err = Parse([]string{"bulk=192.0.2.2", "tx=192.0.2.1, 2001:db8::1;default=192.0.2.1"}, sending)
	require.NoError(t, err)
	require.Equal(t, Pools{"bulk": addrs("192.0.2.2"), "tx": addrs("192.0.2.1", "2001:db8::1"), Default: addrs("192.0.2.1")}, p)
	require.Equal(t, []string{"bulk", "default", "tx"}, p.Names())

	for _, tc := range []struct {
		entries []string
		want    string
	}{
		{[]string{"bulk"}, "want NAME=IP"},
		{[]string{"b ulk=192.0.2.1"}, "want NAME=IP"},
		{[]string{"bulk=192.0.2.9"}, "not one of --sending-ips"},
		{[]string{"bulk=host"}, "not an IP address"},
		{[]string{"bulk=192.0.2.1,192.0.2.1"}, "given twice"},
		{[]string{"bulk=192.0.2.1", "bulk=192.0.2.2"}, `pool "bulk" is given twice`},
		{[]string{"bulk="}, "no address"},
	} {
		_, err := Parse(tc.entries, sending)
		require.ErrorContains(t, err, tc.want, tc.entries)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"bulk=192.0.2.1", "a=192.0.2.1,2001:db8::1;b=192.0.2.2", "=;=,", "default=::ffff:192.0.2.1"} {
		f.Add(s)
	}
	sending := []string{"192.0.2.1", "192.0.2.2", "2001:db8::1"}
	f.Fuzz(func(t *testing.T, entry string) {
		p, err := Parse([]string{entry}, sending)
		if err != nil {
			return
		}
		if len(p[Default]) == 0 {
			t.Fatalf("%q: no default pool", entry)
		}
		for name, ips := range p {
			if !ValidName(name) || len(ips) == 0 {
				t.Fatalf("%q: pool %q: %v", entry, name, ips)
			}
		}
	})
}
