package queue

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
)

// TestQuietLoggerDemotesInfo: River's INFO lines are DEBUG in Godwit's
// log; its warnings and errors are kept.
func TestQuietLoggerDemotesInfo(t *testing.T) {
	t.Parallel()
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		buf := &godwittest.LogBuffer{}
		log := quietLogger(slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: level})))
		log.Info("River client started", "client_id", "x")
		log.With("component", "producer").Warn("river trouble")
		log.Error("river failure")
		started := buf.Records(t, "River client started")
		if level == slog.LevelInfo {
			require.Empty(t, started, "an INFO line of River's at --log-level info")
		} else {
			require.Len(t, started, 1)
			require.Equal(t, "DEBUG", started[0]["level"])
		}
		warn := buf.Records(t, "river trouble")
		require.Len(t, warn, 1)
		require.Equal(t, "WARN", warn[0]["level"])
		require.Equal(t, "producer", warn[0]["component"])
		require.Len(t, buf.Records(t, "river failure"), 1)
	}
}
