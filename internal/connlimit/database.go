package connlimit

import (
	"context"
	"time"
)

// LeaseStore keeps connection leases in a database shared by the nodes
// (sqlstore.DB on PostgreSQL). Times are the calling node's.
type LeaseStore interface {
	// AcquireConnectionLease adds lease to dest's leases, expiring at
	// now+ttl, if fewer than max are unexpired and no other owner marked
	// dest wanted; otherwise it marks dest wanted by owner until
	// now+wantFor (unless another owner's mark is there) and returns
	// false. One destination's acquires are serialised.
	AcquireConnectionLease(ctx context.Context, dest, lease, owner string, max int, now time.Time, ttl, wantFor time.Duration) (bool, error)
	// RenewConnectionLeases extends the unexpired leases among leases to
	// now+ttl and returns those it extended.
	RenewConnectionLeases(ctx context.Context, leases []string, now time.Time, ttl time.Duration) ([]string, error)
	ReleaseConnectionLease(ctx context.Context, lease string) error
	// ConnectionWantedBy returns the owner of dest's unexpired wanted mark
	// ("" for none).
	ConnectionWantedBy(ctx context.Context, dest string, now time.Time) (string, error)
	// UnwantConnection removes dest's wanted mark if owner left it.
	UnwantConnection(ctx context.Context, dest, owner string) error
}

// NewDatabase returns a Limiter whose leases are kept in the database,
// shared by every node on it: for clusters without Redis, a few round
// trips per new connection (reused connections cost none).
func NewDatabase(store LeaseStore, opts Options) *Limiter {
	return newLimiter(&dbBackend{s: store}, "database", opts)
}

type dbBackend struct{ s LeaseStore }

func (d *dbBackend) acquire(ctx context.Context, key, lease, owner string, max int, ttl time.Duration) (bool, error) {
	return d.s.AcquireConnectionLease(ctx, key, lease, owner, max, time.Now(), ttl, wantFor)
}

func (d *dbBackend) renew(ctx context.Context, leases map[string]string, ttl time.Duration) ([]string, error) {
	ids := make([]string, 0, len(leases))
	for lease := range leases {
		ids = append(ids, lease)
	}
	renewed, err := d.s.RenewConnectionLeases(ctx, ids, time.Now(), ttl)
	if err != nil {
		return nil, err
	}
	ok := make(map[string]bool, len(renewed))
	for _, l := range renewed {
		ok[l] = true
	}
	var lost []string
	for _, l := range ids {
		if !ok[l] {
			lost = append(lost, l)
		}
	}
	return lost, nil
}

func (d *dbBackend) release(ctx context.Context, _, lease string) error {
	return d.s.ReleaseConnectionLease(ctx, lease)
}

func (d *dbBackend) wantedBy(ctx context.Context, key string) (string, error) {
	return d.s.ConnectionWantedBy(ctx, key, time.Now())
}

func (d *dbBackend) unwant(ctx context.Context, key, owner string) error {
	return d.s.UnwantConnection(ctx, key, owner)
}
