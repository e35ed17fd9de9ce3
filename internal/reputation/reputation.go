// Package reputation is the reputation guard: it pauses a sending domain
// whose recipients bounce or complain too often, before the mailbox
// providers punish the domain (and the server's IPs) for it.
//
// # Rates
//
// Over a sliding window (Config.Window, 24 h by default) of the domain's
// counts, the bounce rate is permanent bounces / (delivered + permanent
// bounces) and the complaint rate is complaints / delivered. The counts come
// from the store's hourly email metrics (email_metrics_hourly, written in
// the transaction that records each event), so a check reads at most
// Window/1h + 1 rows of one team's index range, whatever the volume: the
// window is whole UTC hours, the current one included. Each count is of
// email events (an event names the recipients of one email with the same
// outcome), as GET /emails/metrics counts them.
//
// A domain is judged only once the window holds Config.MinVolume delivered
// and permanently bounced events (100 by default): one bounce out of three
// emails pauses nothing. Its thresholds: a bounce rate at or above
// Config.BounceRate (5%), or a complaint rate at or above
// Config.ComplaintRate (0.3%, the Gmail and Yahoo bulk-sender limit).
//
// # When
//
// The guard is told of every delivery outcome recorded (Recorded): only an
// outcome with a permanent bounce or a complaint, which can raise a rate,
// makes it read the window. Deliveries never do.
//
// # Pausing and resuming
//
// Pausing sets the domain's store.SendingPause (with the reason, e.g.
// "complaint rate 0.41% over 24h ≥ 0.3%") and records a domain.updated
// event in the same transaction; it logs at INFO and counts
// godwit_domain_sending_pauses_total{action="paused"}. Emails keep being
// accepted; the delivery worker holds those of a paused domain (deferred,
// with "domain paused: …" as each attempt's reason, never expired), and
// nothing is dropped. The pause lasts until an admin resumes the domain
// (godwit domains resume, or the dashboard): Resume clears the pause,
// records domain.updated and enqueues the held emails at once, in one
// transaction.
package reputation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/bounce"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/panics"
	"github.com/godwit/godwit/internal/store"
)

// Defaults of Config.
const (
	DefaultWindow        = 24 * time.Hour
	DefaultMinVolume     = 100
	DefaultBounceRate    = 0.05
	DefaultComplaintRate = 0.003
)

// Config sets the guard's window and thresholds; zero fields take the
// defaults. The server's flags (--reputation-*) are validated by
// internal/config.
type Config struct {
	// Disabled turns the guard off: no domain is paused (a paused one stays
	// paused until resumed).
	Disabled bool
	// Window is how far back the counts go (whole hours; at least 1 h).
	Window time.Duration
	// MinVolume is the fewest delivered and permanently bounced events in
	// the window for its rates to count.
	MinVolume int64
	// BounceRate and ComplaintRate are the thresholds, as fractions
	// (0.05 is 5%): a rate at or above one pauses the domain.
	BounceRate    float64
	ComplaintRate float64
}

// WithDefaults returns c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.MinVolume <= 0 {
		c.MinVolume = DefaultMinVolume
	}
	if c.BounceRate <= 0 {
		c.BounceRate = DefaultBounceRate
	}
	if c.ComplaintRate <= 0 {
		c.ComplaintRate = DefaultComplaintRate
	}
	return c
}

// Store is what the guard needs of the store.
type Store interface {
	GetEmailForEvent(ctx context.Context, id string) (*store.Email, error)
	EmailMetrics(ctx context.Context, f store.EmailMetricsFilter) ([]*store.EmailMetricsRow, error)
	PauseDomainSending(ctx context.Context, teamID, id string, p store.SendingPause, event func(*store.Domain) (*store.Event, error)) (*store.Domain, bool, error)
	ResumeDomainSending(ctx context.Context, teamID, id string, now time.Time, event func(*store.Domain) (*store.Event, error)) (*store.Domain, bool, int, error)
}

// Guard pauses and resumes sending domains. Its methods are safe for
// concurrent use.
type Guard struct {
	Store   Store
	Config  Config
	Domains domains.Settings // builds the domain.updated payload
	Logger  *slog.Logger
	Metrics *metrics.Metrics // nil: not counted
	Now     func() time.Time
}

func (g *Guard) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

func (g *Guard) logger() *slog.Logger {
	if g.Logger != nil {
		return g.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Rates are a domain's counts over the window and what they come to.
type Rates struct {
	Delivered, BouncedPermanent, Complained int64
	Window                                  time.Duration
}

// Volume is the events the rates are judged on.
func (r Rates) Volume() int64 { return r.Delivered + r.BouncedPermanent }

// BounceRate is permanent bounces / (delivered + permanent bounces).
func (r Rates) BounceRate() float64 {
	if r.Volume() == 0 {
		return 0
	}
	return float64(r.BouncedPermanent) / float64(r.Volume())
}

// ComplaintRate is complaints / delivered.
func (r Rates) ComplaintRate() float64 {
	if r.Delivered == 0 {
		return 0
	}
	return float64(r.Complained) / float64(r.Delivered)
}

// Verdict is the reason to pause a domain with rates r under c, "" when
// they are fine (or too few to judge). The complaint rate is judged first:
// it is the one the providers act on soonest.
func (c Config) Verdict(r Rates) string {
	c = c.WithDefaults()
	if r.Volume() < c.MinVolume {
		return ""
	}
	if cr := r.ComplaintRate(); cr >= c.ComplaintRate {
		return fmt.Sprintf("complaint rate %s over %s ≥ %s", percent(cr), hours(r.Window), percent(c.ComplaintRate))
	}
	if br := r.BounceRate(); br >= c.BounceRate {
		return fmt.Sprintf("bounce rate %s over %s ≥ %s", percent(br), hours(r.Window), percent(c.BounceRate))
	}
	return ""
}

// percent writes a fraction as a percentage with at most two decimals:
// 0.0041 → "0.41%", 0.05 → "5%".
func percent(f float64) string {
	s := strconv.FormatFloat(f*100, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}

func hours(d time.Duration) string {
	return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
}

// Window returns the domain's counts over the window ending now.
func (g *Guard) Window(ctx context.Context, teamID, domainID string) (Rates, error) {
	cfg := g.Config.WithDefaults()
	now := g.now()
	rows, err := g.Store.EmailMetrics(ctx, store.EmailMetricsFilter{TeamID: teamID, DomainIDs: []string{domainID},
		From: now.Add(-cfg.Window), To: now.Add(time.Nanosecond)})
	if err != nil {
		return Rates{}, fmt.Errorf("reputation: counts of domain %s: %w", domainID, err)
	}
	r := Rates{Window: cfg.Window}
	for _, row := range rows {
		r.Delivered += row.Delivered
		r.BouncedPermanent += row.BouncedPermanent
		r.Complained += row.Complained
	}
	return r, nil
}

// Recorded is told of a delivery outcome once it is committed (by the
// delivery worker or the MX's bounce and complaint reports): when it holds
// a permanent bounce or a complaint, the email's sending domain is checked.
// It never fails the caller: trouble (a panic included) is logged.
func (g *Guard) Recorded(ctx context.Context, o *store.DeliveryOutcome) {
	if g == nil || g.Config.Disabled || !raises(o) {
		return
	}
	err := panics.Catch(func() error {
		e, err := g.Store.GetEmailForEvent(ctx, o.EmailID)
		if err != nil {
			return fmt.Errorf("reputation: load email %s: %w", o.EmailID, err)
		}
		if e.DomainID == "" {
			return nil // the test sender, or accepted before domains were recorded
		}
		_, err = g.Check(ctx, e.TeamID, e.DomainID)
		return err
	})
	if err != nil {
		attrs := []any{slog.String("email_id", o.EmailID), slog.String("team_id", o.TeamID), slog.Any("err", err)}
		var p *panics.Error
		if errors.As(err, &p) {
			attrs = append(attrs, p.LogAttrs()...)
		}
		g.logger().Error("reputation: could not check the sending domain", attrs...)
	}
}

// raises reports whether o has an event that can raise a rate: a
// permanent bounce or a complaint.
func raises(o *store.DeliveryOutcome) bool {
	for _, ev := range o.Events {
		switch ev.Type {
		case store.EventComplained:
			return true
		case store.EventBounced:
			var data struct {
				Bounce struct {
					Type string `json:"type"`
				} `json:"bounce"`
			}
			if json.Unmarshal(ev.Data, &data) == nil && data.Bounce.Type == string(bounce.Permanent) {
				return true
			}
		}
	}
	return false
}

// Check reads the domain's window and pauses it when a rate is over its
// threshold; it reports whether this call paused it.
func (g *Guard) Check(ctx context.Context, teamID, domainID string) (bool, error) {
	r, err := g.Window(ctx, teamID, domainID)
	if err != nil {
		return false, err
	}
	reason := g.Config.Verdict(r)
	if reason == "" {
		return false, nil
	}
	return g.Pause(ctx, teamID, domainID, reason, r)
}

// Pause pauses the domain's sending with reason (a no-op when it is paused
// already) and reports whether this call paused it.
func (g *Guard) Pause(ctx context.Context, teamID, domainID, reason string, r Rates) (bool, error) {
	now := g.now().UTC()
	d, paused, err := g.Store.PauseDomainSending(ctx, teamID, domainID, store.SendingPause{Reason: reason, At: now}, g.event(now))
	if err != nil {
		return false, err
	}
	if !paused {
		return false, nil
	}
	g.Metrics.DomainSending(true)
	g.logger().Info("reputation: domain sending paused", "team_id", teamID, "domain_id", domainID, "domain", d.Name,
		"reason", reason, "delivered", r.Delivered, "bounced_permanent", r.BouncedPermanent, "complained", r.Complained,
		"window", r.Window.String())
	return true, nil
}

// Resume ends the domain's pause and enqueues its held emails at once. It
// returns the domain, whether it was paused, and how many emails were
// enqueued; store.ErrNotFound if the team has no such domain.
func (g *Guard) Resume(ctx context.Context, teamID, domainID, by string) (*store.Domain, bool, int, error) {
	now := g.now().UTC()
	d, resumed, held, err := g.Store.ResumeDomainSending(ctx, teamID, domainID, now, g.event(now))
	if err != nil {
		return nil, false, 0, err
	}
	if resumed {
		g.Metrics.DomainSending(false)
		g.logger().Info("reputation: domain sending resumed", "team_id", teamID, "domain_id", domainID, "domain", d.Name,
			"held_emails", held, "by", by)
	}
	return d, resumed, held, nil
}

func (g *Guard) event(at time.Time) func(*store.Domain) (*store.Event, error) {
	return func(d *store.Domain) (*store.Event, error) {
		return g.Domains.Event(events.DomainUpdated, d, at)
	}
}
