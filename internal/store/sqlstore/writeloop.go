package sqlstore

import (
	"context"
	"database/sql"
	"time"
)

// writeLoop is SQLite's one committer of accepts and delivery outcomes.
// SQLite has one writing connection: two committers would only take turns
// on it, a transaction (and its fsync) each, and a node delivering what it
// accepts makes about as many outcomes as accepts. Here whatever of either
// kind waits when the connection is free goes into one transaction; the
// callers are answered after its commit, as with commitLoop and
// outcomeLoop. If the shared transaction fails, each kind is committed on
// its own (and each request alone after that, as commitGroup and
// commitOutcomeGroup do), so that one bad request fails only itself.
func (db *DB) writeLoop() {
	defer db.wg.Done()
	accepts, outcomes := db.accepts, db.outcomes
	ag := make([]*acceptReq, 0, db.maxGroup)
	og := make([]*outcomeReq, 0, maxGroupOutcomes)
	for accepts != nil || outcomes != nil {
		ag, og = ag[:0], og[:0]
		emails := 0
		select { // the first request of either kind
		case r, ok := <-accepts:
			if !ok {
				accepts = nil
				continue
			}
			ag = append(ag, r)
			emails += len(r.a.Emails)
		case r, ok := <-outcomes:
			if !ok {
				outcomes = nil
				continue
			}
			og = append(og, r)
		}
	gatherAccepts: // then whatever else waits, of both kinds
		for accepts != nil && len(ag) < db.maxGroup && emails < maxGroupEmails {
			select {
			case r, ok := <-accepts:
				if !ok {
					accepts = nil
					break gatherAccepts
				}
				ag = append(ag, r)
				emails += len(r.a.Emails)
			default:
				break gatherAccepts
			}
		}
	gatherOutcomes:
		for outcomes != nil && len(og) < maxGroupOutcomes {
			select {
			case r, ok := <-outcomes:
				if !ok {
					outcomes = nil
					break gatherOutcomes
				}
				og = append(og, r)
			default:
				break gatherOutcomes
			}
		}
		db.commitShared(ag, og)
		for _, r := range ag {
			close(r.done)
		}
		for _, r := range og {
			close(r.done)
		}
	}
}

// commitShared commits accepts and outcomes together when there are both,
// falling back to committing each kind on its own.
func (db *DB) commitShared(ag []*acceptReq, og []*outcomeReq) {
	switch {
	case len(og) == 0:
		db.commitGroup(ag, outcomeShard)
		return
	case len(ag) == 0:
		db.commitOutcomeGroup(og)
		return
	}
	if err := db.commitBoth(ag, og); err != nil {
		db.commitGroup(ag, outcomeShard)
		db.commitOutcomeGroup(og)
		return
	}
	for _, r := range og {
		r.err = nil
	}
	// The accepts' errors are those acceptTx gave (a key taken, a
	// broadcast's state), nil for the others.
}

// commitBoth writes ag's accepts and og's outcomes in one transaction.
func (db *DB) commitBoth(ag []*acceptReq, og []*outcomeReq) (err error) {
	if db.observe != nil {
		start := time.Now()
		defer func() {
			d := time.Since(start)
			emails := 0
			for _, r := range ag {
				emails += len(r.a.Emails)
			}
			db.observe(CommitStats{Kind: "accept", Duration: d, Requests: len(ag), Emails: emails, Failed: err != nil})
			db.observe(CommitStats{Kind: "outcomes", Duration: d, Requests: len(og), Failed: err != nil})
		}()
	}
	return db.writeTx("accept emails and record deliveries", outcomeShard, func(ctx context.Context, tx *sql.Tx, metrics metricsDeltas) error {
		if err := db.acceptTx(ctx, tx, metrics, ag); err != nil {
			return err
		}
		return db.outcomesTx(ctx, tx, metrics, og)
	})
}
