package msa_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/accept"
	"github.com/godwit/godwit/internal/auth"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/msa"
	"github.com/godwit/godwit/internal/secretbox"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// ioTimeout bounds every read and write of a test client, so that a server
// that fails to answer fails the test instead of hanging it.
const ioTimeout = 10 * time.Second

// ---------------------------------------------------------------------------
// Environment: a real store, the real accept path, a real go-smtp server.

type env struct {
	t       testing.TB
	db      *sqlstore.DB
	clock   *godwittest.Clock
	accept  *accept.Service
	domains domains.Settings
	logs    *godwittest.LogBuffer
	logger  *slog.Logger

	team       string
	key        string // sending_access of team (example.com, example.org)
	restricted string // sending_access of team, restricted to example.org
	slowTeam   string // rate limit 1 per second (slow.example)
	slowKey    string
}

// eachStore runs fn once per store kind, in parallel subtests named after
// the kind: for the tests whose outcome is what the store keeps.
func eachStore(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			fn(t, newEnvOn(t, kind))
		})
	}
}

// newEnv is an environment on SQLite: most tests are about the protocol,
// and what the store does for them both stores do alike (storetest).
func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvOn(t, sqlstore.SQLite)
}

// newEnvOn is an environment on a fresh store of the given kind.
func newEnvOn(t testing.TB, kind sqlstore.Dialect) *env {
	t.Helper()
	clock := godwittest.NewClock(t0)
	db, err := sqlstore.Open(context.Background(), godwittest.StoreURL(t, kind), sqlstore.Options{Now: clock.Now, Outbox: godwittest.NewOutbox()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	box, err := secretbox.New(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	logs := &godwittest.LogBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := accept.New(accept.Config{Store: db, Now: clock.Now, Logger: logger, DefaultRateLimit: 10000})
	e := &env{t: t, db: db, clock: clock, accept: a, logs: logs, logger: logger,
		domains: domains.Settings{Keys: box, MXHost: "bounces.godwit.test", SPF: "v=spf1 include:spf.godwit.test ~all"}}

	e.team = e.newTeam("a")
	e.key = e.newKey(e.team, store.PermissionSendingAccess, "")
	e.verifiedDomain(e.team, "example.com")
	org := e.verifiedDomain(e.team, "example.org")
	e.restricted = e.newKey(e.team, store.PermissionSendingAccess, org)

	e.slowTeam = e.newTeam("slow")
	require.NoError(t, db.SetTeamRateLimit(context.Background(), e.slowTeam, 1))
	e.slowKey = e.newKey(e.slowTeam, store.PermissionFullAccess, "")
	e.verifiedDomain(e.slowTeam, "slow.example")
	return e
}

// in is e for the subtest t: what e's helpers then fail or clean up
// belongs to t (a subtest may not fail its parent).
func (e *env) in(t testing.TB) *env {
	sub := *e
	sub.t = t
	return &sub
}

func (e *env) newTeam(name string) string {
	id := uuid.NewString()
	require.NoError(e.t, e.db.CreateTeam(context.Background(), &store.Team{ID: id, Name: name, CreatedAt: t0}))
	return id
}

// newKey stores an API key; domainID "" is a key for every domain.
func (e *env) newKey(teamID, perm, domainID string) string {
	token, prefix, hash, err := auth.NewToken()
	require.NoError(e.t, err)
	require.NoError(e.t, e.db.CreateAPIKey(context.Background(), &store.APIKey{ID: uuid.NewString(), TeamID: teamID,
		Name: "smtp", Prefix: prefix, Hash: hash, Permission: perm, DomainID: domainID, CreatedAt: t0}))
	return token
}

// verifiedDomain stores a domain as the verifier leaves a verified one.
func (e *env) verifiedDomain(teamID, name string) string {
	d := &store.Domain{ID: uuid.NewString(), TeamID: teamID, Name: name, Region: "us-east-1", ReturnPath: "send",
		Status: store.DomainVerified, TLS: "opportunistic", Sending: "enabled", Receiving: "disabled", DKIMSelector: "resend",
		RecordStatus: map[string]string{}, CreatedAt: t0, UpdatedAt: t0}
	var err error
	d.DKIMKey, d.DKIMEd25519Key, err = e.domains.NewKeys(d.ID)
	require.NoError(e.t, err)
	require.NoError(e.t, e.db.CreateDomain(context.Background(), d))
	return d.ID
}

// config is a server configuration with small delays, for tests.
func (e *env) config() msa.Config {
	return msa.Config{
		Accepter:            e.accept,
		Logger:              e.logger,
		Now:                 e.clock.Now,
		Hostname:            "smtp.godwit.test",
		TLSConfig:           serverTLS(e.t),
		ReadTimeout:         ioTimeout,
		SessionTimeout:      time.Minute,
		AuthFailureDelay:    time.Millisecond,
		AuthFailureMaxDelay: 2 * time.Millisecond,
	}
}

// start serves cfg with STARTTLS on a loopback port and returns its address.
func (e *env) start(cfg msa.Config) string {
	e.t.Helper()
	ln := listenLoopback(e.t)
	srv := msa.New(cfg)
	e.serve(srv, ln, srv.ServeSTARTTLS)
	return ln.Addr().String()
}

// serve runs srv on ln with run (one of its Serve methods) until the test
// ends, then closes it and checks that run returned without error.
func (e *env) serve(srv *msa.Server, ln net.Listener, run func(net.Listener) error) {
	e.t.Helper()
	done := make(chan error, 1)
	go func() { done <- run(ln) }()
	e.t.Cleanup(func() {
		require.NoError(e.t, srv.Close())
		select {
		case err := <-done:
			require.NoError(e.t, err, "Serve after Close")
		case <-time.After(5 * time.Second):
			e.t.Error("Serve did not return after Close")
		}
	})
}

func listenLoopback(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}

// emails returns the team's stored emails, newest first.
func (e *env) emails(teamID string) []*store.Email {
	e.t.Helper()
	list, _, err := e.db.ListEmails(context.Background(), teamID, store.Page{Limit: 100})
	require.NoError(e.t, err)
	return list
}

// requireStored checks that the team's email id is stored and returns it.
func (e *env) requireStored(t *testing.T, teamID, id string) *store.Email {
	t.Helper()
	got, err := e.db.GetEmail(context.Background(), teamID, id)
	require.NoError(t, err, "email %s is stored", id)
	return got
}

// forgedKey is key with another secret: its prefix names a real key, its
// secret is wrong.
func forgedKey(key string) string {
	forged := key[:len(key)-4] + "AAAA"
	if forged == key {
		forged = key[:len(key)-4] + "BBBB"
	}
	return forged
}

func mustPrefix(t *testing.T, token string) string {
	t.Helper()
	p, err := auth.Prefix(token)
	require.NoError(t, err)
	return p
}

// ---------------------------------------------------------------------------
// Certificates: a test CA and a leaf for 127.0.0.1 signed by it.

type testPKI struct {
	leaf tls.Certificate
	pool *x509.CertPool
}

var pki = sync.OnceValues(func() (*testPKI, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Godwit test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "smtp.godwit.test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &testPKI{leaf: tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}, pool: pool}, nil
})

func serverTLS(t testing.TB) *tls.Config {
	p, err := pki()
	require.NoError(t, err)
	return &tls.Config{Certificates: []tls.Certificate{p.leaf}, MinVersion: tls.VersionTLS12}
}

// clientTLS trusts only the test CA.
func clientTLS(t *testing.T) *tls.Config {
	p, err := pki()
	require.NoError(t, err)
	return &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}
