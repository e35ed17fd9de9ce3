// Package sendreq parses and validates the body of a Resend send-email request
// (POST /emails, and each item of POST /emails/batch) into a store.Email.
//
// Resend compatibility is the goal. Decoding is lenient where the official
// SDKs need it and strict on everything that ends up in a message header:
//
//   - Unknown fields are ignored (the Go SDK sends `id` and others), JSON
//     null means "absent" everywhere, and keys match case-sensitively (as in
//     Resend's JavaScript API). A repeated key keeps its last value.
//   - `to`, `cc`, `bcc` and `reply_to` take a string or an array of strings.
//     Addresses are `email@example.com` or `Name <email@example.com>`: the
//     display name may be Unicode, the addr-spec must be ASCII, at most 320
//     characters, with a dotted domain. Each is kept as the caller wrote it,
//     trimmed. `to`, `cc` and `bcc` each hold at most 50 addresses (Resend
//     documents the limit for `to` only; Godwit applies it to all three).
//   - Attachment `content` is accepted in the three wire forms the SDKs use:
//     a base64 string (padding optional, whitespace ignored, a `data:` URI
//     prefix and the URL-safe alphabet tolerated), a JSON array of byte
//     values (Go, Python, Ruby), or a Node Buffer `{"type":"Buffer","data":[…]}`.
//     Byte arrays are scanned in place, never decoded into []int.
//   - CR, LF and NUL are refused in every value that becomes a header: from,
//     to, cc, bcc, reply_to, subject, custom header names and values,
//     attachment filename, content_type and content_id, tag names and values.
//
// # Custom headers
//
// `headers` is an object of header name to string value; the order the
// caller gave is kept. Names must be RFC 5322 field names (printable ASCII
// 33–126 except ':'). Godwit writes the following headers itself, so a request
// that sets any of them (in any letter case) is refused with a 422
// validation_error naming the header:
//
//	From, To, Cc, Bcc, Subject, Date, Message-ID, MIME-Version, Content-Type,
//	Content-Transfer-Encoding, DKIM-Signature, Return-Path, Received
//
// # Errors
//
// Every error returned is an *apierr.Error: 400 validation_error for a body
// that is not JSON or not an object, 422 missing_required_field for an absent
// required field, 422 invalid_attachment for attachment content problems, and
// 422 validation_error for everything else.
package sendreq
