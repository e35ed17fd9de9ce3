package e2e

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// sink is an SMTP server on loopback that keeps the Message-ID of every
// message it accepts, taking a little time over each as a real one does.
type sink struct {
	addr  string
	mu    sync.Mutex
	seen  map[string]int
	total int
}

func newSink(t *testing.T) *sink {
	t.Helper()
	k := &sink{seen: map[string]int{}}
	srv := smtp.NewServer(k)
	srv.Domain = "sink.test"
	srv.ErrorLog = log.New(io.Discard, "", 0) // the kill resets connections; that is the point
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	k.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return k
}

func (k *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{k: k}, nil }

type sinkSession struct{ k *sink }

func (s *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *sinkSession) Reset()                               {}
func (s *sinkSession) Logout() error                        { return nil }
func (s *sinkSession) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, m.Body); err != nil {
		return err
	}
	time.Sleep(2 * time.Millisecond)
	s.k.mu.Lock()
	s.k.seen[m.Header.Get("Message-Id")]++
	s.k.total++
	s.k.mu.Unlock()
	return nil
}

func (k *sink) counts() (distinct, total int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.seen), k.total
}

func (k *sink) has(msgID string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.seen[msgID] > 0
}

// verifiedDomain adds a domain through the API, publishes its records in
// the DNS server, and waits for the verifier to pass it.
func verifiedDomain(t *testing.T, s *server, key string, dns *dnstest.Server, name string) {
	t.Helper()
	status, body, err := request("POST", s.url+"/domains", key, `{"name":"`+name+`"}`)
	require.NoError(t, err)
	require.Equal(t, 201, status, "%v", body)
	id := body["id"].(string)
	for _, rec := range body["records"].([]any) {
		r := rec.(map[string]any)
		fqdn := r["name"].(string) + "." + name
		switch r["type"] {
		case "TXT":
			dns.SetTXT(fqdn, r["value"].(string))
		case "MX":
			dns.SetMX(fqdn, dnscheck.MX{Host: r["value"].(string) + ".", Preference: uint16(r["priority"].(float64))})
		}
	}
	status, _, err = request("POST", s.url+"/domains/"+id+"/verify", key, "")
	require.NoError(t, err)
	require.Equal(t, 200, status)
	waitFor(t, "the domain to be verified", func() bool {
		_, body, err := request("GET", s.url+"/domains/"+id, key, "")
		return err == nil && body["status"] == "verified"
	})
}

// TestCrashLosesNothing accepts emails, SIGKILLs the server while it
// delivers them through a relay, restarts it, and checks that every
// accepted email reaches the relay (duplicates only for those in flight).
func TestCrashLosesNothing(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			dns := dnstest.NewServer(t)
			relay := newSink(t)
			const workers = 20
			args := []string{"--data-dir", t.TempDir(), "--dns-resolver", dns.Addr(), "--delivery", "relay",
				"--relay-url", "smtp://" + relay.addr, "--workers", fmt.Sprint(workers),
				// On PostgreSQL the jobs a dead node was running are retried
				// after twice this (River's rescuer looks every 30 s).
				"--delivery-timeout", "5s"}
			if kind == sqlstore.Postgres {
				args = append(args, "--database-url", godwittest.StoreURL(t, kind))
			}
			s := start(t, args...)
			waitFor(t, "the first start to print a key", func() bool { return tokenRE.MatchString(s.stdout.String()) })
			key := tokenRE.FindString(s.stdout.String())
			verifiedDomain(t, s, key, dns, "crash.test")

			var mu sync.Mutex
			var accepted []string
			var wg sync.WaitGroup
			stop := make(chan struct{})
			for c := range 8 {
				wg.Go(func() {
					for i := 0; i < 1000; i++ {
						select {
						case <-stop:
							return
						default:
						}
						status, body, err := request("POST", s.url+"/emails", key,
							fmt.Sprintf(`{"from":"App <app@crash.test>","to":"user%d-%d@dest.test","subject":"s","text":"x"}`, c, i))
						if err != nil {
							return // the server is gone
						}
						if status == 200 {
							mu.Lock()
							accepted = append(accepted, body["id"].(string))
							mu.Unlock()
						}
					}
				})
			}
			// Kill it once it is both accepting and delivering.
			deadline := time.Now().Add(30 * time.Second)
			for {
				mu.Lock()
				n := len(accepted)
				mu.Unlock()
				if _, delivered := relay.counts(); (n >= 300 && delivered >= 50) || time.Now().After(deadline) {
					break
				}
				time.Sleep(2 * time.Millisecond)
			}
			require.NoError(t, s.cmd.Process.Kill())
			<-s.done
			close(stop)
			wg.Wait()
			distinctBefore, _ := relay.counts()
			require.GreaterOrEqual(t, len(accepted), 300)
			t.Logf("accepted %d, relayed %d before the kill", len(accepted), distinctBefore)

			s2 := start(t, args...)
			_ = s2
			missing := func() []string {
				var out []string
				for _, id := range accepted {
					if !relay.has("<" + id + "@crash.test>") {
						out = append(out, id)
					}
				}
				return out
			}
			deadline = time.Now().Add(90 * time.Second)
			for len(missing()) > 0 {
				if time.Now().After(deadline) {
					m := missing()
					require.FailNow(t, "accepted emails never delivered", "%d missing, e.g. %s", len(m), strings.Join(m[:min(3, len(m))], ", "))
				}
				time.Sleep(50 * time.Millisecond)
			}
			distinct, total := relay.counts()
			t.Logf("all %d accepted emails relayed; %d messages for %d distinct ids (%d duplicates)", len(accepted), total, distinct, total-distinct)
			require.LessOrEqual(t, total-distinct, workers*2, "duplicates only for deliveries in flight at the kill")
		})
	}
}

// TestSplitRoles runs an API-only node and a worker-only node on one
// PostgreSQL database: the API node accepts, the worker node delivers.
func TestSplitRoles(t *testing.T) {
	// Asks the server (godwittest.Kinds always lists PostgreSQL): skips
	// without one, fails under CI=true.
	godwittest.RequirePostgres(t)
	db := godwittest.StoreURL(t, sqlstore.Postgres)
	api := start(t, "--data-dir", t.TempDir(), "--database-url", db, "--role", "api")
	waitFor(t, "the first start to print a key", func() bool { return tokenRE.MatchString(api.stdout.String()) })
	key := tokenRE.FindString(api.stdout.String())

	status, body, err := request("POST", api.url+"/emails", key,
		`{"from":"onboarding@resend.dev","to":"delivered@resend.dev","subject":"s","text":"x"}`)
	require.NoError(t, err)
	require.Equal(t, 200, status)
	id := body["id"].(string)
	// No worker yet: it waits, queued, with nothing attempted.
	_, body, err = request("GET", api.url+"/emails/"+id+"/delivery", key, "")
	require.NoError(t, err)
	require.Equal(t, "queued", body["last_event"])
	require.Empty(t, body["attempts"])

	worker := start(t, "--data-dir", t.TempDir(), "--database-url", db, "--role", "worker")
	status, body, err = request("GET", worker.url+"/emails/"+id, key, "")
	require.NoError(t, err)
	require.Equal(t, 404, status, "a worker node serves no API")
	require.Equal(t, "not_found", body["name"])
	status, _, err = request("GET", worker.url+"/healthz", "", "")
	require.NoError(t, err)
	require.Equal(t, 200, status)

	waitFor(t, "the worker node to deliver the email", func() bool {
		_, body, err := request("GET", api.url+"/emails/"+id, key, "")
		return err == nil && body["last_event"] == "delivered"
	})
}
