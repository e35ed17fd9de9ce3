package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestContactMembershipsCascade checks on the table itself that deleting a
// contact or a segment deletes its membership rows (the suite can only see
// that they are no longer listed).
func TestContactMembershipsCascade(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := godwittest.NewStore(t, kind, nil)
			team := &store.Team{ID: uuid.NewString(), Name: "a"}
			require.NoError(t, db.CreateTeam(ctx, team))
			var segs []string
			for i := range 3 {
				s := &store.Segment{ID: uuid.NewString(), TeamID: team.ID, Name: fmt.Sprint(i)}
				require.NoError(t, db.CreateSegment(ctx, s))
				segs = append(segs, s.ID)
			}
			var contacts []string
			for i := range 3 {
				c := &store.Contact{ID: uuid.NewString(), TeamID: team.ID, Email: fmt.Sprintf("c%d@example.com", i), SegmentIDs: segs}
				require.NoError(t, db.CreateContact(ctx, c))
				contacts = append(contacts, c.ID)
			}
			count := func(where string, arg string) int {
				q := `SELECT count(*) FROM contact_segments WHERE ` + where + ` = ?`
				if db.Dialect() == sqlstore.Postgres {
					q = `SELECT count(*) FROM contact_segments WHERE ` + where + ` = $1`
				}
				var n int
				require.NoError(t, db.Writer().QueryRowContext(ctx, q, arg).Scan(&n))
				return n
			}
			require.Equal(t, 3, count("contact_id", contacts[0]))
			require.Equal(t, 9, count("team_id", team.ID))

			require.NoError(t, db.DeleteContact(ctx, team.ID, contacts[0]))
			require.Zero(t, count("contact_id", contacts[0]))
			require.Equal(t, 6, count("team_id", team.ID))

			require.NoError(t, db.DeleteSegment(ctx, team.ID, segs[1]))
			require.Zero(t, count("segment_id", segs[1]))
			require.Equal(t, 4, count("team_id", team.ID))
		})
	}
}

// TestContactMembershipRace adds memberships while their contacts and
// segments are being deleted: each add either succeeds or is ErrNotFound,
// and no membership outlives its contact or segment.
func TestContactMembershipRace(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := godwittest.NewStore(t, kind, nil)
			team := &store.Team{ID: uuid.NewString(), Name: "a"}
			require.NoError(t, db.CreateTeam(ctx, team))
			const n = 20
			var wg sync.WaitGroup
			errs := make(chan error, 4*n)
			for i := range n {
				seg := &store.Segment{ID: uuid.NewString(), TeamID: team.ID, Name: "s"}
				require.NoError(t, db.CreateSegment(ctx, seg))
				c := &store.Contact{ID: uuid.NewString(), TeamID: team.ID, Email: fmt.Sprintf("c%d@example.com", i)}
				require.NoError(t, db.CreateContact(ctx, c))
				wg.Add(3)
				go func() {
					defer wg.Done()
					errs <- db.AddContactToSegment(ctx, team.ID, c.ID, seg.ID, time.Now())
				}()
				go func() {
					defer wg.Done()
					if i%2 == 0 {
						errs <- db.DeleteContact(ctx, team.ID, c.ID)
					} else {
						errs <- db.DeleteSegment(ctx, team.ID, seg.ID)
					}
				}()
				go func() {
					defer wg.Done()
					c2 := &store.Contact{ID: uuid.NewString(), TeamID: team.ID, Email: fmt.Sprintf("d%d@example.com", i), SegmentIDs: []string{seg.ID}}
					errs <- db.CreateContact(ctx, c2)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					t.Errorf("unexpected error: %v", err)
				}
			}
			var orphans int
			require.NoError(t, db.Writer().QueryRowContext(ctx, `SELECT count(*) FROM contact_segments m
				WHERE NOT EXISTS (SELECT 1 FROM contacts c WHERE c.id = m.contact_id)
				OR NOT EXISTS (SELECT 1 FROM segments s WHERE s.id = m.segment_id)`).Scan(&orphans))
			require.Zero(t, orphans)
		})
	}
}
