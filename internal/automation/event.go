package automation

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ReservedPrefix starts Resend's own event names; a team's may not.
const ReservedPrefix = "resend:"

// MaxEventName bounds an event's name, in characters.
const MaxEventName = 200

// MaxSchemaKeys bounds an event schema's keys.
const MaxSchemaKeys = 100

// Schema types.
var schemaTypes = []string{"string", "number", "boolean", "date"}

// checkEventName validates an event name: required, one line, at most
// MaxEventName characters, not in the reserved namespace.
func checkEventName(name string) *Error {
	switch {
	case strings.TrimSpace(name) == "":
		return errf("the `event_name` field is required.")
	case strings.HasPrefix(strings.ToLower(name), ReservedPrefix):
		return errf("event names cannot start with the reserved `%s` prefix.", ReservedPrefix)
	case utf8.RuneCountInString(name) > MaxEventName || strings.ContainsAny(name, "\r\n") || !utf8.ValidString(name):
		return errf("an event name is one line of at most %d characters.", MaxEventName)
	}
	return nil
}

// EventName validates the name of an event for the Events API; the
// message names the `name` field.
func EventName(name string) (string, error) {
	if err := checkEventName(name); err != nil {
		return "", errors.New(strings.Replace(err.Message, "the `event_name` field", "the `name` field", 1))
	}
	return name, nil
}

// ParseSchema decodes an event's schema: null (nil, none) or a flat object
// of key → "string", "number", "boolean" or "date".
func ParseSchema(raw json.RawMessage) (map[string]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errors.New("the `schema` must be an object of key to type (string, number, boolean or date), or null")
	}
	if len(m) > MaxSchemaKeys {
		return nil, fmt.Errorf("the `schema` has at most %d keys", MaxSchemaKeys)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		t, ok := v.(string)
		if strings.TrimSpace(k) == "" || len(k) > 100 {
			return nil, errors.New("the `schema`'s keys must be 1 to 100 characters")
		}
		if !ok || !slices.Contains(schemaTypes, t) {
			return nil, fmt.Errorf("the `schema`'s key `%s` has an unsupported type: use string, number, boolean or date", k)
		}
		out[k] = t
	}
	return out, nil
}

// dateLayouts are the forms a date payload value may take.
var dateLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"}

// CheckPayload holds an event's payload to its schema: each key of the
// schema that the payload has must have its type (a date is an RFC 3339
// timestamp or a YYYY-MM-DD day); keys the schema lacks are kept as given.
// Resend documents no required keys, so a missing one is allowed.
func CheckPayload(schema map[string]string, payload map[string]any) error {
	for k, typ := range schema {
		v, ok := payload[k]
		if !ok || v == nil {
			continue
		}
		good := false
		switch typ {
		case "string":
			_, good = v.(string)
		case "number":
			_, good = v.(float64)
		case "boolean":
			_, good = v.(bool)
		case "date":
			if s, isString := v.(string); isString {
				for _, l := range dateLayouts {
					if _, err := time.Parse(l, s); err == nil {
						good = true
						break
					}
				}
			}
		}
		if !good {
			return fmt.Errorf("the payload's `%s` must be a %s, as the event's schema says", k, typ)
		}
	}
	return nil
}

var durationRe = regexp.MustCompile(`^\s*(\d+)\s*([a-zA-Z]+)\s*$`)

var durationUnits = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	"w": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour, "weeks": 7 * 24 * time.Hour,
}

// ParseDuration reads a human-readable duration ("30 minutes", "2 days",
// "1 hour", "45s"): a whole number and a unit (seconds to weeks), more than
// zero and at most MaxWait.
func ParseDuration(s string) (time.Duration, error) {
	m := durationRe.FindStringSubmatch(s)
	if m == nil {
		return 0, errors.New("must be a number and a unit, such as \"30 minutes\" or \"2 days\"")
	}
	unit, ok := durationUnits[strings.ToLower(m[2])]
	if !ok {
		return 0, fmt.Errorf("has an unknown unit `%s`: use seconds, minutes, hours, days or weeks", m[2])
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n <= 0 || n > int64(MaxWait/unit) {
		return 0, fmt.Errorf("must be more than zero and at most %d days", int(MaxWait/(24*time.Hour)))
	}
	return time.Duration(n) * unit, nil
}

// Rule is a condition: a rule on one field, or the and/or of rules.
type Rule struct {
	Type     string          `json:"type"`
	Field    string          `json:"field,omitempty"`
	Operator string          `json:"operator,omitempty"`
	Value    json.RawMessage `json:"value,omitempty"`
	Rules    []Rule          `json:"rules,omitempty"`
}

// maxRuleDepth bounds the nesting of and/or.
const maxRuleDepth = 10

var operators = []string{"eq", "neq", "gt", "gte", "lt", "lte", "contains", "starts_with", "ends_with", "exists", "is_empty"}

func (r *Rule) validate(depth int) error {
	if depth > maxRuleDepth {
		return fmt.Errorf("conditions nest at most %d deep", maxRuleDepth)
	}
	switch r.Type {
	case "and", "or":
		if len(r.Rules) == 0 {
			return fmt.Errorf("an `%s` condition needs `rules`", r.Type)
		}
		for i := range r.Rules {
			if err := r.Rules[i].validate(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case "rule":
	default:
		return errors.New("a condition's `type` is `rule`, `and` or `or`")
	}
	if !strings.HasPrefix(r.Field, "event.") && !strings.HasPrefix(r.Field, "contact.") || len(r.Field) < 7 {
		return fmt.Errorf("the `field` must start with `event.` or `contact.` (got `%s`)", r.Field)
	}
	if !slices.Contains(operators, r.Operator) {
		return fmt.Errorf("unknown operator `%s`", r.Operator)
	}
	var v any
	if len(r.Value) > 0 {
		if err := json.Unmarshal(r.Value, &v); err != nil {
			return errors.New("the `value` must be a string, number, boolean or null")
		}
	}
	switch r.Operator {
	case "gt", "gte", "lt", "lte":
		if _, ok := v.(float64); !ok {
			return fmt.Errorf("the `%s` operator compares with a number `value`", r.Operator)
		}
	case "contains", "starts_with", "ends_with":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("the `%s` operator compares with a string `value`", r.Operator)
		}
	case "eq", "neq":
		switch v.(type) {
		case nil, string, float64, bool:
		default:
			return errors.New("the `value` must be a string, number, boolean or null")
		}
	}
	return nil
}

// Facts are what a condition reads: the contact's fields and properties
// and the event's payload.
type Facts struct {
	Contact map[string]any
	Event   map[string]any
}

// Lookup returns a field's value ("event.x", "contact.email",
// "contact.properties.x" or "contact.x" for a property) and whether it is
// there.
func (f Facts) Lookup(field string) (any, bool) {
	if k, ok := strings.CutPrefix(field, "event."); ok {
		v, ok := f.Event[k]
		return v, ok
	}
	k, _ := strings.CutPrefix(field, "contact.")
	if p, ok := strings.CutPrefix(k, "properties."); ok {
		props, _ := f.Contact["properties"].(map[string]any)
		v, ok := props[p]
		return v, ok
	}
	if v, ok := f.Contact[k]; ok {
		return v, true
	}
	props, _ := f.Contact["properties"].(map[string]any)
	v, ok := props[k]
	return v, ok
}

// Eval evaluates the rule (validated by Parse) against f.
func (r *Rule) Eval(f Facts) bool {
	switch r.Type {
	case "and":
		for i := range r.Rules {
			if !r.Rules[i].Eval(f) {
				return false
			}
		}
		return true
	case "or":
		for i := range r.Rules {
			if r.Rules[i].Eval(f) {
				return true
			}
		}
		return false
	}
	got, present := f.Lookup(r.Field)
	var want any
	_ = json.Unmarshal(r.Value, &want)
	switch r.Operator {
	case "exists":
		return present && got != nil
	case "is_empty":
		return !present || got == nil || got == ""
	case "eq":
		return equal(got, want)
	case "neq":
		return !equal(got, want)
	case "gt", "gte", "lt", "lte":
		a, ok1 := number(got)
		b, ok2 := number(want)
		if !ok1 || !ok2 {
			return false
		}
		switch r.Operator {
		case "gt":
			return a > b
		case "gte":
			return a >= b
		case "lt":
			return a < b
		}
		return a <= b
	}
	s, ok1 := got.(string)
	w, ok2 := want.(string)
	if !ok1 || !ok2 {
		return false
	}
	switch r.Operator {
	case "contains":
		return strings.Contains(s, w)
	case "starts_with":
		return strings.HasPrefix(s, w)
	}
	return strings.HasSuffix(s, w)
}

// equal compares JSON values; a number property stored as a string (the
// contact store keeps strings and numbers) equals the same number.
func equal(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if x, ok := number(a); ok {
		if y, ok := number(b); ok {
			return x == y
		}
	}
	return a == b
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x)
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil && !math.IsNaN(f)
	}
	return 0, false
}
