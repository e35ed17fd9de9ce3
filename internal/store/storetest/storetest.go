// Package storetest is the behavioural suite every store.Store
// implementation passes. Each implementation's test calls Run.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

// NewStore returns a fresh, empty, migrated store whose clock is now.
type NewStore func(t *testing.T, now func() time.Time) store.Store

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 123456000, time.UTC)

func newTeam(t *testing.T, s store.Store, name string) *store.Team {
	t.Helper()
	team := &store.Team{ID: uuid.NewString(), Name: name, CreatedAt: t0}
	require.NoError(t, s.CreateTeam(context.Background(), team))
	return team
}

func newEmail(teamID string, at time.Time) *store.Email {
	html := "<p>hi</p>"
	return &store.Email{ID: uuid.NewString(), TeamID: teamID, From: "Acme <a@example.com>", To: []string{"b@example.net"},
		Subject: "hello", HTML: &html, LastEvent: store.EventQueued, CreatedAt: at}
}

// Run runs the suite.
func Run(t *testing.T, newStore NewStore) {
	now := func() time.Time { return t0 }
	ctx := context.Background()

	t.Run("Teams", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a := newTeam(t, s, "a")
		require.ErrorIs(t, s.CreateTeam(ctx, &store.Team{ID: uuid.NewString(), Name: "a", CreatedAt: t0}), store.ErrConflict)
		got, err := s.GetTeam(ctx, a.ID)
		require.NoError(t, err)
		require.Equal(t, a, got)
		got, err = s.GetTeamByName(ctx, "a")
		require.NoError(t, err)
		require.Equal(t, a.ID, got.ID)
		_, err = s.GetTeam(ctx, uuid.NewString())
		require.ErrorIs(t, err, store.ErrNotFound)
		require.NoError(t, s.SetTeamRateLimit(ctx, a.ID, 50))
		require.ErrorIs(t, s.SetTeamRateLimit(ctx, uuid.NewString(), 50), store.ErrNotFound)
		teams, err := s.ListTeams(ctx)
		require.NoError(t, err)
		require.Len(t, teams, 1)
		require.Equal(t, 50, teams[0].RateLimit)
	})

	t.Run("APIKeys", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		require.NoError(t, s.SetTeamRateLimit(ctx, a.ID, 7))
		k := &store.APIKey{ID: uuid.NewString(), TeamID: a.ID, Name: "k", Prefix: "abcdefgh", Hash: []byte{1, 2, 3},
			Permission: store.PermissionSendingAccess, CreatedAt: t0}
		require.NoError(t, s.CreateAPIKey(ctx, k))
		dup := *k
		dup.ID = uuid.NewString()
		require.ErrorIs(t, s.CreateAPIKey(ctx, &dup), store.ErrConflict, "prefixes are unique")

		got, err := s.APIKeyByPrefix(ctx, "abcdefgh")
		require.NoError(t, err)
		require.Equal(t, k.Hash, got.Hash)
		require.Equal(t, 7, got.TeamRateLimit)
		require.Equal(t, store.PermissionSendingAccess, got.Permission)
		_, err = s.APIKeyByPrefix(ctx, "zzzzzzzz")
		require.ErrorIs(t, err, store.ErrNotFound)

		n, err := s.CountAPIKeys(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)

		require.NoError(t, s.RenameAPIKey(ctx, a.ID, k.ID, "renamed"))
		require.ErrorIs(t, s.RenameAPIKey(ctx, b.ID, k.ID, "stolen"), store.ErrNotFound)
		used := t0.Add(time.Minute)
		require.NoError(t, s.TouchAPIKey(ctx, k.ID, used))
		got, err = s.GetAPIKey(ctx, a.ID, k.ID)
		require.NoError(t, err)
		require.Equal(t, "renamed", got.Name)
		require.True(t, got.LastUsedAt.Equal(used))
		_, err = s.GetAPIKey(ctx, b.ID, k.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "another team's key is not found")
		keys, err := s.ListAPIKeys(ctx, b.ID)
		require.NoError(t, err)
		require.Empty(t, keys, "another team's keys are not listed")
		require.ErrorIs(t, s.DeleteAPIKey(ctx, b.ID, k.ID), store.ErrNotFound, "another team cannot delete the key")
		require.NoError(t, s.DeleteAPIKey(ctx, a.ID, k.ID))
		_, err = s.APIKeyByPrefix(ctx, "abcdefgh")
		require.ErrorIs(t, err, store.ErrNotFound, "a deleted key is gone at once")
	})

	t.Run("AcceptAndGet", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		e := newEmail(a.ID, t0)
		empty := ""
		e.Text = &empty
		e.Cc = []string{"c@example.net"}
		e.ReplyTo = []string{"r@example.net", "R <r2@example.net>"}
		e.Headers = []store.Header{{Name: "X-B", Value: "2"}, {Name: "X-A", Value: "1"}}
		e.Tags = []store.Tag{{Name: "t", Value: "v"}}
		e.Template = &store.TemplateRef{ID: "tpl", Variables: []byte(`{"X":1}`)}
		e.TopicID = "topic"
		e.Attachments = []store.Attachment{{Filename: "a.txt", ContentType: "text/plain", Content: []byte("abc")}}
		at := t0.Add(time.Hour)
		e.ScheduledAt = &at
		e.LastEvent = store.EventScheduled
		require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e}}))

		got, err := s.GetEmail(ctx, a.ID, e.ID)
		require.NoError(t, err)
		want := *e
		want.Attachments = nil // not returned by GetEmail
		require.Equal(t, &want, got)
		require.Nil(t, got.Bcc)

		_, err = s.GetEmail(ctx, b.ID, e.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "another team's email is not found")
	})

	t.Run("Attachments", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		e := newEmail(a.ID, t0)
		e.Attachments = []store.Attachment{
			{Filename: "a.txt", ContentType: "text/plain", Content: []byte("abc")},
			{Filename: "logo.png", ContentID: "logo", Content: []byte{0, 1, 2, 3, 255}},
			{Filename: "remote.pdf", Path: "https://files.example.com/r.pdf"},
		}
		plain := newEmail(a.ID, t0)
		require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e, plain}}))

		got, err := s.ListEmailAttachments(ctx, a.ID, e.ID)
		require.NoError(t, err)
		require.Equal(t, []store.AttachmentInfo{
			{Index: 0, Filename: "a.txt", ContentType: "text/plain", Size: 3},
			{Index: 1, Filename: "logo.png", ContentID: "logo", Size: 5},
			{Index: 2, Filename: "remote.pdf", Path: "https://files.example.com/r.pdf", Size: 0},
		}, got)
		none, err := s.ListEmailAttachments(ctx, a.ID, plain.ID)
		require.NoError(t, err)
		require.Empty(t, none)
		require.NotNil(t, none, "an email without attachments lists none")

		one, err := s.GetEmailAttachment(ctx, a.ID, e.ID, 1)
		require.NoError(t, err)
		require.Equal(t, &store.Attachment{Filename: "logo.png", ContentID: "logo", Content: []byte{0, 1, 2, 3, 255}}, one)
		remote, err := s.GetEmailAttachment(ctx, a.ID, e.ID, 2)
		require.NoError(t, err)
		require.Nil(t, remote.Content)
		require.Equal(t, "https://files.example.com/r.pdf", remote.Path)

		_, err = s.GetEmailAttachment(ctx, a.ID, e.ID, 3)
		require.ErrorIs(t, err, store.ErrNotFound, "no such attachment")
		_, err = s.GetEmailAttachment(ctx, b.ID, e.ID, 0)
		require.ErrorIs(t, err, store.ErrNotFound, "another team's email")
		_, err = s.ListEmailAttachments(ctx, b.ID, e.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "another team's email")
		_, err = s.ListEmailAttachments(ctx, a.ID, store.NewID())
		require.ErrorIs(t, err, store.ErrNotFound, "an unknown email")
	})

	t.Run("LargeBodies", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a := newTeam(t, s, "a")
		big := strings.Repeat("<p>Grüße, “quoted” 📦 body line</p>\n", 200)
		empty := ""
		cases := []struct{ html, text *string }{
			{&big, &empty}, // an empty text stays empty, not absent
			{nil, &big},
			{&big, &big},
			{&big, nil},
		}
		for i, c := range cases {
			e := newEmail(a.ID, t0)
			e.HTML, e.Text = c.html, c.text
			require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e}}))
			got, err := s.GetEmail(ctx, a.ID, e.ID)
			require.NoError(t, err)
			require.Equal(t, c.html, got.HTML, "case %d", i)
			require.Equal(t, c.text, got.Text, "case %d", i)
		}
	})

	t.Run("Pagination", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		var ids []string // oldest first
		for i := range 7 {
			e := newEmail(a.ID, t0.Add(time.Duration(i)*time.Second))
			require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e}}))
			ids = append(ids, e.ID)
			require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{newEmail(b.ID, t0)}}))
		}
		idsOf := func(es []*store.Email) []string {
			var out []string
			for _, e := range es {
				out = append(out, e.ID)
			}
			return out
		}
		page, more, err := s.ListEmails(ctx, a.ID, store.Page{Limit: 3})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{ids[6], ids[5], ids[4]}, idsOf(page))
		require.Nil(t, page[0].HTML, "lists leave the bodies out")
		require.Equal(t, []string{"b@example.net"}, page[0].To)

		page, more, err = s.ListEmails(ctx, a.ID, store.Page{Limit: 3, After: ids[4]})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{ids[3], ids[2], ids[1]}, idsOf(page))

		page, more, err = s.ListEmails(ctx, a.ID, store.Page{Limit: 3, After: ids[1]})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []string{ids[0]}, idsOf(page))

		page, more, err = s.ListEmails(ctx, a.ID, store.Page{Limit: 2, Before: ids[2]})
		require.NoError(t, err)
		require.True(t, more, "newer items remain beyond the page")
		require.Equal(t, []string{ids[4], ids[3]}, idsOf(page))

		page, more, err = s.ListEmails(ctx, a.ID, store.Page{Limit: 100, Before: ids[5]})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []string{ids[6]}, idsOf(page))

		page, more, err = s.ListEmails(ctx, a.ID, store.Page{Limit: 7})
		require.NoError(t, err)
		require.False(t, more, "exactly limit items: no more")
		require.Len(t, page, 7)

		_, _, err = s.ListEmails(ctx, b.ID, store.Page{Limit: 3, After: ids[3]})
		require.ErrorIs(t, err, store.ErrNotFound, "another team's cursor is unknown")
	})

	t.Run("Idempotency", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a := newTeam(t, s, "a")
		rec := func(at time.Time, resp string) *store.Idempotency {
			return &store.Idempotency{TeamID: a.ID, Key: "k1", Endpoint: "POST /emails", RequestHash: []byte("h"),
				Response: []byte(resp), CreatedAt: at}
		}
		e1 := newEmail(a.ID, t0)
		require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e1}, Idempotency: rec(t0, "r1"), IdempotencyTTL: 24 * time.Hour}))
		e2 := newEmail(a.ID, t0)
		err := s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e2}, Idempotency: rec(t0.Add(time.Hour), "r2"), IdempotencyTTL: 24 * time.Hour})
		require.ErrorIs(t, err, store.ErrIdempotencyKeyTaken)
		_, err = s.GetEmail(ctx, a.ID, e2.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "nothing of a conflicting request is written")

		got, err := s.GetIdempotency(ctx, a.ID, "k1")
		require.NoError(t, err)
		require.Equal(t, "r1", string(got.Response))

		// The time is measured by the record's own clock: t0+25h is past the TTL.
		e3 := newEmail(a.ID, t0)
		later := t0.Add(25 * time.Hour)
		acc := &store.Accept{Emails: []*store.Email{e3}, Idempotency: rec(later, "r3"), IdempotencyTTL: 24 * time.Hour}
		require.ErrorIs(t, s.AcceptEmails(ctx, acc), store.ErrIdempotencyKeyTaken,
			"expiry is judged by the store's clock, which still reads t0")
	})

	t.Run("IdempotencyExpiry", func(t *testing.T) {
		t.Parallel()
		clock := t0
		var mu sync.Mutex
		s := newStore(t, func() time.Time { mu.Lock(); defer mu.Unlock(); return clock })
		a := newTeam(t, s, "a")
		rec := &store.Idempotency{TeamID: a.ID, Key: "k", Endpoint: "e", RequestHash: []byte("h"), Response: []byte("1"), CreatedAt: t0}
		require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{newEmail(a.ID, t0)}, Idempotency: rec, IdempotencyTTL: 24 * time.Hour}))
		mu.Lock()
		clock = t0.Add(25 * time.Hour)
		mu.Unlock()
		rec2 := *rec
		rec2.Response, rec2.CreatedAt = []byte("2"), clock
		require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{newEmail(a.ID, clock)}, Idempotency: &rec2, IdempotencyTTL: 24 * time.Hour}))
		got, err := s.GetIdempotency(ctx, a.ID, "k")
		require.NoError(t, err)
		require.Equal(t, "2", string(got.Response), "an expired key is reused")

		old := &store.Idempotency{TeamID: a.ID, Key: "old", Endpoint: "e", RequestHash: []byte("h"), Response: []byte("3"), CreatedAt: t0}
		require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{newEmail(a.ID, t0)}, Idempotency: old, IdempotencyTTL: 24 * time.Hour}))
		n, err := s.DeleteIdempotencyBefore(ctx, t0.Add(time.Hour))
		require.NoError(t, err)
		require.EqualValues(t, 1, n, "only the record older than the cut-off goes")
		_, err = s.GetIdempotency(ctx, a.ID, "old")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = s.GetIdempotency(ctx, a.ID, "k")
		require.NoError(t, err)
	})

	t.Run("GroupCommit", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a := newTeam(t, s, "a")
		const n = 300
		var wg sync.WaitGroup
		errs := make([]error, n)
		ids := make([]string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := newEmail(a.ID, t0)
				ids[i] = e.ID
				var idem *store.Idempotency
				if i%10 == 0 {
					// Every tenth request shares one key: exactly one of them wins.
					idem = &store.Idempotency{TeamID: a.ID, Key: "shared", Endpoint: "e", RequestHash: []byte("h"), Response: []byte("x"), CreatedAt: t0}
				}
				errs[i] = s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e}, Idempotency: idem, IdempotencyTTL: time.Hour})
			}()
		}
		wg.Wait()
		winners, stored := 0, 0
		for i := range n {
			if i%10 == 0 && errs[i] == nil {
				winners++
			}
			if i%10 != 0 {
				require.NoError(t, errs[i])
			} else if errs[i] != nil {
				require.ErrorIs(t, errs[i], store.ErrIdempotencyKeyTaken)
			}
			if _, err := s.GetEmail(ctx, a.ID, ids[i]); err == nil {
				stored++
			}
		}
		require.Equal(t, 1, winners)
		require.Equal(t, n-n/10+1, stored, "every accepted email and no rejected one is stored")
	})

	t.Run("GroupFailureIsolated", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a := newTeam(t, s, "a")
		dup := newEmail(a.ID, t0)
		require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{dup}}))
		var wg sync.WaitGroup
		errs := make([]error, 40)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := newEmail(a.ID, t0)
				if i == 7 {
					e = dup // same id again: this one request must fail alone
				}
				errs[i] = s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e}})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if i == 7 {
				require.Error(t, err)
			} else {
				require.NoError(t, err, fmt.Sprint("request ", i))
			}
		}
	})

	t.Run("ScheduleAndCancel", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		e := newEmail(a.ID, t0)
		at := t0.Add(time.Hour)
		e.ScheduledAt, e.LastEvent = &at, store.EventScheduled
		q := newEmail(a.ID, t0)
		require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e, q}}))

		later := t0.Add(2 * time.Hour)
		require.ErrorIs(t, s.RescheduleEmail(ctx, b.ID, e.ID, later), store.ErrNotFound)
		require.ErrorIs(t, s.RescheduleEmail(ctx, a.ID, q.ID, later), store.ErrNotScheduled)
		require.NoError(t, s.RescheduleEmail(ctx, a.ID, e.ID, later))
		got, err := s.GetEmail(ctx, a.ID, e.ID)
		require.NoError(t, err)
		require.True(t, got.ScheduledAt.Equal(later))

		require.ErrorIs(t, s.CancelEmail(ctx, b.ID, e.ID, t0), store.ErrNotFound)
		require.ErrorIs(t, s.CancelEmail(ctx, a.ID, q.ID, t0), store.ErrNotScheduled)
		require.NoError(t, s.CancelEmail(ctx, a.ID, e.ID, t0))
		got, err = s.GetEmail(ctx, a.ID, e.ID)
		require.NoError(t, err)
		require.Equal(t, store.EventCanceled, got.LastEvent)
		require.ErrorIs(t, s.CancelEmail(ctx, a.ID, e.ID, t0), store.ErrNotScheduled, "cancel twice")
	})

	t.Run("Domains", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		d := &store.Domain{ID: uuid.NewString(), TeamID: a.ID, Name: "example.com", Region: "us-east-1", ReturnPath: "send",
			Status: store.DomainNotStarted, TLS: "opportunistic", Sending: "enabled", Receiving: "disabled",
			DKIMSelector: "resend", DKIMKey: []byte("sealed"), RecordStatus: map[string]string{"DKIM": store.DomainNotStarted},
			CreatedAt: t0, UpdatedAt: t0}
		ev := func(typ string) *store.Event {
			return &store.Event{ID: uuid.NewString(), TeamID: a.ID, Type: typ, Data: []byte(`{"type":"` + typ + `"}`), CreatedAt: t0}
		}
		require.NoError(t, s.CreateDomain(ctx, d, ev("domain.created")))
		dup := *d
		dup.ID = uuid.NewString()
		require.ErrorIs(t, s.CreateDomain(ctx, &dup), store.ErrConflict, "one copy of a name per team")

		got, err := s.GetDomain(ctx, a.ID, d.ID)
		require.NoError(t, err)
		require.Equal(t, d, got)
		_, err = s.GetDomain(ctx, b.ID, d.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		byName, err := s.GetDomainByName(ctx, a.ID, "example.com")
		require.NoError(t, err)
		require.Equal(t, d.ID, byName.ID)
		_, err = s.GetDomainByName(ctx, b.ID, "example.com")
		require.ErrorIs(t, err, store.ErrNotFound, "another team's domain is not found by name")

		next := t0.Add(time.Minute)
		d.Status, d.OpenTracking, d.TLS, d.NextCheckAt, d.VerifyStartedAt = store.DomainPending, true, "enforced", &next, &t0
		d.RecordStatus["DKIM"] = store.DomainPending
		d.UpdatedAt = next
		require.NoError(t, s.UpdateDomain(ctx, d))
		got, err = s.GetDomain(ctx, a.ID, d.ID)
		require.NoError(t, err)
		require.Equal(t, d, got)
		other := *d
		other.TeamID = b.ID
		require.ErrorIs(t, s.UpdateDomain(ctx, &other), store.ErrNotFound)

		// What each record's last check found round-trips; none is NULL.
		checked := t0.Add(90 * time.Second)
		d.RecordChecks = map[string]store.RecordCheck{
			"DKIM":    {Answer: []string{"p=MIIBIjANBg…", `v=spf1 \x00 é ~all`}, Omitted: 3, CheckedAt: checked},
			"SPF-MX":  {Answer: []string{"10 feedback.example.org"}, CheckedAt: checked},
			"SPF-TXT": {Error: "NXDOMAIN", CheckedAt: checked},
			"DMARC":   {Error: "timeout: no reply within 5s", CheckedAt: checked.Add(time.Millisecond)},
		}
		require.NoError(t, s.UpdateDomain(ctx, d))
		got, err = s.GetDomain(ctx, a.ID, d.ID)
		require.NoError(t, err)
		require.Equal(t, d, got)
		d.RecordChecks = nil
		require.NoError(t, s.UpdateDomain(ctx, d))
		got, err = s.GetDomain(ctx, a.ID, d.ID)
		require.NoError(t, err)
		require.Nil(t, got.RecordChecks)
		d.RecordChecks = map[string]store.RecordCheck{"DKIM": {Error: "SERVFAIL", CheckedAt: checked}}
		require.NoError(t, s.UpdateDomain(ctx, d))

		list, err := s.ListDomains(ctx, a.ID)
		require.NoError(t, err)
		require.Len(t, list, 1)
		due, err := s.DomainsDue(ctx, next.Add(-time.Second), 10)
		require.NoError(t, err)
		require.Empty(t, due, "not due before next_check_at")
		due, err = s.DomainsDue(ctx, next, 10)
		require.NoError(t, err)
		require.Len(t, due, 1)
		require.Equal(t, d.ID, due[0].ID)
		list, err = s.ListDomains(ctx, b.ID)
		require.NoError(t, err)
		require.Empty(t, list)

		require.ErrorIs(t, s.DeleteDomain(ctx, b.ID, d.ID, ev("domain.deleted")), store.ErrNotFound)
		require.NoError(t, s.UpdateDomain(ctx, d, ev("domain.updated")))
		require.NoError(t, s.DeleteDomain(ctx, a.ID, d.ID, ev("domain.deleted")))
		events, err := s.ListEvents(ctx, a.ID, "", 10)
		require.NoError(t, err)
		var types []string
		for _, e := range events {
			types = append(types, e.Type)
		}
		require.Equal(t, []string{"domain.created", "domain.updated", "domain.deleted"}, types,
			"events commit with their change, and not for a change refused")
		after, err := s.ListEvents(ctx, a.ID, events[0].ID, 10)
		require.NoError(t, err)
		require.Len(t, after, 2)
		require.JSONEq(t, `{"type":"domain.updated"}`, string(after[0].Data))
		none, err := s.ListEvents(ctx, b.ID, "", 10)
		require.NoError(t, err)
		require.Empty(t, none, "events are the team's own")
		_, err = s.ListEvents(ctx, b.ID, events[0].ID, 10)
		require.ErrorIs(t, err, store.ErrNotFound, "another team's cursor")
		require.NoError(t, s.CreateDomain(ctx, &dup), "a deleted domain's name is free again")
	})

	// The suites of the later capabilities, each in its own file.
	for _, suite := range []struct {
		name string
		run  func(*testing.T, NewStore)
	}{
		{"Suppressions", testSuppressions}, {"Delivery", testDelivery}, {"Webhooks", testWebhooks},
		{"Contacts", testContacts}, {"Topics", testTopics}, {"ContactProperties", testContactProperties},
		{"Templates", testTemplates}, {"Broadcasts", testBroadcasts}, {"ContactImports", testContactImports}, {"ContactImportJobs", testContactImportJobs},
		{"DomainNames", testDomainNames}, {"RequestLogs", testRequestLogs}, {"RequestLogSegments", testRequestLogSegments}, {"EmailMetrics", testEmailMetrics},
		{"BroadcastEmails", testBroadcastEmails}, {"WaitingEmails", testWaitingEmails},
		{"SearchEmails", testSearchEmails}, {"EmailDetail", testEmailDetail}, {"CapturedMessages", testCapturedMessages},
		{"Users", testUsers}, {"Received", testReceived}, {"ReceivingRules", testReceivingRules},
		{"IPPools", testIPPools}, {"DomainClaims", testDomainClaims},
		{"Automations", testAutomations},
	} {
		t.Run(suite.name, func(t *testing.T) {
			t.Parallel()
			suite.run(t, newStore)
		})
	}

	t.Run("Closed", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a := newTeam(t, s, "a")
		require.NoError(t, s.Close())
		err := s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{newEmail(a.ID, t0)}})
		require.True(t, errors.Is(err, store.ErrClosed), "got %v", err)
		_, err = s.APIKeyByPrefix(ctx, "abcdefgh")
		require.True(t, errors.Is(err, store.ErrClosed), "reads after Close: got %v", err)
	})
}
