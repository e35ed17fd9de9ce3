package inbound_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/inbound"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// countingReceiving counts the RCPT lookups that reach the store.
type countingReceiving struct {
	inbound.ReceivingStore
	held, routes atomic.Int64
}

func (c *countingReceiving) HeldDomain(ctx context.Context, name string) (*store.Domain, error) {
	c.held.Add(1)
	return c.ReceivingStore.HeldDomain(ctx, name)
}

func (c *countingReceiving) ReceivingRoute(ctx context.Context, domainID, local string) (*store.ReceivingRoute, error) {
	c.routes.Add(1)
	return c.ReceivingStore.ReceivingRoute(ctx, domainID, local)
}

// startMX serves b on loopback and returns its address.
func startMX(t *testing.T, b *inbound.Backend) string {
	t.Helper()
	mx := &inbound.MX{Addr: "127.0.0.1:0", Server: inbound.NewServer(b, "mx.godwit.test", 0)}
	require.NoError(t, mx.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, mx.Stop(context.Background())) })
	return mx.ListenAddr().String()
}

// rcpt asks the MX at addr to take mail for to (MAIL, RCPT, RSET): nil
// when it would.
func rcpt(t *testing.T, addr, to string) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Hello("mta.example.net"))
	require.NoError(t, c.Mail("a@example.net", nil))
	err = c.Rcpt(to, nil)
	require.NoError(t, c.Reset())
	return err
}

// TestRcptCache: the MX looks a receiving domain and an address's route up
// once per DomainCacheTTL, "no such domain" included; a domain unverified
// or deleted, or a catch-all turned off, through this node's store stops
// the mail at once; on a node that does not see the change (another
// server on the same database) within the TTL.
func TestRcptCache(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clock := godwittest.NewClock(t0)
			db := godwittest.NewStore(t, kind, clock)
			team := uuid.NewString()
			require.NoError(t, db.CreateTeam(ctx, &store.Team{ID: team, Name: "t", CreatedAt: t0}))
			d := newDomain(t, db, team, "in.example.com", store.DomainVerified, store.DomainVerified)
			d2 := newDomain(t, db, team, "in2.example.com", store.DomainVerified, store.DomainVerified)

			counting := &countingReceiving{ReceivingStore: db}
			self := &inbound.Backend{Store: db, Receiving: counting, Now: clock.Now}
			db.OnReceivingChange(self.ForgetReceiving)
			here := startMX(t, self)
			// Another node: the same database, deaf to this store's changes.
			there := startMX(t, &inbound.Backend{Store: db, Receiving: db, Now: clock.Now})
			refused := func(addr, to string) {
				t.Helper()
				requireSMTPCode(t, rcpt(t, addr, to), 550, smtp.EnhancedCode{5, 1, 1})
			}

			for range 3 {
				require.NoError(t, rcpt(t, here, "a@in.example.com"))
				require.NoError(t, rcpt(t, here, "A@IN.example.com"))
				refused(here, "x@nowhere.example")
			}
			require.Equal(t, int64(2), counting.held.Load(), "one lookup per domain, the unknown one included")
			require.Equal(t, int64(1), counting.routes.Load(), "one lookup per address")
			require.NoError(t, rcpt(t, here, "b@in.example.com"))
			require.Equal(t, int64(2), counting.routes.Load())
			// Misses: the two domains, the two addresses; hits: the other
			// 5 lookups of each of 3 rounds, less the first round's 3
			// misses, plus b's domain.
			require.Equal(t, uint64(4), self.CacheMisses())
			require.Equal(t, uint64(5*3-3+1), self.CacheHits())

			// After the TTL, asked again.
			clock.Advance(inbound.DefaultDomainCacheTTL)
			require.NoError(t, rcpt(t, here, "a@in.example.com"))
			require.Equal(t, int64(3), counting.held.Load())

			// The domain fails verification: refused at once here, within
			// the TTL there.
			require.NoError(t, rcpt(t, there, "a@in.example.com"))
			d.Status, d.RecordStatus[store.RecordReceiving] = store.DomainFailed, store.DomainFailed
			require.NoError(t, db.UpdateDomain(ctx, d))
			refused(here, "a@in.example.com")
			clock.Advance(inbound.DefaultDomainCacheTTL - time.Millisecond)
			require.NoError(t, rcpt(t, there, "a@in.example.com"), "the other node still trusts its copy")
			clock.Advance(time.Millisecond)
			refused(there, "a@in.example.com")

			// The domain is deleted: the same.
			require.NoError(t, rcpt(t, here, "a@in2.example.com"))
			require.NoError(t, rcpt(t, there, "a@in2.example.com"))
			require.NoError(t, db.DeleteDomain(ctx, team, d2.ID))
			refused(here, "a@in2.example.com")
			clock.Advance(inbound.DefaultDomainCacheTTL)
			refused(there, "a@in2.example.com")

			// A routing change (catch-all off) applies at once here.
			d3 := newDomain(t, db, team, "in3.example.com", store.DomainVerified, store.DomainVerified)
			require.NoError(t, rcpt(t, here, "anyone@in3.example.com"))
			require.NoError(t, db.SetReceivingSettings(ctx, &store.ReceivingSettings{TeamID: team, DomainID: d3.ID, CatchAll: false,
				UpdatedAt: t0}))
			refused(here, "anyone@in3.example.com")
		})
	}
}

// TestRcptCacheOff: a negative DomainCacheTTL looks up at every RCPT.
func TestRcptCacheOff(t *testing.T) {
	ctx := context.Background()
	db := godwittest.NewStore(t, sqlstore.SQLite, godwittest.NewClock(t0))
	team := uuid.NewString()
	require.NoError(t, db.CreateTeam(ctx, &store.Team{ID: team, Name: "t", CreatedAt: t0}))
	newDomain(t, db, team, "in.example.com", store.DomainVerified, store.DomainVerified)
	counting := &countingReceiving{ReceivingStore: db}
	addr := startMX(t, &inbound.Backend{Store: db, Receiving: counting, DomainCacheTTL: -1})
	for range 3 {
		require.NoError(t, rcpt(t, addr, "a@in.example.com"))
	}
	require.Equal(t, int64(3), counting.held.Load())
	require.Equal(t, int64(3), counting.routes.Load())
}
