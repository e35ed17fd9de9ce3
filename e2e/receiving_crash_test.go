package e2e

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestReceivingCrashLosesNothing: many SMTP clients hand messages to the
// MX of a receiving domain; the server is SIGKILLed while transactions are
// in flight (some clients trickle their DATA, so the kill lands both in the
// middle of a transfer and between the final dot and the reply), then
// restarted on the same database. Every message answered 250 must be
// stored (GET /emails/receiving) and announced (its email.received event in
// GET /feed), each exactly once. A message answered with an error, or with
// no answer at all, may or may not be stored: the sender retries it
// (at-least-once). The restarted server receives again.
func TestReceivingCrashLosesNothing(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			dns := dnstest.NewServer(t)
			args := []string{"--data-dir", t.TempDir(), "--dns-resolver", dns.Addr(), "--mx-addr", "127.0.0.1:0", "--workers", "4"}
			if kind == sqlstore.Postgres {
				args = append(args, "--database-url", godwittest.StoreURL(t, kind))
			}
			s := start(t, args...)
			key := firstKey(t, s)
			verifiedDomainWith(t, s, key, dns, "crash-in.test", `"capabilities":{"sending":"disabled","receiving":"enabled"}`)
			mx := loggedAddr(t, s, "MX receiving mail", "mx_addr")

			// The clients: each keeps one connection and sends messages back
			// to back until the server is gone; every fourth trickles its
			// DATA in pieces so that some transfers are mid-way at the kill.
			const clients = 16
			var (
				mu       sync.Mutex
				answered = map[string]string{} // Message-ID → "250" or the failure
				ok250    atomic.Int64
				wg       sync.WaitGroup
			)
			body := strings.Repeat("The quick brown fox jumps over the lazy dog, again and again.\r\n", 64) // ~4 KB
			for c := range clients {
				wg.Go(func() {
					slow := c%4 == 0
					var conn *smtp.Client
					defer func() {
						if conn != nil {
							conn.Close()
						}
					}()
					for i := 0; ; i++ {
						id := fmt.Sprintf("<crash-%d-%d@sender.example.net>", c, i)
						if conn == nil {
							var err error
							if conn, err = smtp.Dial(mx); err != nil {
								return // the server is gone
							}
							conn.CommandTimeout, conn.SubmissionTimeout = 10*time.Second, 10*time.Second
							if err := conn.Hello("mta.sender.example.net"); err != nil {
								return
							}
						}
						err := sendTrickled(conn, id, body, slow)
						mu.Lock()
						if err == nil {
							answered[id] = "250"
						} else {
							answered[id] = err.Error()
						}
						mu.Unlock()
						if err == nil {
							ok250.Add(1)
							continue
						}
						var se *smtp.SMTPError
						if !errors.As(err, &se) {
							return // no answer: the connection died with the server
						}
						// A refusal: the next message on a fresh connection.
						conn.Close()
						conn = nil
					}
				})
			}
			// Kill at a random point once a few hundred messages were
			// answered 250, while the clients are still sending.
			threshold := int64(200 + rand.IntN(200))
			waitWithin(t, 60*time.Second, fmt.Sprintf("%d messages answered 250", threshold), func() bool { return ok250.Load() >= threshold })
			require.NoError(t, s.cmd.Process.Kill())
			<-s.done
			wg.Wait()

			var acked, failed []string
			for id, a := range answered {
				if a == "250" {
					acked = append(acked, id)
				} else {
					failed = append(failed, id)
				}
			}
			require.GreaterOrEqual(t, len(acked), int(threshold))
			require.NotEmpty(t, failed, "some transactions were in flight at the kill")

			s2 := start(t, args...)
			received := receivedMessageIDs(t, s2, key)
			announced := announcedMessageIDs(t, s2, key)
			var missing, unannounced, twice []string
			for _, id := range acked {
				switch n := received[id]; {
				case n == 0:
					missing = append(missing, id)
				case n > 1:
					twice = append(twice, id)
				}
				if announced[id] != 1 {
					unannounced = append(unannounced, fmt.Sprintf("%s (%d events)", id, announced[id]))
				}
			}
			for _, c := range []struct {
				ids  []string
				what string
			}{{missing, "answered 250 but not stored"}, {unannounced, "answered 250 but not announced exactly once"}, {twice, "answered 250 once but stored twice"}} {
				if len(c.ids) > 0 {
					t.Errorf("%d of the %d messages %s, e.g. %s", len(c.ids), len(acked), c.what, strings.Join(c.ids[:min(5, len(c.ids))], ", "))
				}
			}
			if t.Failed() {
				t.FailNow()
			}
			storedAnyway := 0
			for _, id := range failed {
				if received[id] > 0 {
					storedAnyway++
					require.Equal(t, received[id], announced[id], "%s: every stored copy is announced", id)
				}
			}
			t.Logf("%s: %d answered 250, all stored and announced after the restart; %d without a 250 at the kill (%d of them stored anyway: the sender's retry makes a duplicate)",
				kind, len(acked), len(failed), storedAnyway)

			// The restarted server receives (the sender's retry).
			mx2 := loggedAddr(t, s2, "MX receiving mail", "mx_addr")
			conn, err := smtp.Dial(mx2)
			require.NoError(t, err)
			defer conn.Close()
			require.NoError(t, conn.Hello("mta.sender.example.net"))
			require.NoError(t, sendTrickled(conn, "<crash-retry@sender.example.net>", body, false))
			require.Equal(t, 1, receivedMessageIDs(t, s2, key)["<crash-retry@sender.example.net>"])
		})
	}
}

// sendTrickled sends one message to support@crash-in.test on c; slow
// writes its DATA in four pieces a few milliseconds apart.
func sendTrickled(c *smtp.Client, messageID, body string, slow bool) error {
	if err := c.Mail("someone@sender.example.net", nil); err != nil {
		return err
	}
	if err := c.Rcpt("support@crash-in.test", nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	msg := "From: Someone <someone@sender.example.net>\r\nTo: support@crash-in.test\r\nSubject: crash " + messageID +
		"\r\nMessage-ID: " + messageID + "\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\n\r\n" + body
	pieces := 1
	if slow {
		pieces = 4
	}
	step := (len(msg) + pieces - 1) / pieces
	for i := 0; i < len(msg); i += step {
		if _, err := w.Write([]byte(msg[i:min(i+step, len(msg))])); err != nil {
			return err
		}
		if slow {
			time.Sleep(3 * time.Millisecond)
		}
	}
	return w.Close()
}

// receivedMessageIDs pages through GET /emails/receiving and counts the
// stored emails by Message-ID.
func receivedMessageIDs(t *testing.T, s *server, key string) map[string]int {
	t.Helper()
	out := map[string]int{}
	after := ""
	for {
		u := s.url + "/emails/receiving?limit=100"
		if after != "" {
			u += "&after=" + url.QueryEscape(after)
		}
		status, body, err := request("GET", u, key, "")
		require.NoError(t, err)
		require.Equal(t, 200, status, "%v", body)
		data := body["data"].([]any)
		for _, d := range data {
			e := d.(map[string]any)
			out[e["message_id"].(string)]++
			after = e["id"].(string)
		}
		if body["has_more"] != true || len(data) == 0 {
			return out
		}
	}
}

// announcedMessageIDs reads GET /feed from the start and counts the
// email.received events by Message-ID.
func announcedMessageIDs(t *testing.T, s *server, key string) map[string]int {
	t.Helper()
	out := map[string]int{}
	after := ""
	for {
		u := s.url + "/feed?limit=100"
		if after != "" {
			u += "&after=" + url.QueryEscape(after)
		}
		status, body, err := request("GET", u, key, "")
		require.NoError(t, err)
		require.Equal(t, 200, status, "%v", body)
		data := body["data"].([]any)
		for _, d := range data {
			ev := d.(map[string]any)
			if ev["type"] == "email.received" {
				out[ev["data"].(map[string]any)["message_id"].(string)]++
			}
			after = ev["id"].(string)
		}
		if body["has_more"] != true || len(data) == 0 {
			return out
		}
	}
}
