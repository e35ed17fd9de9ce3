package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
)

// TestMXGuard sends through the built binary with --delivery mx to a domain
// whose MX host resolves (in a loopback DNS server) to 127.0.0.1, where an
// SMTP server listens. Without --allow-private-networks the email bounces
// with the generic reason, nothing reaches the server, no address is shown
// to the tenant, and the server goes on serving; with the flag it is
// delivered.
func TestMXGuard(t *testing.T) {
	dns := dnstest.NewServer(t)
	mx := newSink(t)
	_, port, err := net.SplitHostPort(mx.Addr())
	require.NoError(t, err)
	dns.SetMX("dest.test", dnscheck.MX{Host: "mx.dest.test", Preference: 10})
	dns.SetAddr("mx.dest.test", "127.0.0.1")

	send := func(t *testing.T, extra ...string) (s *server, key, id string) {
		t.Helper()
		args := append([]string{"--data-dir", t.TempDir(), "--dns-resolver", dns.Addr(), "--delivery", "mx",
			"--mx-port", port, "--hostname", "out.guard.test"}, extra...)
		s = start(t, args...)
		waitFor(t, "the first start to print a key", func() bool { return tokenRE.MatchString(s.stdout.String()) })
		key = tokenRE.FindString(s.stdout.String())
		verifiedDomain(t, s, key, dns, "guard.test")
		status, body, err := request("POST", s.url+"/emails", key,
			`{"from":"App <app@guard.test>","to":"user@dest.test","subject":"s","text":"x"}`)
		require.NoError(t, err)
		require.Equal(t, 200, status, "%v", body)
		return s, key, body["id"].(string)
	}

	t.Run("refused", func(t *testing.T) {
		s, key, id := send(t)
		var body map[string]any
		waitFor(t, "the email to bounce", func() bool {
			_, b, err := request("GET", s.url+"/emails/"+id+"/delivery", key, "")
			body = b
			return err == nil && b["last_event"] == "bounced"
		})
		attempts := body["attempts"].([]any)
		require.Len(t, attempts, 1)
		a := attempts[0].(map[string]any)
		require.Equal(t, "bounced", a["outcome"])
		require.Equal(t, "mx.dest.test", a["host"])
		require.EqualValues(t, 550, a["smtp_code"])
		require.Equal(t, "5.4.4", a["enhanced_status"])
		require.Equal(t, "refused: the MX host resolves to a non-public address", a["response"])
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		require.NotContains(t, string(raw), "127.0.0.1", "the tenant sees no resolved address")
		require.NotContains(t, string(raw), dns.Addr(), "the tenant sees no resolver address")
		require.NotContains(t, string(raw), mx.Addr())
		require.Zero(t, mx.Count(), "nothing reached the loopback MX")

		// The server log has the detail, with the email id.
		require.Contains(t, s.stderr.String(), fmt.Sprintf(`"email_id":%q`, id))
		require.Contains(t, s.stderr.String(), "127.0.0.1:"+port)

		// The address is not suppressed, and the server is still up.
		status, b, err := request("GET", s.url+"/suppressions", key, "")
		require.NoError(t, err)
		require.Equal(t, 200, status, "%v", b)
		require.NotContains(t, fmt.Sprint(b["data"]), "user@dest.test")
		status, _, err = request("GET", s.url+"/healthz", "", "")
		require.NoError(t, err)
		require.Equal(t, 200, status)
		select {
		case <-s.done:
			t.Fatalf("godwit exited: %v", s.err)
		default:
		}
	})

	t.Run("allowed", func(t *testing.T) {
		s, key, id := send(t, "--allow-private-networks")
		waitFor(t, "the email to be delivered", func() bool {
			_, b, err := request("GET", s.url+"/emails/"+id, key, "")
			return err == nil && b["last_event"] == "delivered"
		})
		require.NotEmpty(t, mx.ForMessageID("<"+id+"@guard.test>"))
		require.False(t, strings.Contains(s.stderr.String(), "non-public"))
	})
}
