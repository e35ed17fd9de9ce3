package api

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/automation"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

func TestEventsAPI(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		r := e.do("POST", "/events", e.keyA, `{"name":"user.created","schema":{"plan":"string","seats":"number","trial":"boolean","ends":"date"}}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		require.Equal(t, []string{"id", "object"}, keysOf(r.json))
		created := r.json["id"].(string)
		e.clock.Advance(time.Second)
		r = e.do("POST", "/events", e.keyA, `{"name":"order.paid"}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		paid := r.json["id"].(string)

		want := map[string]any{"object": "event", "id": created, "name": "user.created",
			"schema":     map[string]any{"plan": "string", "seats": "number", "trial": "boolean", "ends": "date"},
			"created_at": "2026-11-28 12:00:00+00", "updated_at": nil}
		r = e.do("GET", "/events/"+created, e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, want, r.json)
		r = e.do("GET", "/events/user.created", e.keyA, "")
		require.Equal(t, want, r.json, "by name")
		require.Nil(t, e.do("GET", "/events/order.paid", e.keyA, "").json["schema"])
		requireError(t, e.do("GET", "/events/user.created", e.keyB, ""), 404, "not_found", "Event not found")
		requireError(t, e.do("GET", "/events/"+created, e.keyB, ""), 404, "not_found")

		// Lists paginate newest first.
		r = e.do("GET", "/events", e.keyA, "")
		require.Equal(t, []string{paid, created}, listIDs(t, r))
		r = e.do("GET", "/events?limit=1", e.keyA, "")
		require.Equal(t, []string{paid}, listIDs(t, r))
		require.Equal(t, true, r.json["has_more"])
		require.Equal(t, []string{created}, listIDs(t, e.do("GET", "/events?after="+paid, e.keyA, "")))
		require.Empty(t, listIDs(t, e.do("GET", "/events", e.keyB, "")))

		// Refusals.
		requireError(t, e.do("POST", "/events", e.keyA, `{}`), 422, "missing_required_field", "name")
		requireError(t, e.do("POST", "/events", e.keyA, `{"name":"resend:email.sent"}`), 422, "validation_error", "reserved")
		requireError(t, e.do("POST", "/events", e.keyA, `{"name":"x","schema":{"a":"object"}}`), 422, "validation_error", "`a`")
		requireError(t, e.do("POST", "/events", e.keyA, `{"name":"x","schema":{"a":{"b":"string"}}}`), 422, "validation_error")
		requireError(t, e.do("POST", "/events", e.keyA, `{"name":"x","schema":[1]}`), 422, "validation_error")
		requireError(t, e.do("POST", "/events", e.keyA, `{"name":"order.paid"}`), 422, "validation_error", "already exists")
		requireError(t, e.do("POST", "/events", e.keyA, `{"name":7}`), 422, "validation_error")

		// PATCH replaces the schema (required; null clears it).
		e.clock.Advance(time.Second)
		requireError(t, e.do("PATCH", "/events/"+paid, e.keyA, `{}`), 422, "missing_required_field", "schema")
		r = e.do("PATCH", "/events/order.paid", e.keyA, `{"schema":{"amount":"number"}}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "event", "id": paid}, r.json)
		r = e.do("GET", "/events/"+paid, e.keyA, "")
		require.Equal(t, map[string]any{"amount": "number"}, r.json["schema"])
		require.Equal(t, "2026-11-28 12:00:02+00", r.json["updated_at"])
		require.Equal(t, 200, e.do("PATCH", "/events/"+paid, e.keyA, `{"schema":null}`).status)
		require.Nil(t, e.do("GET", "/events/"+paid, e.keyA, "").json["schema"])

		// DELETE.
		requireError(t, e.do("DELETE", "/events/"+paid, e.keyB, ""), 404, "not_found")
		r = e.do("DELETE", "/events/"+paid, e.keyA, "")
		require.Equal(t, map[string]any{"object": "event", "id": paid, "deleted": true}, r.json)
		requireError(t, e.do("GET", "/events/"+paid, e.keyA, ""), 404, "not_found")

		// Send: validated against the schema; the contact must exist.
		contact := e.newContact(e.keyA, `{"email":"ada@example.net","first_name":"Ada"}`)
		r = e.do("POST", "/events/send", e.keyA, `{"event":"user.created","email":"ada@example.net","payload":{"plan":"pro","ends":"2027-01-01"}}`)
		require.Equal(t, 202, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "event", "event": "user.created"}, r.json)
		require.Equal(t, 202, e.do("POST", "/events/send", e.keyA, `{"event":"never.defined","contact_id":"`+contact+`"}`).status,
			"an event without a definition has no schema to check")
		requireError(t, e.do("POST", "/events/send", e.keyA, `{"event":"user.created","email":"ada@example.net","payload":{"seats":"3"}}`),
			422, "validation_error", "`seats` must be a number")
		requireError(t, e.do("POST", "/events/send", e.keyA, `{"event":"user.created","email":"ada@example.net","payload":{"ends":"soon"}}`),
			422, "validation_error", "`ends` must be a date")
		requireError(t, e.do("POST", "/events/send", e.keyA, `{"email":"ada@example.net"}`), 422, "missing_required_field", "event")
		requireError(t, e.do("POST", "/events/send", e.keyA, `{"event":"user.created"}`), 422, "validation_error", "Exactly one")
		requireError(t, e.do("POST", "/events/send", e.keyA, `{"event":"user.created","email":"ada@example.net","contact_id":"`+contact+`"}`),
			422, "validation_error", "Exactly one")
		requireError(t, e.do("POST", "/events/send", e.keyA, `{"event":"user.created","email":"nobody@example.net"}`), 404, "not_found", "Contact")
		requireError(t, e.do("POST", "/events/send", e.keyB, `{"event":"user.created","contact_id":"`+contact+`"}`), 404, "not_found", "Contact")
		requireError(t, e.do("POST", "/events/send", e.keyA, `{"event":"resend:x","contact_id":"`+contact+`"}`), 422, "validation_error", "reserved")
		requireError(t, e.do("POST", "/events/send", e.keyA, `{"event":"user.created","contact_id":"nope"}`), 422, "invalid_parameter")
		requireError(t, e.do("POST", "/events/send", e.keyA, `{"event":"user.created","contact_id":"`+contact+`","payload":[1]}`), 422, "validation_error")
		requireError(t, e.do("POST", "/events", e.sendA, `{"name":"x"}`), 401, "restricted_api_key")
	})
}

// welcomeGraph: trigger → send → delay 2 days → condition on a property
// → send (met) or add to a segment (not met).
func welcomeGraph(template, segment string) string {
	return fmt.Sprintf(`{"name":"Welcome series","status":"enabled","steps":[
		{"key":"start","type":"trigger","config":{"event_name":"user.created"}},
		{"key":"welcome","type":"send_email","config":{"template":{"id":"%s","variables":{"NAME":{"var":"contact.first_name"},"PLAN":{"var":"event.plan"}}}}},
		{"key":"wait","type":"delay","config":{"duration":"2 days"}},
		{"key":"is_pro","type":"condition","config":{"type":"rule","field":"contact.tier","operator":"eq","value":"pro"}},
		{"key":"pro_tips","type":"send_email","config":{"template":{"id":"%s"},"subject":"Pro tips"}},
		{"key":"nurture","type":"add_to_segment","config":{"segment_id":"%s"}}
	],"connections":[
		{"from":"start","to":"welcome"},
		{"from":"welcome","to":"wait","type":"default"},
		{"from":"wait","to":"is_pro"},
		{"from":"is_pro","to":"pro_tips","type":"condition_met"},
		{"from":"is_pro","to":"nurture","type":"condition_not_met"}
	]}`, template, template, segment)
}

func TestAutomationsAPI(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		seg := e.newSegment(e.keyA, "Nurture")
		r := e.do("POST", "/automations", e.keyA, welcomeGraph(uuid.NewString(), seg))
		require.Equal(t, 201, r.status, "body: %s", r.body)
		require.Equal(t, []string{"id", "object"}, keysOf(r.json))
		id := r.json["id"].(string)

		r = e.do("GET", "/automations/"+id, e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, []string{"connections", "created_at", "id", "name", "object", "status", "steps", "updated_at"}, keysOf(r.json))
		require.Equal(t, "automation", r.json["object"])
		require.Equal(t, "enabled", r.json["status"])
		require.Len(t, r.json["steps"], 6)
		require.Equal(t, map[string]any{"key": "wait", "type": "delay", "config": map[string]any{"duration": "2 days"}}, r.json["steps"].([]any)[2])
		require.Equal(t, map[string]any{"from": "start", "to": "welcome", "type": "default"}, r.json["connections"].([]any)[0],
			"a connection without a type is a default one")
		requireError(t, e.do("GET", "/automations/"+id, e.keyB, ""), 404, "not_found", "Automation not found")
		requireError(t, e.do("GET", "/automations/nope", e.keyA, ""), 422, "invalid_parameter")

		// Lists, with the status filter.
		e.clock.Advance(time.Second)
		r = e.do("POST", "/automations", e.keyA, `{"name":"Off","steps":[{"key":"t","type":"trigger","config":{"event_name":"x"}}],"connections":[]}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		off := r.json["id"].(string)
		require.Equal(t, []string{off, id}, listIDs(t, e.do("GET", "/automations", e.keyA, "")))
		require.Equal(t, []string{id}, listIDs(t, e.do("GET", "/automations?status=enabled", e.keyA, "")))
		require.Equal(t, []string{off}, listIDs(t, e.do("GET", "/automations?status=disabled", e.keyA, "")))
		requireError(t, e.do("GET", "/automations?status=paused", e.keyA, ""), 422, "validation_error", "status")
		r = e.do("GET", "/automations?limit=1", e.keyA, "")
		require.Equal(t, true, r.json["has_more"])
		require.Equal(t, []string{"created_at", "id", "name", "status", "updated_at"}, keysOf(r.json["data"].([]any)[0].(map[string]any)))

		// PATCH: name and status; the graph with both arrays.
		r = e.do("PATCH", "/automations/"+off, e.keyA, `{"name":"On","status":"enabled"}`)
		require.Equal(t, map[string]any{"object": "automation", "id": off}, r.json)
		r = e.do("GET", "/automations/"+off, e.keyA, "")
		require.Equal(t, "On", r.json["name"])
		require.Equal(t, "enabled", r.json["status"])
		requireError(t, e.do("PATCH", "/automations/"+off, e.keyA, `{}`), 422, "validation_error", "at least one")
		requireError(t, e.do("PATCH", "/automations/"+off, e.keyA, `{"steps":[]}`), 422, "validation_error", "together")
		requireError(t, e.do("PATCH", "/automations/"+off, e.keyA, `{"status":"paused"}`), 422, "validation_error")
		r = e.do("PATCH", "/automations/"+off, e.keyA, `{"steps":[{"key":"t","type":"trigger","config":{"event_name":"y"}},
			{"key":"bye","type":"contact_delete","config":{}}],"connections":[{"from":"t","to":"bye"}]}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Len(t, e.do("GET", "/automations/"+off, e.keyA, "").json["steps"], 2)
		a, err := e.store.GetAutomation(context.Background(), e.teamA, off)
		require.NoError(t, err)
		require.Equal(t, 2, a.Version, "a new graph is a new version")
		_, err = e.store.GetAutomationVersion(context.Background(), off, 1)
		require.NoError(t, err, "the old version is kept for its runs")

		// Duplicate and stop.
		r = e.do("POST", "/automations/"+id+"/duplicate", e.keyA, "")
		require.Equal(t, 201, r.status, "body: %s", r.body)
		dup := r.json["id"].(string)
		r = e.do("GET", "/automations/"+dup, e.keyA, "")
		require.Equal(t, "Welcome series (copy)", r.json["name"])
		require.Equal(t, "disabled", r.json["status"])
		require.Len(t, r.json["steps"], 6)
		r = e.do("POST", "/automations/"+id+"/stop", e.keyA, "")
		require.Equal(t, map[string]any{"object": "automation", "id": id, "status": "disabled"}, r.json)
		require.Equal(t, "disabled", e.do("GET", "/automations/"+id, e.keyA, "").json["status"])
		requireError(t, e.do("POST", "/automations/"+id+"/stop", e.keyB, ""), 404, "not_found")

		// Runs of an automation without any; another team's is a 404.
		r = e.do("GET", "/automations/"+id+"/runs", e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Empty(t, listIDs(t, r))
		requireError(t, e.do("GET", "/automations/"+id+"/runs", e.keyB, ""), 404, "not_found")
		requireError(t, e.do("GET", "/automations/"+id+"/runs?status=sleeping", e.keyA, ""), 422, "validation_error")
		requireError(t, e.do("GET", "/automations/"+id+"/runs/"+uuid.NewString(), e.keyA, ""), 404, "not_found", "run")

		// DELETE.
		r = e.do("DELETE", "/automations/"+dup, e.keyA, "")
		require.Equal(t, map[string]any{"object": "automation", "id": dup, "deleted": true}, r.json)
		requireError(t, e.do("GET", "/automations/"+dup, e.keyA, ""), 404, "not_found")
		requireError(t, e.do("DELETE", "/automations/"+dup, e.keyA, ""), 404, "not_found")
	})
}

// TestAutomationGraphValidation: every refusal is a 422 validation_error
// that names the step at fault, and nothing is stored.
func TestAutomationGraphValidation(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		trigger := `{"key":"t","type":"trigger","config":{"event_name":"go"}}`
		post := func(steps, conns string) result {
			return e.do("POST", "/automations", e.keyA, `{"name":"x","steps":[`+steps+`],"connections":[`+conns+`]}`)
		}
		for _, c := range []struct{ steps, conns, msg string }{
			{``, ``, "at least one step"},
			{`{"key":"s","type":"delay","config":{"duration":"1 day"}}`, ``, "one `trigger`"},
			{trigger + `,{"key":"t2","type":"trigger","config":{"event_name":"go"}}`, `{"from":"t","to":"t2"}`, "Step `t2`"},
			{trigger + `,{"key":"t","type":"delay","config":{"duration":"1 day"}}`, ``, "Step `t`: the key is used by two steps"},
			{trigger + `,{"key":"d","type":"delay","config":{"duration":"soon"}}`, `{"from":"t","to":"d"}`, "Step `d`: `duration`"},
			{trigger + `,{"key":"d","type":"delay","config":{"duration":"0 days"}}`, `{"from":"t","to":"d"}`, "Step `d`"},
			{trigger + `,{"key":"lost","type":"contact_delete","config":{}}`, ``, "Step `lost`: the step cannot be reached"},
			{trigger + `,{"key":"c","type":"condition","config":{"type":"rule","field":"plan","operator":"eq","value":"x"}}`, `{"from":"t","to":"c","type":"condition_met"}`, "Step `c`"},
			{trigger + `,{"key":"c","type":"condition","config":{"type":"rule","field":"event.plan","operator":"eq","value":"x"}}`, `{"from":"t","to":"c","type":"condition_met"}`, "Step `t`: a trigger step cannot leave by a `condition_met`"},
			{trigger + `,{"key":"c","type":"condition","config":{"type":"rule","field":"event.n","operator":"gt","value":"x"}}`, `{"from":"t","to":"c"}`, "Step `c`"},
			{trigger + `,{"key":"w","type":"wait_for_event","config":{"event_name":"paid"}},{"key":"x","type":"contact_delete","config":{}}`,
				`{"from":"t","to":"w"},{"from":"w","to":"x","type":"timeout"}`, "Step `w`: a wait_for_event step cannot leave by a `timeout`"},
			{trigger + `,{"key":"s","type":"send_email","config":{"template":{}}}`, `{"from":"t","to":"s"}`, "Step `s`: the `template.id`"},
			{trigger + `,{"key":"s","type":"send_email","config":{"template":"x"}}`, `{"from":"t","to":"s"}`, "Step `s`"},
			{trigger + `,{"key":"g","type":"add_to_segment","config":{"segment_id":"x"}}`, `{"from":"t","to":"g"}`, "Step `g`: the `segment_id`"},
			{trigger + `,{"key":"u","type":"contact_update","config":{"unsubscribed":"yes"}}`, `{"from":"t","to":"u"}`, "Step `u`"},
			{trigger + `,{"key":"z","type":"teleport","config":{}}`, `{"from":"t","to":"z"}`, "Step `z`: unknown step type"},
			{`{"key":"t","type":"trigger","config":{"event_name":"resend:email.sent"}}`, ``, "Step `t`: event names cannot start"},
			{trigger, `{"from":"t","to":"nowhere"}`, "`to` names no step"},
			{trigger + `,{"key":"a","type":"contact_update","config":{}},{"key":"b","type":"add_to_segment","config":{"segment_id":"` + uuid.NewString() + `"}}`,
				`{"from":"t","to":"a"},{"from":"a","to":"b"},{"from":"b","to":"a"}`, "on a cycle without a `delay`"},
			{trigger + `,{"key":"a","type":"contact_update","config":{}},{"key":"b","type":"add_to_segment","config":{"segment_id":"` + uuid.NewString() + `"}}`,
				`{"from":"t","to":"a"},{"from":"t","to":"b"}`, "Step `t`: it has two `default` connections"},
		} {
			requireError(t, post(c.steps, c.conns), 422, "validation_error", c.msg)
		}
		// A cycle through a delay is allowed.
		r := post(trigger+`,{"key":"a","type":"contact_update","config":{"properties":{"n":1}}},{"key":"d","type":"delay","config":{"duration":"1 week"}}`,
			`{"from":"t","to":"a"},{"from":"a","to":"d"},{"from":"d","to":"a"}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		// 151 steps are too many.
		steps := []string{trigger}
		conns := []string{}
		prev := "t"
		for i := range automation.MaxSteps {
			k := fmt.Sprintf("s%d", i)
			steps = append(steps, `{"key":"`+k+`","type":"contact_update","config":{}}`)
			conns = append(conns, `{"from":"`+prev+`","to":"`+k+`"}`)
			prev = k
		}
		requireError(t, post(strings.Join(steps, ","), strings.Join(conns, ",")), 422, "validation_error", "at most 150 steps")
		requireError(t, e.do("POST", "/automations", e.keyA, `{"steps":[`+trigger+`],"connections":[]}`), 422, "missing_required_field", "name")
		requireError(t, e.do("POST", "/automations", e.keyA, `{"name":"x","connections":[]}`), 422, "missing_required_field", "steps")
		requireError(t, e.do("POST", "/automations", e.keyA, `{"name":"x","steps":[`+trigger+`]}`), 422, "missing_required_field", "connections")
		requireError(t, e.do("POST", "/automations", e.keyA, `{"name":"x","status":"on","steps":[`+trigger+`],"connections":[]}`), 422, "validation_error")
		list := e.do("GET", "/automations", e.keyA, "")
		require.Len(t, listIDs(t, list), 1, "no refused automation was stored")
	})
}

// jobRunner captures the step jobs the store enqueues and runs them in
// order of due time with the test's clock, as the queue would.
type jobRunner struct {
	t    *testing.T
	e    *testEnv
	eng  *automation.Engine
	mu   sync.Mutex
	jobs []store.StepJob
	ran  []store.StepJob
}

func newJobRunner(t *testing.T, e *testEnv) *jobRunner {
	j := &jobRunner{t: t, e: e, eng: e.handler.Automations}
	godwittest.OutboxOf(t, e.db).OnAutomationSteps(func(_ context.Context, _ *sql.Tx, jobs []store.StepJob) error {
		j.mu.Lock()
		defer j.mu.Unlock()
		j.jobs = append(j.jobs, jobs...)
		return nil
	})
	return j
}

// drain runs every job due by the clock (and those they make due), each
// twice when double is set; it returns how many ran.
func (j *jobRunner) drain(double bool) int {
	j.t.Helper()
	n := 0
	for range 1000 {
		j.mu.Lock()
		idx := -1
		for i, job := range j.jobs {
			if job.At == nil || !job.At.After(j.e.clock.Now()) {
				idx = i
				break
			}
		}
		if idx < 0 {
			j.mu.Unlock()
			return n
		}
		job := j.jobs[idx]
		j.jobs = append(j.jobs[:idx], j.jobs[idx+1:]...)
		j.mu.Unlock()
		j.run(job)
		if double {
			j.run(job)
		}
		j.ran = append(j.ran, job)
		n++
	}
	j.t.Fatal("jobs kept coming")
	return n
}

// run runs one job; one that comes early (a doubled job of a step that
// now waits) snoozes, as the queue's worker makes it.
func (j *jobRunner) run(job store.StepJob) {
	err := j.eng.Run(context.Background(), job.StepID)
	if notYet, ok := errors.AsType[*automation.NotYet](err); ok {
		at := j.e.clock.Now().Add(notYet.After)
		job.At = &at
		j.mu.Lock()
		j.jobs = append(j.jobs, job)
		j.mu.Unlock()
		return
	}
	require.NoError(j.t, err)
}

func (j *jobRunner) pending() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.jobs)
}

// runSteps summarises a run as "key=status" in record order.
func (e *testEnv) runSteps(key, automationID, runID string) (string, []string) {
	e.t.Helper()
	r := e.do("GET", "/automations/"+automationID+"/runs/"+runID, key, "")
	require.Equal(e.t, 200, r.status, "body: %s", r.body)
	out := []string{}
	for _, s := range r.json["steps"].([]any) {
		m := s.(map[string]any)
		out = append(out, m["key"].(string)+"="+m["status"].(string))
	}
	return r.json["status"].(string), out
}

func (e *testEnv) onlyRun(key, automationID string) string {
	e.t.Helper()
	ids := listIDs(e.t.(*testing.T), e.do("GET", "/automations/"+automationID+"/runs", key, ""))
	require.Len(e.t, ids, 1)
	return ids[0]
}

func (e *testEnv) teamEmails(teamID string) []*store.Email {
	e.t.Helper()
	list, _, err := e.store.ListEmails(context.Background(), teamID, store.Page{Limit: 100})
	require.NoError(e.t, err)
	return list
}

const automationTemplate = `{"name":"Welcome","from":"Acme <hi@example.com>","subject":"Hi {{{NAME}}}",
	"html":"<p>Hi {{{NAME}}} on {{{PLAN}}}</p>","variables":[{"key":"NAME","type":"string","fallback_value":"friend"},
	{"key":"PLAN","type":"string","fallback_value":"free"}]}`

// TestAutomationWelcomeSeries drives trigger → send → delay 2 days →
// condition → send or add to segment with the test clock, each job run
// twice (a doubled job changes nothing and sends nothing).
func TestAutomationWelcomeSeries(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		jobs := newJobRunner(t, e)
		tpl := e.newTemplate(e.keyA, automationTemplate)
		e.publish(e.keyA, tpl)
		seg := e.newSegment(e.keyA, "Nurture")
		r := e.do("POST", "/automations", e.keyA, welcomeGraph(tpl, seg))
		require.Equal(t, 201, r.status, "body: %s", r.body)
		auto := r.json["id"].(string)
		pro := e.newContact(e.keyA, `{"email":"pro@example.net","first_name":"Ada","properties":{"tier":"pro"}}`)
		free := e.newContact(e.keyA, `{"email":"free@example.net","first_name":"Bob"}`)

		require.Equal(t, 202, e.do("POST", "/events/send", e.keyA, `{"event":"user.created","contact_id":"`+pro+`","payload":{"plan":"gold"}}`).status)
		e.clock.Advance(time.Second)
		require.Equal(t, 202, e.do("POST", "/events/send", e.keyA, `{"event":"user.created","email":"FREE@example.net"}`).status)
		require.Equal(t, 202, e.do("POST", "/events/send", e.keyA, `{"event":"other.event","email":"free@example.net"}`).status)
		runs := listIDs(t, e.do("GET", "/automations/"+auto+"/runs", e.keyA, ""))
		require.Len(t, runs, 2)
		freeRun, proRun := runs[0], runs[1]

		jobs.drain(true)
		status, steps := e.runSteps(e.keyA, auto, proRun)
		require.Equal(t, "running", status)
		require.Equal(t, []string{"start=completed", "welcome=completed", "wait=waiting"}, steps)
		emails := e.teamEmails(e.teamA)
		require.Len(t, emails, 2, "one welcome each, though every job ran twice")
		subjects := map[string]string{}
		for _, em := range emails {
			subjects[em.To[0]] = em.Subject
		}
		require.Equal(t, map[string]string{"pro@example.net": "Hi Ada", "free@example.net": "Hi Bob"}, subjects)
		require.Zero(t, jobs.drain(false), "nothing is due before the delay ends")

		e.clock.Advance(48*time.Hour - 2*time.Second)
		require.Zero(t, jobs.drain(false))
		e.clock.Advance(2 * time.Second)
		jobs.drain(true)
		status, steps = e.runSteps(e.keyA, auto, proRun)
		require.Equal(t, "completed", status)
		require.Equal(t, []string{"start=completed", "welcome=completed", "wait=completed", "is_pro=completed", "pro_tips=completed"}, steps)
		status, steps = e.runSteps(e.keyA, auto, freeRun)
		require.Equal(t, "completed", status)
		require.Equal(t, []string{"start=completed", "welcome=completed", "wait=completed", "is_pro=completed", "nurture=completed"}, steps)
		require.Len(t, e.teamEmails(e.teamA), 3, "pro tips for the pro contact only")
		segs, _, err := e.store.ListContactSegments(context.Background(), e.teamA, free, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Len(t, segs, 1)
		require.Equal(t, seg, segs[0].ID)
		require.Zero(t, jobs.pending())

		// The run's shape: each step's times, output and error.
		r = e.do("GET", "/automations/"+auto+"/runs/"+proRun, e.keyA, "")
		require.Equal(t, "automation_run", r.json["object"])
		require.NotNil(t, r.json["started_at"])
		require.NotNil(t, r.json["completed_at"])
		welcome := r.json["steps"].([]any)[1].(map[string]any)
		require.Equal(t, []string{"completed_at", "created_at", "error", "key", "output", "started_at", "status", "type"}, keysOf(welcome))
		require.Equal(t, "send_email", welcome["type"])
		require.NotEmpty(t, welcome["output"].(map[string]any)["email_id"])
		require.Nil(t, welcome["error"])
		cond := r.json["steps"].([]any)[3].(map[string]any)
		require.Equal(t, map[string]any{"result": true}, cond["output"])

		// The run list filters by status.
		require.Len(t, listIDs(t, e.do("GET", "/automations/"+auto+"/runs?status=completed", e.keyA, "")), 2)
		require.Empty(t, listIDs(t, e.do("GET", "/automations/"+auto+"/runs?status=running,failed", e.keyA, "")))

		// A disabled automation starts nothing.
		require.Equal(t, 200, e.do("PATCH", "/automations/"+auto, e.keyA, `{"status":"disabled"}`).status)
		require.Equal(t, 202, e.do("POST", "/events/send", e.keyA, `{"event":"user.created","contact_id":"`+pro+`"}`).status)
		require.Len(t, listIDs(t, e.do("GET", "/automations/"+auto+"/runs", e.keyA, "")), 2)
	})
}

// TestAutomationWaitForEvent: a wait ends with its event (event_received)
// or at its timeout, whichever comes first; the loser changes nothing. A
// run keeps the version it started with after an edit, and a stopped
// automation cancels its runs.
func TestAutomationWaitForEvent(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		jobs := newJobRunner(t, e)
		graph := `{"name":"Checkout","status":"enabled","steps":[
			{"key":"t","type":"trigger","config":{"event_name":"cart.created"}},
			{"key":"w","type":"wait_for_event","config":{"event_name":"order.paid","timeout":"1 hour","filter_rule":{"type":"rule","field":"event.amount","operator":"gte","value":10}}},
			{"key":"thanks","type":"contact_update","config":{"properties":{"status":"paid","last_amount":{"var":"event.amount"}}}},
			{"key":"nudge","type":"contact_update","config":{"first_name":"Nudged"}}
		],"connections":[{"from":"t","to":"w"},{"from":"w","to":"thanks","type":"event_received"},{"from":"w","to":"nudge","type":"timeout"}]}`
		r := e.do("POST", "/automations", e.keyA, graph)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		auto := r.json["id"].(string)
		e.newProperty(e.keyA, `{"key":"status","type":"string"}`)
		e.newProperty(e.keyA, `{"key":"last_amount","type":"number"}`)
		payer := e.newContact(e.keyA, `{"email":"payer@example.net"}`)
		idle := e.newContact(e.keyA, `{"email":"idle@example.net"}`)

		send := func(body string) { require.Equal(t, 202, e.do("POST", "/events/send", e.keyA, body).status) }
		send(`{"event":"cart.created","contact_id":"` + payer + `"}`)
		send(`{"event":"cart.created","contact_id":"` + idle + `"}`)
		jobs.drain(true)
		runs := listIDs(t, e.do("GET", "/automations/"+auto+"/runs", e.keyA, ""))
		idleRun, payerRun := runs[0], runs[1]
		_, steps := e.runSteps(e.keyA, auto, payerRun)
		require.Equal(t, []string{"t=completed", "w=waiting"}, steps)

		// An edit makes version 2; the waiting runs stay on version 1.
		require.Equal(t, 200, e.do("PATCH", "/automations/"+auto, e.keyA, `{"steps":[{"key":"t","type":"trigger","config":{"event_name":"cart.created"}}],"connections":[]}`).status)

		send(`{"event":"order.paid","contact_id":"` + payer + `","payload":{"amount":5}}`) // the filter refuses it
		_, steps = e.runSteps(e.keyA, auto, payerRun)
		require.Equal(t, []string{"t=completed", "w=waiting"}, steps)
		e.clock.Advance(10 * time.Minute)
		send(`{"event":"order.paid","contact_id":"` + payer + `","payload":{"amount":25}}`)
		jobs.drain(true)
		status, steps := e.runSteps(e.keyA, auto, payerRun)
		require.Equal(t, "completed", status)
		require.Equal(t, []string{"t=completed", "w=completed", "thanks=completed"}, steps)
		c, err := e.store.GetContact(context.Background(), e.teamA, payer)
		require.NoError(t, err)
		require.Equal(t, map[string]any{"status": "paid", "last_amount": float64(25)}, c.Properties)

		// The payer's timeout job comes due and finds the wait over; the idle one times out.
		e.clock.Advance(time.Hour)
		jobs.drain(true)
		_, steps = e.runSteps(e.keyA, auto, payerRun)
		require.Equal(t, []string{"t=completed", "w=completed", "thanks=completed"}, steps)
		status, steps = e.runSteps(e.keyA, auto, idleRun)
		require.Equal(t, "completed", status)
		require.Equal(t, []string{"t=completed", "w=completed", "nudge=completed"}, steps)
		r = e.do("GET", "/automations/"+auto+"/runs/"+idleRun, e.keyA, "")
		require.Equal(t, map[string]any{"event": "order.paid", "timed_out": true}, r.json["steps"].([]any)[1].(map[string]any)["output"])
		c, err = e.store.GetContact(context.Background(), e.teamA, idle)
		require.NoError(t, err)
		require.Equal(t, "Nudged", *c.FirstName)
		require.Zero(t, jobs.pending())

		// Version 2 has no wait: a new run completes at once. Stop cancels a waiting run.
		send(`{"event":"cart.created","contact_id":"` + idle + `"}`)
		jobs.drain(false)
		require.Len(t, listIDs(t, e.do("GET", "/automations/"+auto+"/runs?status=completed", e.keyA, "")), 3)
		require.Equal(t, 200, e.do("PATCH", "/automations/"+auto, e.keyA, `{"steps":`+graphSteps(graph)+`,"connections":[{"from":"t","to":"w"},{"from":"w","to":"thanks","type":"event_received"},{"from":"w","to":"nudge","type":"timeout"}]}`).status)
		send(`{"event":"cart.created","contact_id":"` + idle + `"}`)
		jobs.drain(false)
		running := listIDs(t, e.do("GET", "/automations/"+auto+"/runs?status=running", e.keyA, ""))
		require.Len(t, running, 1)
		require.Equal(t, 200, e.do("POST", "/automations/"+auto+"/stop", e.keyA, "").status)
		status, steps = e.runSteps(e.keyA, auto, running[0])
		require.Equal(t, "cancelled", status)
		require.Equal(t, []string{"t=completed", "w=skipped"}, steps)
		e.clock.Advance(2 * time.Hour)
		jobs.drain(false)
		status, _ = e.runSteps(e.keyA, auto, running[0])
		require.Equal(t, "cancelled", status, "the timeout job of a cancelled run does nothing")
	})
}

func graphSteps(body string) string {
	i := strings.Index(body, `"steps":`)
	j := strings.Index(body, `],"connections"`)
	return body[i+len(`"steps":`) : j+1]
}

// TestAutomationSendExactlyOnce: a send_email job that runs again after
// its email was accepted (a crash before River recorded the job done, a
// doubled job), however much later, sends nothing more: the email and the
// step's completion are one commit.
func TestAutomationSendExactlyOnce(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		jobs := newJobRunner(t, e)
		tpl := e.newTemplate(e.keyA, automationTemplate)
		e.publish(e.keyA, tpl)
		r := e.do("POST", "/automations", e.keyA, `{"name":"one","status":"enabled","steps":[
			{"key":"t","type":"trigger","config":{"event_name":"go"}},
			{"key":"s","type":"send_email","config":{"template":{"id":"`+tpl+`"}}}],"connections":[{"from":"t","to":"s"}]}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		auto := r.json["id"].(string)
		e.newContact(e.keyA, `{"email":"once@example.net"}`)
		require.Equal(t, 202, e.do("POST", "/events/send", e.keyA, `{"event":"go","email":"once@example.net"}`).status)
		require.Len(t, jobs.jobs, 1, "the trigger completed with the run's start: the send's job is the first")
		send := jobs.jobs[0].StepID
		require.NoError(t, jobs.eng.Run(context.Background(), send))
		emails := e.teamEmails(e.teamA)
		require.Len(t, emails, 1)
		// Past any idempotency record's life (24 hours): nothing to lean on
		// but the step's own state.
		e.clock.Advance(72 * time.Hour)
		require.NoError(t, jobs.eng.Run(context.Background(), send), "the retry")
		require.NoError(t, jobs.eng.Run(context.Background(), send), "a doubled retry")
		again := e.teamEmails(e.teamA)
		require.Len(t, again, 1, "still the one email")
		require.Equal(t, emails[0].ID, again[0].ID)
		run := e.onlyRun(e.keyA, auto)
		status, steps := e.runSteps(e.keyA, auto, run)
		require.Equal(t, "completed", status)
		require.Equal(t, []string{"t=completed", "s=completed"}, steps)
		r = e.do("GET", "/automations/"+auto+"/runs/"+run, e.keyA, "")
		out := r.json["steps"].([]any)[1].(map[string]any)["output"].(map[string]any)
		require.Equal(t, emails[0].ID, out["email_id"], "the step names the email it sent")

		// A refused send fails the step and the run, visibly.
		require.Equal(t, 200, e.do("DELETE", "/templates/"+tpl, e.keyA, "").status)
		require.Equal(t, 202, e.do("POST", "/events/send", e.keyA, `{"event":"go","email":"once@example.net"}`).status)
		jobs.eng = e.handler.Automations
		jobs.jobs = jobs.jobs[1:]
		jobs.drain(false)
		runs := listIDs(t, e.do("GET", "/automations/"+auto+"/runs?status=failed", e.keyA, ""))
		require.Len(t, runs, 1)
		r = e.do("GET", "/automations/"+auto+"/runs/"+runs[0], e.keyA, "")
		s := r.json["steps"].([]any)[1].(map[string]any)
		require.Equal(t, "failed", s["status"])
		require.Equal(t, map[string]any{"message": "Template not found"}, s["error"])
	})
}
