package dashboard

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

func TestAgo(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                     "less than a second",
		400 * time.Millisecond:                "less than a second",
		time.Second:                           "1 second",
		42*time.Second + 600*time.Millisecond: "43 seconds",
		59*time.Second + 600*time.Millisecond: "1 minute",
		5*time.Minute + 20*time.Second:        "5 minutes",
		24*time.Hour - time.Second:            "24 hours",
		47 * time.Hour:                        "47 hours",
		48 * time.Hour:                        "2 days",
		10*24*time.Hour + time.Hour:           "10 days",
	} {
		require.Equal(t, want, ago(d), "%v", d)
	}
}

func TestAnswerView(t *testing.T) {
	at := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	now := at.Add(90 * time.Second)
	for _, tc := range []struct {
		check store.RecordCheck
		note  string
		fail  bool
	}{
		{store.RecordCheck{Answer: []string{"10 mx.example.net"}, CheckedAt: at}, "", false},
		{store.RecordCheck{Error: "NXDOMAIN", CheckedAt: at}, "NXDOMAIN: the name send.example.com does not exist.", false},
		{store.RecordCheck{CheckedAt: at}, "No MX record at send.example.com.", false},
		{store.RecordCheck{Error: "SERVFAIL", CheckedAt: at}, "The lookup failed (SERVFAIL); the record is checked again soon.", true},
	} {
		a := newAnswerView(tc.check, "MX", "send.example.com", now)
		require.Equal(t, tc.note, a.Note)
		require.Equal(t, tc.fail, a.Failed)
		require.Equal(t, tc.check.Answer, a.Values)
		require.Equal(t, "2 minutes", a.Ago)
	}
}
