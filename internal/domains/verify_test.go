package domains_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/secretbox"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

type fixture struct {
	t      *testing.T
	clock  *godwittest.Clock
	db     store.Store
	dns    *dnstest.Server
	v      *domains.Verifier
	domain *store.Domain
	recs   []domains.Record
}

// setup creates example.com with verification just requested, and a
// loopback DNS server with nothing published yet.
func setup(t *testing.T, kind sqlstore.Dialect) *fixture {
	clock := godwittest.NewClock(t0)
	db := godwittest.NewStore(t, kind, clock)
	box, err := secretbox.New(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	settings := domains.Settings{Keys: box, MXHost: "bounces.godwit.test", SPF: "v=spf1 include:spf.godwit.test ~all", DKIMSelector: "resend"}
	team := &store.Team{ID: uuid.NewString(), Name: "a", CreatedAt: t0}
	require.NoError(t, db.CreateTeam(context.Background(), team))
	d := &store.Domain{ID: uuid.NewString(), TeamID: team.ID, Name: "example.com", Region: "us-east-1", ReturnPath: "send",
		Status: store.DomainPending, TLS: "opportunistic", Sending: "enabled", Receiving: "disabled", DKIMSelector: "resend",
		RecordStatus: map[string]string{}, CreatedAt: t0, UpdatedAt: t0, VerifyStartedAt: &t0, NextCheckAt: &t0}
	d.DKIMKey, d.DKIMEd25519Key, err = settings.NewKeys(d.ID)
	require.NoError(t, err)
	require.NoError(t, db.CreateDomain(context.Background(), d))
	recs, err := settings.Records(d)
	require.NoError(t, err)
	server := dnstest.NewServer(t)
	return &fixture{t: t, clock: clock, db: db, dns: server, domain: d, recs: recs,
		v: &domains.Verifier{Store: db, Settings: settings, DNS: &dnscheck.Resolver{Addr: server.Addr(), Timeout: time.Second},
			Now: clock.Now, Logger: slog.New(slog.DiscardHandler)}}
}

func (f *fixture) publish(kinds ...string) {
	for _, r := range f.recs {
		for _, k := range kinds {
			if r.Kind != k {
				continue
			}
			if r.Type == "MX" {
				f.dns.SetMX(r.FQDN("example.com"), dnscheck.MX{Host: r.Value + ".", Preference: uint16(r.Priority)})
			} else {
				f.dns.SetTXT(r.FQDN("example.com"), r.Value) // split into 255-byte strings as zones do
			}
		}
	}
}

func (f *fixture) run() *store.Domain {
	f.t.Helper()
	_, err := f.v.RunOnce(context.Background())
	require.NoError(f.t, err)
	d, err := f.db.GetDomain(context.Background(), f.domain.TeamID, f.domain.ID)
	require.NoError(f.t, err)
	return d
}

// advanceToNext moves the clock to the domain's next check.
func (f *fixture) advanceToNext(d *store.Domain) {
	f.t.Helper()
	require.NotNil(f.t, d.NextCheckAt)
	f.clock.Advance(d.NextCheckAt.Sub(f.clock.Now()))
}

var required = []string{domains.KindDKIM, domains.KindSPFMX, domains.KindSPFTXT}

func TestVerification(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			f := setup(t, kind)

			// Nothing published: pending, checked again soon.
			d := f.run()
			require.Equal(t, store.DomainPending, d.Status)
			require.Equal(t, store.DomainPending, d.RecordStatus[domains.KindDKIM])
			require.Equal(t, t0.Add(time.Minute), *d.NextCheckAt)

			// DKIM (a 2048-bit key, split in 255-byte strings) and the MX appear; SPF TXT not yet.
			f.publish(domains.KindDKIM, domains.KindSPFMX)
			f.advanceToNext(d)
			d = f.run()
			require.Equal(t, store.DomainPending, d.Status)
			require.Equal(t, store.DomainVerified, d.RecordStatus[domains.KindDKIM])
			require.Equal(t, store.DomainVerified, d.RecordStatus[domains.KindSPFMX])
			require.Equal(t, store.DomainPending, d.RecordStatus[domains.KindSPFTXT])

			// All required records: verified, although the optional DMARC record is absent.
			f.publish(domains.KindSPFTXT)
			f.advanceToNext(d)
			d = f.run()
			require.Equal(t, store.DomainVerified, d.Status)
			require.Equal(t, store.DomainPending, d.RecordStatus[domains.KindDMARC])
			require.Nil(t, d.VerifyStartedAt)
			require.Equal(t, f.clock.Now().Add(domains.Recheck), *d.NextCheckAt, "verified domains are re-checked daily")

			// A record disappears: temporary_failure at the daily check, verified again when it returns.
			f.dns.Delete(f.recs[0].FQDN("example.com"))
			f.advanceToNext(d)
			d = f.run()
			require.Equal(t, store.DomainTemporaryFailure, d.Status)
			require.Equal(t, store.DomainTemporaryFailure, d.RecordStatus[domains.KindDKIM])
			f.publish(domains.KindDKIM)
			f.advanceToNext(d)
			d = f.run()
			require.Equal(t, store.DomainVerified, d.Status)
			require.Equal(t, store.DomainVerified, d.RecordStatus[domains.KindDKIM])

			// Every change of status left a domain.updated event; checks that changed nothing did not.
			evs, err := f.db.ListEvents(context.Background(), d.TeamID, "", 100)
			require.NoError(t, err)
			require.Len(t, evs, 5) // pending records, two verified, verified, temporary_failure, verified
			for _, ev := range evs {
				require.Equal(t, events.DomainUpdated, ev.Type)
			}
			require.Contains(t, string(evs[3].Data), `"status":"temporary_failure"`)
		})
	}
}

func TestVerificationFailsAfter72Hours(t *testing.T) {
	t.Parallel()
	f := setup(t, sqlstore.SQLite)
	f.publish(domains.KindDKIM) // the rest never appears
	d := f.run()
	checks := 1
	var waits []time.Duration
	for d.Status == store.DomainPending {
		before := f.clock.Now()
		f.advanceToNext(d)
		waits = append(waits, f.clock.Now().Sub(before))
		d = f.run()
		checks++
		require.Less(t, checks, 200, "verification must end")
	}
	require.Equal(t, store.DomainFailed, d.Status)
	require.GreaterOrEqual(t, f.clock.Now().Sub(t0), domains.FailAfter)
	require.Less(t, f.clock.Now().Sub(t0), domains.FailAfter+time.Hour+time.Second)
	require.Nil(t, d.NextCheckAt, "a failed domain is not checked again until verify is requested")
	require.Equal(t, domains.ReasonRecordsMissing, d.FailureReason)
	require.Equal(t, store.DomainVerified, d.RecordStatus[domains.KindDKIM])
	require.Equal(t, store.DomainFailed, d.RecordStatus[domains.KindSPFTXT])
	require.Equal(t, time.Minute, waits[0])
	require.Equal(t, time.Hour, waits[len(waits)-1], "checks back off")
}

func TestVerificationWrongValue(t *testing.T) {
	t.Parallel()
	f := setup(t, sqlstore.SQLite)
	f.publish(required...)
	f.dns.SetTXT("send.example.com", "v=spf1 include:someone-else.example ~all")
	d := f.run()
	require.Equal(t, store.DomainPending, d.Status)
	require.Equal(t, store.DomainPending, d.RecordStatus[domains.KindSPFTXT])
	// Published as separate quoted strings with odd spacing and case: still a match.
	f.dns.SetTXTStrings("send.example.com", []string{"v=spf1 ", "INCLUDE:spf.godwit.test   ~all"})
	f.advanceToNext(d)
	d = f.run()
	require.Equal(t, store.DomainVerified, d.Status)
}

func TestVerificationLookupErrorIsNotAMiss(t *testing.T) {
	t.Parallel()
	f := setup(t, sqlstore.SQLite)
	f.publish(required...)
	d := f.run()
	require.Equal(t, store.DomainVerified, d.Status)

	f.dns.Fail("send.example.com", dns.RcodeServerFailure)
	f.advanceToNext(d)
	d = f.run()
	require.Equal(t, store.DomainVerified, d.Status, "a SERVFAIL does not count as a missing record")
	require.Equal(t, store.DomainVerified, d.RecordStatus[domains.KindSPFTXT])
	require.Equal(t, f.clock.Now().Add(time.Minute), *d.NextCheckAt, "and is retried soon")
}

// TestVerificationRecordChecks: each check stores, per record, what DNS
// answered (the values, NXDOMAIN, or the lookup failure) and when, with the
// statuses.
func TestVerificationRecordChecks(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			f := setup(t, kind)
			require.Nil(t, f.get(f.domain).RecordChecks, "not checked yet")
			dkim := f.recs[0]
			require.Equal(t, domains.KindDKIM, dkim.Kind)

			// DKIM published, SPF TXT wrong, no MX at send (a TXT only), no DMARC at all.
			f.publish(domains.KindDKIM)
			f.dns.SetTXT("send.example.com", "v=spf1 include:someone-else.example ~all")
			d := f.run()
			require.Equal(t, store.DomainPending, d.Status)
			want := map[string]store.RecordCheck{
				domains.KindDKIM:   {Answer: []string{dkim.Value}, CheckedAt: t0},
				domains.KindSPFTXT: {Answer: []string{"v=spf1 include:someone-else.example ~all"}, CheckedAt: t0},
				domains.KindSPFMX:  {CheckedAt: t0}, // the name exists, without MX records
				domains.KindDMARC:  {Error: dnscheck.NXDomain, CheckedAt: t0},
			}
			for _, r := range f.recs {
				if r.Kind == domains.KindDKIMEd25519 {
					want[r.Kind] = store.RecordCheck{Error: dnscheck.NXDomain, CheckedAt: t0}
				}
			}
			require.Equal(t, want, d.RecordChecks)
			require.Equal(t, store.DomainVerified, d.RecordStatus[domains.KindDKIM])
			require.Equal(t, store.DomainPending, d.RecordStatus[domains.KindSPFTXT])

			// The MX appears and the return-path's server fails: the answers and the check time move on,
			// the statuses of what failed stay.
			f.publish(domains.KindSPFMX)
			f.dns.Fail("_dmarc.example.com", dns.RcodeServerFailure)
			f.advanceToNext(d)
			at := f.clock.Now().UTC()
			d = f.run()
			require.Equal(t, store.RecordCheck{Answer: []string{"10 bounces.godwit.test"}, CheckedAt: at}, d.RecordChecks[domains.KindSPFMX])
			require.Equal(t, store.RecordCheck{Error: "SERVFAIL", CheckedAt: at}, d.RecordChecks[domains.KindDMARC])
			require.Equal(t, store.RecordCheck{Answer: []string{dkim.Value}, CheckedAt: at}, d.RecordChecks[domains.KindDKIM])
			require.Equal(t, store.DomainVerified, d.RecordStatus[domains.KindSPFMX])
			require.Equal(t, store.DomainPending, d.RecordStatus[domains.KindDMARC])
		})
	}
}

// copyFor adds team's own copy of example.com, pending like the fixture's.
func (f *fixture) copyFor(teamName string) *store.Domain {
	f.t.Helper()
	ctx := context.Background()
	team := &store.Team{ID: uuid.NewString(), Name: teamName, CreatedAt: t0}
	require.NoError(f.t, f.db.CreateTeam(ctx, team))
	d := *f.domain
	d.ID, d.TeamID = uuid.NewString(), team.ID
	d.RecordStatus = map[string]string{domains.KindDKIM: store.DomainPending, domains.KindSPFMX: store.DomainPending,
		domains.KindSPFTXT: store.DomainPending}
	var err error
	d.DKIMKey, d.DKIMEd25519Key, err = f.v.Settings.NewKeys(d.ID)
	require.NoError(f.t, err)
	require.NoError(f.t, f.db.CreateDomain(ctx, &d))
	return &d
}

func (f *fixture) get(d *store.Domain) *store.Domain {
	f.t.Helper()
	got, err := f.db.GetDomain(context.Background(), d.TeamID, d.ID)
	require.NoError(f.t, err)
	return got
}

func (f *fixture) logTo(buf *bytes.Buffer) {
	f.v.Logger = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func TestVerificationFirstTeamWins(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			f := setup(t, kind)
			var logs bytes.Buffer
			f.logTo(&logs)
			other := f.copyFor("b")

			// Only team a's records are published: a wins, b's copy fails at once.
			f.publish(required...)
			f.run()
			require.Equal(t, store.DomainVerified, f.get(f.domain).Status)
			lost := f.get(other)
			require.Equal(t, store.DomainFailed, lost.Status)
			require.Equal(t, domains.ReasonTaken("example.com"), lost.FailureReason)
			require.Nil(t, lost.NextCheckAt)
			require.Equal(t, store.DomainFailed, lost.RecordStatus[domains.KindDKIM])
			events, err := f.db.ListEvents(context.Background(), other.TeamID, "", 10)
			require.NoError(t, err)
			require.NotEmpty(t, events)
			last := string(events[len(events)-1].Data) // b's copy may have been checked first, and stayed pending
			require.Contains(t, last, `"type":"domain.updated"`, "the losing team hears of it")
			require.Contains(t, last, `"status":"failed"`)
			require.Contains(t, last, `"failure_reason":"Another team verified the `)
			require.Contains(t, logs.String(), "level=INFO msg=\"domain failed: another team verified it first\"")
			require.Contains(t, logs.String(), "domain_id="+other.ID)

			// Made pending again behind the API's back (a verify request that
			// raced the win): the next check fails it without asking DNS.
			lost.Status, lost.FailureReason, lost.NextCheckAt = store.DomainPending, "", &t0
			require.NoError(t, f.db.UpdateDomain(context.Background(), lost))
			f.dns.Fail("resend._domainkey.example.com", dns.RcodeServerFailure)
			f.run()
			require.Equal(t, store.DomainFailed, f.get(other).Status)
			require.Equal(t, domains.ReasonTaken("example.com"), f.get(other).FailureReason)
		})
	}
}

// winBetween is a real store that lets another team's copy win its name
// just after the verifier's ownership check, as another node would.
type winBetween struct {
	store.Store
	once   sync.Once
	winner *store.Domain
}

func (w *winBetween) HeldDomain(ctx context.Context, name string) (*store.Domain, error) {
	d, err := w.Store.HeldDomain(ctx, name)
	w.once.Do(func() {
		w.winner.Status = store.DomainVerified
		_, werr := w.Store.VerifyDomain(ctx, w.winner, func(c *store.Domain) (*store.Event, error) { return nil, nil })
		if werr != nil {
			panic(werr)
		}
	})
	return d, err
}

func TestVerificationRaceLoserFails(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			f := setup(t, kind)
			var logs bytes.Buffer
			f.logTo(&logs)
			other := f.copyFor("b")
			other.NextCheckAt = nil // only the fixture's copy is due
			require.NoError(t, f.db.UpdateDomain(context.Background(), other))
			f.v.Store = &winBetween{Store: f.db, winner: other}

			f.publish(required...)
			d := f.run()
			require.Equal(t, store.DomainFailed, d.Status, "its records matched, but b won first")
			require.Equal(t, domains.ReasonTaken("example.com"), d.FailureReason)
			require.Equal(t, store.DomainVerified, f.get(other).Status)
			events, err := f.db.ListEvents(context.Background(), d.TeamID, "", 10)
			require.NoError(t, err)
			require.Len(t, events, 1)
			require.Contains(t, string(events[0].Data), `"status":"failed"`)
			require.Contains(t, logs.String(), "winner_team_id="+other.TeamID)
		})
	}
}

// TestVerificationCountedAndLogged: each check is counted by the status it
// left the domain in (a failed lookup as lookup_error), and each change of
// status is one INFO line.
func TestVerificationCountedAndLogged(t *testing.T) {
	t.Parallel()
	f := setup(t, sqlstore.SQLite)
	logs := &godwittest.LogBuffer{}
	f.v.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	reg := prometheus.NewRegistry()
	f.v.Metrics = metrics.New(reg)

	d := f.run() // nothing published: pending, unchanged
	f.publish(required...)
	f.advanceToNext(d)
	d = f.run() // verified
	f.dns.Fail("send.example.com", dns.RcodeServerFailure)
	f.advanceToNext(d)
	d = f.run() // lookup error: still verified
	f.dns.Delete("send.example.com")
	f.advanceToNext(d)
	require.Equal(t, store.DomainTemporaryFailure, f.run().Status)

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP godwit_domain_verifications_total DNS verification checks of domains, by the status they left the domain in (or lookup_error).
# TYPE godwit_domain_verifications_total counter
godwit_domain_verifications_total{result="lookup_error"} 1
godwit_domain_verifications_total{result="pending"} 1
godwit_domain_verifications_total{result="temporary_failure"} 1
godwit_domain_verifications_total{result="verified"} 1
`), "godwit_domain_verifications_total"))
	changes := logs.Records(t, "domain status changed")
	require.Len(t, changes, 2)
	require.Equal(t, "pending", changes[0]["from"])
	require.Equal(t, "verified", changes[0]["to"])
	require.Equal(t, "example.com", changes[0]["domain"])
	require.Equal(t, "verified", changes[1]["from"])
	require.Equal(t, "temporary_failure", changes[1]["to"])
}

// TestVerificationCapabilities: a domain that sends and receives is
// partially_verified while the records of only one capability are
// verified, and that capability works (store.Domain.Ready); partially_failed
// once the others stay missing for FailAfter, still working and re-checked;
// verified once every record is there. Enabling receiving on a verified
// domain keeps it sending while its MX record is checked.
func TestVerificationCapabilities(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			f := setup(t, kind)
			ctx := context.Background()
			f.domain.Receiving = "enabled"
			require.NoError(t, f.db.UpdateDomain(ctx, f.domain))
			var err error
			f.recs, err = f.v.Settings.Records(f.domain)
			require.NoError(t, err)
			mx := f.recs[len(f.recs)-1]
			require.Equal(t, domains.Record{Kind: domains.KindReceiving, Record: "Receiving", Name: "example.com", Type: "MX",
				Value: "bounces.godwit.test", Priority: 10}, mx)
			require.Equal(t, "example.com", mx.FQDN("example.com"), "at the domain itself")

			// Sending records only: partially_verified, sending works, receiving not yet.
			f.publish(required...)
			d := f.run()
			require.Equal(t, store.DomainPartiallyVerified, d.Status)
			require.Equal(t, store.DomainPending, d.RecordStatus[domains.KindReceiving])
			require.True(t, d.Ready(store.CapabilitySending))
			require.False(t, d.Ready(store.CapabilityReceiving))
			held, err := f.db.HeldDomain(ctx, "example.com")
			require.NoError(t, err)
			require.Equal(t, d.ID, held.ID, "a partially verified domain holds its name")

			// The MX never appears: partially_failed after 72 hours; sending
			// still works, and the domain is re-checked daily.
			for checks := 0; d.Status == store.DomainPartiallyVerified; checks++ {
				require.Less(t, checks, 200, "verification must end")
				f.advanceToNext(d)
				d = f.run()
			}
			require.Equal(t, store.DomainPartiallyFailed, d.Status)
			require.GreaterOrEqual(t, f.clock.Now().Sub(t0), domains.FailAfter)
			require.Equal(t, store.DomainFailed, d.RecordStatus[domains.KindReceiving])
			require.Equal(t, domains.ReasonRecordsMissing, d.FailureReason)
			require.True(t, d.Ready(store.CapabilitySending))
			require.False(t, d.Ready(store.CapabilityReceiving))
			require.Equal(t, f.clock.Now().Add(domains.Recheck), *d.NextCheckAt)
			f.advanceToNext(d)
			d = f.run()
			require.Equal(t, store.DomainPartiallyFailed, d.Status, "stays partially failed while the MX is missing")
			require.Equal(t, store.DomainFailed, d.RecordStatus[domains.KindReceiving])

			// The MX appears: verified at the next check.
			f.publish(domains.KindReceiving)
			f.advanceToNext(d)
			d = f.run()
			require.Equal(t, store.DomainVerified, d.Status)
			require.Empty(t, d.FailureReason)
			require.True(t, d.Ready(store.CapabilityReceiving))

			// The webhook payload labels the record "Receiving MX", as Resend's does.
			evs, err := f.db.ListEvents(ctx, d.TeamID, "", 100)
			require.NoError(t, err)
			require.Contains(t, string(evs[len(evs)-1].Data), `"record":"Receiving MX"`)

			// A sending record disappears: temporary_failure, both still work.
			f.dns.Delete(f.recs[0].FQDN("example.com"))
			f.advanceToNext(d)
			d = f.run()
			require.Equal(t, store.DomainTemporaryFailure, d.Status)
			require.True(t, d.Ready(store.CapabilitySending))
			require.True(t, d.Ready(store.CapabilityReceiving))
			// Never back within 72 hours: partially_failed, receiving only.
			for checks := 0; d.Status == store.DomainTemporaryFailure; checks++ {
				require.Less(t, checks, 200, "the failure window must end")
				f.advanceToNext(d)
				d = f.run()
			}
			require.Equal(t, store.DomainPartiallyFailed, d.Status)
			require.False(t, d.Ready(store.CapabilitySending))
			require.True(t, d.Ready(store.CapabilityReceiving))

			// A verify request gives the failed records a new window; the MX keeps working.
			_, err = f.v.Settings.StartVerification(ctx, f.db, d, f.clock.Now())
			require.NoError(t, err)
			d = f.get(d)
			require.Equal(t, store.DomainPartiallyVerified, d.Status)
			require.Equal(t, store.DomainPending, d.RecordStatus[domains.KindDKIM])
			require.True(t, d.Ready(store.CapabilityReceiving))
			f.publish(domains.KindDKIM)
			d = f.run()
			require.Equal(t, store.DomainVerified, d.Status)
		})
	}
}

// TestEnableReceivingOnVerifiedDomain: a capability enabled later is
// checked at once without stopping the one that works.
func TestEnableReceivingOnVerifiedDomain(t *testing.T) {
	t.Parallel()
	f := setup(t, sqlstore.SQLite)
	ctx := context.Background()
	f.publish(required...)
	d := f.run()
	require.Equal(t, store.DomainVerified, d.Status)
	f.advanceToNext(d)
	f.clock.Advance(-time.Hour) // mid-way to the daily check

	require.True(t, f.v.Settings.SetCapabilities(d, "", "enabled", f.clock.Now()), "a check is due")
	require.Equal(t, store.DomainPending, d.RecordStatus[domains.KindReceiving])
	require.Equal(t, f.clock.Now(), *d.NextCheckAt)
	require.True(t, d.Ready(store.CapabilitySending), "sending goes on")
	require.False(t, d.Ready(store.CapabilityReceiving))
	require.NoError(t, f.v.Settings.Save(ctx, f.db, d))
	d = f.run()
	require.Equal(t, store.DomainPartiallyVerified, d.Status)
	require.True(t, d.Ready(store.CapabilitySending))

	require.False(t, f.v.Settings.SetCapabilities(d, "enabled", "enabled", f.clock.Now()), "nothing changed")
	// Receiving off again: the next check finds every remaining record.
	require.True(t, f.v.Settings.SetCapabilities(d, "", "disabled", f.clock.Now()))
	require.NoError(t, f.v.Settings.Save(ctx, f.db, d))
	d = f.run()
	require.Equal(t, store.DomainVerified, d.Status)

	// On a domain whose verification never started, new records just wait.
	n := *f.domain
	n.Status, n.Receiving, n.RecordStatus = store.DomainNotStarted, "disabled", map[string]string{domains.KindDKIM: store.DomainNotStarted}
	require.False(t, f.v.Settings.SetCapabilities(&n, "", "enabled", f.clock.Now()))
	require.Equal(t, store.DomainNotStarted, n.RecordStatus[domains.KindReceiving])
}
