package domains_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/secretbox"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/google/uuid"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"
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
			events, err := f.db.ListEvents(context.Background(), d.TeamID, "", 100)
			require.NoError(t, err)
			require.Len(t, events, 5) // pending records, two verified, verified, temporary_failure, verified
			for _, ev := range events {
				require.Equal(t, domains.EventUpdated, ev.Type)
			}
			require.Contains(t, string(events[3].Data), `"status":"temporary_failure"`)
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
