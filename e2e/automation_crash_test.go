package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// mustCall is request that requires status want and returns the body.
func mustCall(t *testing.T, s *server, key, method, path, body string, want int) map[string]any {
	t.Helper()
	status, m, err := request(method, s.url+path, key, body)
	require.NoError(t, err, "%s %s", method, path)
	require.Equal(t, want, status, "%s %s: %v", method, path, m)
	return m
}

// listAll reads every page of a list.
func listAll(t *testing.T, s *server, key, path string) []map[string]any {
	t.Helper()
	var out []map[string]any
	after := ""
	for range 100 {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		p := path + sep + "limit=100"
		if after != "" {
			p += "&after=" + after
		}
		m := mustCall(t, s, key, "GET", p, "", 200)
		data, _ := m["data"].([]any)
		for _, d := range data {
			out = append(out, d.(map[string]any))
		}
		if more, _ := m["has_more"].(bool); !more || len(data) == 0 {
			return out
		}
		after = data[len(data)-1].(map[string]any)["id"].(string)
	}
	t.Fatal("too many pages")
	return nil
}

// TestAutomationCrashSendsOnce: runs of a three-email automation are
// under way when the server is SIGKILLed; restarted on the same database,
// every run completes and every run step's email was accepted exactly once
// (the step's idempotency key and the step record's status guard the
// window between the accept and the step's commit).
func TestAutomationCrashSendsOnce(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			args := []string{"--data-dir", t.TempDir(), "--workers", "4"}
			if kind == sqlstore.Postgres {
				args = append(args, "--database-url", godwittest.StoreURL(t, kind))
			}
			s := start(t, args...)
			key := firstKey(t, s)
			tpl := mustCall(t, s, key, "POST", "/templates", `{"name":"Step","from":"Acme <onboarding@resend.dev>","subject":"Step {{{N}}}",
				"html":"<p>Step {{{N}}}</p>","variables":[{"key":"N","type":"string","fallback_value":"?"}]}`, 201)["id"].(string)
			mustCall(t, s, key, "POST", "/templates/"+tpl+"/publish", "", 200)
			step := func(n int) string {
				return fmt.Sprintf(`{"key":"s%d","type":"send_email","config":{"template":{"id":"%s","variables":{"N":"%d"}}}}`, n, tpl, n)
			}
			auto := mustCall(t, s, key, "POST", "/automations", `{"name":"three","status":"enabled","steps":[
				{"key":"t","type":"trigger","config":{"event_name":"go"}},`+step(1)+`,`+step(2)+`,`+step(3)+`],
				"connections":[{"from":"t","to":"s1"},{"from":"s1","to":"s2"},{"from":"s2","to":"s3"}]}`, 201)["id"].(string)
			const contacts = 40
			for i := range contacts {
				mustCall(t, s, key, "POST", "/contacts", fmt.Sprintf(`{"email":"delivered+c%d@resend.dev"}`, i), 201)
			}
			for i := range contacts {
				mustCall(t, s, key, "POST", "/events/send", fmt.Sprintf(`{"event":"go","email":"delivered+c%d@resend.dev"}`, i), 202)
			}
			// Kill as soon as some emails are in: runs are mid-way.
			deadline := time.Now().Add(30 * time.Second)
			var before int
			for {
				before = len(listAll(t, s, key, "/emails"))
				if before > 0 {
					break
				}
				require.True(t, time.Now().Before(deadline), "no email accepted")
				time.Sleep(5 * time.Millisecond)
			}
			require.NoError(t, s.cmd.Process.Kill())
			<-s.done
			t.Logf("%s: killed with %d of %d emails accepted", kind, before, 3*contacts)

			s = start(t, args...)
			deadline = time.Now().Add(60 * time.Second)
			for {
				done := listAll(t, s, key, "/automations/"+auto+"/runs?status=completed")
				if len(done) == contacts {
					break
				}
				require.True(t, time.Now().Before(deadline), "%d of %d runs completed", len(done), contacts)
				time.Sleep(50 * time.Millisecond)
			}
			require.Empty(t, listAll(t, s, key, "/automations/"+auto+"/runs?status=running,failed,cancelled"))
			emails := listAll(t, s, key, "/emails")
			seen := map[string]int{}
			for _, e := range emails {
				to := e["to"].([]any)[0].(string)
				seen[to+" "+e["subject"].(string)]++
			}
			for i := range contacts {
				for n := 1; n <= 3; n++ {
					k := fmt.Sprintf("delivered+c%d@resend.dev Step %d", i, n)
					require.Equal(t, 1, seen[k], "%s sent once", k)
				}
			}
			require.Len(t, emails, 3*contacts, "one email per run step, none twice")
		})
	}
}
