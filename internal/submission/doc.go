// Package submission turns a message submitted over SMTP into the
// store.Email that POST /emails would have produced for the same content, so
// that SMTP sends are stored, delivered, listed and webhooked exactly like
// API sends. It is pure: no network, no store. MIME is parsed by
// github.com/emersion/go-message (charsets through its charset package); this
// package only maps the result.
//
// # Mapping
//
//   - From: the From header, display name RFC 2047-decoded, written as the
//     API takes it: `email@example.com` or `Name <email@example.com>` (the
//     name quoted only when it must be, e.g. `"Doe, Jane" <j@example.com>`).
//     Exactly one address. Without a From header the envelope sender (MAIL
//     FROM) is used, as submission MTAs do.
//   - To, Cc, Reply-To: every address of every such field, in the same form.
//     Group syntax gives its members (`undisclosed-recipients:;` none).
//   - Bcc: the envelope recipients that To and Cc do not name (compared
//     without regard to case), in RCPT order, once each, as bare addresses.
//     A Bcc header is dropped: only the envelope says who gets a blind copy.
//     To and Cc addresses are recipients even when they were not RCPT'd
//     (the API model delivers to To ∪ Cc ∪ Bcc).
//   - Subject: RFC 2047-decoded. An empty or missing subject is accepted
//     (the API requires one; SMTP clients do not always send one).
//   - Body: the first text/plain and the first text/html leaf that are not
//     attachments (no `Content-Disposition: attachment`, no filename) become
//     Text and HTML, wherever they sit (multipart/alternative, the root of
//     multipart/related, multipart/mixed or the message itself). Transfer
//     encodings and charsets are decoded to UTF-8 (invalid bytes become
//     U+FFFD), CRLF becomes LF, and text/plain with format=flowed is unwrapped
//     (RFC 3676), since Godwit re-sends it as plain text/plain.
//     Only HTML: Text stays nil, delivery derives it as for the API. A text
//     part that is exactly what delivery would derive from the HTML
//     (message.HTMLToText) is dropped too, so that the message Godwit writes
//     for an html-only email converts back to an html-only email; the
//     delivered message is the same either way. Only text: HTML nil. No body
//     at all: Text is "" (send an empty text part, derive nothing).
//     Further renderings inside multipart/alternative (text/enriched, AMP,
//     a second text/html…) are dropped, except text/calendar, which becomes
//     an attachment.
//   - Attachments: every other leaf part (Content-Disposition: attachment, a
//     filename, a non-text type, a second text body…) with its decoded bytes,
//     its filename (Content-Disposition filename, else Content-Type name;
//     RFC 2231 and 2047 decoded) and its Content-Type without the name and
//     boundary parameters. A text/* attachment's charset says utf-8, because
//     go-message decoded it (an unknown charset is left out, bytes as sent).
//     A part without Content-Type gets the type sendreq guesses from the
//     filename. Non-root parts of multipart/related with a Content-ID (and
//     no `attachment` disposition) are inline attachments: ContentID is the
//     Content-ID without angle brackets, checked as the API checks
//     content_id.
//   - Headers: every other field, in order, names spelt as written, values
//     RFC 2047-decoded and unfolded (X-Mailer, User-Agent, List-Unsubscribe,
//     In-Reply-To, References, X-Entity-Ref-ID, Content-Language… are kept;
//     a repeated field is kept each time). Dropped: the fields Godwit owns
//     (message.Owned: From, To, Cc, Bcc, Subject, Date, Message-ID,
//     MIME-Version, Content-Type, Content-Transfer-Encoding, DKIM-Signature,
//     Return-Path, Received), Reply-To (it is ReplyTo), the other Content-*
//     fields (they describe the MIME structure Godwit rebuilds), and
//     transport/trace fields that describe the way to Godwit or could forge
//     authentication results: Delivered-To, X-Originating-IP (the client's
//     address is not passed on), Authentication-Results, Received-SPF,
//     ARC-*, X-Google-DKIM-Signature, Resent-Bcc.
//   - Resend-Idempotency-Key: removed from the headers and returned; given
//     at most once, 1–256 characters, as the API's Idempotency-Key.
//   - Tags, scheduling, templates and topics: not carried. How Resend's SMTP
//     relay carries them is undocumented, so no header is invented for them.
//
// # Invariants
//
// An accepted email has at least one recipient (To, Cc or Bcc); From and
// every To, Cc, Bcc and Reply-To entry pass the API's address check
// (message.ValidAddress); no value that becomes a header (addresses,
// subject, header names and values, attachment filename, content type and
// content id, the idempotency key) holds CR, LF or NUL after decoding; every
// string is valid UTF-8; HTML or Text is set; To, Cc and Bcc each hold at
// most 50 addresses (message.MaxRecipients, counted per field as the API
// counts); the size as sendreq counts it (attachments base64-encoded + html
// + text + subject + header values) is at most 40 MB; the MIME tree is at
// most MaxDepth deep and has at most MaxParts entities. Decoded bytes are
// read against the size budget, so an oversized message is refused without
// decoding all of it. Every refusal wraps one of the Err* values (type
// *Error), whose text is fixed and safe for an SMTP reply; Convert never
// panics (FuzzConvert).
//
// # SMTP smuggling
//
// Convert accepts LF as well as CRLF line ends, because it reads the message
// after the SMTP layer has un-dot-stuffed it. It assumes the SMTP server has
// already refused bare LF (and bare CR) in DATA, so that "\n.\n" cannot end
// one message early and smuggle another (SMTP smuggling); the conversion
// cannot detect that after the fact.
package submission
