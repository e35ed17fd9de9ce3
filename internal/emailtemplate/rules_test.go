package emailtemplate

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/message"
)

// requireField checks that err is a *FieldError about field whose message
// starts with prefix.
func requireField(t *testing.T, err error, field, prefix string) *FieldError {
	t.Helper()
	var fe *FieldError
	require.True(t, errors.As(err, &fe), "%v", err)
	require.Equal(t, field, fe.Field)
	require.True(t, strings.HasPrefix(fe.Message, prefix), fe.Message)
	require.Equal(t, fe.Message, fe.Error())
	return fe
}

func TestStringRules(t *testing.T) {
	t.Parallel()
	type rule func(string) (string, error)
	long := strings.Repeat("é", MaxName+1)
	for _, c := range []struct {
		name  string
		rule  rule
		in    string
		want  string // when err is ""
		field string
		err   string // the message's start
	}{
		{"name trimmed", Name, "  Welcome  ", "Welcome", "", ""},
		{"name of MaxName runes", Name, long[2:], long[2:], "", ""},
		{"name empty", Name, " \t", "", "name", "Missing `name` field."},
		{"name too long", Name, long, "", "name", "The `name` field must be at most 256 characters, on one line."},
		{"name on two lines", Name, "a\nb", "", "name", "The `name` field must be at most"},
		{"name with NUL", Name, "a\x00", "", "name", "The `name` field must not contain NUL characters."},
		{"alias", Alias, " welcome-v2.1_a ", "welcome-v2.1_a", "", ""},
		{"alias empty", Alias, " ", "", "alias", "Invalid `alias` field. An alias is 1 to 128"},
		{"alias with a space", Alias, "a b", "", "alias", "Invalid `alias` field. An alias is"},
		{"alias too long", Alias, strings.Repeat("a", MaxAlias+1), "", "alias", "Invalid `alias` field. An alias is"},
		{"alias of MaxAlias", Alias, strings.Repeat("a", MaxAlias), strings.Repeat("a", MaxAlias), "", ""},
		{"alias a UUID", Alias, "0b6b6f6e-8d36-4c8e-9d3e-2f4a5b6c7d8e", "", "alias", "Invalid `alias` field. An alias cannot be a UUID"},
		{"from none", From, "  ", "", "", ""},
		{"from trimmed", From, " Acme <news@example.com> ", "Acme <news@example.com>", "", ""},
		{"from bare", From, "news@example.com", "news@example.com", "", ""},
		{"from not an address", From, "not an address", "", "from", "Invalid `from` field. The email address needs to follow"},
		{"from header injection", From, "a@example.com\r\nBcc: b@example.com", "", "from", "Invalid `from` field."},
		{"from with NUL", From, "a@example.com\x00", "", "from", "The `from` field must not contain NUL"},
		{"subject kept as written", Subject, " Hi {{{name}}} ", " Hi {{{name}}} ", "", ""},
		{"subject empty", Subject, "", "", "", ""},
		{"subject on two lines", Subject, "a\r\nb", "", "subject", "The `subject` field must be at most 10000 characters, on one line."},
		{"subject too long", Subject, strings.Repeat("s", message.MaxSubjectLen+1), "", "subject", "The `subject` field must be at most"},
		{"subject with NUL", Subject, "\x00", "", "subject", "The `subject` field must not contain NUL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.rule(c.in)
			if c.err == "" {
				require.NoError(t, err)
				require.Equal(t, c.want, got)
				return
			}
			require.Empty(t, got)
			fe := requireField(t, err, c.field, c.err)
			require.Equal(t, c.in == " \t", fe.Missing)
			require.Equal(t, strings.Contains(c.in, "\x00"), fe.NUL)
		})
	}
}

func TestBody(t *testing.T) {
	t.Parallel()
	require.NoError(t, Body("html", "<p>any\r\ntext</p>"))
	fe := requireField(t, Body("text", "a\x00b"), "text", "The `text` field must not contain NUL characters.")
	require.True(t, fe.NUL)
}

func TestReplyTo(t *testing.T) {
	t.Parallel()
	got, err := ReplyTo([]string{" a@example.com ", "B <b@example.com>"})
	require.NoError(t, err)
	require.Equal(t, []string{"a@example.com", "B <b@example.com>"}, got)
	got, err = ReplyTo(nil)
	require.NoError(t, err)
	require.Nil(t, got)
	many := make([]string, MaxReplyTo+1)
	for i := range many {
		many[i] = "a@example.com"
	}
	_, err = ReplyTo(many)
	requireField(t, err, "reply_to", "The `reply_to` field may hold at most 50 addresses.")
	_, err = ReplyTo(many[1:])
	require.NoError(t, err)
	for _, bad := range [][]string{{""}, {"nope"}, {"a@example.com", "b@example.com\nBcc: c@example.com"}, {"a@example.com\x00"}} {
		_, err := ReplyTo(bad)
		requireField(t, err, "reply_to", "Invalid `reply_to` field.")
	}
}

func TestVariable(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	require.NoError(t, Variable(0, "name", "string", seen))
	require.NoError(t, Variable(1, "order_2", "number", seen))
	for _, c := range []struct {
		key, typ, field, err string
		missing              bool
	}{
		{"", "string", "variables[2].key", "Missing `variables[2].key` field.", true},
		{"a-b", "string", "variables[2].key", "Invalid `variables[2].key` field. Keys are 1 to 50 letters", false},
		{strings.Repeat("k", 51), "string", "variables[2].key", "Invalid `variables[2].key` field.", false},
		{"FIRST_NAME", "string", "variables[2].key", "The variable key `FIRST_NAME` is reserved. Reserved keys: FIRST_NAME, LAST_NAME, EMAIL, UNSUBSCRIBE_URL, contact, this.", false},
		{"name", "string", "variables[2].key", "The variable key `name` is given more than once.", false},
		{"fresh", "", "variables[2].type", "Missing `variables[2].type` field.", true},
		{"fresh2", "boolean", "variables[2].type", "The `variables[2].type` field must be `string` or `number`.", false},
	} {
		fe := requireField(t, Variable(2, c.key, c.typ, seen), c.field, c.err)
		require.Equal(t, c.missing, fe.Missing, c.key)
	}
}

// FuzzRules: a value the rules accept is one that cannot break a header
// (no CR, LF or NUL) and is within its bound.
func FuzzRules(f *testing.F) {
	f.Add("Welcome", "Acme <a@example.com>", "Hi {{{name}}}", "welcome")
	f.Add("x\n", "", "", "")
	f.Add(" x ", "a@b", "s\r", "0b6b6f6e-8d36-4c8e-9d3e-2f4a5b6c7d8e")
	f.Fuzz(func(t *testing.T, name, from, subject, alias string) {
		for _, r := range []struct {
			in   string
			rule func(string) (string, error)
		}{{name, Name}, {from, From}, {subject, Subject}, {alias, Alias}} {
			got, err := r.rule(r.in)
			if err != nil {
				var fe *FieldError
				require.True(t, errors.As(err, &fe))
				continue
			}
			require.False(t, strings.ContainsAny(got, "\r\n\x00"), "%q", got)
		}
		if n, err := Name(name); err == nil {
			require.NotEmpty(t, n)
			require.Equal(t, strings.TrimSpace(n), n)
		}
	})
}
