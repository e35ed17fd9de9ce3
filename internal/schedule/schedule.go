// Package schedule reads the time an email or a broadcast is to be sent
// at, as Resend's `scheduled_at` takes it: ISO 8601 or natural language
// ("in 1 hour", "tomorrow at 9am", "Friday at 3pm ET"). The API
// (sendreq.ParseScheduledAt) and the dashboard's forms both read times with
// Parse; its errors are plain values that each of them words its own way.
package schedule

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // ET, CT, MT and PT need the tz database even where the OS has none

	"github.com/olebedev/when"
	"github.com/olebedev/when/rules"
	"github.com/olebedev/when/rules/common"
	"github.com/olebedev/when/rules/en"
)

// DefaultMaxAhead is how far ahead a time may be when Parse is given no
// bound (Resend: 30 days).
const DefaultMaxAhead = 30 * 24 * time.Hour

// maxScheduleInput bounds the scheduled_at text handed to the parsers.
const maxScheduleInput = 256

// naturalParser is olebedev/when with its English and common rules. The
// parser holds no per-call state, so one instance serves all goroutines.
var naturalParser = func() *when.Parser {
	p := when.New(&rules.Options{Distance: 5, MatchByOrder: true})
	p.Add(en.All...)
	p.Add(common.All...)
	return p
}()

// tzAbbrev maps the trailing US time zone abbreviations accepted in
// scheduled_at ("Friday at 3pm ET") to locations. The generic ones (ET, CT,
// MT, PT) follow daylight saving time; the explicit ones (EST, EDT, ...) are
// the fixed offsets they name.
var tzAbbrev = map[string]*time.Location{
	"UTC": time.UTC,
	"GMT": time.UTC,
	"Z":   time.UTC,
	"EST": time.FixedZone("EST", -5*3600),
	"EDT": time.FixedZone("EDT", -4*3600),
	"CST": time.FixedZone("CST", -6*3600),
	"CDT": time.FixedZone("CDT", -5*3600),
	"MST": time.FixedZone("MST", -7*3600),
	"MDT": time.FixedZone("MDT", -6*3600),
	"PST": time.FixedZone("PST", -8*3600),
	"PDT": time.FixedZone("PDT", -7*3600),
}

// tzGeneric are the abbreviations that follow daylight saving time.
var tzGeneric = map[string]string{
	"ET": "America/New_York",
	"CT": "America/Chicago",
	"MT": "America/Denver",
	"PT": "America/Los_Angeles",
}

func lookupTZ(abbr string) *time.Location {
	abbr = strings.ToUpper(abbr)
	if loc, ok := tzAbbrev[abbr]; ok {
		return loc
	}
	name, ok := tzGeneric[abbr]
	if !ok {
		return nil
	}
	if loc, err := time.LoadLocation(name); err == nil {
		return loc
	}
	// No tz database on this machine: fall back to the standard offset.
	std := map[string]int{"ET": -5, "CT": -6, "MT": -7, "PT": -8}[abbr]
	return time.FixedZone(abbr, std*3600)
}

// isoLayouts are tried in order. Layouts without a zone are read in the
// location of a trailing zone abbreviation, else UTC. Fractional seconds
// after the seconds field are accepted by time.Parse without being named.
var isoLayouts = func() []string {
	var ls []string
	for _, sep := range []string{"T", " "} {
		for _, clock := range []string{"15:04:05", "15:04"} {
			for _, zone := range []string{"Z07:00", "Z0700", "Z07", " Z07:00", " Z0700", ""} {
				ls = append(ls, "2006-01-02"+sep+clock+zone)
			}
		}
	}
	// RFC 1123 without its zone: "Mon, 02 Jan 2006 15:04:05 GMT" (JavaScript's
	// toUTCString) reaches here with the zone already stripped as a suffix.
	return append(ls, "2006-01-02", time.RFC1123Z, "Mon, 02 Jan 2006 15:04:05", time.ANSIC)
}()

// relativeRe is the "in N unit(s)" form, parsed here rather than by
// olebedev/when so that large numbers and months/years behave.
var relativeRe = regexp.MustCompile(`(?i)^(?:in\s*)?(?:(\d{1,18})\s*|(an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s+)` +
	`(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?|months?|years?)(?:\s+from\s+now)?$`)

var numberWords = map[string]string{
	"a": "1", "an": "1", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
	"seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
}

// fillerWords may surround the phrase olebedev/when recognises.
var fillerWords = map[string]bool{"at": true, "on": true, "the": true, "by": true, "of": true}

// Error is a time Parse refuses: the client's mistake. The API writes it
// as Resend's 422 validation_error; the dashboard re-renders its form.
type Error struct {
	// TooFar: the time is more than MaxAhead ahead; else it could not be
	// read.
	TooFar   bool
	MaxAhead time.Duration
	// At is the time read (UTC) when TooFar, zero when it is too far to
	// represent.
	At time.Time
}

func (e *Error) Error() string {
	if !e.TooFar {
		return "schedule: not a time: use ISO 8601 or natural language such as \"in 1 min\" or \"tomorrow at 9am\""
	}
	return "schedule: more than " + HumanDuration(e.MaxAhead) + " ahead"
}

// HumanDuration words d as "30 days", "1 hour" or "90 minutes" (a
// time.Duration string when none of these is exact).
func HumanDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	}
	return d.String()
}

func plural(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// Parse reads s: "" means nil (send now); ISO 8601 / RFC 3339 (with or
// without fractional seconds, with Z or an offset, or with a space instead
// of T and no zone, read as UTC); or natural language such as "in 1 min",
// "in 2 hours", "tomorrow at 9am", "Friday at 3pm ET". Natural language is
// read relative to now, in UTC unless a trailing zone abbreviation (ET,
// EST, EDT, CT, CST, CDT, MT, MST, MDT, PT, PST, PDT, UTC, GMT) names
// another. A time at or before now returns nil (send now). More than
// maxAhead ahead (0 means DefaultMaxAhead) is an *Error with TooFar, and
// anything unreadable an *Error without. A time returned is in UTC.
func Parse(s string, now time.Time, maxAhead time.Duration) (*time.Time, error) {
	if maxAhead <= 0 {
		maxAhead = DefaultMaxAhead
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if len(s) > maxScheduleInput || strings.ContainsAny(s, "\x00\r\n") {
		return nil, &Error{}
	}
	t, ok, tooFar := parseScheduleText(s, now)
	if tooFar {
		return nil, &Error{TooFar: true, MaxAhead: maxAhead}
	}
	if !ok {
		return nil, &Error{}
	}
	if !t.After(now) {
		return nil, nil
	}
	t = t.UTC()
	if t.Sub(now) > maxAhead {
		return nil, &Error{TooFar: true, MaxAhead: maxAhead, At: t}
	}
	return &t, nil
}

// parseScheduleText returns the instant s names. tooFar reports a relative
// offset too large to represent.
func parseScheduleText(s string, now time.Time) (t time.Time, ok, tooFar bool) {
	loc := time.UTC
	body := s
	if i := strings.LastIndexAny(s, " \t"); i > 0 {
		if l := lookupTZ(s[i+1:]); l != nil {
			loc, body = l, strings.TrimSpace(s[:i])
		}
	}
	for _, layout := range isoLayouts {
		if t, err := time.ParseInLocation(layout, body, loc); err == nil {
			return t, true, false
		}
	}
	if m := relativeRe.FindStringSubmatch(body); m != nil {
		num := m[1]
		if num == "" {
			num = numberWords[strings.ToLower(m[2])]
		}
		return relative(now, num, strings.ToLower(m[3]))
	}
	t, ok = natural(body, now.In(loc))
	return t, ok, false
}

func relative(now time.Time, num, unit string) (time.Time, bool, bool) {
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return time.Time{}, false, true // 18 digits always fit; be safe anyway
	}
	var d time.Duration
	switch {
	case strings.HasPrefix(unit, "month"), strings.HasPrefix(unit, "year"):
		if n > 10000 {
			return time.Time{}, false, true
		}
		if unit[0] == 'm' {
			return now.AddDate(0, int(n), 0), true, false
		}
		return now.AddDate(int(n), 0, 0), true, false
	case unit == "s" || strings.HasPrefix(unit, "sec"):
		d = time.Second
	case unit == "m" || strings.HasPrefix(unit, "min"):
		d = time.Minute
	case unit == "h" || strings.HasPrefix(unit, "h"):
		d = time.Hour
	case unit == "d" || strings.HasPrefix(unit, "day"):
		d = 24 * time.Hour
	default: // w, wk(s), week(s)
		d = 7 * 24 * time.Hour
	}
	if n > int64(math.MaxInt64/d) {
		return time.Time{}, false, true
	}
	return now.Add(time.Duration(n) * d), true, false
}

// natural runs olebedev/when. The recognised phrase must make up the whole
// input apart from a few filler words and punctuation, so that arbitrary
// text with a date somewhere inside it is not taken as a schedule.
func natural(s string, base time.Time) (t time.Time, ok bool) {
	defer func() {
		if recover() != nil { // a third-party parser must never take the request down
			t, ok = time.Time{}, false
		}
	}()
	r, err := naturalParser.Parse(s, base)
	if err != nil || r == nil {
		return time.Time{}, false
	}
	if r.Index < 0 || r.Index+len(r.Text) > len(s) {
		return time.Time{}, false
	}
	rest := s[:r.Index] + " " + s[r.Index+len(r.Text):]
	for _, w := range strings.FieldsFunc(rest, func(c rune) bool {
		return c == ' ' || c == '\t' || c == ',' || c == '.' || c == '-'
	}) {
		if !fillerWords[strings.ToLower(w)] {
			return time.Time{}, false
		}
	}
	// Rules that set a clock time leave the base's sub-second part behind.
	return r.Time.Truncate(time.Second), true
}
