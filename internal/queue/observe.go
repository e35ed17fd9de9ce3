package queue

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"github.com/godwit/godwit/internal/metrics"
)

// queues are the River queues Godwit runs.
var queues = []string{deliverQueue, webhookQueue, broadcastQueue, contactImportQueue}

// Stats reports, per queue, the jobs available (due, waiting for a worker)
// and running, and how long the oldest available job has been due: two
// indexed queries per queue family, cheap enough for each scrape.
func (q *Queue) Stats(ctx context.Context) (metrics.QueueStats, error) {
	s := metrics.QueueStats{Jobs: map[string]map[string]int{}, OldestDue: map[string]time.Duration{}}
	counts, err := q.client.Driver().GetExecutor().JobCountByQueueAndState(ctx,
		&riverdriver.JobCountByQueueAndStateParams{QueueNames: queues})
	if err != nil {
		return s, fmt.Errorf("queue stats: %w", err)
	}
	for _, c := range counts {
		s.Jobs[c.Queue] = map[string]int{"available": int(c.CountAvailable), "running": int(c.CountRunning)}
	}
	now := time.Now()
	for _, name := range queues {
		s.OldestDue[name] = 0
		if s.Jobs[name]["available"] == 0 {
			continue
		}
		res, err := q.client.JobList(ctx, river.NewJobListParams().Queues(name).States(rivertype.JobStateAvailable).
			OrderBy(river.JobListOrderByScheduledAt, river.SortOrderAsc).First(1))
		if err != nil {
			return s, fmt.Errorf("queue stats: oldest %s job: %w", name, err)
		}
		if len(res.Jobs) > 0 {
			s.OldestDue[name] = max(now.Sub(res.Jobs[0].ScheduledAt), 0)
		}
	}
	return s, nil
}

// quietLogger is River's logger: its routine INFO lines (client started,
// queues polled, …) become DEBUG, so that Godwit's INFO tells the story of
// emails; its warnings and errors stay as they are.
func quietLogger(l *slog.Logger) *slog.Logger {
	return slog.New(&quietHandler{h: l.Handler()})
}

type quietHandler struct{ h slog.Handler }

func demote(l slog.Level) slog.Level {
	if l == slog.LevelInfo {
		return slog.LevelDebug
	}
	return l
}

func (q *quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return q.h.Enabled(ctx, demote(l))
}

func (q *quietHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = demote(r.Level)
	return q.h.Handle(ctx, r)
}

func (q *quietHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &quietHandler{h: q.h.WithAttrs(attrs)}
}

func (q *quietHandler) WithGroup(name string) slog.Handler {
	return &quietHandler{h: q.h.WithGroup(name)}
}
