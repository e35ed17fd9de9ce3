package bounce

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fixture is one line of testdata/replies.txt.
type fixture struct {
	line      int
	reply     string
	want      Class
	recipient bool
}

func loadFixtures(t testing.TB) []fixture {
	t.Helper()
	f, err := os.Open("testdata/replies.txt")
	require.NoError(t, err)
	defer f.Close()
	var out []fixture
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		head, reply, ok := strings.Cut(line, " | ")
		require.True(t, ok, "line %d: no ' | '", n)
		fields := strings.Fields(head)
		require.Len(t, fields, 3, "line %d: want <type> <subType> <recipient|->", n)
		require.Contains(t, []string{"recipient", "-"}, fields[2], "line %d", n)
		typ, sub := Type(fields[0]), SubType(fields[1])
		require.True(t, Valid(typ, sub), "line %d: %s/%s is not in the vocabulary", n, typ, sub)
		out = append(out, fixture{line: n, reply: strings.ReplaceAll(reply, `\n`, "\n"),
			want: Class{Type: typ, SubType: sub, RecipientFailure: fields[2] == "recipient"}})
	}
	require.NoError(t, sc.Err())
	return out
}

// TestClassifyRealReplies holds Classify to the table of real-world
// replies in testdata/replies.txt.
func TestClassifyRealReplies(t *testing.T) {
	fixtures := loadFixtures(t)
	require.GreaterOrEqual(t, len(fixtures), 40)
	seen := map[SubType]bool{}
	for _, f := range fixtures {
		got := ClassifyReply(f.reply)
		if got != f.want {
			t.Errorf("replies.txt:%d: %q\n got %+v\nwant %+v", f.line, f.reply, got, f.want)
		}
		seen[got.SubType] = true
	}
	for _, sub := range []SubType{General, NoEmail, MailboxFull, MessageTooLarge, ContentRejected, AttachmentRejected, UndeterminedSub} {
		require.True(t, seen[sub], "no fixture is classified %s", sub)
	}
}

func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		in       string
		code     int
		enhanced string
		text     string
	}{
		{"550 5.1.1 No such user", 550, "5.1.1", "No such user"},
		{"smtp; 550-5.1.1 The account\n550-5.1.1 does not\n550 5.1.1  exist", 550, "5.1.1", "The account does not exist"},
		{"X-Postfix; 552 5.2.2 full", 552, "5.2.2", "full"},
		{"554 delivery error: dd gone", 554, "", "delivery error: dd gone"},
		{"421 4.7.0", 421, "4.7.0", ""},
		{"5.1.1 unknown", 0, "5.1.1", "unknown"},
		{"connect: connection refused", 0, "", "connect: connection refused"},
		{"999 5.1.1 x", 0, "", "999 5.1.1 x"},
		{"550 5.1.1234 x", 550, "", "5.1.1234 x"},
		{"", 0, "", ""},
	} {
		code, enh, text := ParseReply(tc.in)
		require.Equal(t, tc.code, code, "%q", tc.in)
		require.Equal(t, tc.enhanced, enh, "%q", tc.in)
		require.Equal(t, tc.text, text, "%q", tc.in)
	}
}

// TestClassifyOrder: a specific enhanced code decides before the text; a
// class-4 reply is never a recipient failure; the reply code's class wins
// over the enhanced code's.
func TestClassifyOrder(t *testing.T) {
	// 5.1.1 decides even when the text says spam.
	require.Equal(t, Class{Permanent, NoEmail, true}, Classify(550, "5.1.1", "blocked as spam"))
	// A catch-all code: the text decides.
	require.Equal(t, Class{Transient, ContentRejected, false}, Classify(550, "5.7.1", "blocked as spam"))
	require.Equal(t, Class{Permanent, General, false}, Classify(550, "5.7.1", "go away"))
	// 4xx: transient, never the address.
	require.Equal(t, Class{Transient, General, false}, Classify(450, "4.1.1", "user unknown"))
	require.Equal(t, Class{Transient, MailboxFull, false}, Classify(452, "4.2.2", ""))
	// The reply code's class wins: a 451 with a 5.x.x is retried, so transient.
	require.Equal(t, Class{Transient, General, false}, Classify(451, "5.1.1", "x"))
	// Only the enhanced code (a DSN's Status): its class.
	require.Equal(t, Class{Permanent, NoEmail, true}, Classify(0, "5.1.1", ""))
	// Nothing to go on.
	require.Equal(t, Class{Undetermined, UndeterminedSub, false}, Classify(0, "", "user unknown"))
	require.Equal(t, Class{Undetermined, UndeterminedSub, false}, Classify(250, "2.0.0", "OK"))
	// Suppress is a permanent recipient failure only.
	require.True(t, Classify(550, "5.1.1", "").Suppress())
	require.False(t, Classify(552, "5.2.2", "").Suppress())
	require.False(t, Classify(554, "5.7.1", "blocked using zen.spamhaus.org").Suppress())
}

// FuzzClassify: any input gives a classification of the vocabulary; a
// recipient failure is permanent; a 4xx is transient; the result does not
// depend on the letters' case.
func FuzzClassify(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		code, enh, text := ParseReply(fx.reply)
		f.Add(code, enh, text)
		f.Add(0, "", fx.reply)
	}
	f.Fuzz(func(t *testing.T, code int, enhanced, text string) {
		c := Classify(code, enhanced, text)
		if !Valid(c.Type, c.SubType) {
			t.Fatalf("Classify(%d, %q, %q) = %+v: not in the vocabulary", code, enhanced, text, c)
		}
		if c.RecipientFailure && c.Type != Permanent {
			t.Fatalf("Classify(%d, %q, %q) = %+v: a recipient failure that is not permanent", code, enhanced, text, c)
		}
		if code >= 400 && code < 500 && c.Type != Transient {
			t.Fatalf("Classify(%d, %q, %q) = %+v: a 4xx that is not transient", code, enhanced, text, c)
		}
		if c.SubType == Suppressed || c.SubType == OnAccountSuppressionList {
			t.Fatalf("Classify(%d, %q, %q) = %+v: a reply cannot say suppressed", code, enhanced, text, c)
		}
		if u := Classify(code, enhanced, strings.ToUpper(text)); u != c && strings.ToLower(strings.ToUpper(text)) == strings.ToLower(text) {
			t.Fatalf("Classify depends on case: %+v vs %+v for %q", c, u, text)
		}
		line := text
		if code != 0 {
			line = strings.TrimSpace(strings.Join([]string{strconv.Itoa(code), enhanced, text}, " "))
		}
		_ = ClassifyReply(line) // must not panic
	})
}

// FuzzParseReply: ParseReply never panics, and what it returns is what
// Classify takes: a code of 200–599 or 0, an enhanced code or "".
func FuzzParseReply(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		f.Add(fx.reply)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, enh, text := ParseReply(s)
		if code != 0 && (code < 200 || code > 599) {
			t.Fatalf("ParseReply(%q): code %d", s, code)
		}
		if enh != "" && !validEnhanced(enh) {
			t.Fatalf("ParseReply(%q): enhanced %q", s, enh)
		}
		if strings.ContainsAny(text, "\r\n") {
			t.Fatalf("ParseReply(%q): text %q keeps line breaks", s, text)
		}
	})
}

// BenchmarkClassifyReply classifies every reply of the table once per
// iteration.
func BenchmarkClassifyReply(b *testing.B) {
	fixtures := loadFixtures(b)
	b.ResetTimer()
	for b.Loop() {
		for _, f := range fixtures {
			_ = ClassifyReply(f.reply)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(fixtures)), "ns/reply")
}
