package msa_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/metrics"
)

// TestSessionsAndRefusalsCounted: each connection is a session, and each
// refusal is counted by its reason.
func TestSessionsAndRefusalsCounted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	cfg := e.config()
	cfg.Metrics = metrics.New(reg)
	addr := e.start(cfg)

	c := dialRaw(t, addr)
	c.ehlo()
	requireReply(t, c.authPlain(forgedKey(e.key)), 535, "5.7.8")
	c.write("QUIT\r\n")

	c = dialRaw(t, addr)
	c.login(e.key)
	requireReply(t, c.send("sender@unverified.example", []string{"to@example.net"},
		message("sender@unverified.example", "to@example.net", "s")), 550, "5.7.1")
	queued(t, c.send("sender@example.com", []string{"to@example.net"}, message("sender@example.com", "to@example.net", "s")))
	c.write("QUIT\r\n")

	c = dialRaw(t, addr)
	c.ehlo()
	c.expect("MAIL FROM:<sender@example.com>", 530, "5.7.0")
	c.write("QUIT\r\n")

	// Counted before the replies were written.
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP godwit_smtp_refusals_total SMTP submission connections, logins and messages refused, by reason.
# TYPE godwit_smtp_refusals_total counter
godwit_smtp_refusals_total{reason="auth_failed"} 1
godwit_smtp_refusals_total{reason="auth_required"} 1
godwit_smtp_refusals_total{reason="sender_not_verified"} 1
# HELP godwit_smtp_sessions_total SMTP submission connections accepted.
# TYPE godwit_smtp_sessions_total counter
godwit_smtp_sessions_total 3
`), "godwit_smtp_refusals_total", "godwit_smtp_sessions_total"))
}
