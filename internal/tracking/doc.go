// Package tracking holds the pure parts of open and click tracking: signed
// tokens that identify an email (and, for a click, the link's target), and
// Rewrite, which adds a tracking pixel to an email's HTML and points its links
// at the tracking endpoints. It does no I/O and knows nothing of the store or
// of HTTP; the server answers BaseURL+OpenPath+token with the pixel and
// BaseURL+ClickPath+token with a 302 to the URL carried in the token.
//
// # Tokens
//
// A token is base64url without padding (safe in a URL path segment) of
//
//	open:  version(1) | kind 1 (1) | email id (16)                          | mac (16)
//	click: version(1) | kind 2 (1) | email id (16) | index (uvarint) | url | mac (16)
//
// version is 1; the email id is the UUID's 16 bytes (not its text); index is
// the link's position (from 0) among the links Rewrite rewrote; url is the
// redirect target's bytes as written in the email (after entity decoding and
// resolution), not compressed. mac is HMAC-SHA256 over every byte before it,
// truncated to 128 bits, keyed with a sub-key derived by HKDF-SHA256 from the
// server's key and a label naming the kind, so a token of one kind never
// verifies as the other even apart from the kind byte.
//
// An open token is always 46 characters. A click token is ⌈(35+len(url))·4/3⌉
// characters while the index is below 128 (the index takes one more byte per
// 7 bits): 63 for "https://x.io", 180 for a 100-byte URL with UTM
// parameters, at most 5520 for the longest URL. The URL is not compressed:
// raw DEFLATE makes short URLs longer and saves about a tenth on long,
// UTM-tagged ones; a preset dictionary would save about 40% on those, but
// it freezes a guessed dictionary into the format and puts a decompressor
// behind a public endpoint. Plain bytes keep tokens simple (and a URL is
// readable by whoever decodes a token, as it is in the email itself).
//
// Invariants:
//   - A token parses only if it was made by a Signer holding the same key (or,
//     after a rotation, one of the old keys passed to NewSigner): the MAC is
//     compared in constant time before the payload is read. Without the key,
//     forging or enumerating tokens means guessing a 128-bit MAC.
//   - A token has exactly one spelling, and parsing rejects anything else:
//     the wrong version or kind, a payload of the wrong size, characters
//     outside the base64url alphabet (the standard decoder skips CR and LF),
//     non-zero padding bits, and input longer than MaxTokenLen characters
//     (checked before decoding).
//   - The URL of a click token is an absolute http or https URL with a host,
//     at most 4096 bytes, valid UTF-8, without spaces, control characters or
//     backslashes. ParseClick checks this again after the MAC, so a redirect
//     can only ever go to the exact http(s) URL that was signed. (It may hold
//     non-ASCII characters: http.Redirect escapes them for the Location
//     header.)
//   - Everything in the HTML that Rewrite does not rewrite is preserved byte
//     for byte: it splices new href values and the pixel into the original
//     text and never re-serializes a parsed document. Every href it writes
//     carries a token that ParseClick accepts, for the URL the link pointed
//     to (an absolute href exactly as written, entities decoded).
package tracking
