package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/resend/resend-go/v3"
	"github.com/stretchr/testify/require"
)

// TestWebhooksDelivered: the real binary posts signed events to an endpoint
// on loopback (allowed with --allow-private-networks), and both official
// SDKs verify them.
func TestWebhooksDelivered(t *testing.T) {
	type hit struct {
		header http.Header
		body   string
	}
	var mu sync.Mutex
	var hits []hit
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hits = append(hits, hit{r.Header.Clone(), string(b)})
		mu.Unlock()
	}))
	t.Cleanup(rcv.Close)

	s := start(t, "--data-dir", t.TempDir(), "--allow-private-networks")
	waitFor(t, "a key on stdout", func() bool { return tokenRE.MatchString(s.stdout.String()) })
	key := tokenRE.FindString(s.stdout.String())
	status, body, err := request("POST", s.url+"/webhooks", key, `{"endpoint":"`+rcv.URL+`/hook","events":["email.sent","email.delivered"]}`)
	require.NoError(t, err)
	require.Equal(t, 201, status, "%v", body)
	secret := body["signing_secret"].(string)

	status, body, err = request("POST", s.url+"/emails", key, `{"from":"onboarding@resend.dev","to":"delivered@resend.dev","subject":"s","text":"x"}`)
	require.NoError(t, err)
	require.Equal(t, 200, status)
	emailID := body["id"].(string)
	waitFor(t, "two webhook posts", func() bool { mu.Lock(); defer mu.Unlock(); return len(hits) >= 2 })

	mu.Lock()
	got := append([]hit(nil), hits...)
	mu.Unlock()
	sdk := resend.NewClient("re_unused")
	var types []string
	for _, h := range got {
		require.NoError(t, sdk.Webhooks.Verify(&resend.VerifyWebhookOptions{Payload: h.body, WebhookSecret: secret,
			Headers: resend.WebhookHeaders{Id: h.header.Get("svix-id"), Timestamp: h.header.Get("svix-timestamp"), Signature: h.header.Get("svix-signature")}}))
		var ev struct {
			Type string `json:"type"`
			Data struct {
				EmailID string `json:"email_id"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal([]byte(h.body), &ev))
		require.Equal(t, emailID, ev.Data.EmailID)
		types = append(types, ev.Type)
	}
	require.ElementsMatch(t, []string{"email.sent", "email.delivered"}, types)

	// The Node SDK verifies them too (it skips without Node, except in CI).
	node := nodeSDK(t)
	for _, h := range got {
		in, _ := json.Marshal(map[string]string{"payload": h.body, "id": h.header.Get("svix-id"),
			"timestamp": h.header.Get("svix-timestamp"), "signature": h.header.Get("svix-signature"), "secret": secret})
		cmd := exec.Command(node, "verify.mjs")
		cmd.Dir = "node"
		cmd.Stdin = strings.NewReader(string(in))
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.Contains(t, []string{"email.sent", "email.delivered"}, strings.TrimSpace(string(out)))
	}
	// A tampered body fails in Node as well.
	in, _ := json.Marshal(map[string]string{"payload": got[0].body + " ", "id": got[0].header.Get("svix-id"),
		"timestamp": got[0].header.Get("svix-timestamp"), "signature": got[0].header.Get("svix-signature"), "secret": secret})
	cmd := exec.Command(node, "verify.mjs")
	cmd.Dir = "node"
	cmd.Stdin = strings.NewReader(string(in))
	require.Error(t, cmd.Run())
}
