package delivery

import (
	"fmt"
	"net/mail"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

// addressOfParsed is addressOf without its shortcut for bare addresses.
func addressOfParsed(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return strings.TrimSpace(s)
}

// FuzzAddressOf: the shortcut for bare addresses never changes what
// addressOf returns.
func FuzzAddressOf(f *testing.F) {
	for _, s := range []string{"a@example.com", "Ann <a@example.com>", "a.b+c@example.com", "a..b@example.com", ".a@example.com",
		"a@b@c", "@example.com", "a@", "a@[127.0.0.1]", `"a b"@example.com`, "a@example.com (Ann)", " a@example.com ",
		"\u00a0a@example.com", "a@exämple.com", "a@example.com.", "undisclosed:;", "a@b,c@d", "a!#$%&'*+-/=?^_`{|}~@example.com", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := addressOf(s), addressOfParsed(s); got != want {
			t.Fatalf("addressOf(%q) = %q, the parse gives %q", s, got, want)
		}
	})
}

// recipientsOf lists each recipient of To, Cc and Bcc once, whatever its
// case or display name, first seen first, with what earlier attempts
// found; the same with a few recipients (compared in a list) and many
// (in a map).
func TestRecipientsOf(t *testing.T) {
	for _, many := range []bool{false, true} {
		e := &store.Email{To: []string{"Ann <ann@example.com>", "bob@example.com"}, Cc: []string{"ANN@example.com", "cy@example.com"},
			Bcc: []string{"Bob <BOB@EXAMPLE.COM>", "dee@example.com"}}
		want := []string{"ann@example.com", "bob@example.com", "cy@example.com", "dee@example.com"}
		if many {
			for i := range 12 {
				a := fmt.Sprintf("r%d@example.com", i)
				e.Bcc = append(e.Bcc, a, strings.ToUpper(a))
				want = append(want, a)
			}
		}
		prev := []*store.DeliveryAttempt{{Recipient: "CY@example.com", Outcome: store.OutcomeDelivered},
			{Recipient: "dee@example.com", Outcome: store.OutcomeDeferred}, {Recipient: "dee@example.com", Outcome: store.OutcomeDeferred},
			{Recipient: "nobody@example.com", Outcome: store.OutcomeBounced}}
		states := recipientsOf(e, prev)
		var got []string
		for _, st := range states {
			got = append(got, st.addr)
		}
		require.Equal(t, want, got, "many=%v", many)
		require.Equal(t, store.OutcomeDelivered, states[2].outcome)
		require.Equal(t, store.OutcomeDeferred, states[3].outcome)
		require.Equal(t, 2, states[3].deferred)
		require.Empty(t, states[0].outcome)
	}
}
