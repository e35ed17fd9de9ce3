package message

import (
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

// TestLongHeaderNames is the regression test of the crash that a custom
// header name of 74 characters or more caused inside go-message's folding
// (textproto.foldLine, "index out of range [-1]"). It fails, by panicking,
// if makeHeader goes back to go-message's formatter.
func TestLongHeaderNames(t *testing.T) {
	for _, n := range []int{72, 73, 74, 75, MaxHeaderNameLen} {
		for _, value := range []string{"v", " v", "v ", "  ", "a b", strings.Repeat("word ", 40), strings.Repeat("x", 900), "héllo wörld"} {
			e := baseEmail()
			e.Text = ptr("x")
			name := "X" + strings.Repeat("a", n-1)
			e.Headers = []store.Header{{Name: name, Value: value}}
			require.NoError(t, Check(e), "name of %d, value %q", n, value)
			b := build(t, e)
			ent, _, _ := parse(t, b)
			h := mail.Header{Header: ent.Header}
			got, err := h.Text(name)
			require.NoError(t, err)
			require.Equal(t, strings.TrimSpace(value), strings.TrimSpace(got), "name of %d", n)
		}
	}
}

func TestCheckHeader(t *testing.T) {
	ok := []struct{ name, value string }{
		{"X-Entity-Ref-ID", "123"},
		{"List-Unsubscribe", "<https://example.com/u?t=1>"},
		{"Reply-To", "a@example.com"},
		{"Sender", "a@example.com"}, // its domain is the caller's check
		{"X" + strings.Repeat("a", MaxHeaderNameLen-1), "v"},
		{"Resentful", "not a Resent- field"},
	}
	for _, tc := range ok {
		require.NoError(t, CheckHeader(tc.name, tc.value), tc.name)
	}
	refused := []struct{ name, value, reason string }{
		{"X" + strings.Repeat("a", MaxHeaderNameLen), "v", "longer than 76"},
		{"X A", "v", "printable ASCII"},
		{"", "v", "printable ASCII"},
		{"content-disposition", "attachment", "Godwit sets it"},
		{"Content-ID", "<x>", "Godwit sets it"},
		{"content-type", "text/plain", "Godwit sets it"},
		{"MIME-Version", "1.0", "Godwit sets it"},
		{"Content-Transfer-Encoding", "8bit", "Godwit sets it"},
		{"dkim-signature", "v=1", "Godwit sets it"},
		{"Resent-From", "a@example.com", "trace or identity"},
		{"resent-sender", "a@example.com", "trace or identity"},
		{"Return-Path", "<a@example.com>", "trace or identity"},
		{"Received", "from x by y", "trace or identity"},
		{"Received-SPF", "pass", "trace or identity"},
		{"Authentication-Results", "mx; dkim=pass", "trace or identity"},
		{"ARC-Seal", "i=1", "trace or identity"},
		{"arc-message-signature", "i=1", "trace or identity"},
		{"Delivered-To", "a@example.com", "trace or identity"},
		{"X-Ok", "a\r\nBcc: x@evil.com", "line break"},
		{"X-Ok", strings.Repeat("x", 1000), "too long"},
	}
	for _, tc := range refused {
		err := CheckHeader(tc.name, tc.value)
		var fe *FieldError
		require.True(t, errors.As(err, &fe), "%s: %v", tc.name, err)
		require.Contains(t, fe.Reason, tc.reason, tc.name)
	}
}

func TestCheckAgreesWithBuild(t *testing.T) {
	long := strings.Repeat("x", 1200)
	cases := map[string]func(e *store.Email){
		"reply-to twice":    func(e *store.Email) { e.Headers = []store.Header{{Name: "reply-to", Value: "b@example.com"}} },
		"long word":         func(e *store.Email) { e.Headers = []store.Header{{Name: "X-A", Value: long}} },
		"long subject word": func(e *store.Email) { e.Subject = long },
		"long display name": func(e *store.Email) { e.From = long + " <a@example.com>" },
		"long filename":     func(e *store.Email) { e.Attachments = []store.Attachment{{Filename: long, Content: []byte("x")}} },
		"content id": func(e *store.Email) {
			e.Attachments = []store.Attachment{{Filename: "a.png", ContentID: "a b", Content: []byte("x")}}
		},
		"identity header":    func(e *store.Email) { e.Headers = []store.Header{{Name: "Received", Value: "x"}} },
		"header line breaks": func(e *store.Email) { e.Headers = []store.Header{{Name: "X-A", Value: "a\nb"}} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			e := baseEmail()
			e.Text = ptr("x")
			e.ReplyTo = []string{"r@example.com"}
			mutate(e)
			require.Error(t, Check(e))
			_, err := Build(e, Options{Now: checkTime, MessageID: "<a@example.com>"})
			require.Error(t, err)
		})
	}
}

func TestFoldField(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"X-A", ""},
		{"X-A", "short"},
		{"X-A", strings.Repeat("word ", 100)},
		{"X-A", strings.Repeat("w\t", 100)},
		{"X-A", "   leading and trailing   "},
		{strings.Repeat("N", 90), "v w"},
		{"X-A", strings.Repeat("x", 990)},
	} {
		raw, err := foldField(tc.name, tc.value)
		require.NoError(t, err)
		checkFolded(t, tc.name, tc.value, raw)
	}
	_, err := foldField("X-A", strings.Repeat("x", 994))
	require.Error(t, err)
	_, err = foldField("X A", "v")
	require.Error(t, err)
}

// checkFolded asserts foldField's promises about raw.
func checkFolded(t testing.TB, name, value string, raw []byte) {
	t.Helper()
	s := string(raw)
	if !strings.HasSuffix(s, "\r\n") {
		t.Fatalf("no final CRLF: %q", s)
	}
	lines := strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n")
	for i, l := range lines {
		if len(l) > maxLineLen {
			t.Fatalf("line %d has %d characters", i, len(l))
		}
		if i > 0 && (l == "" || strings.Trim(l, " \t") == "" || !isWSP(l[0])) {
			t.Fatalf("continuation line %d is %q", i, l)
		}
		if strings.ContainsAny(l, "\r\n") {
			t.Fatalf("bare CR or LF in line %d", i)
		}
	}
	if got := strings.Join(lines, ""); got != name+": "+value {
		t.Fatalf("unfolds to %q, want %q", got, name+": "+value)
	}
}

func FuzzFoldField(f *testing.F) {
	f.Add("X-A", "v")
	f.Add("X"+strings.Repeat("a", 73), "value")
	f.Add("X-A", strings.Repeat("ab ", 400))
	f.Add("Subject", " \t x")
	f.Fuzz(func(t *testing.T, name, value string) {
		if strings.ContainsAny(value, "\r\n") {
			return // refused by CheckHeader before it gets here
		}
		raw, err := foldField(name, value)
		if err != nil {
			return
		}
		checkFolded(t, name, value, raw)
	})
}
