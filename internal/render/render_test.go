package render

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func vars(m map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestRender(t *testing.T) {
	look := vars(map[string]string{"NAME": "Ann <b>&", "N": "3", "EMPTY": ""})
	for _, c := range []struct{ in, html, text string }{
		{"Hi {{{NAME}}}!", "Hi Ann &lt;b&gt;&amp;!", "Hi Ann <b>&!"},
		{"{{{ NAME }}}/{{{N}}}/{{{EMPTY}}}.", "Ann &lt;b&gt;&amp;/3/.", "Ann <b>&/3/."},
		{"{{{MISSING}}} {{{MISSING|there}}} {{{NAME|x}}}", "{{{MISSING}}} there Ann &lt;b&gt;&amp;", "{{{MISSING}}} there Ann <b>&"},
		{"{{{MISSING|<i>}}}", "&lt;i&gt;", "<i>"},
		{"{{NAME}} {{{NAME}} {{{NA-ME}}} {{{}}} {{{", "{{NAME}} {{{NAME}} {{{NA-ME}}} {{{}}} {{{", "{{NAME}} {{{NAME}} {{{NA-ME}}} {{{}}} {{{"},
		{"{{{{NAME}}}}", "{Ann &lt;b&gt;&amp;}", "{Ann <b>&}"},
		{"{{{ {{{N}}}", "{{{ 3", "{{{ 3"},
		{"", "", ""},
	} {
		got, err := Render(c.in, look, true, 0)
		require.NoError(t, err)
		require.Equal(t, c.html, got, c.in)
		got, err = Render(c.in, look, false, 0)
		require.NoError(t, err)
		require.Equal(t, c.text, got, c.in)
	}
	_, err := Render(strings.Repeat("{{{NAME}}}", 10), look, false, 50)
	require.ErrorIs(t, err, ErrTooLarge)
	require.Equal(t, []Placeholder{{Key: "A"}, {Key: "B", Fallback: " x ", HasFallback: true}},
		Placeholders("{{{A}}} and {{{ B | x }}}"))
}

func FuzzRender(f *testing.F) {
	for _, s := range []string{"Hi {{{NAME}}}", "{{{A|b}}}", "{{{{X}}}}", "{{{", "}}}", "{{{ A }}}{{{B|{{{C}}}}}}", "<p>{{{N}}}</p>", "\xff{{{A}}}"} {
		f.Add(s, "v<&>")
	}
	f.Fuzz(func(t *testing.T, s, v string) {
		look := func(k string) (string, bool) { return v, k != "MISSING" }
		out, err := Render(s, look, false, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(Placeholders(s)) == 0 && out != s {
			t.Fatalf("no placeholder, yet %q became %q", s, out)
		}
		esc, err := Render(s, look, true, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.ContainsAny(v, "<>&'\"") && strings.Count(s, "|") == 0 && esc != out {
			t.Fatalf("escaping changed a plain value: %q vs %q", esc, out)
		}
		if _, err := Render(s, look, true, len(esc)); err != nil {
			t.Fatalf("a limit of the result's own size: %v", err)
		}
		if len(esc) > 1 {
			if _, err := Render(s, look, true, len(esc)-1); err != ErrTooLarge {
				t.Fatalf("a limit below the result's size: %v", err)
			}
		}
	})
}
