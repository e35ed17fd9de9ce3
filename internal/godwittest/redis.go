package godwittest

import (
	"context"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"
)

// RedisURL is the Redis server the Redis tests use (GODWIT_TEST_REDIS_URL,
// default redis://127.0.0.1:6379/0). Tests share it: each keeps to keys
// of its own prefix.
func RedisURL() string {
	if u := os.Getenv("GODWIT_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

var (
	redisOnce sync.Once
	redisErr  error
)

// RequireRedis ends the test unless a Redis server answers PING at
// RedisURL: it skips, except under CI=true, where it fails.
func RequireRedis(t testing.TB) {
	t.Helper()
	redisOnce.Do(func() { redisErr = pingRedis(RedisURL()) })
	if redisErr != nil {
		if InCI() {
			t.Fatalf("Redis is required in CI (GODWIT_TEST_REDIS_URL=%s): %v", RedisURL(), redisErr)
		}
		t.Skipf("Redis not available at %s (set GODWIT_TEST_REDIS_URL): %v", RedisURL(), redisErr)
	}
}

// pingRedis speaks just enough RESP to ask PING, so that this package
// needs no Redis client.
func pingRedis(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if string(buf[:n]) != "+PONG\r\n" {
		return &net.OpError{Op: "ping", Net: "tcp", Err: os.ErrInvalid}
	}
	return nil
}

// UnusedAddr returns a loopback "host:port" nobody listens on (it was free
// a moment ago): a Redis, or any server, that is down.
func UnusedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
