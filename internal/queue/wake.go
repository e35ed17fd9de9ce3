package queue

import (
	"context"
	"sync/atomic"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivershared/baseservice"
	"github.com/riverqueue/river/rivershared/riverpilot"
	"github.com/riverqueue/river/rivertype"
)

// On SQLite River cannot listen for inserts: its workers poll. A job the
// store commits through the outbox would wait up to a poll interval (and
// River adds up to 10 ms of jitter) before a worker of the very node that
// committed it looks for it: most of the accept → first attempt latency of
// an idle server. River has a hook for this case: the pilot receives, at
// NewClient, the function River's own non-transactional inserts call after
// their commit to wake the local producers (PilotInitParams.
// NotifyNonTxJobInsert, "used in special cases like poll-only clients").
// wakingDriver is River's SQLite driver with a pilot that keeps that
// function, and the store calls it (Outbox.JobsCommitted) after each commit
// that enqueued jobs to run at once. The wake-up only makes a fetch happen
// sooner: the fetch reads what is committed, and polling stays the backstop.

// wakingDriver is riversqlite's driver with wakePilot as River's pilot.
type wakingDriver struct {
	*riversqlite.Driver
	pilot *wakePilot
}

// SupportsListener reports false: River on SQLite runs poll-only here
// (one process serves a database file), and River wakes local producers
// through NotifyNonTxJobInsert only for a driver without a listener.
func (d *wakingDriver) SupportsListener() bool { return false }

// SupportsListenNotify reports false, so that River does not write a
// notification row into SQLite (river's notification table) with the
// inserts of every group commit: nothing listens to them in poll-only mode.
func (d *wakingDriver) SupportsListenNotify() bool { return false }

// PluginInit implements River's driver plugin interface (nothing to do).
func (d *wakingDriver) PluginInit(*baseservice.Archetype) {}

// PluginPilot implements River's driver plugin interface.
func (d *wakingDriver) PluginPilot() riverpilot.Pilot { return d.pilot }

// wakePilot is River's standard pilot, keeping the client's wake-up function.
type wakePilot struct {
	riverpilot.StandardPilot
	notify atomic.Pointer[func(context.Context, []*rivertype.JobInsertResult)]
}

// PilotInit implements riverpilot.Pilot.
func (p *wakePilot) PilotInit(a *baseservice.Archetype, params *riverpilot.PilotInitParams) {
	p.StandardPilot.PilotInit(a, params)
	if f := params.NotifyNonTxJobInsert; f != nil {
		p.notify.Store(&f)
	}
}

// What wake passes to River: one result per queue to wake (River reads only
// the job's queue).
var (
	wakeDeliver = []*rivertype.JobInsertResult{{Job: &rivertype.JobRow{Queue: deliverQueue}}}
	wakeWebhook = []*rivertype.JobInsertResult{{Job: &rivertype.JobRow{Queue: webhookQueue}}}
	wakeBoth    = append(append([]*rivertype.JobInsertResult(nil), wakeDeliver...), wakeWebhook...)
	wakeByKind  = [2][2][]*rivertype.JobInsertResult{{nil, wakeWebhook}, {wakeDeliver, wakeBoth}}
)

// wake makes this node's idle delivery and/or webhook workers fetch now.
// It does not block (River debounces fetches by FetchCooldown). Only the
// queues named are woken: each fetch is a write on SQLite.
func (p *wakePilot) wake(deliveries, webhooks bool) {
	res := wakeByKind[b2i(deliveries)][b2i(webhooks)]
	if f := p.notify.Load(); f != nil && res != nil {
		(*f)(context.Background(), res)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
