package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/store"
)

// NewReceivedEmail returns a received email of the team, as the MX would
// store it: a multipart message with an HTML and a text body, an inline
// image and an attached file (the API tests use it too).
func NewReceivedEmail(teamID, domainID string, at time.Time) *store.ReceivedEmail {
	html, text := `<p>Hi <img src="cid:logo"></p>`, "Hi"
	raw := "From: Someone <someone@example.net>\r\nTo: Support <support@example.com>\r\nCc: cc@example.com\r\n" +
		"Subject: Help\r\nMessage-ID: <m-" + uuid.NewString() + "@example.net>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nHi\r\n--b--\r\n" +
		strings.Repeat("padding so that the raw message is compressed\r\n", 64)
	return &store.ReceivedEmail{TeamID: teamID, DomainID: domainID, CreatedAt: at,
		MessageID: "<m@example.net>", From: "someone@example.net", To: []string{"Support <support@example.com>"},
		Cc: []string{"cc@example.com"}, ReplyTo: []string{"reply@example.net"}, ReceivedFor: []string{"support@example.com"},
		Subject: "Help", HTML: &html, Text: &text,
		Headers: []store.Header{{Name: "From", Value: "Someone <someone@example.net>"}, {Name: "Subject", Value: "Help"},
			{Name: "Received", Value: "from a"}, {Name: "Received", Value: "from b"}},
		Raw: []byte(raw), RemoteIP: "192.0.2.7", Helo: "mx.example.net", MailFrom: "bounce@example.net",
		Auth: store.ReceivedAuth{SPF: store.AuthPass, DKIM: store.AuthFail, DMARC: store.AuthFail,
			Details: json.RawMessage(`{"dkim":[{"domain":"example.net","result":"fail"}]}`),
			Results: "mx.godwit.test; spf=pass smtp.mailfrom=example.net; dkim=fail header.d=example.net; dmarc=fail"},
		Attachments: []*store.ReceivedAttachment{
			{Filename: "logo.png", ContentType: "image/png", ContentDisposition: "inline", ContentID: "logo",
				Content: []byte{0x89, 'P', 'N', 'G'}},
			{Filename: "report.txt", ContentType: "text/plain", ContentDisposition: "attachment",
				Content: bytes.Repeat([]byte("compressible report line\n"), 200)},
			{ContentType: "application/octet-stream", Content: []byte{}},
		}}
}

// testReceived is the received emails' part of the suite.
func testReceived(t *testing.T, newStore NewStore) {
	now := func() time.Time { return t0 }
	ctx := context.Background()

	t.Run("StoreAndRead", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		hook := &store.Webhook{ID: uuid.NewString(), TeamID: a.ID, Endpoint: "https://hooks.example.com/in",
			Events: []string{events.EmailReceived}, Status: store.WebhookEnabled, Secret: []byte("sealed"), CreatedAt: t0, UpdatedAt: t0}
		require.NoError(t, s.CreateWebhook(ctx, hook))
		e := NewReceivedEmail(a.ID, "dom-a", time.Time{})
		raw := bytes.Clone(e.Raw)
		report := bytes.Clone(e.Attachments[1].Content)
		require.NoError(t, s.StoreReceivedEmail(ctx, e, events.Received))
		require.NotEmpty(t, e.ID, "an empty id is filled")
		require.True(t, e.CreatedAt.Equal(t0.Truncate(time.Microsecond)), "a zero time is the store's clock")
		require.EqualValues(t, len(raw), e.Size)
		for _, att := range e.Attachments {
			require.NotEmpty(t, att.ID)
			require.Equal(t, e.ID, att.EmailID)
			require.Equal(t, a.ID, att.TeamID)
		}
		require.EqualValues(t, len(report), e.Attachments[1].Size)

		got, err := s.GetReceivedEmail(ctx, a.ID, e.ID)
		require.NoError(t, err)
		require.Nil(t, got.Raw, "Get leaves the raw message out")
		want := *e
		want.Raw = nil
		want.Bcc = []string{} // lists read back empty, never nil
		want.Attachments = nil
		gotAtts := got.Attachments
		got.Attachments = nil
		require.Equal(t, &want, got)
		require.Len(t, gotAtts, 3)
		for i, att := range gotAtts {
			w := *e.Attachments[i]
			w.Content = nil
			require.Equal(t, &w, att, "attachment %d, in the message's order, without content", i)
		}

		gotRaw, err := s.GetReceivedRaw(ctx, a.ID, e.ID)
		require.NoError(t, err)
		require.Equal(t, raw, gotRaw, "the raw message reads back byte for byte")

		list, err := s.ListReceivedAttachments(ctx, a.ID, e.ID)
		require.NoError(t, err)
		require.Equal(t, gotAtts, list)
		for i, att := range e.Attachments {
			full, err := s.GetReceivedAttachment(ctx, a.ID, e.ID, att.ID)
			require.NoError(t, err)
			require.Equal(t, att.Content, full.Content, "attachment %d's content", i)
			require.Equal(t, att.Filename, full.Filename)
		}
		require.Equal(t, report, e.Attachments[1].Content)

		// One email.received event, in the feed, with Resend's payload.
		evs, err := s.ListEvents(ctx, a.ID, "", 10)
		require.NoError(t, err)
		require.Len(t, evs, 1)
		require.Equal(t, events.EmailReceived, evs[0].Type)
		var payload struct {
			Data struct {
				EmailID     string           `json:"email_id"`
				ReceivedFor []string         `json:"received_for"`
				Attachments []map[string]any `json:"attachments"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(evs[0].Data, &payload))
		require.Equal(t, e.ID, payload.Data.EmailID)
		require.Equal(t, []string{"support@example.com"}, payload.Data.ReceivedFor)
		require.Len(t, payload.Data.Attachments, 3)
		require.Equal(t, e.Attachments[0].ID, payload.Data.Attachments[0]["id"])
		msgs, _, err := s.ListWebhookMessages(ctx, a.ID, hook.ID, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Len(t, msgs, 1, "the event fans out to the team's webhooks in the same transaction")
		require.Equal(t, evs[0].ID, msgs[0].EventID)
		require.JSONEq(t, string(evs[0].Data), string(msgs[0].Payload))

		// Another team's ids are not found, whatever the method.
		_, err = s.GetReceivedEmail(ctx, b.ID, e.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = s.GetReceivedRaw(ctx, b.ID, e.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = s.ListReceivedAttachments(ctx, b.ID, e.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = s.GetReceivedAttachment(ctx, b.ID, e.ID, e.Attachments[0].ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		none, _, err := s.ListReceivedEmails(ctx, b.ID, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Empty(t, none)
		_, _, err = s.ListReceivedEmails(ctx, b.ID, store.Page{Limit: 10, After: e.ID})
		require.ErrorIs(t, err, store.ErrNotFound, "another team's cursor")
		evs, err = s.ListEvents(ctx, b.ID, "", 10)
		require.NoError(t, err)
		require.Empty(t, evs)

		// Unknown ids, and an attachment asked for under another email.
		_, err = s.GetReceivedEmail(ctx, a.ID, uuid.NewString())
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = s.GetReceivedRaw(ctx, a.ID, uuid.NewString())
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = s.ListReceivedAttachments(ctx, a.ID, uuid.NewString())
		require.ErrorIs(t, err, store.ErrNotFound)
		other := NewReceivedEmail(a.ID, "dom-a", t0)
		require.NoError(t, s.StoreReceivedEmail(ctx, other, events.Received))
		_, err = s.GetReceivedAttachment(ctx, a.ID, other.ID, e.Attachments[0].ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = s.GetReceivedAttachment(ctx, a.ID, e.ID, uuid.NewString())
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("Minimal", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a := newTeam(t, s, "a")
		e := &store.ReceivedEmail{TeamID: a.ID, DomainID: "d", CreatedAt: t0, From: "x@example.net",
			Raw: []byte("Subject: \r\n\r\n")}
		require.NoError(t, s.StoreReceivedEmail(ctx, e, events.Received))
		got, err := s.GetReceivedEmail(ctx, a.ID, e.ID)
		require.NoError(t, err)
		require.Nil(t, got.HTML)
		require.Nil(t, got.Text)
		require.Equal(t, []string{}, got.To, "lists read back as empty, never nil")
		require.Equal(t, []string{}, got.Cc)
		require.Equal(t, []store.Header{}, got.Headers)
		require.Empty(t, got.Attachments)
		require.NotNil(t, got.Attachments)
		require.False(t, got.Auth.Checked())
		require.Nil(t, got.Auth.Details)
		require.Equal(t, "", got.InReplyToEmailID)

		require.Error(t, s.StoreReceivedEmail(ctx, &store.ReceivedEmail{TeamID: a.ID}, events.Received), "raw is required")
		// A failing event builder stores nothing.
		bad := NewReceivedEmail(a.ID, "d", t0)
		err = s.StoreReceivedEmail(ctx, bad, func(*store.ReceivedEmail) (*store.Event, error) { return nil, errors.New("boom") })
		require.ErrorContains(t, err, "boom")
		_, err = s.GetReceivedEmail(ctx, a.ID, bad.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		// The same id twice is a conflict, and the first stays.
		dup := NewReceivedEmail(a.ID, "d", t0)
		dup.ID = e.ID
		require.ErrorIs(t, s.StoreReceivedEmail(ctx, dup, events.Received), store.ErrConflict)
		evs, err := s.ListEvents(ctx, a.ID, "", 10)
		require.NoError(t, err)
		require.Len(t, evs, 1, "nothing of a failed store is announced")
	})

	t.Run("LargeBlobs", func(t *testing.T) {
		// A large message as the MX stores it from a spool file: the raw
		// message (compressible) and an attachment (not) of a few MiB,
		// larger than the pieces PostgreSQL receives them in, compressed
		// into scratch memory that is all given back once stored; both
		// read back byte-identical, and a group of them commits together.
		t.Parallel()
		s := newStore(t, now)
		a := newTeam(t, s, "a")
		var taken, given atomic.Int32
		scratch := func(n int) ([]byte, func(), error) {
			taken.Add(1)
			return make([]byte, n), func() { given.Add(1) }, nil
		}
		rng := rand.New(rand.NewPCG(1, 2))
		noise := make([]byte, 3<<20+17)
		for i := range noise {
			noise[i] = byte(rng.Uint32())
		}
		var wg sync.WaitGroup
		emails := make([]*store.ReceivedEmail, 3)
		for i := range emails {
			e := NewReceivedEmail(a.ID, "d", t0)
			e.Raw = bytes.Repeat([]byte("a line of a large and very repetitive message\r\n"), 70000+i)
			e.Attachments = append(e.Attachments, &store.ReceivedAttachment{Filename: "noise.bin", ContentType: "application/octet-stream",
				ContentDisposition: "attachment", Content: noise})
			e.Scratch = scratch
			emails[i] = e
			wg.Add(1)
			go func() {
				defer wg.Done()
				assert.NoError(t, s.StoreReceivedEmail(ctx, e, events.Received))
			}()
		}
		wg.Wait()
		require.Positive(t, taken.Load(), "large blobs are compressed into scratch memory")
		require.Equal(t, taken.Load(), given.Load(), "and all of it is given back")
		for i, e := range emails {
			raw, err := s.GetReceivedRaw(ctx, a.ID, e.ID)
			require.NoError(t, err)
			require.True(t, bytes.Equal(bytes.Repeat([]byte("a line of a large and very repetitive message\r\n"), 70000+i), raw), "raw %d", i)
			got, err := s.GetReceivedEmail(ctx, a.ID, e.ID)
			require.NoError(t, err)
			require.Len(t, got.Attachments, 4)
			att, err := s.GetReceivedAttachment(ctx, a.ID, e.ID, got.Attachments[3].ID)
			require.NoError(t, err)
			require.EqualValues(t, len(noise), att.Size)
			require.True(t, bytes.Equal(noise, att.Content), "attachment %d", i)
			small, err := s.GetReceivedAttachment(ctx, a.ID, e.ID, got.Attachments[1].ID)
			require.NoError(t, err)
			require.Equal(t, bytes.Repeat([]byte("compressible report line\n"), 200), small.Content)
		}
	})

	t.Run("Pagination", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a := newTeam(t, s, "a")
		var ids []string // oldest first
		for i := range 5 {
			e := NewReceivedEmail(a.ID, "d", t0.Add(time.Duration(i)*time.Second))
			require.NoError(t, s.StoreReceivedEmail(ctx, e, events.Received))
			ids = append(ids, e.ID)
		}
		page, more, err := s.ListReceivedEmails(ctx, a.ID, store.Page{Limit: 2})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{ids[4], ids[3]}, receivedIDs(page))
		require.Nil(t, page[0].HTML, "lists leave the bodies out")
		require.Nil(t, page[0].Raw)
		require.Empty(t, page[0].Headers)
		require.Len(t, page[0].Attachments, 3, "with their attachments")
		require.Nil(t, page[0].Attachments[1].Content)
		require.Equal(t, []string{"support@example.com"}, page[0].ReceivedFor)
		page, more, err = s.ListReceivedEmails(ctx, a.ID, store.Page{Limit: 2, After: ids[3]})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{ids[2], ids[1]}, receivedIDs(page))
		page, more, err = s.ListReceivedEmails(ctx, a.ID, store.Page{Limit: 2, After: ids[1]})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []string{ids[0]}, receivedIDs(page))
		page, more, err = s.ListReceivedEmails(ctx, a.ID, store.Page{Limit: 2, Before: ids[0]})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{ids[2], ids[1]}, receivedIDs(page), "the page nearest the cursor, newest first")
		_, _, err = s.ListReceivedEmails(ctx, a.ID, store.Page{Limit: 2, After: uuid.NewString()})
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("Retention", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		var old []*store.ReceivedEmail
		for i := range 3 {
			for _, team := range []string{a.ID, b.ID} {
				e := NewReceivedEmail(team, "d", t0.Add(time.Duration(i)*time.Minute))
				require.NoError(t, s.StoreReceivedEmail(ctx, e, events.Received))
				old = append(old, e)
			}
		}
		fresh := NewReceivedEmail(a.ID, "d", t0.Add(time.Hour))
		require.NoError(t, s.StoreReceivedEmail(ctx, fresh, events.Received))

		n, err := s.DeleteReceivedBefore(ctx, t0.Add(30*time.Minute), 4)
		require.NoError(t, err)
		require.EqualValues(t, 4, n, "at most limit, of any team")
		for _, e := range old[:4] {
			_, err := s.GetReceivedEmail(ctx, e.TeamID, e.ID)
			require.ErrorIs(t, err, store.ErrNotFound, "the oldest go first")
			_, err = s.GetReceivedAttachment(ctx, e.TeamID, e.ID, e.Attachments[0].ID)
			require.ErrorIs(t, err, store.ErrNotFound, "with their attachments")
		}
		_, err = s.GetReceivedEmail(ctx, old[4].TeamID, old[4].ID)
		require.NoError(t, err)
		n, err = s.DeleteReceivedBefore(ctx, t0.Add(30*time.Minute), 100)
		require.NoError(t, err)
		require.EqualValues(t, 2, n)
		n, err = s.DeleteReceivedBefore(ctx, t0.Add(30*time.Minute), 100)
		require.NoError(t, err)
		require.Zero(t, n)
		got, err := s.GetReceivedEmail(ctx, a.ID, fresh.ID)
		require.NoError(t, err)
		require.Len(t, got.Attachments, 3, "newer mail stays whole")
	})

	t.Run("ReplyLinking", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		sent := newEmail(a.ID, t0)
		sent.DomainID, sent.DomainName = "dom", "example.com"
		require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{sent}}))
		mid := sent.MessageID()
		for _, v := range []string{mid, strings.Trim(mid, "<>"), strings.ToUpper(mid), " " + mid + " "} {
			id, err := s.FindSentEmailByMessageID(ctx, a.ID, v)
			require.NoError(t, err, v)
			require.Equal(t, sent.ID, id, v)
		}
		for _, v := range []string{"", "<>", "<" + sent.ID + "@example.org>", "<" + uuid.NewString() + "@example.com>",
			"<not-ours@example.com>", "<" + sent.ID + ">"} {
			_, err := s.FindSentEmailByMessageID(ctx, a.ID, v)
			require.ErrorIs(t, err, store.ErrNotFound, v)
		}
		_, err := s.FindSentEmailByMessageID(ctx, b.ID, mid)
		require.ErrorIs(t, err, store.ErrNotFound, "another team's email")

		r := NewReceivedEmail(a.ID, "d", t0)
		r.InReplyToEmailID = sent.ID
		require.NoError(t, s.StoreReceivedEmail(ctx, r, events.Received))
		got, err := s.GetReceivedEmail(ctx, a.ID, r.ID)
		require.NoError(t, err)
		require.Equal(t, sent.ID, got.InReplyToEmailID)
		evs, err := s.ListEvents(ctx, a.ID, "", 10)
		require.NoError(t, err)
		require.Contains(t, string(evs[len(evs)-1].Data), `"in_reply_to_email_id":"`+sent.ID+`"`)
	})
}

func receivedIDs(list []*store.ReceivedEmail) []string {
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = e.ID
	}
	return out
}
