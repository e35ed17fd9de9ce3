package api

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/tracking"
)

// Resend's Receiving API (GET /emails/receiving…): the mail the MX stored
// for the team's receiving domains. The raw message and each attachment
// have a download_url: a signed token (tracking.ReceivedDownload: team,
// email, attachment or raw, expiry) under --public-url, or the origin the
// request came to, served by GET /download/received/{token} without a
// key for downloadTTL.
//
// The Receiving routes overlap the sent emails' ({id} = "receiving"), and
// Go's mux refuses two patterns where neither is more specific, so two of
// them are served by less specific patterns (routes.go):
// GET /emails/{id}/{sub} and GET /emails/{id}/{sub}/{rest}.

var (
	errReceivedNotFound      = apierr.NotFound("Email not found")
	errReceivedDownloadGone  = apierr.Forbidden("This download link has expired.")
	errReceivedDownloadFound = apierr.NotFound("Download not found")
	errNoSuchEndpoint        = apierr.NotFound("The requested endpoint does not exist.")
)

type receivedAttachmentItem struct {
	Object             string  `json:"object,omitempty"`
	ID                 string  `json:"id"`
	Filename           *string `json:"filename"`
	ContentType        string  `json:"content_type"`
	ContentID          *string `json:"content_id"`
	ContentDisposition *string `json:"content_disposition"`
	Size               int64   `json:"size"`
	DownloadURL        string  `json:"download_url,omitempty"`
	ExpiresAt          string  `json:"expires_at,omitempty"`
}

type receivedListItem struct {
	ID               string                   `json:"id"`
	To               []string                 `json:"to"`
	From             string                   `json:"from"`
	CreatedAt        string                   `json:"created_at"`
	Subject          string                   `json:"subject"`
	MessageID        string                   `json:"message_id"`
	Bcc              []string                 `json:"bcc"`
	Cc               []string                 `json:"cc"`
	ReplyTo          []string                 `json:"reply_to"`
	ReceivedFor      []string                 `json:"received_for"`
	Attachments      []receivedAttachmentItem `json:"attachments"`
	InReplyToEmailID string                   `json:"in_reply_to_email_id,omitempty"`
}

type receivedAuthentication struct {
	SPF   string `json:"spf"`
	DKIM  string `json:"dkim"`
	DMARC string `json:"dmarc"`
}

type receivedRaw struct {
	DownloadURL string `json:"download_url"`
	ExpiresAt   string `json:"expires_at"`
}

type receivedObject struct {
	Object string `json:"object"`
	receivedListItem
	HTML           *string                 `json:"html"`
	HTMLFormat     string                  `json:"html_format"`
	Text           *string                 `json:"text"`
	Headers        map[string]string       `json:"headers"`
	Authentication *receivedAuthentication `json:"authentication"`
	Raw            *receivedRaw            `json:"raw"`
}

func toReceivedAttachment(a *store.ReceivedAttachment) receivedAttachmentItem {
	return receivedAttachmentItem{ID: a.ID, Filename: nonEmpty(a.Filename), ContentType: a.ContentType,
		ContentID: nonEmpty(a.ContentID), ContentDisposition: nonEmpty(a.ContentDisposition), Size: a.Size}
}

func toReceivedListItem(e *store.ReceivedEmail) receivedListItem {
	atts := make([]receivedAttachmentItem, 0, len(e.Attachments))
	for _, a := range e.Attachments {
		atts = append(atts, toReceivedAttachment(a))
	}
	return receivedListItem{ID: e.ID, To: orEmpty(e.To), From: e.From, CreatedAt: e.CreatedAt.UTC().Format(events.ISO),
		Subject: e.Subject, MessageID: e.MessageID, Bcc: orEmpty(e.Bcc), Cc: orEmpty(e.Cc), ReplyTo: orEmpty(e.ReplyTo),
		ReceivedFor: orEmpty(e.ReceivedFor), Attachments: atts, InReplyToEmailID: e.InReplyToEmailID}
}

// receivedHeaders is Resend's headers object: names in lower case, the
// values of a field that occurs more than once (Received) joined with
// ", " in the message's order; null for a message without headers.
func receivedHeaders(hs []store.Header) map[string]string {
	if len(hs) == 0 {
		return nil
	}
	out := make(map[string]string, len(hs))
	for _, h := range hs {
		name := strings.ToLower(h.Name)
		if v, ok := out[name]; ok {
			out[name] = v + ", " + h.Value
		} else {
			out[name] = h.Value
		}
	}
	return out
}

// receivedLink is a signed download link of a received email's raw
// message (attachmentID "") or attachment, and when it expires (ISO).
func (h *Handler) receivedLink(r *http.Request, teamID, emailID, attachmentID string, now time.Time) (string, string) {
	exp := now.Add(downloadTTL).Truncate(time.Second)
	tok := h.Tracking.ReceivedDownloadToken(tracking.ReceivedDownload{EmailID: emailID, AttachmentID: attachmentID,
		TeamID: teamID, Expires: exp})
	return h.baseURL(r) + "/download/received/" + tok, exp.UTC().Format(events.ISO)
}

func (h *Handler) listReceivedEmails(w http.ResponseWriter, r *http.Request) error {
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	list, more, err := h.Store.ListReceivedEmails(r.Context(), callerKey(r.Context()).TeamID, p)
	return writeList(w, "list received emails", list, more, err, toReceivedListItem)
}

// receivedEmailID reads the {email_id} of a Receiving route (under the
// name its pattern gives it).
func receivedEmailID(r *http.Request, name string) (string, error) {
	return uuidParam("email_id", r.PathValue(name))
}

// emailsSub serves GET /emails/{id}/{sub}: GET /emails/receiving/{email_id}.
func (h *Handler) emailsSub(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("id") != "receiving" {
		return errNoSuchEndpoint
	}
	return h.getReceivedEmail(w, r, "sub")
}

// emailsSubRest serves GET /emails/{id}/{sub}/{rest}:
// GET /emails/receiving/{email_id}/attachments.
func (h *Handler) emailsSubRest(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("id") != "receiving" || r.PathValue("rest") != "attachments" {
		return errNoSuchEndpoint
	}
	return h.listReceivedAttachments(w, r, "sub")
}

func (h *Handler) getReceivedEmail(w http.ResponseWriter, r *http.Request, idName string) error {
	id, err := receivedEmailID(r, idName)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("html_format")
	switch format {
	case "":
		format = "data_uri"
	case "data_uri", "cid":
	default:
		return apierr.Validation("The `html_format` must be `data_uri` or `cid`.")
	}
	ctx := r.Context()
	teamID := callerKey(ctx).TeamID
	e, err := h.Store.GetReceivedEmail(ctx, teamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errReceivedNotFound
	}
	if err != nil {
		return fmt.Errorf("get received email: %w", err)
	}
	out := receivedObject{Object: "email", receivedListItem: toReceivedListItem(e), HTML: e.HTML, HTMLFormat: format,
		Text: e.Text, Headers: receivedHeaders(e.Headers)}
	if format == "data_uri" && e.HTML != nil {
		infos := make([]store.AttachmentInfo, len(e.Attachments))
		for i, a := range e.Attachments {
			infos[i] = store.AttachmentInfo{Index: i, Filename: a.Filename, ContentType: a.ContentType, ContentID: a.ContentID, Size: a.Size}
		}
		body, err := message.InlineImages(*e.HTML, infos, func(i int) (*store.Attachment, error) {
			a, err := h.Store.GetReceivedAttachment(ctx, teamID, id, e.Attachments[i].ID)
			if err != nil {
				return nil, err
			}
			return &store.Attachment{Filename: a.Filename, ContentType: a.ContentType, ContentID: a.ContentID, Content: a.Content}, nil
		})
		if err != nil {
			return fmt.Errorf("received email %s: %w", id, err)
		}
		out.HTML = &body
	}
	if e.Auth.Checked() {
		out.Authentication = &receivedAuthentication{SPF: authVerdict(e.Auth.SPF), DKIM: authVerdict(e.Auth.DKIM),
			DMARC: authVerdict(e.Auth.DMARC)}
	}
	if h.Tracking != nil {
		var raw receivedRaw
		raw.DownloadURL, raw.ExpiresAt = h.receivedLink(r, teamID, id, "", h.Now().UTC())
		out.Raw = &raw
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// authVerdict is a check's verdict as Resend spells it: "unknown" for one
// that did not run.
//
// The MX stores the RFC results (RFC 7208 §2.6 for SPF, RFC 8601 for DKIM
// and DMARC); Resend's are coarser: softfail and neutral, and no record or
// no signature, are gray; a DNS failure or a broken record is
// processing_failed.
func authVerdict(v string) string {
	switch v {
	case "":
		return store.AuthUnknown
	case "pass", "fail", store.AuthGray, store.AuthProcessingFailed, store.AuthUnknown:
		return v
	case "softfail", "neutral", "none", "policy":
		return store.AuthGray
	case "temperror", "permerror":
		return store.AuthProcessingFailed
	}
	return store.AuthUnknown
}

func (h *Handler) receivedAttachmentItem(r *http.Request, teamID string, a *store.ReceivedAttachment, now time.Time) receivedAttachmentItem {
	o := toReceivedAttachment(a)
	if h.Tracking != nil {
		o.DownloadURL, o.ExpiresAt = h.receivedLink(r, teamID, a.EmailID, a.ID, now)
	}
	return o
}

func (h *Handler) listReceivedAttachments(w http.ResponseWriter, r *http.Request, idName string) error {
	id, err := receivedEmailID(r, idName)
	if err != nil {
		return err
	}
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	teamID := callerKey(r.Context()).TeamID
	all, err := h.Store.ListReceivedAttachments(r.Context(), teamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errReceivedNotFound
	}
	if err != nil {
		return fmt.Errorf("list received attachments: %w", err)
	}
	// In the message's order; cursors are attachment ids.
	page, more, err := pageOf(all, func(a *store.ReceivedAttachment) string { return a.ID }, p)
	if err != nil {
		return err
	}
	now := h.Now().UTC()
	out := listResponse[receivedAttachmentItem]{Object: "list", HasMore: more, Data: make([]receivedAttachmentItem, 0, len(page))}
	for _, a := range page {
		out.Data = append(out.Data, h.receivedAttachmentItem(r, teamID, a, now))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) getReceivedAttachment(w http.ResponseWriter, r *http.Request) error {
	id, err := receivedEmailID(r, "email_id")
	if err != nil {
		return err
	}
	attID, err := uuidParam("attachment_id", r.PathValue("attachment_id"))
	if err != nil {
		return err
	}
	teamID := callerKey(r.Context()).TeamID
	all, err := h.Store.ListReceivedAttachments(r.Context(), teamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errReceivedNotFound
	}
	if err != nil {
		return fmt.Errorf("list received attachments: %w", err)
	}
	for _, a := range all {
		if a.ID == attID {
			o := h.receivedAttachmentItem(r, teamID, a, h.Now().UTC())
			o.Object = "attachment"
			writeJSON(w, http.StatusOK, o)
			return nil
		}
	}
	return errAttachmentNotFound
}

// downloadReceived serves a received email's raw message (message/rfc822)
// or one of its attachments to whoever holds an unexpired download token,
// as a download, never rendered by the browser. A token that is not one
// of this server's, or names what the team no longer has, is a 404; an
// expired one a 403 (as an expired presigned URL is).
func (h *Handler) downloadReceived(w http.ResponseWriter, r *http.Request) error {
	downloadHeaders(w)
	hdr := w.Header()
	if h.Tracking == nil {
		return errReceivedDownloadFound
	}
	d, err := h.Tracking.ParseReceivedDownload(r.PathValue("token"))
	if err != nil {
		return errReceivedDownloadFound
	}
	if !h.Now().Before(d.Expires) {
		return errReceivedDownloadGone
	}
	var data []byte
	var ctype, name string
	if d.AttachmentID == "" {
		data, err = h.Store.GetReceivedRaw(r.Context(), d.TeamID, d.EmailID)
		ctype, name = "message/rfc822", d.EmailID+".eml"
	} else {
		var a *store.ReceivedAttachment
		a, err = h.Store.GetReceivedAttachment(r.Context(), d.TeamID, d.EmailID, d.AttachmentID)
		if err == nil {
			data, ctype, name = a.Content, downloadType(a.ContentType, a.Filename), a.Filename
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return errReceivedDownloadFound
	}
	if err != nil {
		return fmt.Errorf("received email download: %w", err)
	}
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

// downloadType is the Content-Type a received attachment is served with:
// its own when it parses as a media type (re-encoded, so that nothing the
// sender wrote reaches the header as it was), else one its file name
// suggests, else application/octet-stream.
func downloadType(given, filename string) string {
	if given != "" {
		if mt, params, err := mime.ParseMediaType(given); err == nil {
			if s := mime.FormatMediaType(mt, params); s != "" {
				return s
			}
		}
		given = ""
	}
	return message.AttachmentContentType(given, filename)
}
