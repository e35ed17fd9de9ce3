package message

import (
	"fmt"
	"strings"
)

// The rules for header fields live here, in the package that writes them, so
// that what the API and SMTP submission accept is exactly what Build can
// write: CheckHeader is the rule for one custom header, Check runs every
// header-building step of Build on an email, and foldField is the one
// formatter every field goes through.

// MaxHeaderNameLen is the longest custom header name: the name and its colon
// fit on one line of 78 characters (RFC 5322 §2.1.1), with the value folded
// onto the next.
const MaxHeaderNameLen = 76

const (
	lineLen    = 78  // RFC 5322 §2.1.1: lines SHOULD be at most 78 characters
	maxLineLen = 998 // RFC 5322 §2.1.1: lines MUST be at most 998 characters
)

// ownedHeaders are written by Build (or by DKIM signing) and cannot also be
// given as custom headers. Their spelling is the one error messages use.
var ownedHeaders = []string{
	"From", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID", "MIME-Version",
	"Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Content-ID",
	"DKIM-Signature",
}

// identityHeaders claim who sent the message or the way it travelled. A
// sender may not set them: the receiving side writes trace fields (and
// Godwit the signature, an owned field), and a Sender is allowed only within
// the team's verified domains (the caller checks the domain: SenderHeader).
var identityHeaders = []string{
	"Return-Path", "Received", "Received-SPF", "Authentication-Results", "Delivered-To",
}

// identityPrefixes are families of identity fields (RFC 5322 §3.6.6
// Resent-*, RFC 8617 ARC-*).
var identityPrefixes = []string{"Resent-", "ARC-"}

// SenderHeader is the custom header allowed only with an address in one of
// the team's verified domains.
const SenderHeader = "Sender"

// FieldError is a header field that Build cannot or will not write.
type FieldError struct {
	Field  string // the field's name as given
	Reason string // why, as a sentence fragment without a trailing period
}

func (e *FieldError) Error() string { return "message: header " + e.Field + ": " + e.Reason }

// Owned reports whether Godwit writes the field itself, and returns its
// canonical spelling.
func Owned(name string) (string, bool) {
	for _, o := range ownedHeaders {
		if strings.EqualFold(name, o) {
			return o, true
		}
	}
	return "", false
}

// Identity reports whether name is a trace or identity field that a sender
// may not set (Sender excepted: it is checked against the team's domains).
func Identity(name string) bool {
	for _, h := range identityHeaders {
		if strings.EqualFold(name, h) {
			return true
		}
	}
	for _, p := range identityPrefixes {
		if len(name) >= len(p) && strings.EqualFold(name[:len(p)], p) {
			return true
		}
	}
	return false
}

// ValidName reports whether name is an RFC 5322 field-name (printable ASCII
// without ':') of at most MaxHeaderNameLen characters: a custom header name
// Godwit accepts.
func ValidName(name string) bool {
	return len(name) <= MaxHeaderNameLen && ValidFieldName(name)
}

// CheckHeader applies the rules for one custom header: a valid name, not a
// field Godwit writes, not an identity field, and a value Build can write.
// It does not know the email's other fields: Check also refuses a Reply-To
// header given with reply_to. The error is a *FieldError.
func CheckHeader(name, value string) error {
	if !ValidName(name) {
		if len(name) > MaxHeaderNameLen {
			return &FieldError{name, fmt.Sprintf("the name is longer than %d characters", MaxHeaderNameLen)}
		}
		return &FieldError{name, "the name must be printable ASCII without spaces or colons"}
	}
	if o, ok := Owned(name); ok {
		return &FieldError{o, "Godwit sets it"}
	}
	if Identity(name) {
		return &FieldError{name, "it is a trace or identity field that only mail servers write"}
	}
	if hasBreak(value) {
		return &FieldError{name, "the value contains a line break (CR or LF) or NUL"}
	}
	_, err := customField(name, value)
	return err
}

// customField formats a custom header: RFC 2047 encoded words when the value
// is not plain ASCII, folded by foldField.
func customField(name, value string) ([]byte, error) {
	return foldField(name, encodeText(value))
}

func hasBreak(s string) bool { return strings.ContainsAny(s, "\r\n\x00") }

// foldField formats "name: value" followed by CRLF, folding long values
// (RFC 5322 §2.2.3) so that lines keep to 78 characters where the value's
// whitespace allows, and never exceed 998. It folds only before whitespace
// that is in the value, so unfolding gives the value back unchanged, and
// never writes a line of only whitespace. A word (a run without whitespace)
// too long for one line is an error: cutting it would change the value.
//
// This replaces go-message's formatter, which panics on a name of 74
// characters or more (its fold arithmetic goes negative) and inserts
// spaces into words it cannot fit.
func foldField(name, value string) ([]byte, error) {
	if !ValidFieldName(name) {
		return nil, &FieldError{name, "the name must be printable ASCII without spaces or colons"}
	}
	if len(name)+2 > maxLineLen {
		return nil, &FieldError{name, "the name is too long"}
	}
	buf := make([]byte, 0, len(name)+len(value)+8)
	buf = append(buf, name...)
	buf = append(buf, ':', ' ')
	lineStart := 0
	// firstWord: nothing of the value is on the first line yet.
	firstWord := true
	for i := 0; i < len(value); {
		// One segment: a run of whitespace, then a run of other characters.
		j := i
		for j < len(value) && isWSP(value[j]) {
			j++
		}
		k := j
		for k < len(value) && !isWSP(value[k]) {
			k++
		}
		ws, word := value[i:j], value[j:k]
		i = k
		cur := len(buf) - lineStart
		if ws != "" && word != "" && !firstWord && cur+len(ws)+len(word) > lineLen {
			// Fold: the whitespace starts the continuation line.
			buf = append(buf, '\r', '\n')
			lineStart = len(buf)
		}
		buf = append(buf, ws...)
		buf = append(buf, word...)
		if word != "" {
			firstWord = false
		}
		if len(buf)-lineStart > maxLineLen {
			return nil, &FieldError{name, fmt.Sprintf("the value has a word too long for a header line (at most %d characters, with the name, on one line)", maxLineLen)}
		}
	}
	return append(buf, '\r', '\n'), nil
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// ValidFieldName reports whether name is RFC 5322's field-name: printable
// ASCII except ':', of any length.
func ValidFieldName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < '!' || c > '~' || c == ':' {
			return false
		}
	}
	return true
}
