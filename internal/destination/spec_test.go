package destination

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParseSpec: the entries' shape, shared by --destination-limits and
// --warmup: names lower-cased and known, once each, fields in order and
// trimmed, set's error prefixed with the entry.
func TestParseSpec(t *testing.T) {
	t.Parallel()
	names := []string{"a", "b"}
	var got []string
	collect := func(name, key, value string) error {
		got = append(got, name+"."+key+"="+value)
		if key == "bad" {
			return errors.New("bad is bad")
		}
		return nil
	}
	require.NoError(t, ParseSpec(" A: x = 1 / y=2 ,, b:x=3 ", "things", "a:x=1", names, collect))
	require.Equal(t, []string{"a.x=1", "a.y=2", "b.x=3"}, got)
	require.NoError(t, ParseSpec("", "things", "a:x=1", names, collect))
	for spec, want := range map[string]string{
		"a":           `things "a": want NAME:KEY=VALUE[/KEY=VALUE…], e.g. a:x=1`,
		"a: ":         `things "a:": want NAME:KEY=VALUE`,
		"c:x=1":       `things "c:x=1": unknown destination "c" (known: a, b)`,
		"a:x=1,A:y=2": `things: "a" is set twice`,
		"a:x=1/y":     `things "a:x=1/y": "y" is not KEY=VALUE`,
		"b:bad=1":     `things "b:bad=1": bad is bad`,
	} {
		err := ParseSpec(spec, "things", "a:x=1", names, collect)
		require.ErrorContains(t, err, want, spec)
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"", "a:x=1/y=2,b:z=3", " A : x = 1 ", "a", "a:", "c:x=1", "a:x=1,a:y=2", "a:x", ",,:/=", "a:=/=,b:==="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		n := 0
		err := ParseSpec(spec, "things", "a:x=1", []string{"a", "b"}, func(name, key, value string) error {
			n++
			if name != "a" && name != "b" {
				t.Fatalf("%q: name %q not among the names", spec, name)
			}
			if key != strings.TrimSpace(key) || value != strings.TrimSpace(value) {
				t.Fatalf("%q: untrimmed field %q=%q", spec, key, value)
			}
			return nil
		})
		if err == nil && n > strings.Count(spec, "=") {
			t.Fatalf("%q: %d fields from %d '='", spec, n, strings.Count(spec, "="))
		}
	})
}
