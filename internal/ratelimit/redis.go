package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Limiter shared by every node that uses the same Redis: one
// key per team and one-second window ("<prefix><key>:<unix second>"),
// counted with INCR and expired with the window, in one round trip (a Lua
// script, EVALSHA). Nodes agree on windows as far as their clocks agree
// (NTP keeps them within milliseconds).
type Redis struct {
	Client redis.UniversalClient
	// Prefix keeps Godwit's keys apart from anything else in the database
	// ("godwit:rl:" when empty).
	Prefix string
	// Timeout bounds one call (100 ms when zero): a slow Redis must not
	// hold requests; the Guard decides what a failure means.
	Timeout time.Duration
	Now     func() time.Time
}

// countWindow increments the window's counter and sets its expiry when it
// is new; it returns the count.
var countWindow = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`)

// Allow implements Limiter.
func (r *Redis) Allow(ctx context.Context, key string, limit int) (Result, error) {
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	sec := now.Unix()
	reset := time.Unix(sec+1, 0).Sub(now)
	prefix := r.Prefix
	if prefix == "" {
		prefix = "godwit:rl:"
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 100 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// The key outlives its second a little, for nodes whose clocks lag.
	n, err := countWindow.Run(ctx, r.Client, []string{prefix + key + ":" + strconv.FormatInt(sec, 10)}, 2000).Int()
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if n > limit {
		return Result{Allowed: false, Limit: limit, Remaining: 0, Reset: reset}, nil
	}
	return Result{Allowed: true, Limit: limit, Remaining: limit - n, Reset: reset}, nil
}

// Guard answers for a Limiter that can fail (Redis, the database): it never
// returns an error. When the limiter fails, FailOpen allows the request (the
// limit is not enforced meanwhile), otherwise it is refused as over the
// limit for the rest of the second (a 429, never a 500); OnFailure hears
// of every failure (to count it, and to log it).
type Guard struct {
	Limiter   Limiter
	FailOpen  bool
	OnFailure func(err error, failOpen bool)
	Now       func() time.Time
}

// Allow implements Limiter.
func (g *Guard) Allow(ctx context.Context, key string, limit int) (Result, error) {
	res, err := g.Limiter.Allow(ctx, key, limit)
	if err == nil {
		return res, nil
	}
	if g.OnFailure != nil {
		g.OnFailure(err, g.FailOpen)
	}
	now := time.Now()
	if g.Now != nil {
		now = g.Now()
	}
	reset := time.Unix(now.Unix()+1, 0).Sub(now)
	if g.FailOpen {
		return Result{Allowed: true, Limit: limit, Remaining: max(limit-1, 0), Reset: reset}, nil
	}
	return Result{Allowed: false, Limit: limit, Remaining: 0, Reset: reset}, nil
}

// WindowCounter counts requests per key and one-second window in a store
// shared by the nodes (sqlstore.DB on PostgreSQL).
type WindowCounter interface {
	CountRateWindow(ctx context.Context, key string, window int64) (int, error)
}

// Database is a Limiter shared by the nodes of one database, for clusters
// without Redis: one upsert per request (a row per team and second). Good
// for a few nodes; Redis costs less per request.
type Database struct {
	Store WindowCounter
	// Timeout bounds one call (250 ms when zero).
	Timeout time.Duration
	Now     func() time.Time
}

// Allow implements Limiter.
func (d *Database) Allow(ctx context.Context, key string, limit int) (Result, error) {
	now := time.Now()
	if d.Now != nil {
		now = d.Now()
	}
	sec := now.Unix()
	reset := time.Unix(sec+1, 0).Sub(now)
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 250 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	n, err := d.Store.CountRateWindow(ctx, key, sec)
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: database: %w", err)
	}
	if n > limit {
		return Result{Allowed: false, Limit: limit, Remaining: 0, Reset: reset}, nil
	}
	return Result{Allowed: true, Limit: limit, Remaining: limit - n, Reset: reset}, nil
}
