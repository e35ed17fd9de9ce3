package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

// testEmailMetrics checks that the hourly rollup behind EmailMetrics equals
// a recount of the emails' events after a mixed workload (accepts in
// groups, outcomes recorded concurrently, repeated opens and clicks,
// bounces of every type), and that counting the same emails from their
// own events agrees with it.
func testEmailMetrics(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	s := newStore(t, func() time.Time { return t0 })
	a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
	domain1, domain2, broadcast := store.NewID(), store.NewID(), store.NewID()

	// 24 emails of team A over three hours, on two domains, a broadcast
	// and the test sender; one email of team B.
	var emails []*store.Email
	var accepts []*store.Accept
	for i := range 24 {
		e := newEmail(a.ID, t0.Add(time.Duration(i)*7*time.Minute))
		switch i % 4 {
		case 0:
			e.DomainID, e.DomainName = domain1, "one.example"
		case 1:
			e.DomainID, e.DomainName = domain2, "two.example"
		case 2:
			e.DomainID, e.DomainName, e.BroadcastID = domain1, "one.example", broadcast
		case 3:
			e.DomainName = "resend.dev"
		}
		emails = append(emails, e)
		if i%3 == 0 {
			accepts = append(accepts, &store.Accept{})
		}
		accepts[len(accepts)-1].Emails = append(accepts[len(accepts)-1].Emails, e)
	}
	other := newEmail(b.ID, t0)
	other.DomainID, other.DomainName = domain1, "one.example"
	accepts = append(accepts, &store.Accept{Emails: []*store.Email{other}})
	var wg sync.WaitGroup
	for _, acc := range accepts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, s.AcceptEmails(ctx, acc))
		}()
	}
	wg.Wait()

	// Outcomes: each email gets a different mix, recorded concurrently so
	// that some commit in one group.
	bounceData := []string{`{"bounce":{"type":"Permanent"}}`, `{"bounce":{"type":"Transient"}}`, `{"bounce":{}}`, ``}
	var outcomes []*store.DeliveryOutcome
	for i, e := range append(emails, other) {
		at := e.CreatedAt.Add(time.Duration(i%5) * 25 * time.Minute)
		ev := func(typ, data string, d time.Duration) *store.EmailEvent {
			var raw json.RawMessage
			if data != "" {
				raw = json.RawMessage(data)
			}
			return &store.EmailEvent{Type: typ, Data: raw, CreatedAt: at.Add(d)}
		}
		o := &store.DeliveryOutcome{EmailID: e.ID, TeamID: e.TeamID}
		switch i % 6 {
		case 0, 1:
			o.Events = []*store.EmailEvent{ev(store.EventSent, "", 0), ev(store.EventDelivered, "", time.Second)}
		case 2:
			o.Events = []*store.EmailEvent{ev(store.EventSent, "", 0), ev(store.EventBounced, bounceData[(i/6)%4], time.Second)}
		case 3:
			o.Events = []*store.EmailEvent{ev(store.EventSent, "", 0), ev(store.EventDeliveryDelayed, "", 0), ev(store.EventFailed, `{"failed":{"reason":"x"}}`, time.Minute)}
		case 4:
			o.Events = []*store.EmailEvent{ev(store.EventSuppressed, "", 0)}
		case 5:
			o.Events = []*store.EmailEvent{ev(store.EventSent, "", 0), ev(store.EventDelivered, "", 0), ev(store.EventComplained, "", 2*time.Hour)}
		}
		outcomes = append(outcomes, o)
		if i%2 == 0 { // opens and clicks, some twice, some in one outcome
			for j := range 1 + i%3 {
				outcomes = append(outcomes, &store.DeliveryOutcome{EmailID: e.ID, TeamID: e.TeamID,
					Events: []*store.EmailEvent{ev("opened", "", time.Duration(j+1)*40*time.Minute), ev("clicked", "", time.Duration(j+1)*41*time.Minute)}})
			}
			outcomes = append(outcomes, &store.DeliveryOutcome{EmailID: e.ID, TeamID: e.TeamID,
				Events: []*store.EmailEvent{ev("opened", "", 3*time.Hour), ev("opened", "", 3*time.Hour+time.Second)}})
		}
	}
	for _, o := range outcomes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, s.RecordDelivery(ctx, o))
		}()
	}
	wg.Wait()
	// An outcome naming another team's email counts nothing.
	require.NoError(t, s.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: other.ID, TeamID: a.ID,
		Events: []*store.EmailEvent{{Type: store.EventSent, CreatedAt: t0}}}))

	// The recount, from each email's history.
	type key struct {
		hour              time.Time
		domain, broadcast string
	}
	want := map[key]*store.EmailCounts{}
	at := func(e *store.Email, t time.Time) *store.EmailCounts {
		k := key{t.UTC().Truncate(time.Hour), e.DomainID, e.BroadcastID}
		if want[k] == nil {
			want[k] = &store.EmailCounts{}
		}
		return want[k]
	}
	for _, e := range emails {
		at(e, e.CreatedAt).Received++
		history, err := s.ListEmailEvents(ctx, a.ID, e.ID)
		require.NoError(t, err)
		seen := map[string]bool{}
		for _, ev := range history {
			c := at(e, ev.CreatedAt)
			switch ev.Type {
			case store.EventSent:
				c.Sent++
			case store.EventDelivered:
				c.Delivered++
			case store.EventDeliveryDelayed:
				c.DeliveryDelayed++
			case store.EventFailed:
				c.Failed++
			case store.EventSuppressed:
				c.Suppressed++
			case store.EventComplained:
				c.Complained++
			case store.EventBounced:
				c.Bounced++
				switch string(ev.Data) {
				case bounceData[0]:
					c.BouncedPermanent++
				case bounceData[1]:
					c.BouncedTransient++
				default:
					c.BouncedUndetermined++
				}
			case "opened", "clicked":
				if ev.Type == "opened" {
					c.Opened++
				} else {
					c.Clicked++
				}
				if !seen[ev.Type] {
					if ev.Type == "opened" {
						c.UniqueOpened++
					} else {
						c.UniqueClicked++
					}
				}
				seen[ev.Type] = true
			}
		}
	}
	var total store.EmailCounts
	for _, c := range want {
		total.Add(c)
	}
	require.Positive(t, total.UniqueOpened)
	require.Greater(t, total.Opened, total.UniqueOpened)
	require.Positive(t, total.BouncedPermanent*total.BouncedTransient*total.BouncedUndetermined)

	byKey := func(rows []*store.EmailMetricsRow) map[key]*store.EmailCounts {
		got := map[key]*store.EmailCounts{}
		for _, r := range rows {
			k := key{r.Hour, r.DomainID, r.BroadcastID}
			if got[k] == nil {
				got[k] = &store.EmailCounts{}
			}
			got[k].Add(&r.EmailCounts)
		}
		return got
	}
	all := store.EmailMetricsFilter{TeamID: a.ID, From: t0.Add(-time.Hour), To: t0.Add(24 * time.Hour), ByHour: true, ByDomain: true, ByBroadcast: true}
	rows, err := s.EmailMetrics(ctx, all)
	require.NoError(t, err)
	require.Equal(t, want, byKey(rows), "the rollup equals the recount")
	for _, r := range rows {
		if r.DomainID == domain1 {
			require.Equal(t, "one.example", r.DomainName)
		}
	}

	ids := make([]string, len(emails))
	for i, e := range emails {
		ids[i] = e.ID
	}
	perEmail := all
	perEmail.EmailIDs = append(ids, other.ID) // team B's email matches nothing
	rows, err = s.EmailMetrics(ctx, perEmail)
	require.NoError(t, err)
	require.Equal(t, want, byKey(rows), "counting the emails' own events agrees")

	// Filters and range.
	for _, tc := range []struct {
		name string
		f    func(*store.EmailMetricsFilter)
		keep func(key) bool
	}{
		{"domain", func(f *store.EmailMetricsFilter) { f.DomainIDs = []string{domain2} }, func(k key) bool { return k.domain == domain2 }},
		{"broadcast", func(f *store.EmailMetricsFilter) { f.BroadcastIDs = []string{broadcast} }, func(k key) bool { return k.broadcast == broadcast }},
		{"range", func(f *store.EmailMetricsFilter) {
			f.From, f.To = t0.Truncate(time.Hour).Add(time.Hour), t0.Truncate(time.Hour).Add(2*time.Hour)
		},
			func(k key) bool { return k.hour.Equal(t0.Truncate(time.Hour).Add(time.Hour)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect := map[key]*store.EmailCounts{}
			for k, c := range want {
				if tc.keep(k) {
					expect[k] = c
				}
			}
			require.NotEmpty(t, expect)
			for _, base := range []store.EmailMetricsFilter{all, perEmail} {
				f := base
				tc.f(&f)
				rows, err := s.EmailMetrics(ctx, f)
				require.NoError(t, err)
				require.Equal(t, expect, byKey(rows), fmt.Sprintf("emails named: %v", len(f.EmailIDs) > 0))
			}
		})
	}

	// Without ByDomain and ByBroadcast the rows are summed per hour.
	perHour := map[time.Time]*store.EmailCounts{}
	for k, c := range want {
		if perHour[k.hour] == nil {
			perHour[k.hour] = &store.EmailCounts{}
		}
		perHour[k.hour].Add(c)
	}
	summed := all
	summed.ByDomain, summed.ByBroadcast = false, false
	var grand store.EmailCounts
	for _, c := range want {
		grand.Add(c)
	}
	summed.ByHour = false
	rows, err = s.EmailMetrics(ctx, summed)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, grand, rows[0].EmailCounts)
	none := summed
	none.DomainIDs = []string{store.NewID()}
	rows, err = s.EmailMetrics(ctx, none)
	require.NoError(t, err)
	require.Empty(t, rows, "nothing matched: no row")
	summed.ByHour = true
	rows, err = s.EmailMetrics(ctx, summed)
	require.NoError(t, err)
	require.Len(t, rows, len(perHour))
	for _, r := range rows {
		require.Empty(t, r.DomainID+r.BroadcastID)
		require.Equal(t, perHour[r.Hour], &r.EmailCounts, "hour %s", r.Hour)
	}

	// Bucket sums the hours of each (here: UTC) day.
	perDay := map[time.Time]*store.EmailCounts{}
	for k, c := range want {
		d := k.hour.Truncate(24 * time.Hour)
		if perDay[d] == nil {
			perDay[d] = &store.EmailCounts{}
		}
		perDay[d].Add(c)
	}
	summed.Bucket = 24 * time.Hour
	rows, err = s.EmailMetrics(ctx, summed)
	require.NoError(t, err)
	require.Len(t, rows, len(perDay))
	for _, r := range rows {
		require.Equal(t, perDay[r.Hour.Truncate(24*time.Hour)], &r.EmailCounts, "day of %s", r.Hour)
	}

	// Team B sees its own email only.
	rows, err = s.EmailMetrics(ctx, store.EmailMetricsFilter{TeamID: b.ID, From: all.From, To: all.To})
	require.NoError(t, err)
	var bTotal store.EmailCounts
	for _, r := range rows {
		bTotal.Add(&r.EmailCounts)
	}
	require.EqualValues(t, 1, bTotal.Received)
	rows, err = s.EmailMetrics(ctx, store.EmailMetricsFilter{TeamID: b.ID, From: all.From, To: all.To, EmailIDs: ids})
	require.NoError(t, err)
	require.Empty(t, rows, "another team's emails are not counted")
}
