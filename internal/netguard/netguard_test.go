package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
)

func TestPublic(t *testing.T) {
	tests := []struct {
		ip     string
		public bool
		what   string
	}{
		// Public.
		{"8.8.8.8", true, "public v4"},
		{"1.1.1.1", true, "public v4"},
		{"93.184.216.34", true, "public v4"},
		{"2606:4700::1111", true, "public v6"},
		{"2001:4860:4860::8888", true, "public v6"},
		{"2a00:1450:4001:80b::200e", true, "public v6"},

		// Unspecified and "this network" 0.0.0.0/8.
		{"0.0.0.0", false, "unspecified v4"},
		{"0.1.2.3", false, "0/8"},
		{"0.255.255.255", false, "0/8 end"},
		{"1.0.0.0", true, "just after 0/8"},
		{"::", false, "unspecified v6"},

		// Loopback.
		{"127.0.0.1", false, "loopback"},
		{"127.255.255.254", false, "loopback end"},
		{"126.255.255.255", true, "just before 127/8"},
		{"128.0.0.0", true, "just after 127/8"},
		{"::1", false, "loopback v6"},

		// Private.
		{"10.0.0.1", false, "10/8"},
		{"10.255.255.255", false, "10/8 end"},
		{"11.0.0.0", true, "just after 10/8"},
		{"9.255.255.255", true, "just before 10/8"},
		{"172.16.0.1", false, "172.16/12"},
		{"172.31.255.255", false, "172.16/12 end"},
		{"172.15.255.255", true, "just before 172.16/12"},
		{"172.32.0.0", true, "just after 172.16/12"},
		{"192.168.0.1", false, "192.168/16"},
		{"192.168.255.255", false, "192.168/16 end"},
		{"192.169.0.0", true, "just after 192.168/16"},
		{"fc00::1", false, "ULA fc00::/7"},
		{"fd12:3456:789a::1", false, "ULA fd00::/8"},
		{"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false, "ULA end"},

		// Link-local.
		{"169.254.0.1", false, "link-local"},
		{"169.254.169.254", false, "cloud metadata"},
		{"169.253.255.255", true, "just before 169.254/16"},
		{"169.255.0.0", true, "just after 169.254/16"},
		{"fe80::1", false, "link-local v6"},
		{"fe80::1%eth0", false, "link-local v6 with zone"},
		{"febf:ffff::1", false, "fe80::/10 end"},
		{"fec0::1", false, "site-local (deprecated)"},

		// Multicast.
		{"224.0.0.1", false, "multicast"},
		{"239.255.255.250", false, "multicast SSDP"},
		{"ff02::1", false, "multicast v6"},
		{"ff0e::1", false, "global multicast v6"},

		// CGNAT.
		{"100.64.0.1", false, "CGNAT"},
		{"100.127.255.255", false, "CGNAT end"},
		{"100.63.255.255", true, "just before CGNAT"},
		{"100.128.0.0", true, "just after CGNAT"},

		// IETF protocol assignments, 6to4 relay, benchmarking.
		{"192.0.0.1", false, "192.0.0/24"},
		{"192.0.0.255", false, "192.0.0/24 end"},
		{"192.0.1.0", true, "just after 192.0.0/24"},
		{"192.88.99.1", false, "6to4 relay anycast"},
		{"198.18.0.1", false, "benchmarking"},
		{"198.19.255.255", false, "benchmarking end"},
		{"198.17.255.255", true, "just before 198.18/15"},
		{"198.20.0.0", true, "just after 198.18/15"},

		// Reserved and broadcast.
		{"240.0.0.1", false, "reserved 240/4"},
		{"254.255.255.255", false, "reserved 240/4"},
		{"255.255.255.255", false, "broadcast"},
		{"223.255.255.255", true, "just before multicast"},

		// Documentation.
		{"192.0.2.1", false, "TEST-NET-1"},
		{"198.51.100.7", false, "TEST-NET-2"},
		{"203.0.113.200", false, "TEST-NET-3"},
		{"203.0.114.0", true, "just after TEST-NET-3"},
		{"2001:db8::1", false, "documentation v6"},
		{"2001:db8:ffff::1", false, "documentation v6"},
		{"3fff::1", false, "documentation v6 (RFC 9637)"},

		// IPv4-mapped IPv6: unmapped first.
		{"::ffff:127.0.0.1", false, "mapped loopback"},
		{"::ffff:10.1.2.3", false, "mapped private"},
		{"::ffff:169.254.169.254", false, "mapped metadata"},
		{"::ffff:0.0.0.0", false, "mapped unspecified"},
		{"::ffff:8.8.8.8", true, "mapped public"},

		// IPv4-compatible (deprecated): outside 2000::/3.
		{"::127.0.0.1", false, "v4-compatible loopback"},
		{"::8.8.8.8", false, "v4-compatible public"},

		// NAT64 64:ff9b::/96: the embedded IPv4 address decides.
		{"64:ff9b::127.0.0.1", false, "NAT64 loopback"},
		{"64:ff9b::10.0.0.1", false, "NAT64 private"},
		{"64:ff9b::a9fe:a9fe", false, "NAT64 metadata"},
		{"64:ff9b::8.8.8.8", true, "NAT64 public"},
		{"64:ff9b:1::8.8.8.8", false, "local-use NAT64"},

		// 6to4 2002::/16 and Teredo 2001::/32: refused whole.
		{"2002:7f00:1::1", false, "6to4 loopback"},
		{"2002:a9fe:a9fe::1", false, "6to4 metadata"},
		{"2002:808:808::1", false, "6to4 public (refused whole)"},
		{"2001::1", false, "Teredo"},
		{"2001:2::1", false, "benchmarking v6"},
		{"2001:200::1", true, "just after 2001::/23"},

		// Other IPv6 outside global unicast.
		{"100::1", false, "discard-only"},
		{"5f00::1", false, "SRv6 SIDs"},
		{"4000::1", false, "unassigned"},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.ip)
			require.Equal(t, tt.public, Public(ip), "%s (%s)", tt.ip, tt.what)
		})
	}
	require.False(t, Public(netip.Addr{}), "the invalid Addr")
}

func TestControl(t *testing.T) {
	tests := []struct {
		addr    string
		refused string // the RefusedError address, "" when allowed
	}{
		{"8.8.8.8:443", ""},
		{"[2606:4700::1111]:80", ""},
		{"127.0.0.1:80", "127.0.0.1"},
		{"[::1]:80", "::1"},
		{"[::ffff:127.0.0.1]:80", "::ffff:127.0.0.1"},
		{"169.254.169.254:80", "169.254.169.254"},
		{"[fe80::1%eth0]:80", "fe80::1"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := Policy{}.Control("tcp", tt.addr, nil)
			if tt.refused == "" {
				require.NoError(t, err)
			} else {
				var re *RefusedError
				require.ErrorAs(t, err, &re)
				require.Equal(t, tt.refused, re.Addr.String())
				require.Equal(t, "netguard: refusing to connect to non-public address "+tt.refused, err.Error())
			}
			require.NoError(t, Policy{AllowPrivate: true}.Control("tcp", tt.addr, nil))
		})
	}

	// An address that is not "ip:port" is refused too (fail closed).
	for _, addr := range []string{"", "localhost:80", "127.0.0.1", "[::1]"} {
		require.Error(t, Policy{}.Control("tcp", addr, nil), "%q", addr)
	}
}

func TestDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	d := Policy{}.Dialer(0)
	require.Equal(t, DefaultTimeout, d.Timeout)
	_, err = d.Dial("tcp", ln.Addr().String())
	var re *RefusedError
	require.ErrorAs(t, err, &re)
	require.Equal(t, "127.0.0.1", re.Addr.String())

	c, err := Policy{AllowPrivate: true}.Dialer(time.Second).Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	c.Close()
}

func TestHTTPClientRefusesLoopback(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "hello")
	}))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)

	// By IP and by a host name that resolves to loopback.
	for _, u := range []string{srv.URL, "http://localhost:" + port + "/"} {
		resp, err := Policy{}.HTTPClient(2 * time.Second).Get(u)
		if resp != nil {
			resp.Body.Close()
		}
		var re *RefusedError
		require.ErrorAs(t, err, &re, u)
		require.False(t, Public(re.Addr))
	}
	require.Zero(t, hits.Load(), "the server must not be reached")

	resp, err := Policy{AllowPrivate: true}.HTTPClient(2 * time.Second).Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, int32(1), hits.Load())
}

func TestHTTPClientRefusesLoopbackV6(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		// CI machines have ::1: a failure to listen there is a broken
		// environment, not a reason to test less.
		if godwittest.InCI() {
			t.Fatal("no IPv6 loopback under CI=true:", err)
		}
		t.Skip("no IPv6 loopback:", err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	_, err = Policy{}.HTTPClient(2 * time.Second).Get(srv.URL)
	var re *RefusedError
	require.ErrorAs(t, err, &re)
	require.Equal(t, "::1", re.Addr.String())
}

func TestHTTPClientSettings(t *testing.T) {
	c := Policy{}.HTTPClient(0)
	require.Equal(t, DefaultTimeout, c.Timeout)
	tr, ok := c.Transport.(*http.Transport)
	require.True(t, ok)
	require.Nil(t, tr.Proxy, "no proxy: it would dial on our behalf")
	require.Nil(t, tr.DialTLSContext, "TLS must dial through DialContext")
	require.NotNil(t, tr.DialContext)
	require.Equal(t, 10*time.Second, tr.TLSHandshakeTimeout)
	require.Equal(t, DefaultTimeout, tr.ResponseHeaderTimeout)
	require.Positive(t, tr.MaxIdleConnsPerHost)

	c = Policy{}.HTTPClient(3 * time.Second)
	require.Equal(t, 3*time.Second, c.Timeout)
	require.Equal(t, 3*time.Second, c.Transport.(*http.Transport).TLSHandshakeTimeout)
}

// redirectServer serves /hop/N, which redirects to /hop/N-1, down to /hop/0,
// which answers "done"; /to?u=URL redirects to URL.
func redirectServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/to" {
			http.Redirect(w, r, r.URL.Query().Get("u"), http.StatusFound)
			return
		}
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hop/"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if n == 0 {
			fmt.Fprint(w, "done")
			return
		}
		http.Redirect(w, r, "/hop/"+strconv.Itoa(n-1), http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPClientRedirects(t *testing.T) {
	srv := redirectServer(t)
	c := Policy{AllowPrivate: true}.HTTPClient(2 * time.Second)

	for n := 0; n <= MaxRedirects; n++ {
		resp, err := c.Get(srv.URL + "/hop/" + strconv.Itoa(n))
		require.NoError(t, err, "%d redirects", n)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}

	_, err := c.Get(srv.URL + "/hop/" + strconv.Itoa(MaxRedirects+1))
	require.ErrorIs(t, err, ErrTooManyRedirects)

	for _, target := range []string{"ftp://example.com/file", "file:///etc/passwd", "gopher://example.com/"} {
		_, err := c.Get(srv.URL + "/to?u=" + target)
		require.ErrorIs(t, err, ErrRedirectScheme, target)
	}

	// A redirect to an allowed scheme still works.
	resp, err := c.Get(srv.URL + "/to?u=" + srv.URL + "/hop/1")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestErrorsAs(t *testing.T) {
	var err error = fmt.Errorf("dial: %w", &RefusedError{Addr: netip.MustParseAddr("10.0.0.1")})
	var re *RefusedError
	require.True(t, errors.As(err, &re))
	require.Equal(t, "10.0.0.1", re.Addr.String())
}
