package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

// searchFixture is a team's emails of varied recipients, tags, domains,
// statuses and times, and another team's that match every filter too.
type searchFixture struct {
	s          store.Store
	a, b       *store.Team
	d1, d2     string
	e          []*store.Email // team a's, oldest first
	theirs     *store.Email
	theirsTime time.Time
}

// SearchFixture accepts the search suite's emails into s and returns their
// ids in the order they were accepted (team a's six, then team b's one),
// for tests outside this package that check the same rows after a
// migration.
func SearchFixture(t *testing.T, s store.Store) (teamA string, ids []string) {
	t.Helper()
	f := newSearchFixture(t, s)
	for _, e := range f.e {
		ids = append(ids, e.ID)
	}
	return f.a.ID, append(ids, f.theirs.ID)
}

func newSearchFixture(t *testing.T, s store.Store) *searchFixture {
	t.Helper()
	ctx := context.Background()
	f := &searchFixture{s: s, a: newTeam(t, s, "a"), b: newTeam(t, s, "b"), d1: uuid.NewString(), d2: uuid.NewString()}
	mk := func(min int, to, cc, bcc []string, domain string, tags []store.Tag) *store.Email {
		e := newEmail(f.a.ID, t0.Add(time.Duration(min)*time.Minute))
		e.To, e.Cc, e.Bcc, e.DomainID, e.Tags = to, cc, bcc, domain, tags
		if domain != "" {
			e.DomainName = "d.example.com"
		}
		return e
	}
	news, receipt, prod := store.Tag{Name: "cat", Value: "news"}, store.Tag{Name: "cat", Value: "receipt"}, store.Tag{Name: "env", Value: "prod"}
	f.e = []*store.Email{
		mk(0, []string{"Alice <Alice@Example.com>"}, nil, nil, f.d1, []store.Tag{news}),
		mk(1, []string{"bob@example.net"}, []string{"alice@example.com"}, nil, f.d2, []store.Tag{receipt}),
		mk(2, []string{"carol@example.org", "alice@example.com"}, nil, []string{"ALICE@example.com"}, f.d1, []store.Tag{news, prod}),
		mk(3, []string{"bob@example.net"}, nil, nil, "", nil),
		mk(4, []string{"alice@example.com"}, nil, nil, f.d2, []store.Tag{news}),
		mk(4, []string{"dave@example.net"}, nil, nil, f.d2, []store.Tag{news}), // the same time: accepted later, listed first
	}
	for _, e := range f.e { // one at a time: seq follows the slice
		require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e}}))
	}
	for i, ev := range map[int]string{1: store.EventDelivered, 2: store.EventBounced, 3: store.EventDelivered, 4: store.EventDelivered, 5: "opened"} {
		f.e[i].LastEvent = ev
		require.NoError(t, s.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: f.e[i].ID, TeamID: f.a.ID, LastEvent: ev}))
	}
	// Team b's email matches every filter that team a's e[4] matches, and is the newest.
	f.theirs = newEmail(f.b.ID, t0.Add(time.Hour))
	f.theirs.To, f.theirs.DomainID, f.theirs.Tags = []string{"alice@example.com"}, f.d2, []store.Tag{news}
	require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{f.theirs}}))
	require.NoError(t, s.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: f.theirs.ID, TeamID: f.b.ID, LastEvent: store.EventDelivered}))
	return f
}

// ids are the ids of team a's emails by index, in the order given.
func (f *searchFixture) ids(idx ...int) []string {
	out := []string{}
	for _, i := range idx {
		out = append(out, f.e[i].ID)
	}
	return out
}

func emailIDs(list []*store.Email) []string {
	out := []string{}
	for _, e := range list {
		out = append(out, e.ID)
	}
	return out
}

// testSearchEmails covers SearchEmails: each filter, combinations, team
// scoping and pagination both ways.
func testSearchEmails(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	f := newSearchFixture(t, newStore(t, func() time.Time { return t0 }))
	s := f.s
	news := &store.Tag{Name: "cat", Value: "news"}
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

	for _, tc := range []struct {
		name   string
		filter store.EmailFilter
		want   []int
	}{
		{"none", store.EmailFilter{}, []int{5, 4, 3, 2, 1, 0}},
		{"status", store.EmailFilter{Status: store.EventDelivered}, []int{4, 3, 1}},
		{"status opened", store.EmailFilter{Status: "opened"}, []int{5}},
		{"status none match", store.EmailFilter{Status: store.EventComplained}, nil},
		{"status bounced", store.EmailFilter{Status: store.EventBounced}, []int{2}},
		{"status queued", store.EmailFilter{Status: store.EventQueued}, []int{0}},
		{"status sent none match", store.EmailFilter{Status: store.EventSent}, nil},
		{"bounced and its domain", store.EmailFilter{Status: store.EventBounced, DomainID: f.d1}, []int{2}},
		{"bounced and another domain", store.EmailFilter{Status: store.EventBounced, DomainID: f.d2}, nil},
		{"domain", store.EmailFilter{DomainID: f.d1}, []int{2, 0}},
		{"unknown domain", store.EmailFilter{DomainID: uuid.NewString()}, nil},
		{"recipient in to, cc and bcc", store.EmailFilter{Recipient: "alice@example.com"}, []int{4, 2, 1, 0}},
		{"recipient ignores case and display name", store.EmailFilter{Recipient: " Someone <ALICE@example.COM>"}, []int{4, 2, 1, 0}},
		{"recipient whole address only", store.EmailFilter{Recipient: "alice@example"}, nil},
		{"recipient nobody", store.EmailFilter{Recipient: "zed@example.com"}, nil},
		{"tag", store.EmailFilter{Tag: news}, []int{5, 4, 2, 0}},
		{"tag value exact", store.EmailFilter{Tag: &store.Tag{Name: "cat", Value: "new"}}, nil},
		{"tag name and value", store.EmailFilter{Tag: &store.Tag{Name: "news", Value: "cat"}}, nil},
		{"since", store.EmailFilter{Since: at(3)}, []int{5, 4, 3}},
		{"until excludes its instant", store.EmailFilter{Until: at(2)}, []int{1, 0}},
		{"time range", store.EmailFilter{Since: at(1), Until: at(4)}, []int{3, 2, 1}},
		{"since before the first", store.EmailFilter{Since: at(-60)}, []int{5, 4, 3, 2, 1, 0}},
		{"since after the last", store.EmailFilter{Since: at(5)}, nil},
		{"until before the first", store.EmailFilter{Until: at(0)}, nil},
		{"until after the last", store.EmailFilter{Until: at(600)}, []int{5, 4, 3, 2, 1, 0}},
		{"an instant", store.EmailFilter{Since: at(4), Until: at(4).Add(time.Microsecond)}, []int{5, 4}},
		{"delivered since", store.EmailFilter{Status: store.EventDelivered, Since: at(2)}, []int{4, 3}},
		{"recipient and tag", store.EmailFilter{Recipient: "alice@example.com", Tag: news}, []int{4, 2, 0}},
		{"recipient and another tag", store.EmailFilter{Recipient: "carol@example.org", Tag: &store.Tag{Name: "env", Value: "prod"}}, []int{2}},
		{"status and domain", store.EmailFilter{Status: store.EventDelivered, DomainID: f.d2}, []int{4, 1}},
		{"recipient and status", store.EmailFilter{Recipient: "bob@example.net", Status: store.EventDelivered}, []int{3, 1}},
		{"tag, domain and time", store.EmailFilter{Tag: news, DomainID: f.d1, Since: at(1)}, []int{2}},
		{"everything", store.EmailFilter{Recipient: "alice@example.com", Tag: news, Status: store.EventDelivered, DomainID: f.d2,
			Since: at(4), Until: at(5)}, []int{4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, more, err := s.SearchEmails(ctx, f.a.ID, tc.filter, store.Page{Limit: 10})
			require.NoError(t, err)
			require.False(t, more)
			require.Equal(t, f.ids(tc.want...), emailIDs(got))
			for _, e := range got {
				require.Equal(t, f.a.ID, e.TeamID, "another team's rows never appear")
				require.Nil(t, e.HTML, "lists leave the bodies out")
			}
		})
	}

	t.Run("fields", func(t *testing.T) {
		got, _, err := s.SearchEmails(ctx, f.a.ID, store.EmailFilter{Recipient: "carol@example.org"}, store.Page{})
		require.NoError(t, err)
		require.Len(t, got, 1)
		e := got[0]
		require.Equal(t, f.e[2].To, e.To)
		require.Equal(t, f.e[2].Bcc, e.Bcc)
		require.Equal(t, f.e[2].Tags, e.Tags)
		require.Equal(t, store.EventBounced, e.LastEvent)
		require.Equal(t, f.d1, e.DomainID)
		require.True(t, e.CreatedAt.Equal(f.e[2].CreatedAt))
	})

	t.Run("other team", func(t *testing.T) {
		got, _, err := s.SearchEmails(ctx, f.b.ID, store.EmailFilter{Recipient: "alice@example.com", Tag: news, DomainID: f.d2}, store.Page{})
		require.NoError(t, err)
		require.Equal(t, []string{f.theirs.ID}, emailIDs(got))
		got, _, err = s.SearchEmails(ctx, uuid.NewString(), store.EmailFilter{}, store.Page{})
		require.NoError(t, err)
		require.Empty(t, got, "an unknown team has no emails")
	})

	t.Run("pages", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			filter store.EmailFilter
			order  []int // every match, newest first
		}{
			{"none", store.EmailFilter{}, []int{5, 4, 3, 2, 1, 0}},
			{"recipient", store.EmailFilter{Recipient: "alice@example.com"}, []int{4, 2, 1, 0}},
			{"status", store.EmailFilter{Status: store.EventDelivered}, []int{4, 3, 1}},
			{"tag and time", store.EmailFilter{Tag: news, Until: at(5)}, []int{5, 4, 2, 0}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				// Forward two at a time from the first page, then back.
				var forward []string
				var pages [][]string
				p := store.Page{Limit: 2}
				for {
					got, more, err := s.SearchEmails(ctx, f.a.ID, tc.filter, p)
					require.NoError(t, err)
					pages = append(pages, emailIDs(got))
					forward = append(forward, emailIDs(got)...)
					if !more {
						break
					}
					require.Len(t, got, 2)
					p.After = got[len(got)-1].ID
				}
				require.Equal(t, f.ids(tc.order...), forward)
				last := pages[len(pages)-1]
				back, more, err := s.SearchEmails(ctx, f.a.ID, tc.filter, store.Page{Limit: 2, Before: last[0]})
				require.NoError(t, err)
				require.Equal(t, pages[len(pages)-2], emailIDs(back), "the page before the last, newest first")
				require.Equal(t, len(pages) > 2, more, "whether newer ones remain")
			})
		}
	})

	t.Run("cursor outside the filter", func(t *testing.T) {
		got, _, err := s.SearchEmails(ctx, f.a.ID, store.EmailFilter{Recipient: "alice@example.com"}, store.Page{After: f.e[3].ID})
		require.NoError(t, err)
		require.Equal(t, f.ids(2, 1, 0), emailIDs(got))
		got, more, err := s.SearchEmails(ctx, f.a.ID, store.EmailFilter{Recipient: "alice@example.com"}, store.Page{Before: f.e[3].ID, Limit: 1})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, f.ids(4), emailIDs(got))
	})

	t.Run("ties in time follow acceptance", func(t *testing.T) {
		got, more, err := s.SearchEmails(ctx, f.a.ID, store.EmailFilter{}, store.Page{After: f.e[5].ID, Limit: 1})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, f.ids(4), emailIDs(got))
		got, _, err = s.SearchEmails(ctx, f.a.ID, store.EmailFilter{}, store.Page{Before: f.e[4].ID})
		require.NoError(t, err)
		require.Equal(t, f.ids(5), emailIDs(got))
	})

	t.Run("unknown cursor", func(t *testing.T) {
		for _, p := range []store.Page{{After: uuid.NewString()}, {Before: uuid.NewString()}, {After: f.theirs.ID}, {Before: f.theirs.ID}} {
			_, _, err := s.SearchEmails(ctx, f.a.ID, store.EmailFilter{Tag: news}, p)
			require.ErrorIs(t, err, store.ErrNotFound, "%+v", p)
		}
	})
}

// testEmailDetail covers GetEmailDetail.
func testEmailDetail(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	s := newStore(t, func() time.Time { return t0 })
	a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
	e := newEmail(a.ID, t0)
	e.Attachments = []store.Attachment{{Filename: "a.txt", ContentType: "text/plain", Content: []byte("hello")},
		{Filename: "r.pdf", Path: "https://files.example.com/r.pdf"}}
	bare := newEmail(a.ID, t0)
	require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e, bare}}))
	t1 := t0.Add(time.Second)
	require.NoError(t, s.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: e.ID, TeamID: a.ID, LastEvent: store.EventDelivered,
		Attempts: []*store.DeliveryAttempt{
			{Recipient: "b@example.net", Outcome: store.OutcomeDeferred, Host: "mx1.example.net", Code: 451, Enhanced: "4.7.1", Response: "later", CreatedAt: t0},
			{Recipient: "b@example.net", Outcome: store.OutcomeDelivered, Host: "mx2.example.net", Code: 250, Response: "ok",
				TLSVersion: "TLS 1.2", TLSCipher: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", TLSPolicy: "mta-sts enforce", CreatedAt: t1}},
		Events:   []*store.EmailEvent{{Type: store.EventSent, CreatedAt: t1}, {Type: store.EventDelivered, CreatedAt: t1, Data: []byte(`{"x":1}`)}},
		Captured: []byte("Subject: hello\r\n\r\nhi\r\n")}))

	d, err := s.GetEmailDetail(ctx, a.ID, e.ID)
	require.NoError(t, err)
	require.Equal(t, e.ID, d.Email.ID)
	require.Equal(t, "<p>hi</p>", *d.Email.HTML, "the page shows the bodies")
	require.Equal(t, store.EventDelivered, d.Email.LastEvent)
	require.Nil(t, d.Email.Attachments)
	history, err := s.ListEmailEvents(ctx, a.ID, e.ID)
	require.NoError(t, err)
	require.Equal(t, history, d.Events, "the same events as ListEmailEvents")
	require.Equal(t, []string{store.EventQueued, store.EventSent, store.EventDelivered}, []string{d.Events[0].Type, d.Events[1].Type, d.Events[2].Type})
	attempts, err := s.ListDeliveryAttempts(ctx, a.ID, e.ID)
	require.NoError(t, err)
	require.Equal(t, attempts, d.Attempts)
	require.Len(t, d.Attempts, 2)
	require.Equal(t, "mx2.example.net", d.Attempts[1].Host)
	require.Equal(t, "mta-sts enforce", d.Attempts[1].TLSPolicy, "the TLS details come back with the detail")
	require.Equal(t, "TLS 1.2", d.Attempts[1].TLSVersion)
	atts, err := s.ListEmailAttachments(ctx, a.ID, e.ID)
	require.NoError(t, err)
	require.Equal(t, atts, d.Attachments)
	require.Equal(t, int64(5), d.Attachments[0].Size)
	require.True(t, d.Captured)

	d, err = s.GetEmailDetail(ctx, a.ID, bare.ID)
	require.NoError(t, err)
	require.Len(t, d.Events, 1)
	require.Empty(t, d.Attempts)
	require.Empty(t, d.Attachments)
	require.False(t, d.Captured)

	_, err = s.GetEmailDetail(ctx, b.ID, e.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "another team's email")
	_, err = s.GetEmailDetail(ctx, a.ID, uuid.NewString())
	require.ErrorIs(t, err, store.ErrNotFound)
}

// testCapturedMessages covers the dev inbox's list.
func testCapturedMessages(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	clock := t0
	s := newStore(t, func() time.Time { return clock })
	a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
	var captured []*store.Email // oldest first
	for i := range 5 {
		e := newEmail(a.ID, t0)
		e.To, e.Subject = []string{"r" + string(rune('0'+i)) + "@example.net"}, "subject "+string(rune('0'+i))
		captured = append(captured, e)
	}
	notCaptured, theirs := newEmail(a.ID, t0), newEmail(b.ID, t0)
	require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: append(append([]*store.Email{}, captured...), notCaptured)}))
	require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{theirs}}))
	for i, e := range append(captured, theirs) {
		clock = t0.Add(time.Duration(i) * time.Second)
		if i == 4 {
			clock = t0.Add(3 * time.Second) // the same instant as the one before: ordered by email id
		}
		require.NoError(t, s.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: e.ID, TeamID: e.TeamID, LastEvent: store.EventDelivered,
			Captured: []byte("Subject: x\r\n\r\nx\r\n")}))
	}
	if captured[3].ID > captured[4].ID {
		captured[3], captured[4] = captured[4], captured[3]
	}
	want := []string{captured[4].ID, captured[3].ID, captured[2].ID, captured[1].ID, captured[0].ID}

	all, more, err := s.ListCapturedMessages(ctx, a.ID, store.Page{})
	require.NoError(t, err)
	require.False(t, more)
	var ids []string
	for _, m := range all {
		ids = append(ids, m.EmailID)
	}
	require.Equal(t, want, ids, "newest first, the team's captured only")
	m := all[len(all)-1]
	require.Equal(t, captured[0].From, m.From)
	require.Equal(t, captured[0].To, m.To)
	require.Equal(t, captured[0].Subject, m.Subject)
	require.Equal(t, store.EventDelivered, m.LastEvent)
	require.True(t, m.CreatedAt.Equal(t0))

	var forward []string
	p := store.Page{Limit: 2}
	for {
		page, more, err := s.ListCapturedMessages(ctx, a.ID, p)
		require.NoError(t, err)
		for _, m := range page {
			forward = append(forward, m.EmailID)
		}
		if !more {
			break
		}
		p.After = page[len(page)-1].EmailID
	}
	require.Equal(t, want, forward)
	back, more, err := s.ListCapturedMessages(ctx, a.ID, store.Page{Limit: 2, Before: want[2]})
	require.NoError(t, err)
	require.False(t, more)
	require.Equal(t, want[0], back[0].EmailID)
	require.Equal(t, want[1], back[1].EmailID)
	back, more, err = s.ListCapturedMessages(ctx, a.ID, store.Page{Limit: 1, Before: want[3]})
	require.NoError(t, err)
	require.True(t, more)
	require.Equal(t, want[2], back[0].EmailID)

	for _, p := range []store.Page{{After: notCaptured.ID}, {Before: theirs.ID}, {After: uuid.NewString()}} {
		_, _, err := s.ListCapturedMessages(ctx, a.ID, p)
		require.ErrorIs(t, err, store.ErrNotFound, "%+v", p)
	}
	theirList, _, err := s.ListCapturedMessages(ctx, b.ID, store.Page{})
	require.NoError(t, err)
	require.Len(t, theirList, 1)
	require.Equal(t, theirs.ID, theirList[0].EmailID)
}
