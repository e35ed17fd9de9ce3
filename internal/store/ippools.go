package store

import (
	"context"
	"time"
)

// IPPools holds the sending IP pools assigned to teams and domains, and
// the daily counts of warming-up IPs (internal/delivery, sourceip.go).
type IPPools interface {
	// SetIPPool assigns pool to the team (domainID "") or to one of its
	// domains; pool "" removes the assignment. An unknown team or domain
	// of the team is ErrNotFound.
	SetIPPool(ctx context.Context, teamID, domainID, pool string) error
	// IPPoolFor returns the pool of the team's domain: the domain's own,
	// else the team's, else "" (the default pool).
	IPPoolFor(ctx context.Context, teamID, domainID string) (string, error)
	// ListIPPoolAssignments lists every assignment, by team then domain.
	ListIPPoolAssignments(ctx context.Context) ([]*IPPoolAssignment, error)
	// TakeWarmup counts one message from ip to destination on day
	// ("2026-12-03") if fewer than limit were counted: ok is false, and
	// nothing is counted, when limit is reached. Atomic across processes.
	TakeWarmup(ctx context.Context, ip, destination, day string, limit int) (ok bool, err error)
	// ReturnWarmup uncounts a message TakeWarmup counted that was not
	// sent after all (never below 0).
	ReturnWarmup(ctx context.Context, ip, destination, day string) error
	// WarmupCounts lists the counts of day.
	WarmupCounts(ctx context.Context, day string) ([]*WarmupCount, error)
}

// IPPoolAssignment is a pool assigned to a team (DomainID "") or domain.
type IPPoolAssignment struct {
	TeamID     string
	TeamName   string
	DomainID   string // "" for the whole team
	DomainName string // "" for the whole team, or when the domain is gone
	Pool       string
	UpdatedAt  time.Time
}

// WarmupCount is what one IP sent to one destination on one day.
type WarmupCount struct {
	IP          string
	Destination string
	Day         string
	Sent        int
}
