package automation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/godwit/godwit/internal/accept"
	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/render"
	"github.com/godwit/godwit/internal/store"
)

// # The engine
//
// A run is a chain of step records. Each record is made pending in the
// transaction that enqueues its job (the run's start, which completes the
// trigger at once, or the completion of the step before), and its job moves it on with one StepAdvance: from the
// status the job found, to the next, with the records and jobs of the
// steps that follow. A job that finds its record moved on already (it ran
// twice, or a wait's timeout lost the race with its event) changes
// nothing: the store answers ErrStale.
//
// A delay and a wait_for_event with a timeout become waiting with a second
// job scheduled for the same record at their end; nothing sleeps. An event
// for the contact completes a waiting wait_for_event (event_received); the
// scheduled job completes it instead if it finds it still waiting
// (timeout).
//
// A send_email goes through the accept path with its StepAdvance: the
// email and the step's completion are one commit, so a job that runs
// twice, or again after a crash, finds the step completed and sends
// nothing, however late it runs.
//
// The contact steps' writes commit with their StepAdvance too
// (store.ContactChange). Every StepAdvance, and every run's start, is
// group-committed with the accepts (store.Accept), so concurrent step jobs
// share commits.

// Store is what the engine reads and writes.
type Store interface {
	GetAutomationRunStep(ctx context.Context, stepID string) (*store.AutomationRun, *store.AutomationRunStep, error)
	GetAutomationVersion(ctx context.Context, automationID string, version int) ([]byte, error)
	AdvanceAutomationRun(ctx context.Context, a *store.StepAdvance) (string, error)
	ListTriggeredAutomations(ctx context.Context, teamID, event string) ([]*store.Automation, error)
	StartAutomationRuns(ctx context.Context, runs []*store.AutomationRun) error
	WaitingRunSteps(ctx context.Context, teamID, contactID, event string) ([]*store.AutomationRunStep, error)
	GetContact(ctx context.Context, teamID, idOrEmail string) (*store.Contact, error)
	GetSegment(ctx context.Context, teamID, id string) (*store.Segment, error)
}

// Config builds an Engine.
type Config struct {
	Store   Store
	Accept  *accept.Service
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *metrics.Metrics
}

// Engine starts, resumes and moves on automation runs.
type Engine struct {
	cfg Config
}

// New returns an engine.
func New(cfg Config) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{cfg: cfg}
}

// NotYet is a wake job that ran before its time (a clock that differs
// from the queue's): the job should run again After from now.
type NotYet struct{ After time.Duration }

func (n *NotYet) Error() string { return fmt.Sprintf("automation: step not due for %s", n.After) }

// SendEvent starts a run of every enabled automation of the team whose
// trigger is name, for contact c with payload, and completes the contact's
// wait_for_event steps waiting for name whose filter the payload passes.
// It returns the runs started.
func (e *Engine) SendEvent(ctx context.Context, teamID string, c *store.Contact, name string, payload map[string]any) (int, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return 0, fmt.Errorf("event payload: %w", err)
	}
	autos, err := e.cfg.Store.ListTriggeredAutomations(ctx, teamID, name)
	if err != nil {
		return 0, err
	}
	now := e.cfg.Now().UTC()
	var runs []*store.AutomationRun
	for _, a := range autos {
		g, err := Decode(a.Graph)
		if err != nil {
			return 0, err
		}
		trigger, _ := g.TriggerStep()
		if trigger == nil {
			continue
		}
		// The trigger completes as the run starts (no job of its own): its
		// next steps are made pending with their jobs in the same commit.
		r := &store.AutomationRun{ID: store.NewID(), TeamID: teamID, AutomationID: a.ID, Version: a.Version,
			ContactID: c.ID, Event: name, Payload: body, Status: store.RunRunning, CreatedAt: now, StartedAt: &now,
			Steps: []*store.AutomationRunStep{{ID: store.NewID(), Key: trigger.Key, Type: Trigger, Status: store.StepCompleted,
				CreatedAt: now, StartedAt: &now, CompletedAt: &now}}}
		for _, n := range g.Next(trigger.Key, ConnDefault) {
			r.Steps = append(r.Steps, &store.AutomationRunStep{ID: store.NewID(), Key: n.Key, Type: n.Type, CreatedAt: now})
		}
		if len(r.Steps) == 1 {
			r.Status, r.CompletedAt = store.RunCompleted, &now
		}
		runs = append(runs, r)
	}
	if err := e.cfg.Store.StartAutomationRuns(ctx, runs); err != nil {
		return 0, err
	}
	for _, r := range runs {
		e.cfg.Logger.Info("automation run started", slog.String("team_id", teamID), slog.String("automation_id", r.AutomationID),
			slog.String("run_id", r.ID), slog.String("contact_id", c.ID), slog.String("event", name), slog.Int("version", r.Version))
	}
	e.cfg.Metrics.AutomationRun("started", len(runs))
	for _, r := range runs {
		if r.Status == store.RunCompleted {
			e.cfg.Metrics.AutomationRun(store.RunCompleted, 1)
		}
	}

	waiting, err := e.cfg.Store.WaitingRunSteps(ctx, teamID, c.ID, name)
	if err != nil {
		return len(runs), err
	}
	for _, w := range waiting {
		if err := e.resume(ctx, c, w, payload); err != nil {
			return len(runs), err
		}
	}
	return len(runs), nil
}

// resume completes a waiting wait_for_event step for the event whose
// payload is given, when its filter passes.
func (e *Engine) resume(ctx context.Context, c *store.Contact, w *store.AutomationRunStep, payload map[string]any) error {
	run, step, err := e.cfg.Store.GetAutomationRunStep(ctx, w.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	g, s, err := e.graphStep(ctx, run, step)
	if err != nil || s == nil {
		return err
	}
	var cfg WaitForEventConfig
	if err := json.Unmarshal(s.Config, &cfg); err != nil {
		return fmt.Errorf("wait_for_event config: %w", err)
	}
	if cfg.FilterRule != nil && !cfg.FilterRule.Eval(Facts{Contact: contactFacts(c), Event: payload}) {
		return nil
	}
	out, _ := json.Marshal(map[string]any{"event": cfg.EventName, "timed_out": false})
	merged := payloadOf(run)
	for k, v := range payload {
		merged[k] = v
	}
	body, err := json.Marshal(merged)
	if err != nil {
		return fmt.Errorf("event payload: %w", err)
	}
	return e.advanceWith(ctx, run, step, g, store.StepWaiting, store.StepCompleted, out, nil, ConnEventReceived, body)
}

func (e *Engine) graphStep(ctx context.Context, run *store.AutomationRun, step *store.AutomationRunStep) (*Graph, *Step, error) {
	raw, err := e.cfg.Store.GetAutomationVersion(ctx, run.AutomationID, run.Version)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	g, err := Decode(raw)
	if err != nil {
		return nil, nil, err
	}
	return g, g.Step(step.Key), nil
}

// advance moves step from one status to another and, when it completes,
// on to the steps its leave connections lead to.
func (e *Engine) advance(ctx context.Context, run *store.AutomationRun, step *store.AutomationRunStep, g *Graph,
	from, to string, output, errJSON []byte, leave string) error {
	return e.advanceWith(ctx, run, step, g, from, to, output, errJSON, leave, nil)
}

// advanceWith is advance that also replaces the run's payload (non-nil).
func (e *Engine) advanceWith(ctx context.Context, run *store.AutomationRun, step *store.AutomationRunStep, g *Graph,
	from, to string, output, errJSON []byte, leave string, payload []byte) error {
	return e.commit(ctx, run, step, e.stepAdvance(run, step, g, from, to, output, errJSON, leave, payload))
}

// stepAdvance is the StepAdvance that moves step from one status to
// another and, when it completes, on to the steps its leave connections
// lead to.
func (e *Engine) stepAdvance(run *store.AutomationRun, step *store.AutomationRunStep, g *Graph,
	from, to string, output, errJSON []byte, leave string, payload []byte) *store.StepAdvance {
	now := e.cfg.Now().UTC()
	a := &store.StepAdvance{TeamID: run.TeamID, RunID: run.ID, StepID: step.ID, From: from, To: to, Output: output, Error: errJSON,
		Payload: payload, At: now}
	if step.StartedAt == nil {
		a.StartedAt = &now
	}
	if to == store.StepCompleted || to == store.StepFailed {
		a.CompletedAt = &now
	}
	if to == store.StepFailed {
		a.RunStatus = store.RunFailed
	}
	if to == store.StepCompleted {
		for _, n := range g.Next(step.Key, leave) {
			a.Next = append(a.Next, &store.AutomationRunStep{ID: store.NewID(), Key: n.Key, Type: n.Type, CreatedAt: now})
		}
	}
	return a
}

func (e *Engine) commit(ctx context.Context, run *store.AutomationRun, step *store.AutomationRunStep, a *store.StepAdvance) error {
	status, err := e.cfg.Store.AdvanceAutomationRun(ctx, a)
	return e.committed(run, step, a, status, err)
}

// committed reports the outcome of committing a: a stale advance (the
// step moved on already) is no error.
func (e *Engine) committed(run *store.AutomationRun, step *store.AutomationRunStep, a *store.StepAdvance, status string, err error) error {
	if errors.Is(err, store.ErrStale) || errors.Is(err, store.ErrNotFound) {
		e.cfg.Metrics.AutomationStep(step.Type, "stale")
		e.cfg.Logger.Info("automation step already moved on", slog.String("run_id", run.ID), slog.String("step", step.Key),
			slog.String("step_id", step.ID))
		return nil
	}
	if err != nil {
		return err
	}
	e.cfg.Metrics.AutomationStep(step.Type, a.To)
	attrs := []any{slog.String("team_id", run.TeamID), slog.String("automation_id", run.AutomationID), slog.String("run_id", run.ID),
		slog.String("step", step.Key), slog.String("type", step.Type), slog.String("status", a.To), slog.Int("next", len(a.Next))}
	if len(a.Error) > 0 {
		attrs = append(attrs, slog.String("error", string(a.Error)))
	}
	e.cfg.Logger.Info("automation step", attrs...)
	if status != store.RunRunning {
		e.cfg.Metrics.AutomationRun(status, 1)
		e.cfg.Logger.Info("automation run ended", slog.String("team_id", run.TeamID), slog.String("automation_id", run.AutomationID),
			slog.String("run_id", run.ID), slog.String("status", status))
	}
	return nil
}

func errorJSON(msg string) []byte {
	b, _ := json.Marshal(map[string]string{"message": msg})
	return b
}

// Run is a step job: it moves the step record stepID on. An error means
// the job should be retried (the store failed); a step that cannot be
// done (a template gone, a contact deleted) fails its run instead.
func (e *Engine) Run(ctx context.Context, stepID string) error {
	run, step, err := e.cfg.Store.GetAutomationRunStep(ctx, stepID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the automation was deleted
	}
	if err != nil {
		return err
	}
	if run.Status != store.RunRunning || (step.Status != store.StepPending && step.Status != store.StepWaiting) {
		e.cfg.Metrics.AutomationStep(step.Type, "stale")
		return nil
	}
	g, s, err := e.graphStep(ctx, run, step)
	if err != nil {
		return err
	}
	if s == nil {
		return e.advance(ctx, run, step, &Graph{}, step.Status, store.StepFailed, nil, errorJSON("the step is not in the run's version of the automation"), "")
	}
	if step.Status == store.StepWaiting {
		return e.wake(ctx, run, step, g, s)
	}
	switch s.Type {
	case Trigger:
		return e.advance(ctx, run, step, g, store.StepPending, store.StepCompleted, nil, nil, ConnDefault)
	case Delay, WaitForEvent:
		return e.wait(ctx, run, step, g, s)
	case Condition:
		c, err := e.contact(ctx, run)
		if err != nil {
			return err
		}
		var r Rule
		if err := json.Unmarshal(s.Config, &r); err != nil {
			return fmt.Errorf("condition config: %w", err)
		}
		met := c != nil && r.Eval(Facts{Contact: contactFacts(c), Event: payloadOf(run)})
		out, _ := json.Marshal(map[string]bool{"result": met})
		leave := ConnConditionNotMet
		if met {
			leave = ConnConditionMet
		}
		return e.advance(ctx, run, step, g, store.StepPending, store.StepCompleted, out, nil, leave)
	case SendEmail:
		return e.sendEmail(ctx, run, step, g, s)
	case ContactUpdate, ContactDelete, AddToSegment:
		return e.contactStep(ctx, run, step, g, s)
	}
	return e.advance(ctx, run, step, g, store.StepPending, store.StepFailed, nil, errorJSON("unknown step type "+s.Type), "")
}

func payloadOf(run *store.AutomationRun) map[string]any {
	p := map[string]any{}
	_ = json.Unmarshal(run.Payload, &p)
	return p
}

// contact returns the run's contact, nil when it was deleted.
func (e *Engine) contact(ctx context.Context, run *store.AutomationRun) (*store.Contact, error) {
	c, err := e.cfg.Store.GetContact(ctx, run.TeamID, run.ContactID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return c, err
}

func contactFacts(c *store.Contact) map[string]any {
	m := map[string]any{"id": c.ID, "email": c.Email, "unsubscribed": c.Unsubscribed, "first_name": nil, "last_name": nil}
	if c.FirstName != nil {
		m["first_name"] = *c.FirstName
	}
	if c.LastName != nil {
		m["last_name"] = *c.LastName
	}
	props := map[string]any{}
	for k, v := range c.Properties {
		props[k] = v
	}
	m["properties"] = props
	return m
}

// wait starts a delay or a wait_for_event: the step waits, with a job at
// its end (a wait without timeout has none: only its event ends it).
func (e *Engine) wait(ctx context.Context, run *store.AutomationRun, step *store.AutomationRunStep, g *Graph, s *Step) error {
	now := e.cfg.Now().UTC()
	a := &store.StepAdvance{TeamID: run.TeamID, RunID: run.ID, StepID: step.ID, From: store.StepPending, To: store.StepWaiting,
		StartedAt: &now, At: now}
	var d time.Duration
	if s.Type == Delay {
		var c DelayConfig
		_ = json.Unmarshal(s.Config, &c)
		d, _ = ParseDuration(c.Duration)
	} else {
		var c WaitForEventConfig
		_ = json.Unmarshal(s.Config, &c)
		a.WaitEvent = c.EventName
		if c.Timeout != "" {
			d, _ = ParseDuration(c.Timeout)
		}
	}
	if d > 0 {
		at := now.Add(d)
		a.Wake = &at
		a.Output, _ = json.Marshal(map[string]string{"until": at.Format(time.RFC3339)})
	}
	return e.commit(ctx, run, step, a)
}

// wake ends a waiting step at its time: a delay completes; a wait times
// out.
func (e *Engine) wake(ctx context.Context, run *store.AutomationRun, step *store.AutomationRunStep, g *Graph, s *Step) error {
	var d time.Duration
	leave := ConnDefault
	var out []byte
	if s.Type == Delay {
		var c DelayConfig
		_ = json.Unmarshal(s.Config, &c)
		d, _ = ParseDuration(c.Duration)
	} else {
		var c WaitForEventConfig
		_ = json.Unmarshal(s.Config, &c)
		if c.Timeout == "" {
			return nil // only its event ends it
		}
		d, _ = ParseDuration(c.Timeout)
		leave = ConnTimeout
		out, _ = json.Marshal(map[string]any{"event": c.EventName, "timed_out": true})
	}
	if step.StartedAt != nil {
		if left := step.StartedAt.Add(d).Sub(e.cfg.Now()); left > 0 {
			return &NotYet{After: left}
		}
	}
	return e.advance(ctx, run, step, g, store.StepWaiting, store.StepCompleted, out, nil, leave)
}

// resolve returns a value of a step's config: {"var": "event.x"} or
// {"var": "contact.x"} is read from the run, anything else is itself.
func resolve(raw json.RawMessage, f Facts) (any, bool) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, false
	}
	if m, ok := v.(map[string]any); ok {
		name, _ := m["var"].(string)
		got, ok := f.Lookup(name)
		return got, ok
	}
	return v, true
}

func (e *Engine) sendEmail(ctx context.Context, run *store.AutomationRun, step *store.AutomationRunStep, g *Graph, s *Step) error {
	c, err := e.contact(ctx, run)
	if err != nil {
		return err
	}
	if c == nil {
		return e.advance(ctx, run, step, g, store.StepPending, store.StepFailed, nil, errorJSON("the contact was deleted"), "")
	}
	if c.Unsubscribed {
		out, _ := json.Marshal(map[string]string{"skipped": "the contact is unsubscribed"})
		return e.advance(ctx, run, step, g, store.StepPending, store.StepCompleted, out, nil, ConnDefault)
	}
	var cfg SendEmailConfig
	if err := json.Unmarshal(s.Config, &cfg); err != nil {
		return fmt.Errorf("send_email config: %w", err)
	}
	facts := Facts{Contact: contactFacts(c), Event: payloadOf(run)}
	vars := mergeValues(c)
	for k, raw := range cfg.Template.Variables {
		if v, ok := resolve(raw, facts); ok && v != nil {
			if b, isBool := v.(bool); isBool {
				v = fmt.Sprint(b)
			}
			vars[k] = v
		}
	}
	varsJSON, err := json.Marshal(vars)
	if err != nil {
		return fmt.Errorf("template variables: %w", err)
	}
	email := &store.Email{From: cfg.From, To: []string{c.Email}, Subject: cfg.Subject, TopicID: cfg.TopicID,
		Template: &store.TemplateRef{ID: cfg.Template.ID, Variables: varsJSON}}
	if cfg.ReplyTo != "" {
		email.ReplyTo = []string{cfg.ReplyTo}
	}
	a := e.stepAdvance(run, step, g, store.StepPending, store.StepCompleted, nil, nil, ConnDefault, nil)
	_, err = e.cfg.Accept.Send(ctx, accept.Request{Key: &store.APIKey{TeamID: run.TeamID, Permission: store.PermissionFullAccess},
		Step: func(ids []string) *store.StepAdvance {
			if len(ids) > 0 {
				a.Output, _ = json.Marshal(map[string]string{"email_id": ids[0]})
			}
			return a
		}},
		func() (*store.Email, error) { return email, nil })
	if refused := accept.AsError(err); refused != nil {
		return e.advance(ctx, run, step, g, store.StepPending, store.StepFailed, nil, errorJSON(refused.Message), "")
	}
	return e.committed(run, step, a, a.Ended, err)
}

// mergeValues are the contact's values a template may use without the
// step naming them: EMAIL, FIRST_NAME, LAST_NAME (the broadcasts' merge
// tags) and each property whose key is a valid variable key.
func mergeValues(c *store.Contact) map[string]any {
	vars := map[string]any{"EMAIL": c.Email}
	if c.FirstName != nil {
		vars["FIRST_NAME"] = *c.FirstName
	}
	if c.LastName != nil {
		vars["LAST_NAME"] = *c.LastName
	}
	for k, v := range c.Properties {
		if !render.ValidKey(k) {
			continue
		}
		switch v.(type) {
		case string, float64:
			vars[k] = v
		}
	}
	return vars
}

func (e *Engine) contactStep(ctx context.Context, run *store.AutomationRun, step *store.AutomationRunStep, g *Graph, s *Step) error {
	c, err := e.contact(ctx, run)
	if err != nil {
		return err
	}
	if c == nil {
		if s.Type == ContactDelete {
			return e.advance(ctx, run, step, g, store.StepPending, store.StepCompleted, nil, nil, ConnDefault)
		}
		return e.advance(ctx, run, step, g, store.StepPending, store.StepFailed, nil, errorJSON("the contact was deleted"), "")
	}
	now := e.cfg.Now().UTC()
	change := &store.ContactChange{}
	switch s.Type {
	case AddToSegment:
		var cfg AddToSegmentConfig
		_ = json.Unmarshal(s.Config, &cfg)
		_, err := e.cfg.Store.GetSegment(ctx, run.TeamID, cfg.SegmentID)
		if errors.Is(err, store.ErrNotFound) {
			return e.advance(ctx, run, step, g, store.StepPending, store.StepFailed, nil, errorJSON("segment not found"), "")
		}
		if err != nil {
			return err
		}
		change.SegmentID = cfg.SegmentID
	case ContactDelete:
		ev, err := events.Contact(events.ContactDeleted, c, "", now)
		if err != nil {
			return err
		}
		change.Delete, change.Events = true, []*store.Event{ev}
	case ContactUpdate:
		var cfg ContactUpdateConfig
		_ = json.Unmarshal(s.Config, &cfg)
		f := Facts{Contact: contactFacts(c), Event: payloadOf(run)}
		str := func(raw json.RawMessage, into **string) {
			if len(raw) == 0 {
				return
			}
			v, ok := resolve(raw, f)
			if !ok {
				return
			}
			if v == nil {
				*into = nil
			} else {
				s := fmt.Sprint(v)
				*into = &s
			}
		}
		str(cfg.FirstName, &c.FirstName)
		str(cfg.LastName, &c.LastName)
		if len(cfg.Unsubscribed) > 0 {
			if v, ok := resolve(cfg.Unsubscribed, f); ok {
				if b, isBool := v.(bool); isBool {
					c.Unsubscribed = b
				}
			}
		}
		if len(cfg.Properties) > 0 && c.Properties == nil {
			c.Properties = map[string]any{}
		}
		for k, raw := range cfg.Properties {
			if v, ok := resolve(raw, f); ok {
				if b, isBool := v.(bool); isBool {
					v = fmt.Sprint(b)
				}
				c.Properties[k] = v
			}
		}
		c.UpdatedAt = now
		ev, err := events.Contact(events.ContactUpdated, c, "", now)
		if err != nil {
			return err
		}
		change.Update, change.Events = c, []*store.Event{ev}
	}
	// The write commits with the step's completion (a contact deleted
	// meanwhile makes it write nothing).
	a := e.stepAdvance(run, step, g, store.StepPending, store.StepCompleted, nil, nil, ConnDefault, nil)
	a.Contact = change
	return e.commit(ctx, run, step, a)
}
