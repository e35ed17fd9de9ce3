package webhook

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/resend/resend-go/v3"

	"github.com/godwit/godwit/internal/store"
	"github.com/stretchr/testify/require"
)

// The official Go SDK's verification accepts what we sign.
func TestSignatureVerifiesWithResendGo(t *testing.T) {
	secret := NewSecret()
	require.Regexp(t, `^whsec_[A-Za-z0-9+/]{32}$`, secret)
	body := []byte(`{"type":"email.delivered","created_at":"2026-11-28T12:00:00.000Z","data":{"email_id":"x"}}`)
	id := store.NewWebhookMessageID()
	require.Regexp(t, `^msg_[0-9A-Za-z]{27}$`, id)
	h := http.Header{}
	now := time.Now()
	require.NoError(t, SetHeaders(h, []string{secret}, id, now, body))

	sdk := resend.NewClient("re_x")
	verify := func(secret, sig string, body []byte) error {
		return sdk.Webhooks.Verify(&resend.VerifyWebhookOptions{Payload: string(body), WebhookSecret: secret,
			Headers: resend.WebhookHeaders{Id: h.Get("svix-id"), Timestamp: h.Get("svix-timestamp"), Signature: sig}})
	}
	require.NoError(t, verify(secret, h.Get("svix-signature"), body))
	require.Equal(t, h.Get("svix-signature"), h.Get("webhook-signature"))

	// A changed body, another secret, or another id fails.
	require.Error(t, verify(secret, h.Get("svix-signature"), append(body, ' ')))
	require.Error(t, verify(NewSecret(), h.Get("svix-signature"), body))

	// During a rotation both secrets sign; either verifies.
	old := NewSecret()
	sig, err := Signature([]string{secret, old}, id, now, body)
	require.NoError(t, err)
	require.Len(t, strings.Split(sig, " "), 2)
	require.NoError(t, verify(secret, sig, body))
	require.NoError(t, verify(old, sig, body))
}

// A known vector: the signature does not depend on anything but its inputs.
func TestSignatureVector(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	sig, err := Signature([]string{secret}, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	require.NoError(t, err)
	// The example of Svix's documentation on manual verification.
	require.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", sig)
}

func TestBadSecrets(t *testing.T) {
	for _, s := range []string{"", "nope", "whsec_", "whsec_!!!"} {
		_, err := Signature([]string{s}, "msg_x", time.Now(), nil)
		require.Error(t, err, s)
	}
	_, err := Signature(nil, "msg_x", time.Now(), nil)
	require.Error(t, err)
	require.True(t, regexp.MustCompile(`^atmpt_`).MatchString(store.NewWebhookAttemptID()))
	require.NotEqual(t, store.NewWebhookMessageID(), store.NewWebhookMessageID())
}
