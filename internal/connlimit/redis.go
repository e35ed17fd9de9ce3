package connlimit

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// NewRedis returns a Limiter whose leases are kept in Redis, shared by
// every node that uses the same database: per destination, the sorted set
// "<prefix><destination>" (members: leases, scores: expiry in Redis's
// milliseconds) and the wanted mark "<prefix><destination>:want". prefix
// keeps Godwit's keys apart ("godwit:conn:" when empty).
func NewRedis(client redis.UniversalClient, prefix string, opts Options) *Limiter {
	if prefix == "" {
		prefix = "godwit:conn:"
	}
	return newLimiter(&redisBackend{c: client, prefix: prefix}, "redis", opts)
}

type redisBackend struct {
	c      redis.UniversalClient
	prefix string
}

// nowMillis is the Lua for Redis's own time in milliseconds (scripts are
// replicated by their effects since Redis 5, so TIME is allowed).
const nowMillis = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// acquireScript: KEYS[1] the leases, KEYS[2] the wanted mark; ARGV lease,
// max, ttl (ms), want (ms), owner. Returns 1 when the lease was added.
var acquireScript = redis.NewScript(nowMillis + `
local w = redis.call('GET', KEYS[2])
if w and w ~= ARGV[5] then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  if w then redis.call('DEL', KEYS[2]) end
  return 1
end
redis.call('SET', KEYS[2], ARGV[5], 'PX', ARGV[4])
return 0`)

// renewScript: KEYS the leases' sets, ARGV[1] ttl (ms), ARGV[i+1] the
// lease in KEYS[i]. Returns the indexes (1-based) of the leases not found
// unexpired, which are removed.
var renewScript = redis.NewScript(nowMillis + `
local ttl = tonumber(ARGV[1])
local lost = {}
for i, key in ipairs(KEYS) do
  local lease = ARGV[i + 1]
  local exp = redis.call('ZSCORE', key, lease)
  if exp and tonumber(exp) > now then
    redis.call('ZADD', key, now + ttl, lease)
    redis.call('PEXPIRE', key, ttl)
  else
    if exp then redis.call('ZREM', key, lease) end
    table.insert(lost, i)
  end
end
return lost`)

func (r *redisBackend) acquire(ctx context.Context, key, lease, owner string, max int, ttl time.Duration) (bool, error) {
	n, err := acquireScript.Run(ctx, r.c, []string{r.prefix + key, r.prefix + key + ":want"},
		lease, max, ttl.Milliseconds(), wantFor.Milliseconds(), owner).Int()
	return n == 1, err
}

func (r *redisBackend) renew(ctx context.Context, leases map[string]string, ttl time.Duration) ([]string, error) {
	keys := make([]string, 0, len(leases))
	args := make([]any, 0, len(leases)+1)
	ids := make([]string, 0, len(leases))
	args = append(args, ttl.Milliseconds())
	for lease, key := range leases {
		keys = append(keys, r.prefix+key)
		args = append(args, lease)
		ids = append(ids, lease)
	}
	idx, err := renewScript.Run(ctx, r.c, keys, args...).Int64Slice()
	if err != nil {
		return nil, err
	}
	lost := make([]string, 0, len(idx))
	for _, i := range idx {
		lost = append(lost, ids[i-1])
	}
	return lost, nil
}

func (r *redisBackend) release(ctx context.Context, key, lease string) error {
	return r.c.ZRem(ctx, r.prefix+key, lease).Err()
}

// unwantScript: KEYS[1] the wanted mark, ARGV[1] its owner.
var unwantScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`)

func (r *redisBackend) unwant(ctx context.Context, key, owner string) error {
	return unwantScript.Run(ctx, r.c, []string{r.prefix + key + ":want"}, owner).Err()
}

func (r *redisBackend) wantedBy(ctx context.Context, key string) (string, error) {
	by, err := r.c.Get(ctx, r.prefix+key+":want").Result()
	if err == redis.Nil {
		return "", nil
	}
	return by, err
}
