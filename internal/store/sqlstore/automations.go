package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/godwit/godwit/internal/store"
)

// The Events API's definitions, automations with their versions, and
// automation runs with their step records (migrations 00043-00045).

const eventDefColumns = `id, team_id, name, schema, created_at, updated_at`

// zeroMicros encodes an optional time: 0 for none.
func zeroMicros(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return micros(*t)
}

func fromZeroMicros(v int64) *time.Time {
	if v == 0 {
		return nil
	}
	t := fromMicros(v)
	return &t
}

func scanEventDef(row interface{ Scan(...any) error }) (*store.EventDefinition, error) {
	var e store.EventDefinition
	var schema string
	var created, updated int64
	if err := row.Scan(&e.ID, &e.TeamID, &e.Name, &schema, &created, &updated); err != nil {
		return nil, interpretError(err)
	}
	if schema != "" {
		if err := json.Unmarshal([]byte(schema), &e.Schema); err != nil {
			return nil, fmt.Errorf("event %s: schema: %w", e.ID, err)
		}
	}
	e.CreatedAt, e.UpdatedAt = fromMicros(created), fromZeroMicros(updated)
	return &e, nil
}

func encodeSchema(s map[string]string) (string, error) {
	if s == nil {
		return "", nil
	}
	b, err := json.Marshal(s)
	return string(b), err
}

// CreateEventDefinition implements store.Automations.
func (db *DB) CreateEventDefinition(ctx context.Context, e *store.EventDefinition) error {
	schema, err := encodeSchema(e.Schema)
	if err != nil {
		return fmt.Errorf("create event: %w", err)
	}
	_, err = db.w.ExecContext(ctx, db.q(`INSERT INTO event_definitions (`+eventDefColumns+`) VALUES (?, ?, ?, ?, ?, ?)`),
		e.ID, e.TeamID, e.Name, schema, micros(e.CreatedAt), zeroMicros(e.UpdatedAt))
	if isUniqueViolation(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("create event: %w", interpretError(err))
	}
	return nil
}

// GetEventDefinition implements store.Automations.
func (db *DB) GetEventDefinition(ctx context.Context, teamID, idOrName string) (*store.EventDefinition, error) {
	col, v := "name", idOrName
	if _, err := uuid.Parse(idOrName); err == nil && len(idOrName) == 36 {
		col, v = "id", strings.ToLower(idOrName)
	}
	return scanEventDef(db.r.QueryRowContext(ctx, db.q(`SELECT `+eventDefColumns+` FROM event_definitions WHERE team_id = ? AND `+col+` = ?`), teamID, v))
}

// ListEventDefinitions implements store.Automations.
func (db *DB) ListEventDefinitions(ctx context.Context, teamID string, p store.Page) ([]*store.EventDefinition, bool, error) {
	return listTeamRows(ctx, db, "list events", "event_definitions", eventDefColumns, teamID, p, scanEventDef)
}

// UpdateEventDefinition implements store.Automations.
func (db *DB) UpdateEventDefinition(ctx context.Context, e *store.EventDefinition) error {
	schema, err := encodeSchema(e.Schema)
	if err != nil {
		return fmt.Errorf("update event: %w", err)
	}
	return db.changeDomain(ctx, "update event", nil, `UPDATE event_definitions SET schema = ?, updated_at = ? WHERE team_id = ? AND id = ?`,
		schema, zeroMicros(e.UpdatedAt), e.TeamID, e.ID)
}

// DeleteEventDefinition implements store.Automations.
func (db *DB) DeleteEventDefinition(ctx context.Context, teamID, id string) error {
	return db.changeDomain(ctx, "delete event", nil, `DELETE FROM event_definitions WHERE team_id = ? AND id = ?`, teamID, id)
}

const automationColumns = `id, team_id, name, status, version, trigger_event, graph, created_at, updated_at`

func scanAutomation(row interface{ Scan(...any) error }) (*store.Automation, error) {
	var a store.Automation
	var graph string
	var created, updated int64
	if err := row.Scan(&a.ID, &a.TeamID, &a.Name, &a.Status, &a.Version, &a.TriggerEvent, &graph, &created, &updated); err != nil {
		return nil, interpretError(err)
	}
	a.Graph = []byte(graph)
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &a, nil
}

func insertVersionTx(ctx context.Context, db *DB, tx *sql.Tx, a *store.Automation) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO automation_versions (automation_id, version, graph, created_at) VALUES (?, ?, ?, ?)`),
		a.ID, a.Version, string(a.Graph), micros(a.UpdatedAt))
	return err
}

// CreateAutomation implements store.Automations.
func (db *DB) CreateAutomation(ctx context.Context, a *store.Automation) error {
	err := db.withEvents(ctx, nil, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO automations (`+automationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			a.ID, a.TeamID, a.Name, a.Status, a.Version, a.TriggerEvent, string(a.Graph), micros(a.CreatedAt), micros(a.UpdatedAt)); err != nil {
			return err
		}
		return insertVersionTx(ctx, db, tx, a)
	})
	if err != nil {
		return fmt.Errorf("create automation: %w", interpretError(err))
	}
	return nil
}

// GetAutomation implements store.Automations.
func (db *DB) GetAutomation(ctx context.Context, teamID, id string) (*store.Automation, error) {
	return scanAutomation(db.r.QueryRowContext(ctx, db.q(`SELECT `+automationColumns+` FROM automations WHERE team_id = ? AND id = ?`), teamID, id))
}

// ListAutomations implements store.Automations.
func (db *DB) ListAutomations(ctx context.Context, teamID, status string, p store.Page) ([]*store.Automation, bool, error) {
	limit := cmpLimit(p.Limit)
	op, seq, order, err := db.cursor(ctx, "automations", teamID, p)
	if err != nil {
		return nil, false, err
	}
	where, args := `team_id = ?`, []any{teamID}
	if status != "" {
		where += ` AND status = ?`
		args = append(args, status)
	}
	if op != "" {
		where += ` AND seq ` + op + ` ?`
		args = append(args, seq)
	}
	args = append(args, limit+1)
	return queryPage(ctx, db, db.r, "list automations", `SELECT `+automationColumns+` FROM automations WHERE `+where+`
		ORDER BY seq `+order+` LIMIT ?`, args, limit, order == "ASC", scanAutomation)
}

// UpdateAutomation implements store.Automations.
func (db *DB) UpdateAutomation(ctx context.Context, a *store.Automation) error {
	err := db.withEvents(ctx, nil, func(tx *sql.Tx) error {
		var version int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT version FROM automations WHERE team_id = ? AND id = ?`), a.TeamID, a.ID).Scan(&version); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`UPDATE automations SET name = ?, status = ?, version = ?, trigger_event = ?, graph = ?, updated_at = ?
			WHERE team_id = ? AND id = ?`), a.Name, a.Status, a.Version, a.TriggerEvent, string(a.Graph), micros(a.UpdatedAt), a.TeamID, a.ID)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		if a.Version != version {
			return insertVersionTx(ctx, db, tx, a)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update automation: %w", interpretError(err))
	}
	return nil
}

// DeleteAutomation implements store.Automations: versions, runs and steps
// go with it (ON DELETE CASCADE); the jobs of its steps find nothing.
func (db *DB) DeleteAutomation(ctx context.Context, teamID, id string) error {
	return db.changeDomain(ctx, "delete automation", nil, `DELETE FROM automations WHERE team_id = ? AND id = ?`, teamID, id)
}

// GetAutomationVersion implements store.Automations.
func (db *DB) GetAutomationVersion(ctx context.Context, automationID string, version int) ([]byte, error) {
	var graph string
	err := db.r.QueryRowContext(ctx, db.q(`SELECT graph FROM automation_versions WHERE automation_id = ? AND version = ?`),
		automationID, version).Scan(&graph)
	if err != nil {
		return nil, interpretError(err)
	}
	return []byte(graph), nil
}

// StopAutomation implements store.Automations.
func (db *DB) StopAutomation(ctx context.Context, teamID, id string, at time.Time) error {
	err := db.withEvents(ctx, nil, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE automations SET status = ?, updated_at = ? WHERE team_id = ? AND id = ?`),
			store.AutomationDisabled, micros(at), teamID, id)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE automation_run_steps SET status = ?, wait_event = '', completed_at = ?
			WHERE status IN (?, ?) AND run_id IN (SELECT id FROM automation_runs WHERE automation_id = ? AND status = ?)`),
			store.StepSkipped, micros(at), store.StepPending, store.StepWaiting, id, store.RunRunning); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`UPDATE automation_runs SET status = ?, completed_at = ? WHERE automation_id = ? AND status = ?`),
			store.RunCancelled, micros(at), id, store.RunRunning)
		return err
	})
	if err != nil {
		return fmt.Errorf("stop automation: %w", interpretError(err))
	}
	return nil
}

const runColumns = `id, team_id, automation_id, version, contact_id, event, payload, status, created_at, started_at, completed_at`

func scanRun(row interface{ Scan(...any) error }) (*store.AutomationRun, error) {
	var r store.AutomationRun
	var payload string
	var created, started, completed int64
	if err := row.Scan(&r.ID, &r.TeamID, &r.AutomationID, &r.Version, &r.ContactID, &r.Event, &payload, &r.Status,
		&created, &started, &completed); err != nil {
		return nil, interpretError(err)
	}
	r.Payload = []byte(payload)
	r.CreatedAt, r.StartedAt, r.CompletedAt = fromMicros(created), fromZeroMicros(started), fromZeroMicros(completed)
	return &r, nil
}

const runStepColumns = `id, run_id, step_key, type, status, wait_event, output, error, created_at, started_at, completed_at`

func scanRunStep(row interface{ Scan(...any) error }) (*store.AutomationRunStep, error) {
	var s store.AutomationRunStep
	var output, errText string
	var created, started, completed int64
	if err := row.Scan(&s.ID, &s.RunID, &s.Key, &s.Type, &s.Status, &s.WaitEvent, &output, &errText,
		&created, &started, &completed); err != nil {
		return nil, interpretError(err)
	}
	if output != "" {
		s.Output = []byte(output)
	}
	if errText != "" {
		s.Error = []byte(errText)
	}
	s.CreatedAt, s.StartedAt, s.CompletedAt = fromMicros(created), fromZeroMicros(started), fromZeroMicros(completed)
	return &s, nil
}

// insertStepsTx inserts step records of run (pending unless their Status
// says otherwise) and enqueues the jobs of the pending ones (each at at,
// nil: at once).
func (db *DB) insertStepsTx(ctx context.Context, tx *sql.Tx, run *store.AutomationRun, steps []*store.AutomationRunStep, at *time.Time) error {
	if len(steps) == 0 {
		return nil
	}
	var jobs []store.StepJob
	for _, s := range steps {
		status := s.Status
		if status == "" {
			status = store.StepPending
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO automation_run_steps (id, run_id, team_id, contact_id, step_key, type, status,
			output, created_at, started_at, completed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), s.ID, run.ID, run.TeamID, run.ContactID,
			s.Key, s.Type, status, string(s.Output), micros(s.CreatedAt), zeroMicros(s.StartedAt), zeroMicros(s.CompletedAt)); err != nil {
			return err
		}
		if status == store.StepPending {
			jobs = append(jobs, store.StepJob{TeamID: run.TeamID, RunID: run.ID, StepID: s.ID, At: at})
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	return db.outbox.RunAutomationSteps(ctx, tx, jobs)
}

// StartAutomationRuns implements store.Automations: the runs are
// group-committed with the accepts (AcceptEmails with Runs).
func (db *DB) StartAutomationRuns(ctx context.Context, runs []*store.AutomationRun) error {
	if len(runs) == 0 {
		return nil
	}
	return db.AcceptEmails(ctx, &store.Accept{Runs: runs})
}

// startRunsTx inserts runs with their step records and jobs in tx.
func (db *DB) startRunsTx(ctx context.Context, tx *sql.Tx, runs []*store.AutomationRun) error {
	for _, r := range runs {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO automation_runs (`+runColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			r.ID, r.TeamID, r.AutomationID, r.Version, r.ContactID, r.Event, string(r.Payload), r.Status,
			micros(r.CreatedAt), zeroMicros(r.StartedAt), zeroMicros(r.CompletedAt)); err != nil {
			return fmt.Errorf("start automation runs: %w", interpretError(err))
		}
		if err := db.insertStepsTx(ctx, tx, r, r.Steps, nil); err != nil {
			return fmt.Errorf("start automation runs: %w", interpretError(err))
		}
	}
	return nil
}

// GetAutomationRun implements store.Automations.
func (db *DB) GetAutomationRun(ctx context.Context, teamID, automationID, id string) (*store.AutomationRun, error) {
	r, err := scanRun(db.r.QueryRowContext(ctx, db.q(`SELECT `+runColumns+` FROM automation_runs
		WHERE team_id = ? AND automation_id = ? AND id = ?`), teamID, automationID, id))
	if err != nil {
		return nil, err
	}
	if r.Steps, err = db.runSteps(ctx, r.ID); err != nil {
		return nil, err
	}
	return r, nil
}

func (db *DB) runSteps(ctx context.Context, runID string) ([]*store.AutomationRunStep, error) {
	steps, _, err := queryPage(ctx, db, db.r, "run steps", `SELECT `+runStepColumns+` FROM automation_run_steps WHERE run_id = ? ORDER BY seq LIMIT ?`,
		[]any{runID, maxRunSteps + 1}, maxRunSteps, false, scanRunStep)
	return steps, err
}

// maxRunSteps bounds the step records a run's GET answers with.
const maxRunSteps = 1000

// ListAutomationRuns implements store.Automations.
func (db *DB) ListAutomationRuns(ctx context.Context, teamID, automationID string, statuses []string, p store.Page) ([]*store.AutomationRun, bool, error) {
	if err := db.exists(ctx, `SELECT 1 FROM automations WHERE team_id = ? AND id = ?`, teamID, automationID); err != nil {
		return nil, false, err
	}
	limit := cmpLimit(p.Limit)
	op, seq, order, err := db.cursor(ctx, "automation_runs", teamID, p)
	if err != nil {
		return nil, false, err
	}
	where, args := `team_id = ? AND automation_id = ?`, []any{teamID, automationID}
	if len(statuses) > 0 {
		where += ` AND status IN (?` + strings.Repeat(", ?", len(statuses)-1) + `)`
		for _, s := range statuses {
			args = append(args, s)
		}
	}
	if op != "" {
		where += ` AND seq ` + op + ` ?`
		args = append(args, seq)
	}
	args = append(args, limit+1)
	return queryPage(ctx, db, db.r, "list automation runs", `SELECT `+runColumns+` FROM automation_runs WHERE `+where+`
		ORDER BY seq `+order+` LIMIT ?`, args, limit, order == "ASC", scanRun)
}

// GetAutomationRunStep implements store.Automations.
func (db *DB) GetAutomationRunStep(ctx context.Context, stepID string) (*store.AutomationRun, *store.AutomationRunStep, error) {
	s, err := scanRunStep(db.r.QueryRowContext(ctx, db.q(`SELECT `+runStepColumns+` FROM automation_run_steps WHERE id = ?`), stepID))
	if err != nil {
		return nil, nil, err
	}
	r, err := scanRun(db.r.QueryRowContext(ctx, db.q(`SELECT `+runColumns+` FROM automation_runs WHERE id = ?`), s.RunID))
	if err != nil {
		return nil, nil, err
	}
	return r, s, nil
}

// WaitingRunSteps implements store.Automations.
func (db *DB) WaitingRunSteps(ctx context.Context, teamID, contactID, event string) ([]*store.AutomationRunStep, error) {
	steps, _, err := queryPage(ctx, db, db.r, "waiting run steps", `SELECT `+qualified("s", runStepColumns)+` FROM automation_run_steps s
		JOIN automation_runs r ON r.id = s.run_id
		WHERE s.team_id = ? AND s.contact_id = ? AND s.wait_event = ? AND s.status = ? AND r.status = ? ORDER BY s.seq LIMIT ?`,
		[]any{teamID, contactID, event, store.StepWaiting, store.RunRunning, maxRunSteps + 1}, maxRunSteps, false, scanRunStep)
	return steps, err
}

// AdvanceAutomationRun implements store.Automations: the advance is
// group-committed with the accepts (AcceptEmails with Step).
func (db *DB) AdvanceAutomationRun(ctx context.Context, a *store.StepAdvance) (string, error) {
	if err := db.AcceptEmails(ctx, &store.Accept{Step: a}); err != nil {
		return "", err
	}
	return a.Ended, nil
}

// advanceRunTx writes a in tx and sets a.Ended; it returns false, having
// written nothing, when the run is gone or no longer running, or the step
// is not in a.From. events are those of a.Contact to record: none when
// its contact is gone.
func (db *DB) advanceRunTx(ctx context.Context, tx *sql.Tx, a *store.StepAdvance) (ok bool, events []*store.Event, err error) {
	run, err := scanRun(tx.QueryRowContext(ctx, db.q(`SELECT `+runColumns+` FROM automation_runs WHERE id = ?`), a.RunID))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, fmt.Errorf("advance automation run: %w", err)
	}
	if run.Status != store.RunRunning {
		return false, nil, nil
	}
	ok, err = db.advanceStepTx(ctx, tx, run, a)
	if err != nil || !ok {
		return false, nil, wrapErr("advance automation run", err)
	}
	if a.Contact != nil {
		changed, err := db.changeContactTx(ctx, tx, run, a.Contact, a.At)
		if err != nil {
			return false, nil, wrapErr("advance automation run", err)
		}
		if changed {
			events = a.Contact.Events
		}
	}
	return true, events, nil
}

func wrapErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, interpretError(err))
}

// changeContactTx makes a contact step's write; false when the run's
// contact is gone.
func (db *DB) changeContactTx(ctx context.Context, tx *sql.Tx, run *store.AutomationRun, cc *store.ContactChange, at time.Time) (bool, error) {
	var res sql.Result
	var err error
	switch {
	case cc.Delete:
		res, err = tx.ExecContext(ctx, db.q(`DELETE FROM contacts WHERE team_id = ? AND id = ?`), run.TeamID, run.ContactID)
	case cc.Update != nil:
		c := cc.Update
		props, perr := propertiesText(c.Properties)
		if perr != nil {
			return false, perr
		}
		res, err = tx.ExecContext(ctx, db.q(`UPDATE contacts SET first_name = ?, last_name = ?, unsubscribed = ?, properties = ?,
			updated_at = ? WHERE team_id = ? AND id = ?`), nullString(c.FirstName), nullString(c.LastName), b2i(c.Unsubscribed), props,
			micros(c.UpdatedAt), run.TeamID, run.ContactID)
	case cc.SegmentID != "":
		// A membership that exists already is no change; a segment deleted
		// meanwhile fails the transaction (its job is retried and finds
		// the segment gone).
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO contact_segments (team_id, contact_id, segment_id, contact_seq, created_at)
			SELECT c.team_id, c.id, s.id, c.seq, ? FROM contacts c, segments s
			WHERE c.team_id = ? AND c.id = ? AND s.team_id = ? AND s.id = ?
			ON CONFLICT (contact_id, segment_id) DO NOTHING`), micros(at), run.TeamID, run.ContactID, run.TeamID, cc.SegmentID)
		return err == nil, err
	default:
		return false, nil
	}
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (db *DB) advanceStepTx(ctx context.Context, tx *sql.Tx, run *store.AutomationRun, a *store.StepAdvance) (bool, error) {
	set, args := `status = ?, wait_event = ?, output = ?, error = ?`, []any{a.To, a.WaitEvent, string(a.Output), string(a.Error)}
	if a.StartedAt != nil {
		set += `, started_at = ?`
		args = append(args, micros(*a.StartedAt))
	}
	if a.CompletedAt != nil {
		set += `, completed_at = ?`
		args = append(args, micros(*a.CompletedAt))
	}
	args = append(args, a.StepID, a.RunID, a.From)
	res, err := tx.ExecContext(ctx, db.q(`UPDATE automation_run_steps SET `+set+` WHERE id = ? AND run_id = ? AND status = ?`), args...)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, err
	} else if n == 0 {
		return false, nil
	}
	if a.Payload != nil {
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE automation_runs SET payload = ? WHERE id = ?`), string(a.Payload), run.ID); err != nil {
			return false, err
		}
	}
	if run.StartedAt == nil && a.StartedAt != nil {
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE automation_runs SET started_at = ? WHERE id = ?`), micros(*a.StartedAt), run.ID); err != nil {
			return false, err
		}
	}
	if a.Wake != nil {
		if err := db.outbox.RunAutomationSteps(ctx, tx, []store.StepJob{{TeamID: run.TeamID, RunID: run.ID, StepID: a.StepID, At: a.Wake}}); err != nil {
			return false, err
		}
	}
	if err := db.insertStepsTx(ctx, tx, run, a.Next, nil); err != nil {
		return false, err
	}
	a.Ended = store.RunRunning
	status := a.RunStatus
	if status == "" && len(a.Next) == 0 && a.To != store.StepWaiting && a.To != store.StepRunning {
		// The run ends when no step of it is left to do.
		var open int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM automation_run_steps WHERE run_id = ? AND status IN (?, ?, ?)`),
			run.ID, store.StepPending, store.StepRunning, store.StepWaiting).Scan(&open); err != nil {
			return false, err
		}
		if open == 0 {
			status = store.RunCompleted
		}
	}
	if status == "" {
		return true, nil
	}
	a.Ended = status
	if status != store.RunCompleted {
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE automation_run_steps SET status = ?, wait_event = '', completed_at = ?
			WHERE run_id = ? AND status IN (?, ?)`), store.StepSkipped, micros(a.At), run.ID, store.StepPending, store.StepWaiting); err != nil {
			return false, err
		}
	}
	if _, err := tx.ExecContext(ctx, db.q(`UPDATE automation_runs SET status = ?, completed_at = ? WHERE id = ?`),
		status, micros(a.At), run.ID); err != nil {
		return false, err
	}
	return true, nil
}

// ListTriggeredAutomations implements store.Automations.
func (db *DB) ListTriggeredAutomations(ctx context.Context, teamID, event string) ([]*store.Automation, error) {
	list, _, err := queryPage(ctx, db, db.r, "triggered automations", `SELECT `+automationColumns+` FROM automations
		WHERE team_id = ? AND trigger_event = ? AND status = ? ORDER BY seq LIMIT ?`,
		[]any{teamID, event, store.AutomationEnabled, maxTriggered + 1}, maxTriggered, false, scanAutomation)
	return list, err
}

// maxTriggered bounds the automations one event starts.
const maxTriggered = 1000
