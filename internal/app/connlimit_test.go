package app

import (
	"context"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/config"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/metrics"
)

// TestConnectionLimiterDown: with --connection-limiter redis and a Redis
// that does not answer, the server still starts (a WARN line), and each
// failed acquire is an error for the transport (which defers the
// delivery), a count in godwit_connection_limiter_failures_total and a
// WARN line at most every limiterWarnEvery.
func TestConnectionLimiterDown(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults()
	cfg.RedisURL, cfg.ConnectionLimiter = "redis://"+godwittest.UnusedAddr(t)+"/0", "redis"
	reg := prometheus.NewRegistry()
	met := metrics.New(reg)
	var logs godwittest.LogBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	s, err := connectionLimiter(context.Background(), cfg, nil, met, log)
	require.NoError(t, err)
	defer s.close()
	require.NotNil(t, s.slots)
	require.Len(t, logs.Records(t, "connections to each receiving host: Redis does not answer; deliveries that need a new connection are deferred until it does"), 1)

	for range 3 {
		_, ok, err := s.slots.TryAcquire(context.Background(), "mx.example.test", 3)
		require.Error(t, err)
		require.False(t, ok)
	}
	require.InDelta(t, 3, failures(t, reg, "acquire"), 0)
	require.Zero(t, failures(t, reg, "renew"), "exported from the start")
	warns := logs.Records(t, "connection limiter failed: deliveries that need a new connection are deferred and retried until it answers")
	require.Len(t, warns, 1, "one WARN line for the burst")
	require.Equal(t, "acquire", warns[0]["op"])
	require.NotContains(t, logs.String(), "password")

	// An API node delivers nothing: no limiter.
	cfg.Role, cfg.DatabaseURL = "api", "postgres://db.example.com/godwit"
	s, err = connectionLimiter(context.Background(), cfg, nil, met, log)
	require.NoError(t, err)
	require.Nil(t, s.slots)
}

// failures reads godwit_connection_limiter_failures_total{op}.
func failures(t *testing.T, reg *prometheus.Registry, op string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != "godwit_connection_limiter_failures_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "op" && l.GetValue() == op {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no godwit_connection_limiter_failures_total{op=%q}", op)
	return 0
}

// TestThrottleStateChoice: the destinations' throttling state follows
// --connection-limiter: Redis or the database shared, the SQLite file
// under auto on SQLite (one node, kept across restarts), this process
// with memory, none on an API node. A Redis that does not answer only
// warns.
func TestThrottleStateChoice(t *testing.T) {
	t.Parallel()
	db := godwittest.NewStore(t, "sqlite", nil)
	met := metrics.New(prometheus.NewRegistry())
	var logs godwittest.LogBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	for _, tc := range []struct {
		name        string
		set         func(*config.Config)
		shared      bool
		redisClient bool
	}{
		{"auto on SQLite", func(*config.Config) {}, true, false},
		{"memory", func(c *config.Config) { c.ConnectionLimiter = "memory" }, false, false},
		{"database", func(c *config.Config) { c.ConnectionLimiter = "database" }, true, false},
		{"redis", func(c *config.Config) {
			c.ConnectionLimiter, c.RedisURL = "redis", "redis://"+godwittest.UnusedAddr(t)+"/0"
		}, true, true},
		{"api node", func(c *config.Config) { c.Role, c.ConnectionLimiter = "api", "database" }, false, false},
		{"capture", func(c *config.Config) { c.Delivery = "capture" }, false, false},
	} {
		cfg := config.Defaults()
		cfg.Delivery = "mx"
		tc.set(&cfg)
		st, closeState, err := throttleState(context.Background(), cfg, db, met, log)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.shared, st != nil, tc.name)
		if tc.shared && !tc.redisClient {
			require.Same(t, db, st, tc.name)
		}
		closeState()
	}
	require.Len(t, logs.Records(t, "destinations' throttling states: Redis does not answer; each worker node throttles on its own state until it does"), 1)
}
