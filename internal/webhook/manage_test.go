package webhook

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/secretbox"
)

func TestEndpointAndEvents(t *testing.T) {
	t.Parallel()
	for in, ok := range map[string]bool{
		"https://example.com/hook": true, " http://127.0.0.1:8080/x ": true, "ftp://example.com": false,
		"https://user:pw@example.com/": false, "/relative": false, "": false, "https://": false,
		"https://example.com/a b": false, "https://example.com/" + strings.Repeat("a", MaxEndpointLen): false,
	} {
		got, err := Endpoint(in)
		if ok {
			require.NoError(t, err, in)
			require.Equal(t, strings.TrimSpace(in), got)
		} else {
			_, invalid := IsInvalid(err)
			require.True(t, invalid, in)
		}
	}
	all := events.Subscribable()
	got, err := Events([]string{all[0], all[1], all[0]})
	require.NoError(t, err)
	require.Equal(t, all[:2], got, "repeats dropped, order kept")
	_, err = Events(nil)
	msg, invalid := IsInvalid(err)
	require.True(t, invalid)
	require.Contains(t, msg, "at least one")
	_, err = Events([]string{"email.nope"})
	msg, _ = IsInvalid(err)
	require.Contains(t, msg, "Unknown event `email.nope`")
}

// A new webhook's secret is sealed to its id; a rotation keeps the old one
// signing for SecretOverlap; Reveal opens the current one.
func TestNewRotateReveal(t *testing.T) {
	t.Parallel()
	box, err := secretbox.New(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	wh, secret, err := New(box, "team", "https://example.com/h", []string{"email.sent"}, now)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(secret, secretPrefix))
	require.Equal(t, "enabled", wh.Status)
	got, err := Reveal(box, wh)
	require.NoError(t, err)
	require.Equal(t, secret, got)
	old := wh.Secret
	later := now.Add(time.Hour)
	rotated, err := Rotate(box, wh, later)
	require.NoError(t, err)
	require.NotEqual(t, secret, rotated)
	require.Equal(t, old, wh.PreviousSecret)
	require.Equal(t, later.Add(SecretOverlap), *wh.PreviousUntil)
	require.Equal(t, later, wh.UpdatedAt)
	got, err = Reveal(box, wh)
	require.NoError(t, err)
	require.Equal(t, rotated, got)
	other := *wh
	other.ID = "another"
	_, err = Reveal(box, &other)
	require.Error(t, err, "sealed to the webhook's id")
}

// FuzzEndpoint: what Endpoint accepts is an absolute http(s) URL with a
// host and no credentials.
func FuzzEndpoint(f *testing.F) {
	for _, s := range []string{"https://example.com/h", "http://[::1]:80/", "https://a@b/", "javascript:alert(1)", " https://x/\n", "https://:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Endpoint(s)
		if err != nil {
			_, invalid := IsInvalid(err)
			require.True(t, invalid)
			return
		}
		u, err := url.Parse(got)
		require.NoError(t, err)
		require.Contains(t, []string{"http", "https"}, u.Scheme)
		require.NotEmpty(t, u.Hostname())
		require.Nil(t, u.User)
	})
}
