package api

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// claimEnv is setup with metrics, a loopback DNS server and a verifier
// that checks claims through it.
type claimEnv struct {
	*testEnv
	reg  *prometheus.Registry
	dns  *dnstest.Server
	v    *domains.Verifier
	logs *bytes.Buffer
	keyC string
}

func setupClaims(t *testing.T, kind sqlstore.Dialect) *claimEnv {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	e := setup(t, kind, func(d *Deps) { d.Metrics = m })
	ce := &claimEnv{testEnv: e, reg: reg, dns: dnstest.NewServer(t), logs: &bytes.Buffer{}}
	log := slog.New(slog.NewTextHandler(ce.logs, nil))
	e.handler.Logger = log
	ce.v = &domains.Verifier{Store: e.db, Claims: e.db, Settings: e.handler.Domains,
		DNS: &dnscheck.Resolver{Addr: ce.dns.Addr(), Timeout: time.Second}, Now: e.clock.Now, Logger: log, Metrics: m}
	ce.keyC = e.newKey(e.newTeam("c"), "full_access")
	return ce
}

func (ce *claimEnv) runVerifier() {
	ce.t.Helper()
	_, err := ce.v.RunOnce(context.Background())
	require.NoError(ce.t, err)
}

func (ce *claimEnv) claimMetric(result string) int {
	fams, err := ce.reg.Gather()
	require.NoError(ce.t, err)
	for _, f := range fams {
		if f.GetName() != "godwit_domain_claims_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if m.GetLabel()[0].GetValue() == result {
				return int(m.GetCounter().GetValue())
			}
		}
	}
	return 0
}

// TestDomainClaimShapes: the three endpoints' shapes (held to the OpenAPI
// document by the test server), the identical-pending-claim rule, the
// validation errors and another team's ids.
func TestDomainClaimShapes(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setupClaims(t, kind)
		// Team B claims example.com, which team A holds (verified).
		r := e.do("POST", "/domains/claim", e.keyB, `{"name":"Example.COM","open_tracking":true}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		claimID := r.json["id"].(string)
		placeholder := r.json["domain_id"].(string)
		require.Equal(t, "domain_claim", r.json["object"])
		require.Equal(t, "example.com", r.json["name"])
		require.Equal(t, "pending", r.json["status"])
		require.Equal(t, "us-east-1", r.json["region"])
		require.Nil(t, r.json["blocked_reason"])
		require.Nil(t, r.json["failure_reason"])
		require.Contains(t, r.json, "blocked_reason")
		require.Equal(t, "2026-11-28 12:00:00+00", r.json["created_at"])
		require.Equal(t, "2026-12-05 12:00:00+00", r.json["expires_at"], "7 days")
		record := r.json["record"].(map[string]any)
		require.Equal(t, "TXT", record["type"])
		require.Equal(t, "example.com", record["name"])
		require.Equal(t, "Auto", record["ttl"])
		require.Regexp(t, `^godwit-domain-verification=[0-9a-f]{32}$`, record["value"])
		require.Equal(t, 1, e.claimMetric("created"))
		require.Contains(t, e.logs.String(), "domain claim created")

		// The placeholder is B's domain, not started, with its own DKIM key.
		d := e.do("GET", "/domains/"+placeholder, e.keyB, "")
		require.Equal(t, 200, d.status)
		require.Equal(t, "not_started", d.json["status"])
		require.Equal(t, true, d.json["open_tracking"])
		events, err := e.db.ListEvents(context.Background(), e.teamB, "", 100)
		require.NoError(t, err)
		require.Equal(t, "domain.created", events[len(events)-1].Type)

		// The identical pending claim comes back unchanged with 200.
		r = e.do("POST", "/domains/claim", e.keyB, `{"name":"example.com","open_tracking":true,"region":"us-east-1","custom_return_path":"send"}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, claimID, r.json["id"])
		require.Equal(t, record["value"], r.json["record"].(map[string]any)["value"])
		require.Equal(t, 1, e.claimMetric("created"))

		// Other options: a new claim on the same placeholder supersedes it.
		e.clock.Advance(time.Second)
		r = e.do("POST", "/domains/claim", e.keyB, `{"name":"example.com","region":"eu-west-1"}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		require.NotEqual(t, claimID, r.json["id"])
		require.Equal(t, placeholder, r.json["domain_id"])
		require.Equal(t, "eu-west-1", r.json["region"])
		require.NotEqual(t, record["value"], r.json["record"].(map[string]any)["value"], "a new record")
		require.Equal(t, 1, e.claimMetric("superseded"))
		got := e.do("GET", "/domains/"+placeholder+"/claim", e.keyB, "")
		require.Equal(t, 200, got.status)
		require.Equal(t, r.json, got.json, "GET returns the latest claim")
		require.Equal(t, "eu-west-1", e.do("GET", "/domains/"+placeholder, e.keyB, "").json["region"])

		// Validation.
		requireError(t, e.do("POST", "/domains/claim", e.keyB, `{}`), 422, "missing_required_field", "Missing `name` field.")
		requireError(t, e.do("POST", "/domains/claim", e.keyB, `{"name":"nope"}`), 422, "validation_error", "`name`")
		requireError(t, e.do("POST", "/domains/claim", e.keyB, `{"name":5}`), 422, "validation_error", "`name`")
		requireError(t, e.do("POST", "/domains/claim", e.keyB, `{"name":"example.com","region":"mars-1"}`), 422, "validation_error", "region")
		requireError(t, e.do("POST", "/domains/claim", e.keyB, `{"name":"example.com","custom_return_path":"a.b"}`), 422, "validation_error", "custom_return_path")
		requireError(t, e.do("POST", "/domains/claim", e.keyB, `{"name":"example.com","tracking_subdomain":"a b"}`), 422, "validation_error", "tracking_subdomain")
		requireError(t, e.do("POST", "/domains/claim", e.keyB, `{"name":`), 400, "validation_error")
		// A name nobody holds is added, not claimed; one's own is not claimed.
		requireError(t, e.do("POST", "/domains/claim", e.keyB, `{"name":"free.example"}`), 422, "validation_error",
			"The `free.example` domain is not registered by another team. Add it with POST /domains instead.")
		require.Equal(t, 201, e.do("POST", "/domains", e.keyA, `{"name":"free.example"}`).status)
		requireError(t, e.do("POST", "/domains/claim", e.keyB, `{"name":"free.example"}`), 422, "validation_error", "not registered by another team")
		requireError(t, e.do("POST", "/domains/claim", e.keyA, `{"name":"example.com"}`), 422, "validation_error",
			"The `example.com` domain is already verified by your team.")
		requireError(t, e.do("POST", "/domains/claim", e.sendA, `{"name":"example.org"}`), 401, "restricted_api_key")

		// Another team's ids, a domain without a claim, a bad id: 404.
		requireError(t, e.do("GET", "/domains/"+placeholder+"/claim", e.keyA, ""), 404, "not_found", "Domain claim not found")
		requireError(t, e.do("POST", "/domains/"+placeholder+"/claim/verify", e.keyA, ""), 404, "not_found", "Domain claim not found")
		requireError(t, e.do("GET", "/domains/"+e.domainA+"/claim", e.keyA, ""), 404, "not_found")
		require.Equal(t, e.do("GET", "/domains/not-an-id", e.keyB, "").status, e.do("GET", "/domains/not-an-id/claim", e.keyB, "").status,
			"a malformed id is answered as on the domain itself")

		// Verify answers the claim, pending while the check runs.
		r = e.do("POST", "/domains/"+placeholder+"/claim/verify", e.keyB, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, "pending", r.json["status"])
		require.Equal(t, got.json["id"], r.json["id"])

		// Deleting the placeholder cancels the claim.
		require.Equal(t, 200, e.do("DELETE", "/domains/"+placeholder, e.keyB, "").status)
		got = e.do("GET", "/domains/"+placeholder+"/claim", e.keyB, "")
		require.Equal(t, 200, got.status)
		require.Equal(t, "canceled", got.json["status"])
		require.Equal(t, 1, e.claimMetric("canceled"))
		e.runVerifier()
		require.Equal(t, "canceled", e.do("GET", "/domains/"+placeholder+"/claim", e.keyB, "").json["status"])
		require.Equal(t, "verified", e.do("GET", "/domains/"+e.domainA, e.keyA, "").json["status"])
	})
}

// TestDomainClaimEndToEnd: team B proves control of team A's example.com
// with the TXT record on the loopback DNS server; the claim waits while A
// has an email scheduled from it, then completes: A's copy fails with the
// reason, A's emails stay A's, B's placeholder becomes the domain with its
// own DKIM key to publish and verify. Team C's claim that never finds its
// record expires.
func TestDomainClaimEndToEnd(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setupClaims(t, kind)
		sent := e.send(e.keyA, simpleEmail)
		require.NoError(t, e.db.RecordDelivery(context.Background(), &store.DeliveryOutcome{EmailID: sent, TeamID: e.teamA,
			LastEvent: store.EventDelivered, Events: []*store.EmailEvent{{Type: store.EventSent, CreatedAt: e.clock.Now()}, {Type: store.EventDelivered, CreatedAt: e.clock.Now()}}}))
		scheduled := e.send(e.keyA, `{"from":"a@example.com","to":"b@example.net","subject":"s","html":"x","scheduled_at":"in 1 hour"}`)
		aDKIM := e.do("GET", "/domains/"+e.domainA, e.keyA, "").json["records"].([]any)[0].(map[string]any)["value"]

		r := e.do("POST", "/domains/claim", e.keyB, `{"name":"example.com"}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		placeholder := r.json["domain_id"].(string)
		token := r.json["record"].(map[string]any)["value"].(string)

		// Not published yet: the check leaves it pending.
		require.Equal(t, "pending", e.do("POST", "/domains/"+placeholder+"/claim/verify", e.keyB, "").json["status"])
		e.runVerifier()
		require.Equal(t, "pending", e.do("GET", "/domains/"+placeholder+"/claim", e.keyB, "").json["status"])
		require.Contains(t, e.logs.String(), "domain claim record not found yet")

		// Published, but A has an email scheduled from the domain: blocked.
		e.dns.SetTXT("example.com", "v=spf1 -all", token)
		e.do("POST", "/domains/"+placeholder+"/claim/verify", e.keyB, "")
		e.runVerifier()
		got := e.do("GET", "/domains/"+placeholder+"/claim", e.keyB, "")
		require.Equal(t, "blocked", got.json["status"])
		require.Equal(t, "pending_scheduled_emails", got.json["blocked_reason"])
		require.Equal(t, 1, e.claimMetric("blocked"))
		require.Equal(t, "verified", e.do("GET", "/domains/"+e.domainA, e.keyA, "").json["status"])

		// A cancels it; at the next check the name moves.
		require.Equal(t, 200, e.do("POST", "/emails/"+scheduled+"/cancel", e.keyA, "").status)
		e.clock.Advance(domains.ClaimRecheck)
		e.runVerifier()
		got = e.do("GET", "/domains/"+placeholder+"/claim", e.keyB, "")
		require.Equal(t, "completed", got.json["status"], "body: %s", got.body)
		require.Nil(t, got.json["blocked_reason"])
		require.Equal(t, 1, e.claimMetric("completed"))
		require.Contains(t, e.logs.String(), "domain claim completed")
		require.Contains(t, e.logs.String(), "from_team_id="+e.teamA)

		old := e.do("GET", "/domains/"+e.domainA, e.keyA, "")
		require.Equal(t, "failed", old.json["status"])
		require.Equal(t, "Another team claimed the `example.com` domain by publishing its verification record.", old.json["failure_reason"])
		require.Equal(t, 200, e.do("GET", "/emails/"+sent, e.keyA, "").status, "A's emails stay A's")
		require.Equal(t, 404, e.do("GET", "/emails/"+sent, e.keyB, "").status)
		requireError(t, e.do("POST", "/emails", e.keyA, simpleEmail), 403, "validation_error")

		mine := e.do("GET", "/domains/"+placeholder, e.keyB, "")
		require.Equal(t, "not_started", mine.json["status"])
		bDKIM := mine.json["records"].([]any)[0].(map[string]any)
		require.NotEqual(t, aDKIM, bDKIM["value"], "fresh DKIM keys")
		require.Equal(t, "not_started", bDKIM["status"])
		for _, team := range []string{e.teamA, e.teamB} {
			evs, err := e.db.ListEvents(context.Background(), team, "", 100)
			require.NoError(t, err)
			last := evs[len(evs)-1]
			require.Equal(t, "domain.updated", last.Type)
			require.Contains(t, string(last.Data), `"name":"example.com"`)
		}

		// B publishes its records and verifies the domain the usual way;
		// A's old copy cannot come back.
		for _, rec := range mine.json["records"].([]any) {
			rec := rec.(map[string]any)
			name := rec["name"].(string) + ".example.com"
			if rec["type"] == "MX" {
				e.dns.SetMX(name, dnscheck.MX{Host: rec["value"].(string) + ".", Preference: 10})
			} else {
				e.dns.SetTXT(name, rec["value"].(string))
			}
		}
		require.Equal(t, 200, e.do("POST", "/domains/"+placeholder+"/verify", e.keyB, "").status)
		e.runVerifier()
		require.Equal(t, "verified", e.do("GET", "/domains/"+placeholder, e.keyB, "").json["status"])
		require.Equal(t, 200, e.do("POST", "/emails", e.keyB, `{"from":"b@example.com","to":"x@example.net","subject":"s","html":"x"}`).status)
		requireError(t, e.do("POST", "/domains/"+e.domainA+"/verify", e.keyA, ""), 403, "validation_error", "registered already")
		// Settled: verify again answers the completed claim.
		require.Equal(t, "completed", e.do("POST", "/domains/"+placeholder+"/claim/verify", e.keyB, "").json["status"])

		// C claims example.org (B's) and never publishes: it expires.
		r = e.do("POST", "/domains/claim", e.keyC, `{"name":"example.org"}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		cPlaceholder := r.json["domain_id"].(string)
		e.clock.Advance(domains.ClaimTTL)
		e.runVerifier()
		require.Equal(t, "expired", e.do("GET", "/domains/"+cPlaceholder+"/claim", e.keyC, "").json["status"])
		require.Equal(t, 1, e.claimMetric("expired"))
		require.Contains(t, e.logs.String(), "domain claim expired")
		r = e.do("POST", "/domains/claim", e.keyC, `{"name":"example.org"}`)
		require.Equal(t, 201, r.status, "an expired claim is not returned again: %s", r.body)
		require.Equal(t, cPlaceholder, r.json["domain_id"], "the team's copy is the placeholder again")
		require.True(t, strings.HasPrefix(r.json["expires_at"].(string), "2026-12-12"), r.json["expires_at"])
	})
}
