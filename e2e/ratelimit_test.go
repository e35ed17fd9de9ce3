package e2e

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// burst sends n GET /domains alternately to the nodes, all within one
// second of the clock (it waits for a second to begin, and tries again
// when the burst spilled over), and counts the answers by status.
func burst(t *testing.T, key string, n int, nodes ...*server) map[int]int {
	t.Helper()
	for attempt := 0; attempt < 5; attempt++ {
		// Start just after a second begins: the windows are whole seconds.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 20*time.Millisecond)))
		start := time.Now()
		codes := map[int]int{}
		for i := range n {
			code, _, err := request("GET", nodes[i%len(nodes)].url+"/domains", key, "")
			require.NoError(t, err)
			codes[code]++
		}
		if time.Now().Truncate(time.Second).Equal(start.Truncate(time.Second)) {
			return codes
		}
	}
	t.Fatal("no burst fitted in one second in 5 tries")
	return nil
}

// TestSharedRateLimit: two nodes on one PostgreSQL count a team's rate
// limit in one Redis (--redis-url), or without it in the database, and
// enforce it together, as one node would; counted in memory
// (--rate-limiter memory), each node counts its own. With Redis down, a
// request is allowed (--rate-limit-fail-open, the default) or refused
// with 429, never a 500.
func TestSharedRateLimit(t *testing.T) {
	t.Parallel()
	godwittest.RequireRedis(t)
	url := godwittest.StoreURL(t, sqlstore.Postgres)
	dir1, dir2 := t.TempDir(), t.TempDir()
	common := []string{"--database-url", url, "--rate-limit", "4", "--secret-key", strings.Repeat("ab", 32)}
	redis := godwittest.RedisURL()
	a := start(t, append([]string{"--data-dir", dir1, "--redis-url", redis}, common...)...)
	key := firstKey(t, a)
	b := start(t, append([]string{"--data-dir", dir2, "--redis-url", redis}, common...)...)
	codes := burst(t, key, 12, a, b)
	require.Equal(t, map[int]int{200: 4, 429: 8}, codes, "4 per second in all, across both nodes")
	a.stop(t)
	b.stop(t)

	// Without Redis the nodes of one PostgreSQL count in the database, together.
	a = start(t, append([]string{"--data-dir", dir1}, common...)...)
	b = start(t, append([]string{"--data-dir", dir2}, common...)...)
	codes = burst(t, key, 12, a, b)
	require.Equal(t, map[int]int{200: 4, 429: 8}, codes)
	a.stop(t)
	b.stop(t)

	// Counted in each node's memory, the limit is per node: twice it.
	a = start(t, append([]string{"--data-dir", dir1, "--rate-limiter", "memory"}, common...)...)
	b = start(t, append([]string{"--data-dir", dir2, "--rate-limiter", "memory"}, common...)...)
	codes = burst(t, key, 12, a, b)
	require.Equal(t, map[int]int{200: 8, 429: 4}, codes)
	a.stop(t)
	b.stop(t)

	// Redis down: allowed, or 429, never 500; said in the log.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	down := "redis://" + l.Addr().String() + "/0"
	require.NoError(t, l.Close())
	open := start(t, append([]string{"--data-dir", dir1, "--redis-url", down}, common...)...)
	code, _, err := request("GET", open.url+"/domains", key, "")
	require.NoError(t, err)
	require.Equal(t, 200, code)
	waitFor(t, "the WARN line", func() bool { return strings.Contains(open.stderr.String(), "rate limits: Redis") })
	open.stop(t)
	closed := start(t, append([]string{"--data-dir", dir2, "--redis-url", down, "--rate-limit-fail-open=false"}, common...)...)
	code, body, err := request("GET", closed.url+"/domains", key, "")
	require.NoError(t, err)
	require.Equal(t, 429, code, "%v", body)
	require.Equal(t, "rate_limit_exceeded", body["name"])
	closed.stop(t)
}

// TestSweepsOnOneNode: of two nodes on one PostgreSQL, one runs the
// periodic sweeps and the periodic domain checks; when it is killed, the
// other takes them over.
func TestSweepsOnOneNode(t *testing.T) {
	t.Parallel()
	url := godwittest.StoreURL(t, sqlstore.Postgres)
	common := []string{"--database-url", url, "--secret-key", strings.Repeat("ef", 32)}
	const line, verifying = "leader: this node runs periodic sweeps", "leader: this node runs domain verification"
	a := start(t, append([]string{"--data-dir", t.TempDir()}, common...)...)
	// Generous: on a loaded machine a fresh node's first try comes late.
	waitWithin(t, 30*time.Second, "the first node to lead", func() bool {
		return len(a.stderr.Records(t, line)) == 1 && len(a.stderr.Records(t, verifying)) == 1
	})
	b := start(t, append([]string{"--data-dir", t.TempDir()}, common...)...)
	// b is up and trying (every 2 s); it does not lead while a lives.
	waitFor(t, "b to serve", func() bool {
		code, _, err := request("GET", b.url+"/readyz", "", "")
		return err == nil && code == 200
	})
	time.Sleep(3 * time.Second) // two of b's tries: no poll can show a thing that must not happen
	require.Empty(t, b.stderr.Records(t, line))
	require.Empty(t, b.stderr.Records(t, verifying))
	require.NoError(t, a.cmd.Process.Kill())
	<-a.done
	waitWithin(t, 15*time.Second, "the second node to take over", func() bool {
		return len(b.stderr.Records(t, line)) == 1 && len(b.stderr.Records(t, verifying)) == 1
	})
	b.stop(t)
}
