// Package automation holds Resend's automations: the step graph as the API
// takes it (Parse, which validates it whole and names the step at fault),
// event payload schemas, conditions over a contact and an event, and the
// engine that moves runs on, one step record per job (engine.go).
//
// # Graph rules
//
// A graph has 1 to MaxSteps steps with unique keys and exactly one
// trigger; every step is reachable from the trigger; a connection's type
// fits the step it leaves (a condition leaves by condition_met and
// condition_not_met, a wait_for_event by event_received and, when it has a
// timeout, timeout; every other step by default), at most one of each type
// per step; nothing leads back into the trigger; and every cycle passes
// through a delay or a wait_for_event, so a run never loops without
// waiting.
package automation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// MaxSteps is the most steps a graph may have (Resend's maxItems).
const MaxSteps = 150

// maxKey bounds a step's key, in bytes.
const maxKey = 100

// Step types.
const (
	Trigger       = "trigger"
	SendEmail     = "send_email"
	Delay         = "delay"
	WaitForEvent  = "wait_for_event"
	Condition     = "condition"
	ContactUpdate = "contact_update"
	ContactDelete = "contact_delete"
	AddToSegment  = "add_to_segment"
)

// Connection types.
const (
	ConnDefault         = "default"
	ConnConditionMet    = "condition_met"
	ConnConditionNotMet = "condition_not_met"
	ConnTimeout         = "timeout"
	ConnEventReceived   = "event_received"
)

// Step is one step of a graph; Config is its configuration as given
// (validated by Parse).
type Step struct {
	Key    string          `json:"key"`
	Type   string          `json:"type"`
	Config json.RawMessage `json:"config"`
}

// Connection leads from one step to another when the step leaves by Type.
type Connection struct {
	From string `json:"from"`
	To   string `json:"to"`
	Type string `json:"type"`
}

// Graph is an automation's steps and connections, as stored and answered.
type Graph struct {
	Steps       []Step       `json:"steps"`
	Connections []Connection `json:"connections"`
}

// Error is a graph the API refuses: a 422 validation_error with Message.
type Error struct{ Message string }

func (e *Error) Error() string { return e.Message }

func errf(format string, args ...any) *Error { return &Error{Message: fmt.Sprintf(format, args...)} }

func stepErr(key, format string, args ...any) *Error {
	return &Error{Message: fmt.Sprintf("Step `%s`: ", key) + fmt.Sprintf(format, args...)}
}

// Configs of the steps, as the API takes them (snake_case, as the Node SDK
// sends them).
type TriggerConfig struct {
	EventName string `json:"event_name"`
}

type SendEmailConfig struct {
	Template struct {
		ID        string                     `json:"id"`
		Variables map[string]json.RawMessage `json:"variables,omitempty"`
	} `json:"template"`
	Subject string `json:"subject,omitempty"`
	From    string `json:"from,omitempty"`
	ReplyTo string `json:"reply_to,omitempty"`
	TopicID string `json:"topic_id,omitempty"`
}

type DelayConfig struct {
	Duration string `json:"duration"`
}

type WaitForEventConfig struct {
	EventName  string `json:"event_name"`
	Timeout    string `json:"timeout,omitempty"`
	FilterRule *Rule  `json:"filter_rule,omitempty"`
}

type ContactUpdateConfig struct {
	FirstName    json.RawMessage            `json:"first_name,omitempty"`
	LastName     json.RawMessage            `json:"last_name,omitempty"`
	Unsubscribed json.RawMessage            `json:"unsubscribed,omitempty"`
	Properties   map[string]json.RawMessage `json:"properties,omitempty"`
}

type AddToSegmentConfig struct {
	SegmentID string `json:"segment_id"`
}

// decodeConfig decodes a step's config strictly enough to name what is
// wrong; unknown fields are ignored (the SDK sends undefined ones as
// absent).
func decodeConfig(s Step, v any) *Error {
	if len(s.Config) == 0 || bytes.Equal(bytes.TrimSpace(s.Config), []byte("null")) {
		return stepErr(s.Key, "the `config` object is required.")
	}
	if err := json.Unmarshal(s.Config, v); err != nil {
		return stepErr(s.Key, "the `config` of a %s step is not valid: %s.", s.Type, jsonProblem(err))
	}
	return nil
}

func jsonProblem(err error) string {
	if te, ok := err.(*json.UnmarshalTypeError); ok && te.Field != "" {
		return fmt.Sprintf("`%s` must be a %s", te.Field, jsonKind(te.Type.Kind().String()))
	}
	return "it must be a JSON object"
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "map", "struct", "ptr":
		return "object"
	case "bool":
		return "boolean"
	case "slice":
		return "array"
	}
	return "number"
}

// Parse decodes and validates a graph's steps and connections (the API's
// raw JSON arrays). A graph the API must refuse is an *Error.
func Parse(stepsJSON, connectionsJSON json.RawMessage) (*Graph, error) {
	var g Graph
	if err := json.Unmarshal(stepsJSON, &g.Steps); err != nil {
		return nil, errf("The `steps` field must be an array of steps, each with `key`, `type` and `config`.")
	}
	if len(connectionsJSON) > 0 && !bytes.Equal(bytes.TrimSpace(connectionsJSON), []byte("null")) {
		if err := json.Unmarshal(connectionsJSON, &g.Connections); err != nil {
			return nil, errf("The `connections` field must be an array of connections, each with `from` and `to`.")
		}
	}
	if g.Connections == nil {
		g.Connections = []Connection{}
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return &g, nil
}

// Validate checks g against the graph rules (see the package doc) and
// normalises each connection's type ("" is default).
func (g *Graph) Validate() error {
	if len(g.Steps) == 0 {
		return errf("The `steps` field must have at least one step, a `trigger`.")
	}
	if len(g.Steps) > MaxSteps {
		return errf("An automation has at most %d steps; this one has %d.", MaxSteps, len(g.Steps))
	}
	byKey := make(map[string]*Step, len(g.Steps))
	trigger := ""
	for i := range g.Steps {
		s := &g.Steps[i]
		if strings.TrimSpace(s.Key) == "" {
			return errf("Step %d: the `key` field is required.", i+1)
		}
		if len(s.Key) > maxKey {
			return errf("Step %d: the `key` must be at most %d characters.", i+1, maxKey)
		}
		if _, dup := byKey[s.Key]; dup {
			return stepErr(s.Key, "the key is used by two steps; keys must be unique.")
		}
		byKey[s.Key] = s
		if err := validateConfig(*s); err != nil {
			return err
		}
		if s.Type == Trigger {
			if trigger != "" {
				return stepErr(s.Key, "an automation has exactly one `trigger` step; `%s` is one already.", trigger)
			}
			trigger = s.Key
		}
	}
	if trigger == "" {
		return errf("An automation needs one `trigger` step.")
	}
	out := map[string][]Connection{}
	for i := range g.Connections {
		c := &g.Connections[i]
		if c.Type == "" {
			c.Type = ConnDefault
		}
		from, ok := byKey[c.From]
		if !ok {
			return errf("Connection %d: `from` names no step (`%s`).", i+1, c.From)
		}
		to, ok := byKey[c.To]
		if !ok {
			return errf("Connection %d: `to` names no step (`%s`).", i+1, c.To)
		}
		if to.Type == Trigger {
			return stepErr(to.Key, "a `trigger` step cannot be the target of a connection.")
		}
		if !fits(from, c.Type) {
			return stepErr(from.Key, "a %s step cannot leave by a `%s` connection (it takes %s).", from.Type, c.Type, strings.Join(leaves(from), ", "))
		}
		for _, o := range out[c.From] {
			if o.Type == c.Type {
				return stepErr(from.Key, "it has two `%s` connections; a step has at most one of each type.", c.Type)
			}
		}
		out[c.From] = append(out[c.From], *c)
	}
	// Reachability from the trigger.
	seen := map[string]bool{trigger: true}
	queue := []string{trigger}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, c := range out[k] {
			if !seen[c.To] {
				seen[c.To] = true
				queue = append(queue, c.To)
			}
		}
	}
	for _, s := range g.Steps {
		if !seen[s.Key] {
			return stepErr(s.Key, "the step cannot be reached from the trigger.")
		}
	}
	// Cycles that never wait: depth-first over the steps that do not wait.
	waits := func(k string) bool { t := byKey[k].Type; return t == Delay || t == WaitForEvent }
	state := map[string]int{} // 1 on the path, 2 done
	var visit func(k string) string
	visit = func(k string) string {
		state[k] = 1
		for _, c := range out[k] {
			if waits(c.To) {
				continue
			}
			switch state[c.To] {
			case 1:
				return c.To
			case 0:
				if bad := visit(c.To); bad != "" {
					return bad
				}
			}
		}
		state[k] = 2
		return ""
	}
	for _, s := range g.Steps {
		if state[s.Key] == 0 && !waits(s.Key) {
			if bad := visit(s.Key); bad != "" {
				return stepErr(bad, "the step is on a cycle without a `delay` or `wait_for_event`.")
			}
		}
	}
	return nil
}

// leaves lists the connection types a step may leave by.
func leaves(s *Step) []string {
	switch s.Type {
	case Condition:
		return []string{ConnConditionMet, ConnConditionNotMet}
	case WaitForEvent:
		var c WaitForEventConfig
		_ = json.Unmarshal(s.Config, &c)
		if c.Timeout != "" {
			return []string{ConnEventReceived, ConnTimeout}
		}
		return []string{ConnEventReceived}
	case ContactDelete:
		return []string{ConnDefault}
	}
	return []string{ConnDefault}
}

func fits(s *Step, typ string) bool { return slices.Contains(leaves(s), typ) }

// MaxWait bounds a delay or a wait's timeout.
const MaxWait = 365 * 24 * time.Hour

func validateConfig(s Step) error {
	switch s.Type {
	case Trigger:
		var c TriggerConfig
		if err := decodeConfig(s, &c); err != nil {
			return err
		}
		if err := checkEventName(c.EventName); err != nil {
			return stepErr(s.Key, "%s", err.Message)
		}
	case SendEmail:
		var c SendEmailConfig
		if err := decodeConfig(s, &c); err != nil {
			return err
		}
		if strings.TrimSpace(c.Template.ID) == "" {
			return stepErr(s.Key, "the `template.id` field is required.")
		}
		if c.TopicID != "" && !isUUID(c.TopicID) {
			return stepErr(s.Key, "the `topic_id` must be a valid UUID.")
		}
	case Delay:
		var c DelayConfig
		if err := decodeConfig(s, &c); err != nil {
			return err
		}
		if _, err := ParseDuration(c.Duration); err != nil {
			return stepErr(s.Key, "`duration` %s", err.Error())
		}
	case WaitForEvent:
		var c WaitForEventConfig
		if err := decodeConfig(s, &c); err != nil {
			return err
		}
		if err := checkEventName(c.EventName); err != nil {
			return stepErr(s.Key, "%s", err.Message)
		}
		if c.Timeout != "" {
			if _, err := ParseDuration(c.Timeout); err != nil {
				return stepErr(s.Key, "`timeout` %s", err.Error())
			}
		}
		if c.FilterRule != nil {
			if err := c.FilterRule.validate(0); err != nil {
				return stepErr(s.Key, "`filter_rule`: %s", err.Error())
			}
		}
	case Condition:
		var r Rule
		if err := decodeConfig(s, &r); err != nil {
			return err
		}
		if err := r.validate(0); err != nil {
			return stepErr(s.Key, "%s", err.Error())
		}
	case ContactUpdate:
		var c ContactUpdateConfig
		if err := decodeConfig(s, &c); err != nil {
			return err
		}
		for name, raw := range map[string]json.RawMessage{"first_name": c.FirstName, "last_name": c.LastName} {
			if !isValueOrVar(raw, "string") {
				return stepErr(s.Key, "`%s` must be a string, null or {\"var\": \"…\"}.", name)
			}
		}
		if !isValueOrVar(c.Unsubscribed, "boolean") {
			return stepErr(s.Key, "`unsubscribed` must be a boolean or {\"var\": \"…\"}.")
		}
		for k, raw := range c.Properties {
			if !isValueOrVar(raw, "scalar") {
				return stepErr(s.Key, "property `%s` must be a string, number, boolean, null or {\"var\": \"…\"}.", k)
			}
		}
	case ContactDelete:
		var c map[string]json.RawMessage
		if len(s.Config) > 0 {
			if err := decodeConfig(s, &c); err != nil {
				return err
			}
		}
	case AddToSegment:
		var c AddToSegmentConfig
		if err := decodeConfig(s, &c); err != nil {
			return err
		}
		if !isUUID(c.SegmentID) {
			return stepErr(s.Key, "the `segment_id` must be a valid UUID.")
		}
	case "":
		return stepErr(s.Key, "the `type` field is required.")
	default:
		return stepErr(s.Key, "unknown step type `%s`.", s.Type)
	}
	return nil
}

func isUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// isValueOrVar reports whether raw is absent, null, a value of kind
// ("string", "boolean" or "scalar") or {"var": "name"}.
func isValueOrVar(raw json.RawMessage, kind string) bool {
	if len(raw) == 0 {
		return true
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return false
	}
	switch x := v.(type) {
	case nil:
		return kind != "boolean"
	case string:
		return kind != "boolean"
	case bool:
		return kind != "string"
	case float64:
		return kind == "scalar"
	case map[string]any:
		name, ok := x["var"].(string)
		return ok && len(x) == 1 && name != ""
	}
	return false
}

// Encode is the graph as stored.
func (g *Graph) Encode() []byte {
	b, err := json.Marshal(g)
	if err != nil {
		panic(fmt.Sprintf("automation: encode graph: %v", err)) // only strings and raw JSON already valid
	}
	return b
}

// Decode reads a stored graph.
func Decode(b []byte) (*Graph, error) {
	var g Graph
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("decode automation graph: %w", err)
	}
	return &g, nil
}

// Step returns the step with key, or nil.
func (g *Graph) Step(key string) *Step {
	for i := range g.Steps {
		if g.Steps[i].Key == key {
			return &g.Steps[i]
		}
	}
	return nil
}

// TriggerStep returns the graph's trigger and its event name.
func (g *Graph) TriggerStep() (*Step, string) {
	for i := range g.Steps {
		if g.Steps[i].Type == Trigger {
			var c TriggerConfig
			_ = json.Unmarshal(g.Steps[i].Config, &c)
			return &g.Steps[i], c.EventName
		}
	}
	return nil, ""
}

// Next returns the steps a step leads to when it leaves by typ.
func (g *Graph) Next(key, typ string) []*Step {
	var out []*Step
	for _, c := range g.Connections {
		if c.From == key && c.Type == typ {
			if s := g.Step(c.To); s != nil {
				out = append(out, s)
			}
		}
	}
	return out
}
