package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// newSink starts an MX on loopback that keeps what it accepts, taking a
// little time over each message as a real one does.
func newSink(t *testing.T) *godwittest.MX {
	return godwittest.NewMX(t, godwittest.MXOptions{Domain: "sink.test", DataDelay: 2 * time.Millisecond})
}

// verifiedDomain adds a domain through the API, publishes its records in
// the DNS server, waits for the verifier to pass it, and returns its id.
func verifiedDomain(t *testing.T, s *server, key string, dns *dnstest.Server, name string) string {
	t.Helper()
	return verifiedDomainWith(t, s, key, dns, name, "")
}

// verifiedDomainWith is verifiedDomain with more fields of POST /domains
// (`"capabilities":{…}`).
func verifiedDomainWith(t *testing.T, s *server, key string, dns *dnstest.Server, name, fields string) string {
	t.Helper()
	if fields != "" {
		fields = "," + fields
	}
	status, body, err := request("POST", s.url+"/domains", key, `{"name":"`+name+`"`+fields+`}`)
	require.NoError(t, err)
	require.Equal(t, 201, status, "%v", body)
	id := body["id"].(string)
	for _, rec := range body["records"].([]any) {
		r := rec.(map[string]any)
		fqdn := r["name"].(string) + "." + name
		if r["name"] == name { // the Receiving MX, at the domain itself
			fqdn = name
		}
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
	return id
}

// TestCrashLosesNothing accepts emails, SIGKILLs the server while it
// delivers them through a relay, restarts it, and checks that every
// accepted email reaches the relay within resumeWithin of the restart
// (SQLite: the restarted process releases its predecessor's running jobs
// at start; PostgreSQL: it finds the dead node's heartbeat stale after
// 5 s and releases its jobs), with duplicates only for the deliveries in
// flight at the kill. It logs the duplicates it measured.
func TestCrashLosesNothing(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			// The bound is generous for a loaded machine: the figures
			// measured are in the log line below and in docs/delivery.md
			// (SQLite resumes in 0.5-3 s; PostgreSQL in 5-12 s, 5 of which
			// are the dead node's heartbeat going stale).
			resumeWithin := 15 * time.Second
			if kind == sqlstore.Postgres {
				resumeWithin = 30 * time.Second
			}
			dns := dnstest.NewServer(t)
			relay := newSink(t)
			const workers = 20
			args := []string{"--data-dir", t.TempDir(), "--dns-resolver", dns.Addr(), "--delivery", "relay",
				"--relay-url", "smtp://" + relay.Addr(), "--workers", fmt.Sprint(workers), "--metrics-addr", "127.0.0.1:0"}
			// --delivery-timeout stays at its 10 minutes: River's own rescue
			// of stuck jobs (after 11) must not be what brings them back.
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
				if delivered := relay.Count(); (n >= 800 && delivered >= 200) || time.Now().After(deadline) {
					break
				}
				time.Sleep(2 * time.Millisecond)
			}
			require.NoError(t, s.cmd.Process.Kill())
			<-s.done
			close(stop)
			wg.Wait()
			distinctBefore := len(relay.MessageIDs())
			require.GreaterOrEqual(t, len(accepted), 800)
			t.Logf("accepted %d, relayed %d before the kill", len(accepted), distinctBefore)

			restarted := time.Now()
			s2 := start(t, args...)
			missing := func() []string {
				var out []string
				seen := relay.MessageIDs()
				for _, id := range accepted {
					if seen["<"+id+"@crash.test>"] == 0 {
						out = append(out, id)
					}
				}
				return out
			}
			deadline = restarted.Add(resumeWithin)
			for len(missing()) > 0 {
				if time.Now().After(deadline) {
					m := missing()
					var rescues []string // when the jobs came back, to tell a late rescue from a slow drain
					for _, line := range strings.Split(s2.stderr.String(), "\n") {
						if strings.Contains(line, "available again") || strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, `"level":"WARN"`) {
							rescues = append(rescues, line)
						}
					}
					require.FailNow(t, "accepted emails not delivered in time after the restart",
						"%d missing %s after the restart at %s (%d messages relayed in all), e.g. %s; warnings: %s", len(m), resumeWithin, restarted.UTC().Format(time.RFC3339Nano),
						relay.Count(), strings.Join(m[:min(3, len(m))], ", "), strings.Join(rescues, " | "))
				}
				time.Sleep(50 * time.Millisecond)
			}
			resumed := time.Since(restarted)
			seen := relay.MessageIDs()
			distinct, total := len(seen), 0
			dups := map[string]int{} // the Message-IDs received more than once, with how many times each was
			for id, n := range seen {
				total += n
				if n > 1 {
					dups[id] = n
				}
			}
			var sample []string
			for id, n := range dups {
				if len(sample) < 5 {
					sample = append(sample, fmt.Sprintf("%s×%d", id, n))
				}
			}
			t.Logf("%s: all %d accepted emails relayed %s after the restart; %d messages for %d distinct ids: %d duplicates (%d ids sent more than once, e.g. %s)",
				kind, len(accepted), resumed.Round(100*time.Millisecond), total, distinct, total-distinct, len(dups), strings.Join(sample, ", "))
			require.LessOrEqual(t, total-distinct, workers, "duplicates only for deliveries in flight at the kill")
			// The restarted node counted what it released: the bound.
			rescued := scrape(t, loggedAddr(t, s2, "serving metrics", "addr"))["godwit_delivery_emails_rescued_total"]
			t.Logf("%s: the restarted node rescued jobs holding %v emails", kind, rescued)
			require.LessOrEqual(t, float64(total-distinct), rescued, "duplicates within the emails of the rescued jobs")
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
	apiDir, workerDir := t.TempDir(), t.TempDir()
	api := start(t, "--data-dir", apiDir, "--database-url", db, "--role", "api")
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

	// The nodes share the secret key that seals the database's secrets (a
	// worker with a key of its own is refused at start).
	secret, err := os.ReadFile(filepath.Join(apiDir, "secret.key"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(workerDir, "secret.key"), secret, 0o600))
	worker := start(t, "--data-dir", workerDir, "--database-url", db, "--role", "worker")
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
