package store

import (
	"context"
	"errors"
	"time"
)

// EventDefinition is a team's custom event (the Events API): a name unique
// in the team and an optional flat payload schema, key → "string",
// "number", "boolean" or "date" (nil: none). UpdatedAt is nil until the
// schema is first changed.
type EventDefinition struct {
	ID        string
	TeamID    string
	Name      string
	Schema    map[string]string
	CreatedAt time.Time
	UpdatedAt *time.Time
}

// Automation statuses.
const (
	AutomationEnabled  = "enabled"
	AutomationDisabled = "disabled"
)

// Automation is a team's automation: its current graph (Graph, JSON as
// internal/automation encodes it) is version Version; every version a run
// started with is kept (AutomationVersion) until the automation is
// deleted. TriggerEvent is the event name of the graph's trigger step.
type Automation struct {
	ID           string
	TeamID       string
	Name         string
	Status       string
	Version      int
	TriggerEvent string
	Graph        []byte
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Automation run and run step statuses.
const (
	RunRunning   = "running"
	RunCompleted = "completed"
	RunFailed    = "failed"
	RunCancelled = "cancelled"

	StepPending   = "pending"
	StepRunning   = "running"
	StepCompleted = "completed"
	StepFailed    = "failed"
	StepSkipped   = "skipped"
	StepWaiting   = "waiting"
)

// AutomationRun is one contact's pass through one version of an
// automation, started by an event (Payload is that event's payload, JSON).
// Steps are its step records in the order they were made (filled by
// GetAutomationRun).
type AutomationRun struct {
	ID           string
	TeamID       string
	AutomationID string
	Version      int
	ContactID    string
	Event        string
	Payload      []byte
	Status       string
	CreatedAt    time.Time
	StartedAt    *time.Time
	CompletedAt  *time.Time
	Steps        []*AutomationRunStep
}

// AutomationRunStep is one visit of a run to a step of its graph: a record
// made pending with the job that will run it, in the transaction that
// completed the step before. WaitEvent is the event a waiting
// wait_for_event step waits for. Output and Error are JSON objects or nil.
type AutomationRunStep struct {
	ID          string
	RunID       string
	Key         string
	Type        string
	Status      string
	WaitEvent   string
	Output      []byte
	Error       []byte
	CreatedAt   time.Time
	StartedAt   *time.Time
	CompletedAt *time.Time
}

// StepAdvance is the one transaction that moves a run on: step StepID goes
// from status From to To (with Output/Error, StartedAt/CompletedAt when
// set); Next steps are inserted pending and their jobs enqueued (each at
// its At, nil: at once); RunStatus, when set, ends the run at At. If the
// step is not in status From (a doubled job, a timeout that lost the race
// with the event), nothing is written and ErrStale is returned.
type StepAdvance struct {
	TeamID      string
	RunID       string
	StepID      string
	From        string
	To          string
	WaitEvent   string
	Output      []byte
	Error       []byte
	StartedAt   *time.Time
	CompletedAt *time.Time
	// Wake, when set, schedules another job for the same step at this time
	// (a delay's end, a wait's timeout).
	Wake *time.Time
	Next []*AutomationRunStep
	// Payload, when set, replaces the run's event payload (a wait ended by
	// an event merges that event's payload in).
	Payload   []byte
	RunStatus string
	At        time.Time
	// Contact, when set, is a contact step's write, committed with the
	// advance.
	Contact *ContactChange
	// Ended is set by the store once committed: the run's status after
	// the advance (RunRunning while steps are left).
	Ended string
}

// ContactChange is a contact step's write to the run's contact, made in
// the transaction of its StepAdvance after the step's guard (a stale
// advance writes none of it). A contact gone meanwhile makes it write
// nothing and record none of its events.
type ContactChange struct {
	// Update, when set, stores the contact's names, unsubscribed and
	// properties (not its email).
	Update *Contact
	// Delete deletes the contact.
	Delete bool
	// SegmentID, when set, adds the contact to the team's segment.
	SegmentID string
	// Events are recorded with the change (contact.updated, …).
	Events []*Event
}

// StepJob is a run step's job as the store enqueues it: run StepID (of run
// RunID) at At (nil: at once).
type StepJob struct {
	TeamID string
	RunID  string
	StepID string
	At     *time.Time
}

// Automations holds the teams' event definitions, automations and runs.
type Automations interface {
	// CreateEventDefinition inserts e; ErrConflict if the team has an
	// event with its name.
	CreateEventDefinition(ctx context.Context, e *EventDefinition) error
	// GetEventDefinition finds the team's event by id, or by name when
	// idOrName is not a UUID.
	GetEventDefinition(ctx context.Context, teamID, idOrName string) (*EventDefinition, error)
	ListEventDefinitions(ctx context.Context, teamID string, p Page) ([]*EventDefinition, bool, error)
	// UpdateEventDefinition stores e's schema and UpdatedAt.
	UpdateEventDefinition(ctx context.Context, e *EventDefinition) error
	DeleteEventDefinition(ctx context.Context, teamID, id string) error

	// CreateAutomation inserts a and its version a.Version.
	CreateAutomation(ctx context.Context, a *Automation) error
	GetAutomation(ctx context.Context, teamID, id string) (*Automation, error)
	// ListAutomations returns the team's automations, newest first; with
	// status, only those with it.
	ListAutomations(ctx context.Context, teamID, status string, p Page) ([]*Automation, bool, error)
	// UpdateAutomation stores a's name, status, graph and UpdatedAt; when
	// a.Version is new, the graph is stored as that version too.
	UpdateAutomation(ctx context.Context, a *Automation) error
	// DeleteAutomation removes the automation, its versions and its runs.
	DeleteAutomation(ctx context.Context, teamID, id string) error
	// GetAutomationVersion returns the graph of one version.
	GetAutomationVersion(ctx context.Context, automationID string, version int) ([]byte, error)
	// StopAutomation disables the automation and cancels its running runs
	// (their pending and waiting steps are skipped), at at.
	StopAutomation(ctx context.Context, teamID, id string, at time.Time) error

	// StartAutomationRuns inserts runs, each with its step records
	// (run.Steps: pending unless their Status says otherwise), and enqueues
	// the job of each pending one, in one transaction.
	StartAutomationRuns(ctx context.Context, runs []*AutomationRun) error
	GetAutomationRun(ctx context.Context, teamID, automationID, id string) (*AutomationRun, error)
	// ListAutomationRuns returns an automation's runs, newest first; with
	// statuses, only those with one of them.
	ListAutomationRuns(ctx context.Context, teamID, automationID string, statuses []string, p Page) ([]*AutomationRun, bool, error)
	// GetAutomationRunStep returns a step record with its run (for the
	// engine: any team).
	GetAutomationRunStep(ctx context.Context, stepID string) (*AutomationRun, *AutomationRunStep, error)
	// WaitingRunSteps returns the team's waiting steps of running runs of
	// the contact that wait for event.
	WaitingRunSteps(ctx context.Context, teamID, contactID, event string) ([]*AutomationRunStep, error)
	// AdvanceAutomationRun commits one StepAdvance and returns the run's
	// status after it; ErrStale when its step is no longer in status From
	// or its run no longer running.
	AdvanceAutomationRun(ctx context.Context, a *StepAdvance) (string, error)
	// ListTriggeredAutomations returns the team's enabled automations whose
	// trigger is event.
	ListTriggeredAutomations(ctx context.Context, teamID, event string) ([]*Automation, error)
}

// ErrStale means a StepAdvance found its step no longer in the status it
// expected: another job (a doubled one, or the event that beat a timeout)
// moved it first, and nothing was written.
var ErrStale = errors.New("store: automation run step already moved on")
