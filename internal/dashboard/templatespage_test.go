package dashboard

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/emailtemplate"
	"github.com/godwit/godwit/internal/schedule"
	"github.com/godwit/godwit/internal/store"
)

func TestParseRateLimit(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{"0": 0, " 25 ": 25, "1000000": 1_000_000} {
		n, msg := parseRateLimit(in)
		require.Empty(t, msg, in)
		require.Equal(t, want, n, in)
	}
	for _, in := range []string{"", "-1", "1.5", "1000001", "abc", "99999999999999999999"} {
		_, msg := parseRateLimit(in)
		require.NotEmpty(t, msg, in)
	}
}

// FuzzParseRateLimit: any form value is either refused or a limit within
// the bounds.
func FuzzParseRateLimit(f *testing.F) {
	for _, s := range []string{"", "0", "25", "-1", "1e3", "1000001", " 7 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, msg := parseRateLimit(s)
		if msg == "" {
			require.True(t, n >= 0 && n <= maxRateLimit, n)
		}
	})
}

func TestCheckTemplateFields(t *testing.T) {
	t.Parallel()
	ok := templateFields{Name: "Welcome", From: "Acme <news@example.com>", Subject: "Hi {{{name}}}", HTML: "<p>x</p>"}
	got, msg := checkTemplateFields(ok)
	require.Empty(t, msg)
	require.Equal(t, ok, got)
	got, msg = checkTemplateFields(templateFields{Name: " Trimmed\n", From: " a@example.com "})
	require.Empty(t, msg)
	require.Equal(t, templateFields{Name: "Trimmed", From: "a@example.com"}, got, "trimmed as the API trims")
	_, msg = checkTemplateFields(templateFields{Name: "No sender"})
	require.Empty(t, msg, "the sender is optional, as in the API")
	for f, want := range map[templateFields]string{
		{}:                                     "The name is 1 to 256 characters, on one line.",
		{Name: "x", From: "nope"}:              "The sender must be an address like email@example.com or Name <email@example.com>.",
		{Name: "x", Subject: "a\nb"}:           "The subject is at most 10000 characters, on one line.",
		{Name: "x", Text: "\x00"}:              "The form must not contain NUL characters.",
		{Name: "x", From: "a@example.com\x00"}: "The form must not contain NUL characters.",
	} {
		_, msg := checkTemplateFields(f)
		require.Equal(t, want, msg, "%+v", f)
	}
	for _, bad := range []templateFields{
		{},
		{Name: strings.Repeat("n", emailtemplate.MaxName+1)},
		{Name: "two\nlines"},
		{Name: "\r\n"},
		{Name: "x", From: "not an address"},
		{Name: "x", From: "a@example.com\r\nBcc: b@example.com"},
		{Name: "x", Subject: "two\r\nlines"},
		{Name: "x", HTML: "nul\x00"},
	} {
		_, msg := checkTemplateFields(bad)
		require.NotEmpty(t, msg, "%+v", bad)
	}
}

// FuzzCheckTemplateFields: an accepted form has a one-line name and
// subject, so nothing it stores can inject a header.
func FuzzCheckTemplateFields(f *testing.F) {
	f.Add("Welcome", "Acme <a@example.com>", "Hi {{{name}}}")
	f.Add("x\n", "", "")
	f.Add("x", "a@b", "s\r")
	f.Fuzz(func(t *testing.T, name, from, subject string) {
		if f, msg := checkTemplateFields(templateFields{Name: name, From: from, Subject: subject}); msg == "" {
			require.False(t, strings.ContainsAny(f.Name+f.From+f.Subject, "\r\n\x00"))
			require.NotEmpty(t, f.Name)
		}
	})
}

func TestSamples(t *testing.T) {
	t.Parallel()
	values := samples([]store.TemplateVariable{
		{Key: "order", Type: "number", FallbackValue: float64(42)},
		{Key: "who", Type: "string"},
		{Key: "city", Type: "string", FallbackValue: "Oslo"},
	})
	require.Equal(t, map[string]string{"order": "42", "who": "WHO", "city": "Oslo"}, values)
	out, err := renderPreview("<p>{{{who}}} in {{{city}}}, {{{other|<i>x</i>}}} {{{unknown}}}</p>", map[string]string{"who": "<b>"}, true)
	require.NoError(t, err)
	require.Equal(t, "<p>&lt;b&gt; in {{{city}}}, &lt;i&gt;x&lt;/i&gt; {{{unknown}}}</p>", out, "values escaped in HTML; an unknown key left as written")
}

func TestParseRecipientsQuery(t *testing.T) {
	t.Parallel()
	typ, off, ok := parseRecipientsQuery(url.Values{})
	require.True(t, ok)
	require.Equal(t, "sent", typ)
	require.Zero(t, off)
	typ, off, ok = parseRecipientsQuery(url.Values{"type": {"clicked"}, "offset": {"50"}})
	require.True(t, ok)
	require.Equal(t, "clicked", typ)
	require.Equal(t, 50, off)
	for _, q := range []url.Values{{"type": {"unsubscribed"}}, {"type": {"x"}}, {"offset": {"-1"}}, {"offset": {"a"}}, {"offset": {"99999999999"}}} {
		_, _, ok := parseRecipientsQuery(q)
		require.False(t, ok, q)
	}
}

// FuzzParseRecipientsQuery: an accepted query is a known type and an
// offset within bounds.
func FuzzParseRecipientsQuery(f *testing.F) {
	f.Add("sent", "0")
	f.Add("", "")
	f.Add("clicked", "-5")
	f.Fuzz(func(t *testing.T, typ, offset string) {
		got, off, ok := parseRecipientsQuery(url.Values{"type": {typ}, "offset": {offset}})
		if ok {
			require.Contains(t, pageTypes, got)
			require.True(t, off >= 0 && off <= 1<<30)
		}
	})
}

func TestScheduleMessage(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 5, 0, 0, 0, time.UTC)
	msg := func(in string) string {
		_, err := schedule.Parse(in, now, maxSchedule)
		return scheduleMessage(err, "a broadcast")
	}
	for _, ok := range []string{"", "in 2 hours", "2026-12-24T09:00", "tomorrow at 9am", "2026-01-01T00:00"} {
		require.Empty(t, msg(ok), ok)
	}
	require.Equal(t, "That reads as Sat 2 Jan 2027 09:00 UTC, more than 30 days ahead: the most a broadcast can be scheduled.",
		msg("2027-01-02T10:00:00+01:00"))
	require.Equal(t, "A broadcast is scheduled at most 30 days ahead.", msg("in 999999999999999999 weeks"))
	require.Contains(t, msg("someday"), `"in 2 hours"`)
	require.Empty(t, scheduleMessage(errors.New("another"), "a broadcast"), "not a time's error")
	_, err := schedule.Parse("in 40 days", now, maxSchedule)
	require.Equal(t, "That reads as Tue 12 Jan 2027 05:00 UTC, more than 30 days ahead: the most an email can be scheduled.",
		scheduleMessage(err, "an email"))
}
