// Package throttlestate keeps the destinations' adaptive throttling state
// (delivery.ThrottleState) in Redis, shared by every worker node that uses
// the same Redis database. The database backend is sqlstore.DB itself
// (table destination_throttle).
//
// Each destination is one key, "<prefix><destination>", holding a JSON
// object {level, pauses, until_ms, reason}, expiring KeyTTL after its last
// write (a destination not throttled for that long starts over). A store
// is one Lua script, atomic: it writes unless the stored pause has not
// ended at the caller's time (as the database backend decides, so that
// both answer alike; NTP keeps nodes' clocks far closer than a pause).
package throttlestate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/godwit/godwit/internal/store"
)

// KeyTTL is how long a destination's state outlives its last write.
const KeyTTL = 24 * time.Hour

// Redis is a delivery.ThrottleState in Redis.
type Redis struct {
	Client redis.UniversalClient
	// Prefix keeps Godwit's keys apart ("godwit:throttle:" when empty).
	Prefix string
}

func (r *Redis) key(dest string) string {
	if r.Prefix == "" {
		return "godwit:throttle:" + dest
	}
	return r.Prefix + dest
}

type record struct {
	Level   int    `json:"level"`
	Pauses  int    `json:"pauses"`
	UntilMs int64  `json:"until_ms"`
	Reason  string `json:"reason"`
}

func (rec record) state() store.DestinationThrottle {
	return store.DestinationThrottle{Level: rec.Level, Pauses: rec.Pauses, Until: time.UnixMilli(rec.UntilMs).UTC(), Reason: rec.Reason}
}

func decode(raw string) (store.DestinationThrottle, error) {
	var rec record
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		return store.DestinationThrottle{}, fmt.Errorf("throttle state: decode: %w", err)
	}
	return rec.state(), nil
}

// LoadDestinationThrottle implements delivery.ThrottleState.
func (r *Redis) LoadDestinationThrottle(ctx context.Context, dest string) (store.DestinationThrottle, bool, error) {
	raw, err := r.Client.Get(ctx, r.key(dest)).Result()
	if errors.Is(err, redis.Nil) {
		return store.DestinationThrottle{}, false, nil
	}
	if err != nil {
		return store.DestinationThrottle{}, false, fmt.Errorf("throttle state: load: %w", err)
	}
	st, err := decode(raw)
	return st, err == nil, err
}

// storeScript: KEYS[1] the destination's key; ARGV the new JSON, now (ms),
// the TTL (ms). Returns nil when it wrote, else the stored JSON (a pause
// still in force).
var storeScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, rec = pcall(cjson.decode, cur)
  if ok and type(rec) == 'table' and tonumber(rec.until_ms) and tonumber(rec.until_ms) > tonumber(ARGV[2]) then
    return cur
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return false
`)

// StoreDestinationThrottle implements delivery.ThrottleState.
func (r *Redis) StoreDestinationThrottle(ctx context.Context, dest string, st store.DestinationThrottle, now time.Time) (store.DestinationThrottle, error) {
	raw, err := json.Marshal(record{Level: st.Level, Pauses: st.Pauses, UntilMs: st.Until.UnixMilli(), Reason: st.Reason})
	if err != nil {
		return store.DestinationThrottle{}, fmt.Errorf("throttle state: encode: %w", err)
	}
	cur, err := storeScript.Run(ctx, r.Client, []string{r.key(dest)}, string(raw), now.UnixMilli(), KeyTTL.Milliseconds()).Text()
	if errors.Is(err, redis.Nil) {
		return st, nil
	}
	if err != nil {
		return store.DestinationThrottle{}, fmt.Errorf("throttle state: store: %w", err)
	}
	return decode(cur)
}

// OnFailure returns a delivery.Throttle.StateFailed that counts every
// failure (count: metrics.ThrottleStateFailed) and logs a WARN line at
// most every warnEvery (a failing backend is asked before many messages).
func OnFailure(log *slog.Logger, count func(op string), warnEvery time.Duration) func(op string, err error) {
	var lastWarn atomic.Int64
	return func(op string, err error) {
		if count != nil {
			count(op)
		}
		now := time.Now().UnixNano()
		if last := lastWarn.Load(); (last == 0 || now-last >= int64(warnEvery)) && lastWarn.CompareAndSwap(last, now) {
			log.Warn("shared destination throttling state failed: this node throttles on its own state until it answers",
				slog.String("op", op), slog.String("error", err.Error()))
		}
	}
}
