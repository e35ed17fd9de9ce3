package domains

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/panics"
	"github.com/godwit/godwit/internal/store"
)

// Verification timing.
const (
	// FailAfter is how long records may stay missing before a domain fails.
	FailAfter = 72 * time.Hour
	// Recheck is how often a verified domain's records are checked again.
	Recheck = 24 * time.Hour
)

// backoff is the wait before the next check of records that are not (or no
// longer) published, growing with the time since the checks began.
func backoff(since time.Duration) time.Duration {
	switch {
	case since < 10*time.Minute:
		return time.Minute
	case since < time.Hour:
		return 5 * time.Minute
	case since < 6*time.Hour:
		return 15 * time.Minute
	default:
		return time.Hour
	}
}

// retryAfterError is the wait after a lookup failed (not a missing record).
const retryAfterError = time.Minute

// ReasonRecordsMissing is the failure reason of a domain whose records
// stayed missing for FailAfter.
const ReasonRecordsMissing = "The required DNS records were not found within 72 hours."

// ReasonTaken is the failure reason of a team's copy of a name that another
// team verified first.
func ReasonTaken(name string) string {
	return "Another team verified the `" + name + "` domain first."
}

// Lose makes d a copy that lost its name to another team's verified copy:
// failed with ReasonTaken, its records that were not verified failed, and
// no further checks. A new verify request starts it again.
func Lose(d *store.Domain, now time.Time) {
	d.Status, d.FailureReason = store.DomainFailed, ReasonTaken(d.Name)
	for kind, st := range d.RecordStatus {
		if st != store.DomainVerified {
			d.RecordStatus[kind] = store.DomainFailed
		}
	}
	d.VerifyStartedAt, d.NextCheckAt, d.UpdatedAt = nil, nil, now
}

// DomainStore is what the verifier needs of the store.
type DomainStore interface {
	DomainsDue(ctx context.Context, now time.Time, limit int) ([]*store.Domain, error)
	UpdateDomain(ctx context.Context, d *store.Domain, events ...*store.Event) error
	VerifyDomain(ctx context.Context, d *store.Domain, lose func(*store.Domain) (*store.Event, error), events ...*store.Event) ([]*store.Domain, error)
	HeldDomain(ctx context.Context, name string) (*store.Domain, error)
}

// RecordChecker looks one expected record up and says what DNS answered
// (dnscheck.Resolver).
type RecordChecker interface {
	CheckAnswer(ctx context.Context, e dnscheck.Expected) (dnscheck.Status, dnscheck.Answer, error)
}

// Verifier checks the records of domains that are due, and moves their
// status: pending → verified, or failed after FailAfter of misses; verified
// → temporary_failure when a required record disappears, and back to
// verified when it returns (failed if it stays away FailAfter). A lookup
// error never counts as a miss: the domain is simply checked again soon.
//
// Several teams may hold copies of one name; the first copy to be verified
// wins it (store.VerifyDomain, race-safe on both databases) and every other
// team's copy fails with ReasonTaken in the same transaction. A copy found
// due while another team holds the name fails the same way, unchecked.
type Verifier struct {
	Store DomainStore
	// Claims, when set, has the domain claims checked with the domains
	// (claims.go); nil: claims wait.
	Claims   ClaimStore
	Settings Settings
	DNS      RecordChecker
	// ReverseDNS, when set, looks up the reverse DNS of the sending IPs a
	// sending domain uses at each of its checks
	// (deliverability.LookupReverseDNS); its answers are kept with the
	// record checks, for the domain's readiness. It never changes the
	// domain's status.
	ReverseDNS func(ctx context.Context, d *store.Domain, now time.Time) map[string]store.RecordCheck
	Now        func() time.Time
	Logger     *slog.Logger
	// Interval is how often Start's loop looks for due domains (each
	// domain has its own schedule).
	Interval time.Duration
	// Metrics counts checks by result (nil: not counted).
	Metrics *metrics.Metrics
	// OnOneNode, when set, runs the periodic checks on one node of
	// several at a time (the leader of "domain verification"); wakes are
	// still served on every node. Nil: this process runs them.
	OnOneNode func(ctx context.Context, work func(context.Context))

	wakeOnce sync.Once
	wake     chan struct{}
	cancel   context.CancelFunc
	done     chan struct{}
}

func (v *Verifier) wakeCh() chan struct{} {
	v.wakeOnce.Do(func() { v.wake = make(chan struct{}, 1) })
	return v.wake
}

// Wake makes Run check the due domains now instead of at its next tick
// (POST /domains/{id}/verify calls it). It never blocks.
func (v *Verifier) Wake() {
	select {
	case v.wakeCh() <- struct{}{}:
	default:
	}
}

// RunOnce checks every domain due now and returns how many it checked.
func (v *Verifier) RunOnce(ctx context.Context) (int, error) {
	now := v.Now().UTC()
	checked, err := v.checkClaims(ctx, now)
	if err != nil {
		return checked, err
	}
	for {
		due, err := v.Store.DomainsDue(ctx, now, 50)
		if err != nil {
			return checked, fmt.Errorf("domains due: %w", err)
		}
		batch := checked
		for _, d := range due {
			// DNS answers are untrusted input: a panic while checking one
			// domain is logged and the others are still checked.
			from := d.Status
			lookupErr := false
			err := panics.Catch(func() (err error) { lookupErr, err = v.check(ctx, d, now); return err })
			var p *panics.Error
			if errors.As(err, &p) {
				v.Logger.Error("domain check panicked; the domain is checked again at its next turn",
					append([]any{slog.String("domain_id", d.ID), slog.String("domain", d.Name)}, p.LogAttrs()...)...)
				continue
			}
			if err != nil {
				return checked, err
			}
			v.checked(d, from, lookupErr)
			checked++
		}
		if len(due) < 50 || checked == batch {
			return checked, nil // the last page, or one of only panicking domains
		}
	}
}

// Run checks due domains every interval, and at once when woken, until
// ctx ends.
func (v *Verifier) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		v.runOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-v.wakeCh():
		}
	}
}

// runWakes checks the due domains at every Wake until ctx ends.
func (v *Verifier) runWakes(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-v.wakeCh():
			v.runOnce(ctx)
		}
	}
}

func (v *Verifier) runOnce(ctx context.Context) {
	if _, err := v.RunOnce(ctx); err != nil && ctx.Err() == nil {
		v.Logger.Warn("domain verification failed", slog.String("error", err.Error()))
	}
}

// Start runs the verifier until Stop: with OnOneNode nil, Run with
// Interval; otherwise the periodic checks through OnOneNode (one node of
// several at a time) and, on this node, a check at every Wake, so that
// POST /domains/{id}/verify is answered by the node it reached.
func (v *Verifier) Start(ctx context.Context) error {
	if v.Interval <= 0 {
		return errors.New("domains: the verifier needs a positive Interval")
	}
	ctx, v.cancel = context.WithCancel(ctx)
	v.done = make(chan struct{})
	if v.OnOneNode == nil {
		go func() {
			defer close(v.done)
			v.Run(ctx, v.Interval)
		}()
		return nil
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		v.OnOneNode(ctx, func(ctx context.Context) { v.Run(ctx, v.Interval) })
	}()
	go func() {
		defer wg.Done()
		v.runWakes(ctx)
	}()
	go func() {
		wg.Wait()
		close(v.done)
	}()
	return nil
}

// Stop ends Start's loop, cutting a check in progress short, and waits for
// it until ctx ends.
func (v *Verifier) Stop(ctx context.Context) error {
	v.cancel()
	select {
	case <-v.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("domains: verifier did not stop: %w", ctx.Err())
	}
}

func (v *Verifier) check(ctx context.Context, d *store.Domain, now time.Time) (lookupErr bool, err error) {
	recs, err := v.Settings.Records(d)
	if err != nil {
		return false, err
	}
	before := stateOf(d)
	wasHeld := store.DomainHeld(d.Status)
	if !wasHeld {
		holder, err := v.Store.HeldDomain(ctx, d.Name)
		switch {
		case err == nil && holder.ID != d.ID:
			Lose(d, now)
			v.logLost(d, holder.TeamID)
			return false, v.save(ctx, d, before, now)
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return false, fmt.Errorf("domain holder: %w", err)
		}
	}
	lookupFailed := false
	if d.RecordStatus == nil {
		d.RecordStatus = map[string]string{}
	}
	// wasUp: the records that were verified before this check (verified,
	// or verified and being re-checked) on a domain that holds its name;
	// one of them missing now is a temporary failure, a record never
	// verified is simply pending.
	wasUp := map[string]bool{}
	for kind, st := range d.RecordStatus {
		wasUp[kind] = wasHeld && (st == store.DomainVerified || st == store.DomainTemporaryFailure)
	}
	lost := false
	// What DNS answered for each record is stored with the statuses; the
	// checks of records the domain no longer has are dropped.
	checks := make(map[string]store.RecordCheck, len(recs))
	for _, rec := range recs {
		st, ans, err := v.DNS.CheckAnswer(ctx, dnscheck.Expected{Type: rec.Type, Name: rec.FQDN(d.Name), Value: rec.Value, Priority: uint16(rec.Priority)})
		checks[rec.Kind] = store.RecordCheck{Answer: ans.Values, Omitted: ans.Omitted, Error: ans.Error, CheckedAt: now}
		if err != nil {
			v.Logger.Info("dns lookup failed; will retry", slog.String("domain", d.Name), slog.String("record", rec.FQDN(d.Name)),
				slog.String("error", err.Error()))
			if !rec.Optional {
				lookupFailed = true
			}
			continue
		}
		switch {
		case st == dnscheck.Verified:
			d.RecordStatus[rec.Kind] = store.DomainVerified
		case wasUp[rec.Kind]:
			d.RecordStatus[rec.Kind] = store.DomainTemporaryFailure
			lost = lost || !rec.Optional
		case d.Status == store.DomainPartiallyFailed && d.RecordStatus[rec.Kind] == store.DomainFailed:
			// Re-checked with the capability that works; failed until it appears.
		default:
			d.RecordStatus[rec.Kind] = store.DomainPending
		}
	}

	if v.ReverseDNS != nil && Capable(d, Sending) {
		maps.Copy(checks, v.ReverseDNS(ctx, d, now))
	}
	d.RecordChecks = checks

	// Each enabled capability is up when every record it needs is verified.
	allUp, anyUp := true, false
	for _, c := range []string{Sending, Receiving} {
		if !Capable(d, c) {
			continue
		}
		up := true
		for _, k := range d.RequiredRecords(c) {
			up = up && d.RecordStatus[k] == store.DomainVerified
		}
		allUp, anyUp = allUp && up, anyUp || up
	}

	started := now
	if d.VerifyStartedAt != nil {
		started = *d.VerifyStartedAt
	}
	expired := now.Sub(started) >= FailAfter
	next := now
	switch {
	case lookupFailed:
		lookupErr = true
		next = now.Add(retryAfterError)
	case allUp:
		d.Status, d.VerifyStartedAt, d.FailureReason = store.DomainVerified, nil, ""
		next = now.Add(Recheck)
		if !wasHeld {
			d.NextCheckAt, d.UpdatedAt = &next, now
			return false, v.win(ctx, d, before, now)
		}
	case lost && d.Status != store.DomainTemporaryFailure:
		// A record that was verified disappeared: the failure window
		// starts now, and the domain goes on working meanwhile.
		d.Status, d.VerifyStartedAt = store.DomainTemporaryFailure, &now
		next = now.Add(backoff(0))
	case (lost || !anyUp) && expired:
		d.FailureReason = ReasonRecordsMissing
		failRecords(d)
		if !anyUp {
			d.Status = store.DomainFailed
			d.NextCheckAt, d.UpdatedAt = nil, now
			return false, v.save(ctx, d, before, now)
		}
		// One capability still works: it is re-checked as a verified
		// domain is, and the other's records stay failed until they appear.
		d.Status, d.VerifyStartedAt = store.DomainPartiallyFailed, nil
		next = now.Add(Recheck)
	case lost:
		next = now.Add(backoff(now.Sub(started)))
	case anyUp:
		// One capability's records are verified, the other's are not.
		next = now.Add(Recheck)
		switch {
		case d.Status == store.DomainPartiallyFailed:
		case expired:
			d.Status, d.VerifyStartedAt, d.FailureReason = store.DomainPartiallyFailed, nil, ReasonRecordsMissing
			failRecords(d)
		default:
			d.Status = store.DomainPartiallyVerified
			next = now.Add(backoff(now.Sub(started)))
		}
		if !wasHeld {
			d.NextCheckAt, d.UpdatedAt = &next, now
			return false, v.win(ctx, d, before, now)
		}
	case expired:
		d.Status, d.FailureReason = store.DomainFailed, ReasonRecordsMissing
		failRecords(d)
		d.NextCheckAt, d.UpdatedAt = nil, now
		return false, v.save(ctx, d, before, now)
	default:
		next = now.Add(backoff(now.Sub(started)))
	}
	d.NextCheckAt, d.UpdatedAt = &next, now
	return lookupErr, v.save(ctx, d, before, now)
}

// failRecords marks every record of d that is not verified failed.
func failRecords(d *store.Domain) {
	for kind, st := range d.RecordStatus {
		if st != store.DomainVerified {
			d.RecordStatus[kind] = store.DomainFailed
		}
	}
}

// win stores d, just verified, and fails the other teams' copies of its
// name; if another team's copy won first, d fails instead.
func (v *Verifier) win(ctx context.Context, d *store.Domain, before string, now time.Time) error {
	ev, err := v.Settings.Event(events.DomainUpdated, d, now)
	if err != nil {
		return err
	}
	lost, err := v.Store.VerifyDomain(ctx, d, func(c *store.Domain) (*store.Event, error) {
		Lose(c, now)
		return v.Settings.Event(events.DomainUpdated, c, now)
	}, ev)
	switch {
	case errors.Is(err, store.ErrConflict):
		holder, herr := v.Store.HeldDomain(ctx, d.Name)
		winner := ""
		if herr == nil {
			winner = holder.TeamID
		}
		Lose(d, now)
		v.logLost(d, winner)
		return v.save(ctx, d, before, now)
	case errors.Is(err, store.ErrNotFound):
		return nil // deleted while it was being checked
	case err != nil:
		return fmt.Errorf("save domain %s: %w", d.Name, err)
	}
	for _, c := range lost {
		v.logLost(c, d.TeamID)
	}
	return nil
}

// checked counts a domain's check and logs a change of its status (a
// copy that lost its name is logged by logLost).
func (v *Verifier) checked(d *store.Domain, from string, lookupErr bool) {
	if lookupErr {
		v.Metrics.DomainCheck("lookup_error")
	} else {
		v.Metrics.DomainCheck(d.Status)
	}
	if d.Status == from || d.FailureReason == ReasonTaken(d.Name) {
		return
	}
	attrs := []any{slog.String("domain", d.Name), slog.String("domain_id", d.ID), slog.String("team_id", d.TeamID),
		slog.String("from", from), slog.String("to", d.Status)}
	if d.FailureReason != "" && d.Status == store.DomainFailed {
		attrs = append(attrs, slog.String("reason", d.FailureReason))
	}
	v.Logger.Info("domain status changed", attrs...)
}

// logLost records that d lost its name to the team winner.
func (v *Verifier) logLost(d *store.Domain, winner string) {
	v.Logger.Info("domain failed: another team verified it first", slog.String("domain", d.Name),
		slog.String("domain_id", d.ID), slog.String("team_id", d.TeamID), slog.String("winner_team_id", winner))
}

// stateOf is what a domain.updated event reports: the statuses.
func stateOf(d *store.Domain) string {
	b, _ := json.Marshal([]any{d.Status, d.RecordStatus})
	return string(b)
}

// save stores the check's outcome, with a domain.updated event when a
// status changed.
func (v *Verifier) save(ctx context.Context, d *store.Domain, before string, now time.Time) error {
	var evs []*store.Event
	if stateOf(d) != before {
		ev, err := v.Settings.Event(events.DomainUpdated, d, now)
		if err != nil {
			return err
		}
		evs = append(evs, ev)
	}
	err := v.Store.UpdateDomain(ctx, d, evs...)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted while it was being checked
	}
	if err != nil {
		return fmt.Errorf("save domain %s: %w", d.Name, err)
	}
	return nil
}
