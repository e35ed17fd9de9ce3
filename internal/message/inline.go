package message

import (
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"path"
	"strings"

	"github.com/godwit/godwit/internal/store"
)

// Inline images (attachments with a content id and an image type) are
// written into an email's HTML, for showing it where nothing remote loads
// (a share page, the dashboard), as data: URIs in place of their cid:
// references, within these bounds; larger ones do not show.
const (
	MaxInlineImage  = 512 << 10
	MaxInlineImages = 2 << 20
)

// AttachmentContentType is an attachment's media type: the one given, else
// the one its file name's extension suggests, else
// application/octet-stream.
func AttachmentContentType(given, filename string) string {
	if given != "" {
		return given
	}
	if ext := path.Ext(filename); ext != "" {
		if t := mime.TypeByExtension(ext); t != "" {
			return t
		}
	}
	return "application/octet-stream"
}

// InlineImages replaces each "cid:<content id>" in body that names one of
// the email's stored inline images (atts) with a data: URI of it; get
// reads an attachment's content by its index (store.ErrNotFound: skipped).
func InlineImages(body string, atts []store.AttachmentInfo, get func(index int) (*store.Attachment, error)) (string, error) {
	budget := int64(MaxInlineImages)
	for _, a := range atts {
		ctype := AttachmentContentType(a.ContentType, a.Filename)
		if a.ContentID == "" || a.Size == 0 || a.Size > MaxInlineImage || a.Size > budget ||
			!strings.HasPrefix(ctype, "image/") || !strings.Contains(body, "cid:"+a.ContentID) {
			continue
		}
		att, err := get(a.Index)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("get inline image: %w", err)
		}
		budget -= a.Size
		mediaType, _, _ := strings.Cut(ctype, ";")
		body = ReplaceCID(body, a.ContentID, "data:"+strings.TrimSpace(mediaType)+";base64,"+base64.StdEncoding.EncodeToString(att.Content))
	}
	return body, nil
}

// ReplaceCID replaces "cid:<id>" where it ends at a quote, a parenthesis,
// a space, '>' or the end of s (so that "cid:logo" does not match in
// "cid:logo2").
func ReplaceCID(s, id, with string) string {
	ref := "cid:" + id
	var b strings.Builder
	for {
		i := strings.Index(s, ref)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(ref)
		if end == len(s) || strings.IndexByte("\"') \t\r\n>", s[end]) >= 0 {
			b.WriteString(s[:i])
			b.WriteString(with)
		} else {
			b.WriteString(s[:end])
		}
		s = s[end:]
	}
}
