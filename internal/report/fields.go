package report

import (
	"bufio"
	"bytes"
	"net/mail"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// nextLine returns the line of b starting at off, without its "\n" or
// "\r\n", and the offset of the line after it.
func nextLine(b []byte, off int) (line []byte, next int) {
	end := bytes.IndexByte(b[off:], '\n')
	if end < 0 {
		line, next = b[off:], len(b)
	} else {
		line, next = b[off:off+end], off+end+1
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, next
}

// isBlank reports whether a line holds nothing but spaces, tabs and CRs: a
// separator, even though RFC 5322 would read spaces as a folded line.
func isBlank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

func skipBlankLines(b []byte) []byte {
	for off := 0; off < len(b); {
		line, next := nextLine(b, off)
		if !isBlank(line) {
			return b[off:]
		}
		off = next
	}
	return nil
}

// skipPreamble drops blank lines and an mbox "From " line before the header.
func skipPreamble(b []byte) []byte {
	b = skipBlankLines(b)
	if bytes.HasPrefix(b, []byte("From ")) {
		_, next := nextLine(b, 0)
		b = b[next:]
	}
	return b
}

// splitHeader splits a message into its header section, up to the first
// blank line, and the body after that line. Without a blank line it is all
// header.
func splitHeader(b []byte) (hdr, body []byte) {
	for off := 0; off < len(b); {
		line, next := nextLine(b, off)
		if isBlank(line) {
			return b[:off], b[next:]
		}
		off = next
	}
	return b, nil
}

func validKey(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	for _, c := range k {
		if c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}

// fieldName is the name of the field a line starts, or nil when the line is
// a continuation or not a field at all.
func fieldName(line []byte) []byte {
	if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
		return nil
	}
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return nil
	}
	k := bytes.TrimRight(line[:i], " \t")
	if !validKey(k) {
		return nil
	}
	return k
}

// parseFields reads one header block (no blank line in it) leniently, with
// go-message's textproto reader: lines that neither start a "Name: value"
// field nor continue one are dropped first, so that a stray line does not
// lose the fields around it, and the reader cannot fail. Folded fields are
// unfolded, values trimmed; names are case-insensitive.
func parseFields(block []byte) textproto.Header {
	var clean bytes.Buffer
	clean.Grow(len(block) + 4)
	inField := false
	n := 0
	for off := 0; off < len(block); {
		line, next := nextLine(block, off)
		off = next
		switch {
		case isBlank(line):
			// Not expected inside a block; a separator either way.
			inField = false
		case line[0] == ' ' || line[0] == '\t':
			if inField {
				clean.Write(line)
				clean.WriteString("\r\n")
			}
		default:
			inField = n < maxBlockFields && fieldName(line) != nil
			if inField {
				n++
				clean.Write(line)
				clean.WriteString("\r\n")
			}
		}
	}
	clean.WriteString("\r\n")
	h, _ := textproto.ReadHeader(bufio.NewReader(&clean))
	return h
}

// parseBlocks reads the body of a message/delivery-status or
// message/feedback-report part: header blocks separated by blank lines
// (RFC 3464 §2.1). Blocks over maxBlockBytes are ignored.
func parseBlocks(b []byte) []textproto.Header {
	var out []textproto.Header
	for _, blk := range splitBlocks(b) {
		if len(blk) > maxBlockBytes {
			continue
		}
		if h := parseFields(blk); h.Len() > 0 {
			out = append(out, h)
		}
	}
	return out
}

// splitBlocks splits b at blank lines (which may hold whitespace). Some MTAs
// leave out the blank line between per-recipient blocks, so a block is split
// too before a line that names a second recipient: a Final-Recipient or an
// Original-Recipient when the block already has one, or an Original-Recipient
// after a Final-Recipient and an Action or Status (the order Postfix uses,
// Final-Recipient then Original-Recipient, is one recipient).
func splitBlocks(b []byte) [][]byte {
	var blocks [][]byte
	start := -1
	var hasFinal, hasOrig, hasOther bool
	for off := 0; off < len(b) && len(blocks) <= maxRecipients; {
		line, next := nextLine(b, off)
		if isBlank(line) {
			if start >= 0 {
				blocks = append(blocks, b[start:off])
				start = -1
			}
			off = next
			continue
		}
		k := fieldName(line)
		isFinal := bytes.EqualFold(k, []byte("Final-Recipient"))
		isOrig := bytes.EqualFold(k, []byte("Original-Recipient"))
		if start >= 0 && (isFinal && hasFinal || isOrig && (hasOrig || hasFinal && hasOther)) {
			blocks = append(blocks, b[start:off])
			start = -1
		}
		if start < 0 {
			start = off
			hasFinal, hasOrig, hasOther = false, false, false
		}
		hasFinal = hasFinal || isFinal
		hasOrig = hasOrig || isOrig
		hasOther = hasOther || bytes.EqualFold(k, []byte("Action")) || bytes.EqualFold(k, []byte("Status"))
		off = next
	}
	if start >= 0 {
		blocks = append(blocks, b[start:])
	}
	return blocks
}

// dsnRecipient reads a per-recipient block; ok is false when the block names
// no recipient (the per-message block, or noise).
func dsnRecipient(h textproto.Header) (r Recipient, ok bool) {
	if !h.Has("Final-Recipient") && !h.Has("Original-Recipient") {
		return r, false
	}
	r.Address = typedAddress(h.Get("Final-Recipient"))
	r.OriginalRecipient = typedAddress(h.Get("Original-Recipient"))
	if r.Address == "" {
		r.Address = r.OriginalRecipient
	}
	r.Action = strings.ToLower(firstWord(h.Get("Action")))
	r.DiagnosticCode = strings.TrimSpace(h.Get("Diagnostic-Code"))
	r.Status = enhancedStatus(h.Get("Status"))
	if r.Status == "" {
		r.Status = statusFromText(r.DiagnosticCode)
	}
	if r.Action == "" && r.Status != "" {
		switch r.Status[0] {
		case '5':
			r.Action = "failed"
		case '4':
			r.Action = "delayed"
		case '2':
			r.Action = "delivered"
		}
	}
	r.RemoteMTA = typedHost(h.Get("Remote-MTA"))
	r.Permanent = r.Action == "failed" && strings.HasPrefix(r.Status, "5")
	return r, true
}

// untype drops the type of a typed DSN value: "rfc822; a@b" → "a@b",
// "dns; mx.example.net" → "mx.example.net". A value without a type is
// returned trimmed.
func untype(v string) string {
	v = strings.TrimSpace(v)
	i := strings.IndexByte(v, ';')
	if i <= 0 {
		return v
	}
	for _, c := range v[:i] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ' ') {
			return v // not a type: the ';' is part of the value
		}
	}
	return strings.TrimSpace(v[i+1:])
}

// typedAddress is the bare address of an address-typed field
// ("rfc822; <User@Example.NET>" → "User@example.net"), or "".
func typedAddress(v string) string {
	return normaliseAddress(untype(v))
}

// typedHost is the host of an MTA-name-typed field ("dns; mx.example.net.
// (192.0.2.1)" → "mx.example.net").
func typedHost(v string) string {
	return strings.TrimRight(firstWord(untype(v)), ".")
}

func firstWord(v string) string {
	f := strings.Fields(v)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// normaliseAddress returns the bare address in v: the part in angle brackets
// if any, else the word holding an "@"; with its domain in lower case. It
// returns "" when there is none. A value without "@" (a local name) is kept as
// it is.
func normaliseAddress(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			v = strings.TrimSpace(v[i+1 : i+j])
		}
	}
	if strings.ContainsAny(v, " \t") {
		w := ""
		for _, f := range strings.Fields(v) {
			if strings.Contains(f, "@") {
				w = f
				break
			}
		}
		if w == "" {
			return ""
		}
		v = w
	}
	v = strings.Trim(v, "<>\"',;")
	at := strings.LastIndexByte(v, '@')
	if at < 0 {
		return v
	}
	if at == 0 || at == len(v)-1 {
		return ""
	}
	return v[:at+1] + asciiLower(v[at+1:])
}

// addressList is the bare addresses (with an "@") of an address-list header
// value, parsed with net/mail, or by splitting at commas when that fails.
func addressList(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	var raw []string
	if list, err := mail.ParseAddressList(v); err == nil {
		for _, a := range list {
			raw = append(raw, a.Address)
		}
	} else {
		raw = strings.Split(v, ",")
	}
	var out []string
	for _, a := range raw {
		if len(out) >= maxRecipients {
			break
		}
		if n := normaliseAddress(a); strings.Contains(n, "@") {
			out = append(out, n)
		}
	}
	return out
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// enhancedStatus is the first enhanced status code (RFC 3463: class "." subject
// "." detail, class 2, 4 or 5) in s, e.g. "5.1.1" in "550 5.1.1 <x@y>…" or in
// "(#5.1.1)", or "". Parts of IP addresses and version numbers do not count.
func enhancedStatus(s string) string {
	for i := 0; i+4 < len(s); i++ {
		c := s[i]
		if c != '2' && c != '4' && c != '5' || s[i+1] != '.' {
			continue
		}
		if i > 0 && (isDigit(s[i-1]) || s[i-1] == '.') {
			continue
		}
		j := i + 2
		n := 0
		for j < len(s) && isDigit(s[j]) && n < 4 {
			j++
			n++
		}
		if n == 0 || n > 3 || j >= len(s) || s[j] != '.' {
			continue
		}
		j++
		n = 0
		for j < len(s) && isDigit(s[j]) && n < 4 {
			j++
			n++
		}
		if n == 0 || n > 3 {
			continue
		}
		// The code must end here: not "5.1.1.3", not "5.1.1234".
		if j < len(s) && (isDigit(s[j]) || s[j] == '.' && j+1 < len(s) && isDigit(s[j+1])) {
			continue
		}
		return s[i:j]
	}
	return ""
}

// basicClass is the class ('2', '4' or '5') of the first basic SMTP reply code
// in s ("550 …", "550-…", "said: 550"), or 0.
func basicClass(s string) byte {
	for i := 0; i+2 < len(s); i++ {
		c := s[i]
		if c != '2' && c != '4' && c != '5' || !isDigit(s[i+1]) || !isDigit(s[i+2]) {
			continue
		}
		if i > 0 {
			if p := s[i-1]; p != ' ' && p != '\t' && p != ':' && p != ';' && p != '(' && p != '#' && p != '"' {
				continue
			}
		}
		if j := i + 3; j < len(s) && s[j] != ' ' && s[j] != '-' && s[j] != ')' {
			continue
		}
		return c
	}
	return 0
}

// statusFromText is the enhanced status code in a diagnostic text, else
// "5.0.0"/"4.0.0"/"2.0.0" from its basic reply code, else "".
func statusFromText(s string) string {
	if st := enhancedStatus(s); st != "" {
		return st
	}
	if c := basicClass(s); c != 0 {
		return string(c) + ".0.0"
	}
	return ""
}
