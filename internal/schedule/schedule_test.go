package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testNow is a Wednesday.
var testNow = time.Date(2025, 3, 12, 15, 30, 45, 0, time.UTC)

func TestParse(t *testing.T) {
	t.Parallel()
	et, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	at := func(y int, mo time.Month, d, h, mi, s, ns int, loc *time.Location) *time.Time {
		t := time.Date(y, mo, d, h, mi, s, ns, loc).UTC()
		return &t
	}
	after := func(d time.Duration) *time.Time { t := testNow.Add(d); return &t }

	for _, c := range []struct {
		in   string
		want *time.Time
	}{
		{"", nil},
		{"   ", nil},
		// ISO 8601 / RFC 3339.
		{"2025-03-13T10:00:00Z", at(2025, 3, 13, 10, 0, 0, 0, time.UTC)},
		{"2025-03-13T10:00:00.858Z", at(2025, 3, 13, 10, 0, 0, 858e6, time.UTC)},
		{"2025-03-13T10:00:00+02:00", at(2025, 3, 13, 8, 0, 0, 0, time.UTC)},
		{"2025-03-13T10:00:00.123456-0500", at(2025, 3, 13, 15, 0, 0, 123456e3, time.UTC)},
		{"2025-03-13T10:00:00", at(2025, 3, 13, 10, 0, 0, 0, time.UTC)},
		{"2025-03-13T10:00", at(2025, 3, 13, 10, 0, 0, 0, time.UTC)},
		{"2025-03-13 10:00:00", at(2025, 3, 13, 10, 0, 0, 0, time.UTC)},
		{"2025-03-13 10:00:00.674981+00", at(2025, 3, 13, 10, 0, 0, 674981e3, time.UTC)},
		{"2025-03-13 10:00:00 +0100", at(2025, 3, 13, 9, 0, 0, 0, time.UTC)},
		{"2025-03-13 10:00:00 ET", at(2025, 3, 13, 10, 0, 0, 0, et)},
		{"2025-03-13", at(2025, 3, 13, 0, 0, 0, 0, time.UTC)},
		{"Thu, 13 Mar 2025 10:00:00 GMT", at(2025, 3, 13, 10, 0, 0, 0, time.UTC)},
		// Relative.
		{"in 1 min", after(time.Minute)},
		{"in 30 seconds", after(30 * time.Second)},
		{"in 2 hours", after(2 * time.Hour)},
		{"IN 5 MINUTES", after(5 * time.Minute)},
		{"in 10mins", after(10 * time.Minute)},
		{"in 3 days", after(72 * time.Hour)},
		{"in 1 week", after(7 * 24 * time.Hour)},
		{"45 minutes from now", after(45 * time.Minute)},
		{"in a few minutes", after(3 * time.Minute)},
		{"in an hour", after(time.Hour)},
		{"in two weeks", after(14 * 24 * time.Hour)},
		{"in one day from now", after(24 * time.Hour)},
		// Natural language (now is Wednesday 2025-03-12 15:30:45 UTC).
		{"tomorrow at 9am", at(2025, 3, 13, 9, 0, 0, 0, time.UTC)},
		{"Tomorrow at 9am UTC", at(2025, 3, 13, 9, 0, 0, 0, time.UTC)},
		{"tomorrow at 9am PT", at(2025, 3, 13, 16, 0, 0, 0, time.UTC)},
		{"Friday at 3pm", at(2025, 3, 14, 15, 0, 0, 0, time.UTC)},
		{"Friday at 3pm ET", at(2025, 3, 14, 15, 0, 0, 0, et)}, // EDT since 9 March
		{"friday at 3pm est", at(2025, 3, 14, 20, 0, 0, 0, time.UTC)},
		{"Friday at 3pm PST", at(2025, 3, 14, 23, 0, 0, 0, time.UTC)},
		{"Friday at 3pm CDT", at(2025, 3, 14, 20, 0, 0, 0, time.UTC)},
		{"next monday at 8am", at(2025, 3, 17, 8, 0, 0, 0, time.UTC)},
		{"at 5pm", at(2025, 3, 12, 17, 0, 0, 0, time.UTC)},
		{"March 20 at 3pm", at(2025, 3, 20, 15, 0, 0, 0, time.UTC)},
		// At or before now: send now.
		{"2020-01-01T00:00:00Z", nil},
		{"2025-03-12T15:30:45Z", nil},
		{"today at 9am", nil},
		{"yesterday", nil},
		{"in 0 minutes", nil},
		// Exactly the limit is allowed.
		{"in 30 days", after(30 * 24 * time.Hour)},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := Parse(c.in, testNow, 0)
			require.NoError(t, err)
			if c.want == nil {
				require.Nil(t, got)
				return
			}
			require.NotNil(t, got)
			require.Equal(t, *c.want, *got)
			require.Equal(t, time.UTC, got.Location())
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	at := func(d time.Duration) time.Time { return testNow.Add(d) }
	for _, c := range []struct {
		in     string
		max    time.Duration
		tooFar bool
		// wantMax is the bound in the error, at the time read (zero when
		// it cannot be represented).
		wantMax time.Duration
		at      time.Time
	}{
		{"in 31 days", 0, true, DefaultMaxAhead, at(31 * 24 * time.Hour)},
		{"in 5 weeks", 0, true, DefaultMaxAhead, at(35 * 24 * time.Hour)},
		{"in 2 months", 0, true, DefaultMaxAhead, testNow.AddDate(0, 2, 0)},
		{"in 1 year", 0, true, DefaultMaxAhead, testNow.AddDate(1, 0, 0)},
		{"in 999999999999999999 weeks", 0, true, DefaultMaxAhead, time.Time{}},
		{"in 99999 years", 0, true, DefaultMaxAhead, time.Time{}},
		{"2025-04-11T15:30:46Z", 0, true, DefaultMaxAhead, at(30*24*time.Hour + time.Second)},
		{"2025-04-11T17:30:46+02:00", 0, true, DefaultMaxAhead, at(30*24*time.Hour + time.Second)},
		{"in 2 hours", time.Hour, true, time.Hour, at(2 * time.Hour)},
		{"soon", 0, false, 0, time.Time{}},
		{"not a date", 0, false, 0, time.Time{}},
		{"2025-13-45T00:00:00Z", 0, false, 0, time.Time{}},
		{"hello tomorrow world", 0, false, 0, time.Time{}},
		{"tomorrow\nat 9am", 0, false, 0, time.Time{}},
		{"in -5 minutes", 0, false, 0, time.Time{}},
		{"in 5 fortnights", 0, false, 0, time.Time{}},
		{"ET", 0, false, 0, time.Time{}},
		{"nul\x00", 0, false, 0, time.Time{}},
		{strings.Repeat("tomorrow ", 40), 0, false, 0, time.Time{}},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := Parse(c.in, testNow, c.max)
			require.Nil(t, got)
			var se *Error
			require.True(t, errors.As(err, &se), "%v", err)
			require.Equal(t, c.tooFar, se.TooFar)
			require.NotEmpty(t, se.Error())
			if c.tooFar {
				require.Equal(t, c.wantMax, se.MaxAhead)
				require.True(t, c.at.Equal(se.At), "read as %v, want %v", se.At, c.at)
				if !se.At.IsZero() {
					require.Equal(t, time.UTC, se.At.Location())
				}
			}
		})
	}
}

func TestParseBound(t *testing.T) {
	t.Parallel()
	for _, bound := range []time.Duration{0, -time.Hour} { // the default
		got, err := Parse("in 30 days", testNow, bound)
		require.NoError(t, err)
		require.Equal(t, testNow.Add(DefaultMaxAhead), *got)
	}
	got, err := Parse("in 59 minutes", testNow, time.Hour)
	require.NoError(t, err)
	require.Equal(t, testNow.Add(59*time.Minute), *got)
}

func TestHumanDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		30 * 24 * time.Hour: "30 days", 24 * time.Hour: "1 day", time.Hour: "1 hour", 90 * time.Minute: "90 minutes",
		time.Minute: "1 minute", 90 * time.Second: "1m30s",
	} {
		require.Equal(t, want, HumanDuration(d), d)
	}
}

// FuzzParse: any text is refused with an *Error, or is now (nil), or a
// UTC time in (now, now+maxAhead]; a time refused as too far was read
// beyond the bound.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "2025-03-13T10:00:00Z", "2025-03-13T10:00:00.858+02:00", "2025-03-13 10:00:00.674981+00",
		"2025-03-13 10:00:00 ET", "in 1 min", "in 2 hours", "in 999999999999999999 weeks", "45 minutes from now",
		"tomorrow at 9am", "Friday at 3pm ET", "next monday at 8am PST", "March 20 at 3pm", "20/03/2025",
		"in a few minutes", "at 99pm", "on 31st february", "tonight", "yesterday", "in 1 year", "\x00", "ET",
		"next next next friday", "13/13/9999", "in 12 month", "at 12 a.m. GMT",
	} {
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, s string, aheadSec int64) {
		maxAhead := time.Duration(aheadSec%(400*24*3600)) * time.Second
		got, err := Parse(s, testNow, maxAhead)
		if maxAhead <= 0 {
			maxAhead = DefaultMaxAhead
		}
		if err != nil {
			if got != nil {
				t.Fatal("both a time and an error")
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("%q: an error of another type: %v", s, err)
			}
			if se.TooFar && (se.MaxAhead != maxAhead || (!se.At.IsZero() && se.At.Sub(testNow) <= maxAhead)) {
				t.Fatalf("%q: too far, but %+v", s, se)
			}
			return
		}
		if got == nil {
			return
		}
		if !got.After(testNow) || got.Sub(testNow) > maxAhead {
			t.Fatalf("%q gave %v, outside (now, now+%v]", s, got, maxAhead)
		}
		if got.Location() != time.UTC {
			t.Fatalf("%q gave a non-UTC time %v", s, got)
		}
	})
}
