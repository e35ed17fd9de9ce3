package config

import (
	"flag"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/ippool"
)

// TestSendingIPs: --ip-pool repeats (and takes ;-separated pools from the
// environment), pools and warm-up IPs must be sending IPs, and binding is
// off until asked for.
func TestSendingIPs(t *testing.T) {
	parse := func(args []string, env map[string]string) (Config, error) {
		c := Defaults()
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		c.Register(fs)
		if err := Parse(fs, args, func(k string) string { return env[k] }); err != nil {
			return c, err
		}
		return c, c.Validate()
	}
	c, err := parse([]string{"--sending-ips", "192.0.2.1,192.0.2.2"}, nil)
	require.NoError(t, err)
	require.False(t, c.BindsSendingIPs(), "--sending-ips alone is for SPF and doctor")
	p, err := c.SendingPools()
	require.NoError(t, err)
	require.Nil(t, p)

	c, err = parse([]string{"--sending-ips", "192.0.2.1,192.0.2.2", "--bind-sending-ips"}, nil)
	require.NoError(t, err)
	p, err = c.SendingPools()
	require.NoError(t, err)
	require.Equal(t, ippool.Pools{ippool.Default: {netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")}}, p)

	c, err = parse([]string{"--sending-ips", "192.0.2.1,192.0.2.2", "--ip-pool", "a=192.0.2.1", "--ip-pool", "b=192.0.2.2",
		"--warmup-ips", "192.0.2.2=2026-12-01", "--warmup", "gmail:start=10"}, nil)
	require.NoError(t, err)
	p, err = c.SendingPools()
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "default"}, p.Names())
	wu, err := c.WarmupConfig()
	require.NoError(t, err)
	capacity, limited := wu.Cap(netip.MustParseAddr("192.0.2.2"), "gmail", time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	require.True(t, limited)
	require.Equal(t, 10, capacity)

	c, err = parse(nil, map[string]string{"GODWIT_SENDING_IPS": "192.0.2.1,192.0.2.2", "GODWIT_IP_POOL": "a=192.0.2.1;b=192.0.2.2"})
	require.NoError(t, err)
	p, err = c.SendingPools()
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "default"}, p.Names())

	for want, args := range map[string][]string{
		"need --sending-ips":                     {"--bind-sending-ips"},
		"not one of --sending-ips":               {"--sending-ips", "192.0.2.1", "--ip-pool", "a=192.0.2.9"},
		"--warmup-ips: 192.0.2.9 is not one of":  {"--sending-ips", "192.0.2.1", "--warmup-ips", "192.0.2.9=2026-12-01"},
		`--warmup: warm-up schedule "gmail:x=1"`: {"--sending-ips", "192.0.2.1", "--warmup", "gmail:x=1"},
	} {
		_, err := parse(args, nil)
		require.ErrorContains(t, err, want, args)
	}
}
