package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/automation"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/queue"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// waitRun polls a run until its steps read want (or the deadline passes).
func (e *env) waitRun(automationID, runID string, want []string) *store.AutomationRun {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r, err := e.db.GetAutomationRun(context.Background(), e.team.ID, automationID, runID)
		require.NoError(e.t, err)
		got := []string{}
		for _, s := range r.Steps {
			got = append(got, s.Key+"="+s.Status)
		}
		if len(got) == len(want) && func() bool {
			for i := range got {
				if got[i] != want[i] {
					return false
				}
			}
			return true
		}() {
			return r
		}
		require.True(e.t, time.Now().Before(deadline), "run steps %v, want %v", got, want)
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAutomationRunsOnTheQueue: run steps are River jobs; a delay is a
// job scheduled at its end (River's clock is the test's), not a sleep.
func TestAutomationRunsOnTheQueue(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			var eng *automation.Engine
			e := startWith(t, kind, func(c *queue.Config, db *sqlstore.DB) {
				eng = automation.New(automation.Config{Store: db, Now: c.Time.Now})
				c.Automations = eng
			})
			ctx := context.Background()
			seg := &store.Segment{ID: uuid.NewString(), TeamID: e.team.ID, Name: "later", CreatedAt: t0}
			require.NoError(t, e.db.CreateSegment(ctx, seg))
			c := &store.Contact{ID: uuid.NewString(), TeamID: e.team.ID, Email: "q@example.net", CreatedAt: t0, UpdatedAt: t0}
			require.NoError(t, e.db.CreateContact(ctx, c))
			g, err := automation.Parse([]byte(`[
				{"key":"t","type":"trigger","config":{"event_name":"signup"}},
				{"key":"name","type":"contact_update","config":{"first_name":{"var":"event.name"}}},
				{"key":"d","type":"delay","config":{"duration":"1 hour"}},
				{"key":"seg","type":"add_to_segment","config":{"segment_id":"`+seg.ID+`"}}]`),
				[]byte(`[{"from":"t","to":"name"},{"from":"name","to":"d"},{"from":"d","to":"seg"}]`))
			require.NoError(t, err)
			a := &store.Automation{ID: uuid.NewString(), TeamID: e.team.ID, Name: "q", Status: store.AutomationEnabled, Version: 1,
				TriggerEvent: "signup", Graph: g.Encode(), CreatedAt: t0, UpdatedAt: t0}
			require.NoError(t, e.db.CreateAutomation(ctx, a))

			n, err := eng.SendEvent(ctx, e.team.ID, c, "signup", map[string]any{"name": "Quinn"})
			require.NoError(t, err)
			require.Equal(t, 1, n)
			runs, _, err := e.db.ListAutomationRuns(ctx, e.team.ID, a.ID, nil, store.Page{Limit: 10})
			require.NoError(t, err)
			require.Len(t, runs, 1)
			e.waitRun(a.ID, runs[0].ID, []string{"t=completed", "name=completed", "d=waiting"})
			got, err := e.db.GetContact(ctx, e.team.ID, c.ID)
			require.NoError(t, err)
			require.Equal(t, "Quinn", *got.FirstName)

			e.clock.Advance(time.Hour)
			r := e.waitRun(a.ID, runs[0].ID, []string{"t=completed", "name=completed", "d=completed", "seg=completed"})
			require.Equal(t, store.RunCompleted, r.Status)
			segs, _, err := e.db.ListContactSegments(ctx, e.team.ID, c.ID, store.Page{Limit: 10})
			require.NoError(t, err)
			require.Len(t, segs, 1)
		})
	}
}
