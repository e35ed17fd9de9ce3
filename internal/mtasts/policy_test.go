package mtasts

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte("version: STSv1\r\nmode: enforce\r\nmx: MX1.Example.com.\r\nmx: *.example.net\r\nmax_age: 604800\r\nfuture_key: x\r\n"))
	require.NoError(t, err)
	require.Equal(t, &Policy{Mode: Enforce, MX: []string{"mx1.example.com", "*.example.net"}, MaxAge: 604800 * time.Second}, p)

	p, err = Parse([]byte("version: STSv1\nmode: none\nmax_age: 86400\n"))
	require.NoError(t, err, "mode none needs no mx")
	require.Equal(t, None, p.Mode)

	p, err = Parse([]byte("version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 99999999999\n"))
	require.Error(t, err, "more than 10 digits")
	require.Nil(t, p)
	p, err = Parse([]byte("version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 9999999999\n"))
	require.NoError(t, err)
	require.Equal(t, MaxMaxAge, p.MaxAge, "clamped to a year")

	for name, in := range map[string]string{
		"empty":             "",
		"version not first": "mode: enforce\nversion: STSv1\nmx: a.example\nmax_age: 1\n",
		"STSv2":             "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
	} {
		_, err := Parse([]byte(in))
		require.ErrorIs(t, err, ErrVersion, name)
	}
	for name, in := range map[string]string{
		"no mode":        "version: STSv1\nmx: a.example\nmax_age: 1\n",
		"bad mode":       "version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n",
		"no max_age":     "version: STSv1\nmode: enforce\nmx: a.example\n",
		"negative age":   "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n",
		"no mx":          "version: STSv1\nmode: enforce\nmax_age: 1\n",
		"bad mx":         "version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1\n",
		"inner wildcard": "version: STSv1\nmode: enforce\nmx: a.*.example\nmax_age: 1\n",
		"no colon":       "version: STSv1\nmode enforce\nmx: a.example\nmax_age: 1\n",
		"too big":        "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n" + string(make([]byte, MaxPolicySize)),
	} {
		_, err := Parse([]byte(in))
		require.ErrorIs(t, err, ErrSyntax, name)
	}
}

func TestPolicyMatch(t *testing.T) {
	t.Parallel()
	p := &Policy{MX: []string{"mx.example.com", "*.example.net"}}
	for host, want := range map[string]bool{
		"mx.example.com":      true,
		"MX.Example.COM.":     true,
		"mx2.example.com":     false,
		"a.example.net":       true,
		"example.net":         false,
		"a.b.example.net":     false,
		".example.net":        false,
		"mx.example.com.evil": false,
	} {
		require.Equal(t, want, p.Match(host), host)
	}
}

func TestParseTXT(t *testing.T) {
	t.Parallel()
	id, err := ParseTXT("v=STSv1; id=20160831085700Z;")
	require.NoError(t, err)
	require.Equal(t, "20160831085700Z", id)
	id, err = ParseTXT("v=STSv1;ext=1;id=abc")
	require.NoError(t, err)
	require.Equal(t, "abc", id)
	_, err = ParseTXT("v=STSv2; id=1")
	require.ErrorIs(t, err, ErrVersion)
	for _, in := range []string{"v=STSv1", "v=STSv1; id=", "v=STSv1; id=a-b", "v=STSv1; id=123456789012345678901234567890123"} {
		_, err = ParseTXT(in)
		require.ErrorIs(t, err, ErrSyntax, in)
	}
}

// FuzzParse: Parse never panics, and what it accepts is a usable policy
// (a known mode, mx patterns that are valid and match themselves when
// not wildcards, a max_age in range).
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n",
		"version: STSv1\r\nmode: testing\r\nmx: *.example.net\r\nmx: mx1.example.com\r\nmax_age: 604800\r\n",
		"version: STSv1\nmode: none\nmax_age: 1\n",
		"version: STSv1\nmode: enforce\nmx: \nmax_age: 1\n",
		"version:STSv1\nmode:enforce\nmx:*.*.x\nmax_age:00000000001\n",
		"\n\n\nversion: STSv1\n:\n",
		"version: STSv1\nmode: enforce\nmode: none\nmx: a\nmax_age: 5\nmax_age: x\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			if p != nil {
				t.Fatal("a policy with an error")
			}
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrVersion) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		switch p.Mode {
		case Enforce, Testing:
			if len(p.MX) == 0 {
				t.Fatal("enforce/testing without mx")
			}
		case None:
		default:
			t.Fatalf("mode %q", p.Mode)
		}
		if p.MaxAge < 0 || p.MaxAge > MaxMaxAge {
			t.Fatalf("max_age %v", p.MaxAge)
		}
		for _, pat := range p.MX {
			if !validPattern(pat) {
				t.Fatalf("invalid pattern %q kept", pat)
			}
			if pat[0] != '*' && !p.Match(pat) {
				t.Fatalf("pattern %q does not match itself", pat)
			}
		}
	})
}

// FuzzParseTXT: ParseTXT never panics and returns only ids of 1-32
// letters and digits.
func FuzzParseTXT(f *testing.F) {
	for _, seed := range []string{"v=STSv1; id=20160831085700Z;", "v=STSv1;id=", "v=STSv1; id=a;id=b", "v=spf1 -all"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseTXT(s)
		if err != nil {
			return
		}
		if id == "" || len(id) > 32 {
			t.Fatalf("id %q", id)
		}
	})
}
