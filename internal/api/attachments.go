package api

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/tracking"
)

// Sent emails' attachments (GET /emails/{id}/attachments[/{attachment_id}])
// and their download links (GET /download/{token}, no key).
//
// An attachment's id is derived, not stored: the UUIDv5 of its position in
// the email under the email's id, so it is stable and unique across emails.
// Its download_url is a signed token (tracking.Download: team, email,
// position, expiry) under --public-url, or under the origin the request
// came to when the server has none; it expires after downloadTTL.

// downloadTTL is how long a download_url given by the API works.
const downloadTTL = time.Hour

// AttachmentFetcher fetches an attachment given by URL (`path`), whose bytes
// Godwit does not keep, when its download link is followed.
type AttachmentFetcher interface {
	Fetch(ctx context.Context, rawURL string) (data []byte, contentType string, err error)
}

var (
	errAttachmentNotFound = apierr.NotFound("Attachment not found")
	errDownloadExpired    = apierr.New(http.StatusGone, apierr.NameNotFound, "This download link has expired.")
	errDownloadFetch      = apierr.New(http.StatusBadGateway, apierr.NameApplicationError,
		"The attachment is given by URL and could not be fetched from it.")
)

// attachmentID is the id of the email's index-th attachment.
func attachmentID(emailID string, index int) string {
	return uuid.NewSHA1(uuid.MustParse(emailID), []byte("attachment/"+strconv.Itoa(index))).String()
}

type attachmentObject struct {
	Object             string  `json:"object,omitempty"`
	ID                 string  `json:"id"`
	Filename           *string `json:"filename"`
	ContentType        string  `json:"content_type"`
	ContentID          string  `json:"content_id,omitempty"`
	ContentDisposition string  `json:"content_disposition"`
	Size               int64   `json:"size"`
	DownloadURL        string  `json:"download_url,omitempty"`
	ExpiresAt          string  `json:"expires_at,omitempty"`
}

func (h *Handler) attachmentObject(r *http.Request, teamID, emailID string, a store.AttachmentInfo, now time.Time) attachmentObject {
	o := attachmentObject{ID: attachmentID(emailID, a.Index), ContentType: message.AttachmentContentType(a.ContentType, a.Filename),
		ContentID: a.ContentID, ContentDisposition: "attachment", Size: a.Size}
	if a.Filename != "" {
		o.Filename = &a.Filename
	}
	if a.ContentID != "" {
		o.ContentDisposition = "inline"
	}
	if h.Tracking != nil {
		exp := now.Add(downloadTTL).Truncate(time.Second)
		o.DownloadURL = h.baseURL(r) + "/download/" + h.Tracking.DownloadToken(tracking.Download{
			EmailID: emailID, TeamID: teamID, Index: a.Index, Expires: exp})
		o.ExpiresAt = exp.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return o
}

// baseURL is where the server's public pages are: --public-url, else the
// origin the request came to.
func (h *Handler) baseURL(r *http.Request) string {
	if h.PublicURL != "" {
		return h.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (h *Handler) listEmailAttachments(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	teamID := callerKey(r.Context()).TeamID
	all, err := h.Store.ListEmailAttachments(r.Context(), teamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errEmailNotFound
	}
	if err != nil {
		return fmt.Errorf("list attachments: %w", err)
	}
	// Attachments come in the email's order; cursors are attachment ids.
	page, more, err := pageOf(all, func(a store.AttachmentInfo) string { return attachmentID(id, a.Index) }, p)
	if err != nil {
		return err
	}
	now := h.Now().UTC()
	out := listResponse[attachmentObject]{Object: "list", HasMore: more, Data: make([]attachmentObject, 0, len(page))}
	for _, a := range page {
		out.Data = append(out.Data, h.attachmentObject(r, teamID, id, a, now))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) getEmailAttachment(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	want, err := uuidParam("attachment_id", r.PathValue("attachment_id"))
	if err != nil {
		return err
	}
	teamID := callerKey(r.Context()).TeamID
	all, err := h.Store.ListEmailAttachments(r.Context(), teamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errEmailNotFound
	}
	if err != nil {
		return fmt.Errorf("list attachments: %w", err)
	}
	for _, a := range all {
		if attachmentID(id, a.Index) == want {
			o := h.attachmentObject(r, teamID, id, a, h.Now().UTC())
			o.Object = "attachment"
			writeJSON(w, http.StatusOK, o)
			return nil
		}
	}
	return errAttachmentNotFound
}

// downloadHeaders are the headers of every download Godwit serves without
// a key: never sniffed, rendered, framed, cached or referred.
func downloadHeaders(w http.ResponseWriter) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cache-Control", "private, no-store")
}

// downloadAttachment serves the bytes of an attachment to whoever holds an
// unexpired download token: as a download, never rendered by the browser.
func (h *Handler) downloadAttachment(w http.ResponseWriter, r *http.Request) error {
	downloadHeaders(w)
	hdr := w.Header()
	if h.Tracking == nil {
		return errAttachmentNotFound
	}
	d, err := h.Tracking.ParseDownload(r.PathValue("token"))
	if err != nil {
		return errAttachmentNotFound
	}
	if !h.Now().Before(d.Expires) {
		return errDownloadExpired
	}
	a, err := h.Store.GetEmailAttachment(r.Context(), d.TeamID, d.EmailID, d.Index)
	if errors.Is(err, store.ErrNotFound) {
		return errAttachmentNotFound
	}
	if err != nil {
		return fmt.Errorf("get attachment: %w", err)
	}
	data, ctype := a.Content, message.AttachmentContentType(a.ContentType, a.Filename)
	if a.Content == nil && a.Path != "" {
		if h.Fetcher == nil {
			return errDownloadFetch
		}
		var fetched string
		data, fetched, err = h.Fetcher.Fetch(r.Context(), a.Path)
		if err != nil {
			h.Logger.WarnContext(r.Context(), "attachment download: fetch failed", "email_id", d.EmailID, "index", d.Index, "err", err)
			return errDownloadFetch
		}
		if a.ContentType == "" && fetched != "" && !strings.EqualFold(fetched, "application/octet-stream") {
			ctype = fetched
		}
	}
	name := a.Filename
	if name == "" {
		name = "attachment"
	}
	disp := mime.FormatMediaType("attachment", map[string]string{"filename": name})
	if disp == "" {
		disp = "attachment"
	}
	hdr.Set("Content-Type", ctype)
	hdr.Set("Content-Disposition", disp)
	hdr.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
	return nil
}
