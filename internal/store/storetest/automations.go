package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

// testAutomations is the events, automations and runs part of the suite.
func testAutomations(t *testing.T, newStore NewStore) {
	now := func() time.Time { return t0 }
	ctx := context.Background()

	t.Run("EventDefinitions", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		e := &store.EventDefinition{ID: uuid.NewString(), TeamID: a.ID, Name: "user.created", Schema: map[string]string{"plan": "string"}, CreatedAt: t0}
		require.NoError(t, s.CreateEventDefinition(ctx, e))
		require.ErrorIs(t, s.CreateEventDefinition(ctx, &store.EventDefinition{ID: uuid.NewString(), TeamID: a.ID, Name: "user.created", CreatedAt: t0}),
			store.ErrConflict)
		require.NoError(t, s.CreateEventDefinition(ctx, &store.EventDefinition{ID: uuid.NewString(), TeamID: b.ID, Name: "user.created", CreatedAt: t0}),
			"names are unique per team")
		got, err := s.GetEventDefinition(ctx, a.ID, "user.created")
		require.NoError(t, err)
		require.Equal(t, e.ID, got.ID)
		require.Equal(t, map[string]string{"plan": "string"}, got.Schema)
		require.Nil(t, got.UpdatedAt)
		got, err = s.GetEventDefinition(ctx, a.ID, e.ID)
		require.NoError(t, err)
		require.Equal(t, "user.created", got.Name)
		_, err = s.GetEventDefinition(ctx, b.ID, e.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		at := t0.Add(time.Minute)
		got.Schema, got.UpdatedAt = nil, &at
		require.NoError(t, s.UpdateEventDefinition(ctx, got))
		got, err = s.GetEventDefinition(ctx, a.ID, e.ID)
		require.NoError(t, err)
		require.Nil(t, got.Schema)
		require.Equal(t, at, *got.UpdatedAt)
		list, more, err := s.ListEventDefinitions(ctx, a.ID, store.Page{Limit: 10})
		require.NoError(t, err)
		require.False(t, more)
		require.Len(t, list, 1)
		require.ErrorIs(t, s.DeleteEventDefinition(ctx, b.ID, e.ID), store.ErrNotFound)
		require.NoError(t, s.DeleteEventDefinition(ctx, a.ID, e.ID))
	})

	t.Run("RunsAdvanceOnce", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		auto := &store.Automation{ID: uuid.NewString(), TeamID: a.ID, Name: "x", Status: store.AutomationEnabled, Version: 1,
			TriggerEvent: "go", Graph: []byte(`{"v":1}`), CreatedAt: t0, UpdatedAt: t0}
		require.NoError(t, s.CreateAutomation(ctx, auto))
		auto.Version, auto.Graph = 2, []byte(`{"v":2}`)
		require.NoError(t, s.UpdateAutomation(ctx, auto))
		v1, err := s.GetAutomationVersion(ctx, auto.ID, 1)
		require.NoError(t, err)
		require.Equal(t, `{"v":1}`, string(v1), "versions are kept")
		on, err := s.ListTriggeredAutomations(ctx, a.ID, "go")
		require.NoError(t, err)
		require.Len(t, on, 1)
		none, err := s.ListTriggeredAutomations(ctx, b.ID, "go")
		require.NoError(t, err)
		require.Empty(t, none)

		run := &store.AutomationRun{ID: uuid.NewString(), TeamID: a.ID, AutomationID: auto.ID, Version: 1, ContactID: uuid.NewString(),
			Event: "go", Payload: []byte(`{}`), Status: store.RunRunning, CreatedAt: t0,
			Steps: []*store.AutomationRunStep{{ID: uuid.NewString(), Key: "t", Type: "trigger", CreatedAt: t0}}}
		require.NoError(t, s.StartAutomationRuns(ctx, []*store.AutomationRun{run}))
		first := run.Steps[0].ID
		next := &store.AutomationRunStep{ID: uuid.NewString(), Key: "w", Type: "wait_for_event", CreatedAt: t0}
		adv := &store.StepAdvance{TeamID: a.ID, RunID: run.ID, StepID: first, From: store.StepPending, To: store.StepCompleted,
			StartedAt: &t0, CompletedAt: &t0, Next: []*store.AutomationRunStep{next}, At: t0}
		status, err := s.AdvanceAutomationRun(ctx, adv)
		require.NoError(t, err)
		require.Equal(t, store.RunRunning, status)
		_, err = s.AdvanceAutomationRun(ctx, adv)
		require.ErrorIs(t, err, store.ErrStale, "a doubled advance writes nothing")

		_, err = s.AdvanceAutomationRun(ctx, &store.StepAdvance{TeamID: a.ID, RunID: run.ID, StepID: next.ID, From: store.StepPending,
			To: store.StepWaiting, WaitEvent: "paid", StartedAt: &t0, At: t0})
		require.NoError(t, err)
		waiting, err := s.WaitingRunSteps(ctx, a.ID, run.ContactID, "paid")
		require.NoError(t, err)
		require.Len(t, waiting, 1)
		none2, err := s.WaitingRunSteps(ctx, b.ID, run.ContactID, "paid")
		require.NoError(t, err)
		require.Empty(t, none2)

		end := t0.Add(time.Hour)
		status, err = s.AdvanceAutomationRun(ctx, &store.StepAdvance{TeamID: a.ID, RunID: run.ID, StepID: next.ID, From: store.StepWaiting,
			To: store.StepCompleted, CompletedAt: &end, Payload: []byte(`{"x":1}`), At: end})
		require.NoError(t, err)
		require.Equal(t, store.RunCompleted, status, "no step left: the run completes")
		got, err := s.GetAutomationRun(ctx, a.ID, auto.ID, run.ID)
		require.NoError(t, err)
		require.Equal(t, store.RunCompleted, got.Status)
		require.Equal(t, `{"x":1}`, string(got.Payload))
		require.Equal(t, end, *got.CompletedAt)
		require.Len(t, got.Steps, 2)
		require.Equal(t, "w", got.Steps[1].Key)
		_, err = s.GetAutomationRun(ctx, b.ID, auto.ID, run.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		_, _, err = s.ListAutomationRuns(ctx, b.ID, auto.ID, nil, store.Page{Limit: 10})
		require.ErrorIs(t, err, store.ErrNotFound)
		runs, _, err := s.ListAutomationRuns(ctx, a.ID, auto.ID, []string{store.RunCompleted}, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Len(t, runs, 1)

		// Stop cancels running runs; delete takes runs with it.
		run2 := &store.AutomationRun{ID: uuid.NewString(), TeamID: a.ID, AutomationID: auto.ID, Version: 2, ContactID: run.ContactID,
			Event: "go", Payload: []byte(`{}`), Status: store.RunRunning, CreatedAt: t0,
			Steps: []*store.AutomationRunStep{{ID: uuid.NewString(), Key: "t", Type: "trigger", CreatedAt: t0}}}
		require.NoError(t, s.StartAutomationRuns(ctx, []*store.AutomationRun{run2}))
		require.ErrorIs(t, s.StopAutomation(ctx, b.ID, auto.ID, end), store.ErrNotFound)
		require.NoError(t, s.StopAutomation(ctx, a.ID, auto.ID, end))
		got, err = s.GetAutomationRun(ctx, a.ID, auto.ID, run2.ID)
		require.NoError(t, err)
		require.Equal(t, store.RunCancelled, got.Status)
		require.Equal(t, store.StepSkipped, got.Steps[0].Status)
		_, err = s.AdvanceAutomationRun(ctx, &store.StepAdvance{TeamID: a.ID, RunID: run2.ID, StepID: run2.Steps[0].ID,
			From: store.StepPending, To: store.StepCompleted, At: end})
		require.ErrorIs(t, err, store.ErrStale, "a cancelled run moves no more")
		require.NoError(t, s.DeleteAutomation(ctx, a.ID, auto.ID))
		_, _, err = s.GetAutomationRunStep(ctx, first)
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("SendCommitsWithItsStep", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a := newTeam(t, s, "a")
		send := &store.AutomationRunStep{ID: uuid.NewString(), Key: "send", Type: "send_email", CreatedAt: t0}
		run := startRun(t, s, a.ID, uuid.NewString(), send)
		advance := func() *store.StepAdvance {
			return &store.StepAdvance{TeamID: a.ID, RunID: run.ID, StepID: send.ID, From: store.StepPending, To: store.StepCompleted,
				StartedAt: &t0, CompletedAt: &t0, Output: []byte(`{"sent":true}`), At: t0}
		}

		// Two jobs of the same step at once: one email, one completion.
		emails := []*store.Email{newEmail(a.ID, t0), newEmail(a.ID, t0)}
		errs := make(chan error, 2)
		for _, e := range emails {
			go func() { errs <- s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e}, Step: advance()}) }()
		}
		var committed, stale int
		for range emails {
			switch err := <-errs; {
			case err == nil:
				committed++
			case errors.Is(err, store.ErrStale):
				stale++
			default:
				t.Fatalf("accept with its step: %v", err)
			}
		}
		require.Equal(t, 1, committed)
		require.Equal(t, 1, stale)
		var found int
		for _, e := range emails {
			_, err := s.GetEmail(ctx, a.ID, e.ID)
			if err == nil {
				found++
			} else {
				require.ErrorIs(t, err, store.ErrNotFound, "the stale job's email is not written")
			}
		}
		require.Equal(t, 1, found, "exactly one email")
		got, err := s.GetAutomationRun(ctx, a.ID, run.AutomationID, run.ID)
		require.NoError(t, err)
		require.Equal(t, store.StepCompleted, got.Steps[0].Status)
		require.Equal(t, `{"sent":true}`, string(got.Steps[0].Output))
		require.Equal(t, store.RunCompleted, got.Status, "its last step: the run completes")

		// Much later (no idempotency record to lean on) it is still stale.
		late := newEmail(a.ID, t0.Add(72*time.Hour))
		err = s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{late}, Step: advance()})
		require.ErrorIs(t, err, store.ErrStale)
		_, err = s.GetEmail(ctx, a.ID, late.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("ContactStepsCommitWithTheirStep", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a := newTeam(t, s, "a")
		c := newContact(a.ID, "run@example.net")
		require.NoError(t, s.CreateContact(ctx, c))
		seg := newSegment(t, s, a.ID, "joined")
		steps := []*store.AutomationRunStep{
			{ID: uuid.NewString(), Key: "u", Type: "contact_update", CreatedAt: t0},
			{ID: uuid.NewString(), Key: "s", Type: "add_to_segment", CreatedAt: t0},
			{ID: uuid.NewString(), Key: "d", Type: "contact_delete", CreatedAt: t0},
		}
		run := startRun(t, s, a.ID, c.ID, steps...)
		event := func(typ string) *store.Event {
			return &store.Event{ID: uuid.NewString(), TeamID: a.ID, Type: typ, CreatedAt: t0, Data: []byte(`{}`)}
		}
		advance := func(step *store.AutomationRunStep, cc *store.ContactChange) error {
			_, err := s.AdvanceAutomationRun(ctx, &store.StepAdvance{TeamID: a.ID, RunID: run.ID, StepID: step.ID, From: store.StepPending,
				To: store.StepCompleted, StartedAt: &t0, CompletedAt: &t0, Contact: cc, At: t0})
			return err
		}
		eventTypes := func() []string {
			list, err := s.ListEvents(ctx, a.ID, "", 100)
			require.NoError(t, err)
			var types []string
			for _, e := range list {
				types = append(types, e.Type)
			}
			return types
		}
		before := len(eventTypes())

		name := "Ada"
		updated := *c
		updated.FirstName, updated.Properties, updated.UpdatedAt = &name, map[string]any{"plan": "pro"}, t0.Add(time.Minute)
		require.NoError(t, advance(steps[0], &store.ContactChange{Update: &updated, Events: []*store.Event{event("contact.updated")}}))
		other := "Grace"
		again := updated
		again.FirstName = &other
		require.ErrorIs(t, advance(steps[0], &store.ContactChange{Update: &again, Events: []*store.Event{event("contact.updated")}}),
			store.ErrStale, "a doubled job")
		got, err := s.GetContact(ctx, a.ID, c.ID)
		require.NoError(t, err)
		require.Equal(t, "Ada", *got.FirstName, "the stale job wrote nothing")
		require.Equal(t, "pro", got.Properties["plan"])
		require.Len(t, eventTypes(), before+1, "one contact.updated")

		require.NoError(t, advance(steps[1], &store.ContactChange{SegmentID: seg.ID}))
		members, _, err := s.ListContacts(ctx, a.ID, seg.ID, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Len(t, members, 1)

		require.NoError(t, s.DeleteContact(ctx, a.ID, c.ID), "the contact goes meanwhile")
		require.NoError(t, advance(steps[2], &store.ContactChange{Delete: true, Events: []*store.Event{event("contact.deleted")}}))
		require.Len(t, eventTypes(), before+1, "no event for a contact already gone")
		got2, err := s.GetAutomationRun(ctx, a.ID, run.AutomationID, run.ID)
		require.NoError(t, err)
		require.Equal(t, store.RunCompleted, got2.Status)
	})
}

// startRun creates an enabled automation of team and starts a run of it
// for the contact with steps, all pending.
func startRun(t *testing.T, s store.Store, teamID, contactID string, steps ...*store.AutomationRunStep) *store.AutomationRun {
	t.Helper()
	ctx := context.Background()
	auto := &store.Automation{ID: uuid.NewString(), TeamID: teamID, Name: "x", Status: store.AutomationEnabled, Version: 1,
		TriggerEvent: "go", Graph: []byte(`{}`), CreatedAt: t0, UpdatedAt: t0}
	require.NoError(t, s.CreateAutomation(ctx, auto))
	run := &store.AutomationRun{ID: uuid.NewString(), TeamID: teamID, AutomationID: auto.ID, Version: 1, ContactID: contactID,
		Event: "go", Payload: []byte(`{}`), Status: store.RunRunning, CreatedAt: t0, StartedAt: &t0, Steps: steps}
	require.NoError(t, s.StartAutomationRuns(ctx, []*store.AutomationRun{run}))
	return run
}
