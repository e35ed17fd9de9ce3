package automation

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"30 minutes": 30 * time.Minute, "1 hour": time.Hour, "2 days": 48 * time.Hour, "45s": 45 * time.Second,
		" 1 Week ": 7 * 24 * time.Hour, "365 days": MaxWait, "3 hrs": 3 * time.Hour,
	} {
		got, err := ParseDuration(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "soon", "0 days", "-1 day", "1.5 hours", "2 fortnights", "366 days", "99999999999999999999 s", "1 day 2 hours"} {
		_, err := ParseDuration(in)
		require.Error(t, err, in)
	}
}

func TestSchemaAndPayload(t *testing.T) {
	t.Parallel()
	s, err := ParseSchema([]byte(`{"plan":"string","n":"number","ok":"boolean","at":"date"}`))
	require.NoError(t, err)
	require.NoError(t, CheckPayload(s, map[string]any{"plan": "pro", "n": 2.5, "ok": true, "at": "2026-12-03T10:00:00Z", "extra": []any{1}}))
	require.NoError(t, CheckPayload(s, map[string]any{}), "no key is required")
	require.ErrorContains(t, CheckPayload(s, map[string]any{"n": "2"}), "`n` must be a number")
	require.ErrorContains(t, CheckPayload(s, map[string]any{"at": "tomorrow"}), "`at` must be a date")
	none, err := ParseSchema([]byte(`null`))
	require.NoError(t, err)
	require.Nil(t, none)
	for _, bad := range []string{`{"a":"object"}`, `{"a":1}`, `[]`, `"x"`, `{"":"string"}`} {
		_, err := ParseSchema([]byte(bad))
		require.Error(t, err, bad)
	}
}

func TestRuleEval(t *testing.T) {
	t.Parallel()
	f := Facts{Contact: map[string]any{"email": "a@example.net", "first_name": "Ada", "properties": map[string]any{"tier": "pro", "score": "42"}},
		Event: map[string]any{"amount": 30.0, "plan": "gold", "empty": ""}}
	rule := func(s string) *Rule {
		var r Rule
		require.NoError(t, json.Unmarshal([]byte(s), &r))
		require.NoError(t, r.validate(0), s)
		return &r
	}
	for s, want := range map[string]bool{
		`{"type":"rule","field":"contact.tier","operator":"eq","value":"pro"}`:                                                                                                  true,
		`{"type":"rule","field":"contact.properties.tier","operator":"neq","value":"pro"}`:                                                                                      false,
		`{"type":"rule","field":"contact.score","operator":"gte","value":42}`:                                                                                                   true,
		`{"type":"rule","field":"event.amount","operator":"lt","value":10}`:                                                                                                     false,
		`{"type":"rule","field":"contact.email","operator":"ends_with","value":"@example.net"}`:                                                                                 true,
		`{"type":"rule","field":"event.plan","operator":"starts_with","value":"go"}`:                                                                                            true,
		`{"type":"rule","field":"event.plan","operator":"contains","value":"x"}`:                                                                                                false,
		`{"type":"rule","field":"event.missing","operator":"exists"}`:                                                                                                           false,
		`{"type":"rule","field":"event.empty","operator":"is_empty"}`:                                                                                                           true,
		`{"type":"rule","field":"contact.last_name","operator":"eq","value":null}`:                                                                                              true,
		`{"type":"and","rules":[{"type":"rule","field":"event.amount","operator":"gt","value":1},{"type":"rule","field":"contact.first_name","operator":"eq","value":"Ada"}]}`:  true,
		`{"type":"or","rules":[{"type":"rule","field":"event.amount","operator":"gt","value":100},{"type":"rule","field":"contact.first_name","operator":"eq","value":"Bob"}]}`: false,
	} {
		require.Equal(t, want, rule(s).Eval(f), s)
	}
}

// FuzzParse: any steps and connections either parse into a graph that
// passes Validate and survives Encode/Decode, or are an *Error (a 422),
// never a panic.
func FuzzParse(f *testing.F) {
	f.Add(`[{"key":"t","type":"trigger","config":{"event_name":"a"}},{"key":"d","type":"delay","config":{"duration":"1 day"}}]`,
		`[{"from":"t","to":"d"}]`)
	f.Add(`[{"key":"t","type":"trigger","config":{"event_name":"a"}},{"key":"w","type":"wait_for_event","config":{"event_name":"b","timeout":"1 hour","filter_rule":{"type":"and","rules":[{"type":"rule","field":"event.x","operator":"exists"}]}}},{"key":"c","type":"condition","config":{"type":"rule","field":"contact.x","operator":"eq","value":1}}]`,
		`[{"from":"t","to":"w"},{"from":"w","to":"c","type":"timeout"},{"from":"c","to":"w","type":"condition_met"}]`)
	f.Add(`[{"key":"t","type":"trigger","config":{"event_name":"a"}},{"key":"u","type":"contact_update","config":{"properties":{"a":{"var":"event.b"}}}}]`, `[{"from":"t","to":"u"},{"from":"u","to":"u"}]`)
	f.Add(`[]`, `null`)
	f.Add(`{}`, `[{}]`)
	f.Fuzz(func(t *testing.T, steps, conns string) {
		g, err := Parse([]byte(steps), []byte(conns))
		if err != nil {
			var ge *Error
			require.True(t, errors.As(err, &ge), "%T %v", err, err)
			require.NotEmpty(t, ge.Message)
			return
		}
		require.NoError(t, g.Validate())
		back, err := Decode(g.Encode())
		require.NoError(t, err)
		require.NoError(t, back.Validate())
		trig, _ := back.TriggerStep()
		require.NotNil(t, trig)
	})
}

// FuzzDurationAndSchema: the other parsers of untrusted input answer or
// refuse, never panic.
func FuzzDurationAndSchema(f *testing.F) {
	f.Add("2 days", `{"a":"string"}`, `{"a":"x"}`)
	f.Add("1 hr", `{"d":"date"}`, `{"d":"2026-01-01"}`)
	f.Add("x", `null`, `{}`)
	f.Fuzz(func(t *testing.T, d, schema, payload string) {
		if v, err := ParseDuration(d); err == nil {
			require.True(t, v > 0 && v <= MaxWait)
		}
		s, err := ParseSchema([]byte(schema))
		if err != nil {
			return
		}
		var p map[string]any
		if json.Unmarshal([]byte(payload), &p) == nil {
			_ = CheckPayload(s, p)
		}
	})
}
