package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

func newRequestLog(teamID string, at time.Time) *store.RequestLog {
	return &store.RequestLog{ID: store.NewID(), TeamID: teamID, APIKeyID: store.NewID(), RequestID: "req1", Method: "POST",
		Endpoint: "/emails", Status: 200, UserAgent: "resend-node:6.38.0", Duration: 1500 * time.Microsecond,
		RequestBody: json.RawMessage(`{"to":"a@example.net"}`), ResponseBody: json.RawMessage(`{"id":"x"}`), CreatedAt: at}
}

func logIDs(list []*store.RequestLog) []string {
	out := make([]string, len(list))
	for i, l := range list {
		out[i] = l.ID
	}
	return out
}

func testRequestLogs(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	s := newStore(t, func() time.Time { return t0 })
	a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
	var logs []*store.RequestLog
	for i := range 5 {
		logs = append(logs, newRequestLog(a.ID, t0.Add(time.Duration(i)*time.Hour)))
	}
	logs[4].UserAgent, logs[4].RequestBody, logs[4].ResponseBody = "", nil, nil
	// Large bodies are stored compressed on SQLite (and come back whole),
	// including one side large and the other absent.
	large := json.RawMessage(`{"html":"` + strings.Repeat("<p>lorem ipsum</p>", 500) + `"}`)
	logs[2].RequestBody, logs[2].ResponseBody = large, nil
	other := newRequestLog(b.ID, t0)
	require.NoError(t, s.AddRequestLogs(ctx, append(logs, other)))
	require.NoError(t, s.AddRequestLogs(ctx, nil))

	got, err := s.GetRequestLog(ctx, a.ID, logs[0].ID)
	require.NoError(t, err)
	require.Equal(t, logs[0].Endpoint, got.Endpoint)
	require.Equal(t, 200, got.Status)
	require.Equal(t, 1500*time.Microsecond, got.Duration)
	require.Equal(t, "resend-node:6.38.0", got.UserAgent)
	require.JSONEq(t, `{"to":"a@example.net"}`, string(got.RequestBody))
	require.JSONEq(t, `{"id":"x"}`, string(got.ResponseBody))
	require.True(t, got.CreatedAt.Equal(t0))
	got, err = s.GetRequestLog(ctx, a.ID, logs[2].ID)
	require.NoError(t, err)
	require.Equal(t, string(large), string(got.RequestBody))
	require.Nil(t, got.ResponseBody)
	got, err = s.GetRequestLog(ctx, a.ID, logs[4].ID)
	require.NoError(t, err)
	require.Empty(t, got.UserAgent)
	require.Nil(t, got.RequestBody)
	require.Nil(t, got.ResponseBody)
	_, err = s.GetRequestLog(ctx, b.ID, logs[0].ID)
	require.True(t, errors.Is(err, store.ErrNotFound), "another team's log: %v", err)

	// Newest first (in the order written), paginated, without bodies.
	page, more, err := s.ListRequestLogs(ctx, a.ID, store.Page{Limit: 2})
	require.NoError(t, err)
	require.True(t, more)
	require.Equal(t, []string{logs[4].ID, logs[3].ID}, logIDs(page))
	require.Nil(t, page[1].RequestBody)
	page, more, err = s.ListRequestLogs(ctx, a.ID, store.Page{Limit: 2, After: logs[1].ID})
	require.NoError(t, err)
	require.False(t, more)
	require.Equal(t, []string{logs[0].ID}, logIDs(page))
	page, more, err = s.ListRequestLogs(ctx, a.ID, store.Page{Limit: 2, Before: logs[1].ID})
	require.NoError(t, err)
	require.True(t, more)
	require.Equal(t, []string{logs[3].ID, logs[2].ID}, logIDs(page))
	_, _, err = s.ListRequestLogs(ctx, b.ID, store.Page{Limit: 2, After: logs[1].ID})
	require.True(t, errors.Is(err, store.ErrNotFound), "another team's cursor: %v", err)
	page, _, err = s.ListRequestLogs(ctx, b.ID, store.Page{})
	require.NoError(t, err)
	require.Equal(t, []string{other.ID}, logIDs(page))

	// The retention sweep removes the oldest first, up to its limit, of every team.
	n, err := s.DeleteRequestLogsBefore(ctx, t0.Add(2*time.Hour), 2)
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	n, err = s.DeleteRequestLogsBefore(ctx, t0.Add(2*time.Hour), 100)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	page, _, err = s.ListRequestLogs(ctx, a.ID, store.Page{})
	require.NoError(t, err)
	require.Equal(t, []string{logs[4].ID, logs[3].ID, logs[2].ID}, logIDs(page))
	page, _, err = s.ListRequestLogs(ctx, b.ID, store.Page{})
	require.NoError(t, err)
	require.Empty(t, page)
	// The logs the sweep left keep their bodies (their segments stay).
	got, err = s.GetRequestLog(ctx, a.ID, logs[3].ID)
	require.NoError(t, err)
	require.JSONEq(t, `{"to":"a@example.net"}`, string(got.RequestBody))
	got, err = s.GetRequestLog(ctx, a.ID, logs[2].ID)
	require.NoError(t, err)
	require.Equal(t, string(large), string(got.RequestBody))
}

// testRequestLogSegments: one batch whose bodies fill more than one
// segment, two teams interleaved, bodies of every shape; each log reads
// back exactly its own bodies.
func testRequestLogSegments(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	s := newStore(t, func() time.Time { return t0 })
	a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
	var logs []*store.RequestLog
	for i := range 90 { // 90 × ~60 KB: more than one 4 MiB segment per team
		team := a.ID
		if i%3 == 0 {
			team = b.ID
		}
		l := newRequestLog(team, t0.Add(time.Duration(i)*time.Second))
		l.RequestBody = json.RawMessage(fmt.Sprintf(`{"i":%d,"html":"%s"}`, i, strings.Repeat(string(rune('a'+i%26)), 60_000)))
		switch i % 5 {
		case 1:
			l.ResponseBody = nil
		case 2:
			l.RequestBody = nil
		case 3:
			l.RequestBody, l.ResponseBody = nil, nil
		case 4:
			l.RequestBody = json.RawMessage(`{}`)
		}
		logs = append(logs, l)
	}
	require.NoError(t, s.AddRequestLogs(ctx, logs))
	for _, l := range logs {
		got, err := s.GetRequestLog(ctx, l.TeamID, l.ID)
		require.NoError(t, err)
		require.Equal(t, string(l.RequestBody), string(got.RequestBody), "log %s", l.ID)
		require.Equal(t, l.RequestBody == nil, got.RequestBody == nil)
		require.Equal(t, string(l.ResponseBody), string(got.ResponseBody), "log %s", l.ID)
		require.Equal(t, l.ResponseBody == nil, got.ResponseBody == nil)
		other := a.ID
		if l.TeamID == a.ID {
			other = b.ID
		}
		_, err = s.GetRequestLog(ctx, other, l.ID)
		require.True(t, errors.Is(err, store.ErrNotFound))
	}
	// Every log of the first half goes; the second half keeps its bodies.
	_, err := s.DeleteRequestLogsBefore(ctx, t0.Add(45*time.Second), 1000)
	require.NoError(t, err)
	for _, l := range logs[45:] {
		got, err := s.GetRequestLog(ctx, l.TeamID, l.ID)
		require.NoError(t, err)
		require.Equal(t, string(l.RequestBody), string(got.RequestBody))
	}
}
