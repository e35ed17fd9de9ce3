package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Expected is one record a domain must publish.
type Expected struct {
	Type     string // "TXT" or "MX" (case-insensitive)
	Name     string // FQDN, e.g. "resend._domainkey.example.com"
	Value    string // TXT: the expected text, e.g. "p=MIIB..." or "v=spf1 include:x ~all"; MX: the host
	Priority uint16 // MX only
}

// Status is the outcome of checking one Expected record.
type Status string

const (
	Verified Status = "verified" // a published record matches
	Missing  Status = "missing"  // nothing of that type at the name (NXDOMAIN or no such records)
	Mismatch Status = "mismatch" // records of that type exist, none matches
)

// Answer is what DNS answered to one check, bounded in size for keeping
// and showing: the values published at the name (TXT: each record's
// character-strings joined; MX: "preference host"), at most MaxAnswerValues
// of them, each cut to MaxAnswerBytes bytes, non-printable characters
// escaped (\xNN, \uNNNN); or why there were none.
type Answer struct {
	Values []string
	// Omitted is how many more values were published than Values holds.
	Omitted int
	// Error is "NXDOMAIN" when the name does not exist, or what made the
	// lookup fail ("SERVFAIL", "timeout: no reply within 5s", …); "" when
	// the server answered (no values and no Error: the name exists but
	// publishes nothing of that type).
	Error string
}

// Bounds of an Answer.
const (
	MaxAnswerValues = 8
	MaxAnswerBytes  = 512
)

// NXDomain is Answer.Error for a name that does not exist.
const NXDomain = "NXDOMAIN"

// Check looks the record up and compares tolerantly:
//
//   - TXT: values compare after joining character-strings, trimming surrounding
//     quotes and whitespace and collapsing runs of whitespace. A DKIM record
//     ("p=" tag present, or v=DKIM1; also v=DMARC1) compares as a tag list:
//     tags split on ';', order-insensitive, names case-insensitive,
//     whitespace inside values ignored (people paste keys with spaces and
//     newlines), the p= key compared case-sensitively, "v=DKIM1" and "k=rsa"
//     optional when absent on one side. An SPF record ("v=spf1") compares as
//     a case-insensitive sequence of terms. Anything else compares exactly
//     after the whitespace/quote normalisation. One matching record among
//     several TXT records at the name is enough.
//   - MX: host names case-insensitive, trailing dot ignored; the preference
//     must equal Expected.Priority; other MX records may coexist.
//
// Missing means nothing of that type at the name, Mismatch something there
// but nothing matching. A lookup failure is returned as ("", err) and never
// as Missing: the caller should retry later.
func (r *Resolver) Check(ctx context.Context, e Expected) (Status, error) {
	st, _, err := r.CheckAnswer(ctx, e)
	return st, err
}

// CheckAnswer is Check, also returning what DNS answered: the values
// published at the name, NXDOMAIN, or (with the error) why the lookup
// failed.
func (r *Resolver) CheckAnswer(ctx context.Context, e Expected) (Status, Answer, error) {
	switch strings.ToUpper(strings.TrimSpace(e.Type)) {
	case "TXT":
		values, nx, err := r.lookupTXT(ctx, e.Name)
		if err != nil {
			return "", failedAnswer(err), err
		}
		ans := newAnswer(values, nx)
		if len(values) == 0 {
			return Missing, ans, nil
		}
		for _, v := range values {
			if matchTXT(e.Value, v) {
				return Verified, ans, nil
			}
		}
		return Mismatch, ans, nil
	case "MX":
		mxs, nx, err := r.lookupMX(ctx, e.Name)
		if err != nil {
			return "", failedAnswer(err), err
		}
		values := make([]string, len(mxs))
		for i, mx := range mxs {
			values[i] = strconv.Itoa(int(mx.Preference)) + " " + mx.Host
		}
		ans := newAnswer(values, nx)
		if len(mxs) == 0 {
			return Missing, ans, nil
		}
		for _, mx := range mxs {
			if mx.Preference == e.Priority && sameHost(mx.Host, e.Value) {
				return Verified, ans, nil
			}
		}
		return Mismatch, ans, nil
	default:
		err := fmt.Errorf("dnscheck: unsupported record type %q", e.Type)
		return "", failedAnswer(err), err
	}
}

// newAnswer bounds what a lookup found.
func newAnswer(values []string, nx bool) Answer {
	var a Answer
	if nx {
		a.Error = NXDomain
	}
	for i, v := range values {
		if i == MaxAnswerValues {
			a.Omitted = len(values) - i
			break
		}
		a.Values = append(a.Values, Printable(v, MaxAnswerBytes))
	}
	return a
}

// FailureText says shortly why a lookup failed, as Answer.Error does:
// "SERVFAIL", "timeout: no reply within 5s", ….
func FailureText(err error) string { return failedAnswer(err).Error }

// failedAnswer says shortly why a lookup failed: the server's rcode, a
// timeout, or the error itself.
func failedAnswer(err error) Answer {
	var rc *RcodeError
	switch {
	case errors.As(err, &rc):
		return Answer{Error: rcodeString(rc.Rcode)}
	case errors.Is(err, context.DeadlineExceeded):
		msg := "timeout"
		if i := strings.Index(err.Error(), "no reply within "); i >= 0 {
			msg += ": " + strings.TrimSuffix(err.Error()[i:], ": "+context.DeadlineExceeded.Error())
		}
		return Answer{Error: Printable(msg, MaxAnswerBytes)}
	case errors.Is(err, context.Canceled):
		return Answer{Error: "canceled"}
	}
	return Answer{Error: Printable(strings.TrimPrefix(err.Error(), "dnscheck: "), MaxAnswerBytes)}
}

// Printable returns s with invalid UTF-8 and non-printable characters other
// than space escaped (\xNN, \uNNNN, as Go quotes them), cut to at most max
// bytes at a character boundary ("…" ending a cut value).
func Printable(s string, max int) string {
	var b strings.Builder
	cut := 0 // the length of b within max-len("…"), at a piece's end
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == ' ' || unicode.IsPrint(r):
			b.WriteString(s[i : i+size])
		default:
			b.WriteString(strings.Trim(strconv.QuoteRune(r), "'"))
		}
		i += size
		if b.Len() > max {
			return b.String()[:cut] + "…"
		}
		if b.Len() <= max-len("…") {
			cut = b.Len()
		}
	}
	return b.String()
}

// sameHost compares host names case-insensitively, ignoring surrounding
// whitespace and a trailing dot.
func sameHost(a, b string) bool {
	return strings.EqualFold(canonicalHost(a), canonicalHost(b))
}

func canonicalHost(h string) string {
	return strings.TrimSuffix(strings.TrimSpace(h), ".")
}

// matchTXT reports whether the published TXT value matches the expected one.
// It is symmetric (matchTXT(a, b) == matchTXT(b, a)) and reflexive.
func matchTXT(expected, published string) bool {
	a, b := normalizeTXT(expected), normalizeTXT(published)
	if isSPF(a) && isSPF(b) {
		return sameTerms(a, b)
	}
	ta, tb := parseTags(a), parseTags(b)
	if isTagList(ta) && isTagList(tb) {
		return sameTags(ta, tb)
	}
	return a == b
}

// normalizeTXT trims surrounding whitespace and quotes and collapses runs of
// whitespace to one space. A value that is a sequence of quoted strings, as
// pasted from a zone file (`"v=DKIM1; p=MIIB" "AQAB"`), is unquoted and
// joined.
func normalizeTXT(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		if parts, ok := splitQuoted(s); ok {
			s = strings.Join(parts, "")
		} else {
			s = s[1 : len(s)-1]
		}
	}
	return strings.Join(strings.Fields(s), " ")
}

// splitQuoted parses s as one or more "quoted strings" separated by optional
// whitespace, with zone-file escapes (\" \\ \DDD) inside. ok is false when s
// is not entirely of that form.
func splitQuoted(s string) (parts []string, ok bool) {
	i := 0
	for {
		for i < len(s) && isSpaceByte(s[i]) {
			i++
		}
		if i == len(s) {
			return parts, len(parts) > 0
		}
		if s[i] != '"' {
			return nil, false
		}
		i++
		var b []byte
		closed := false
		for i < len(s) {
			c := s[i]
			if c == '"' {
				closed = true
				i++
				break
			}
			if c == '\\' && i+1 < len(s) {
				if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
					if n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0'); n <= 255 {
						b = append(b, byte(n))
						i += 4
						continue
					}
				}
				b = append(b, s[i+1])
				i += 2
				continue
			}
			b = append(b, c)
			i++
		}
		if !closed {
			return nil, false
		}
		parts = append(parts, string(b))
	}
}

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// isSPF reports whether the normalised value is an SPF record.
func isSPF(s string) bool {
	first, _, _ := strings.Cut(s, " ")
	return strings.EqualFold(first, "v=spf1")
}

// sameTerms compares two normalised SPF records term by term,
// case-insensitively, in order.
func sameTerms(a, b string) bool {
	ta, tb := strings.Fields(a), strings.Fields(b)
	return slices.EqualFunc(ta, tb, strings.EqualFold)
}

// tag is one "name=value" element of a DKIM/DMARC-style tag list.
type tag struct {
	name  string // lower-cased, trimmed
	value string // all whitespace removed
	eq    bool   // whether an '=' was present
}

// parseTags splits a tag list on ';', dropping empty elements.
func parseTags(s string) []tag {
	var tags []tag
	for _, seg := range strings.Split(s, ";") {
		if strings.TrimSpace(seg) == "" {
			continue
		}
		name, value, eq := strings.Cut(seg, "=")
		tags = append(tags, tag{
			name:  strings.ToLower(strings.TrimSpace(name)),
			value: removeSpace(value),
			eq:    eq,
		})
	}
	return tags
}

// isTagList reports whether tags look like a DKIM key record (a p= tag or
// v=DKIM1) or a DMARC record (v=DMARC1).
func isTagList(tags []tag) bool {
	for _, t := range tags {
		if !t.eq {
			continue
		}
		if t.name == "p" {
			return true
		}
		if t.name == "v" && (strings.EqualFold(t.value, "DKIM1") || strings.EqualFold(t.value, "DMARC1")) {
			return true
		}
	}
	return false
}

// sameTags compares two tag lists as multisets. "v=DKIM1" and "k=rsa" (the
// DKIM defaults) are ignored when the other side has no v= or k= tag at all.
// Tag values compare case-insensitively except the DKIM p= key (base64),
// which also ignores stray quote characters.
func sameTags(a, b []tag) bool {
	dmarc := hasTag(a, "v", "DMARC1") || hasTag(b, "v", "DMARC1")
	a, b = dropDefault(a, b, "v", "DKIM1"), dropDefault(b, a, "v", "DKIM1")
	a, b = dropDefault(a, b, "k", "rsa"), dropDefault(b, a, "k", "rsa")
	ka, kb := tagKeys(a, dmarc), tagKeys(b, dmarc)
	return slices.Equal(ka, kb)
}

// dropDefault removes the name=def tags from tags when other has no tag
// called name, and tags has no other value for it.
func dropDefault(tags, other []tag, name, def string) []tag {
	if hasTag(other, name, "") {
		return tags
	}
	for _, t := range tags {
		if t.name == name && !(t.eq && strings.EqualFold(t.value, def)) {
			return tags
		}
	}
	return slices.DeleteFunc(slices.Clone(tags), func(t tag) bool { return t.name == name })
}

// hasTag reports whether tags has a tag called name; with value != "", one
// whose value equals value case-insensitively.
func hasTag(tags []tag, name, value string) bool {
	for _, t := range tags {
		if t.name == name && (value == "" || (t.eq && strings.EqualFold(t.value, value))) {
			return true
		}
	}
	return false
}

// tagKeys returns a sorted canonical representation of tags.
func tagKeys(tags []tag, dmarc bool) []string {
	keys := make([]string, 0, len(tags))
	for _, t := range tags {
		v := t.value
		if t.name == "p" && !dmarc {
			v = strings.ReplaceAll(v, `"`, "")
		} else {
			v = strings.ToLower(v)
		}
		eq := "\x00"
		if t.eq {
			eq = "\x01"
		}
		keys = append(keys, t.name+eq+v)
	}
	slices.Sort(keys)
	return keys
}

func removeSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}
