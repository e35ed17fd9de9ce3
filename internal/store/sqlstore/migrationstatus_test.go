package sqlstore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestMigrationStatus: a fresh database lists every migration as pending;
// ApplyMigrations applies exactly those; after a step down the reverted
// ones are pending again and applying names only them.
func TestMigrationStatus(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := sqlstore.Open(ctx, godwittest.StoreURL(t, kind), sqlstore.Options{NoMigrate: true, Outbox: godwittest.NewOutbox()})
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })

			st, err := db.MigrationStatus(ctx)
			require.NoError(t, err)
			require.Greater(t, len(st), 20)
			// Versions rise from 1; a number may be missing while the
			// migrations numbered for work in parallel land one by one.
			prev := int64(0)
			for _, m := range st {
				require.False(t, m.Applied, "%d %s on a new database", m.Version, m.Name)
				require.Greater(t, m.Version, prev, "versions in increasing order")
				require.NotEmpty(t, m.Name)
				prev = m.Version
			}
			require.Equal(t, "00001_foundation", st[0].Name)
			last, beforeLast, stepTo := st[len(st)-1].Version, st[len(st)-2].Version, st[len(st)-3].Version

			applied, err := db.ApplyMigrations(ctx)
			require.NoError(t, err)
			require.Len(t, applied, len(st), "every migration applied")
			require.Equal(t, last, applied[len(applied)-1].Version)
			st, err = db.MigrationStatus(ctx)
			require.NoError(t, err)
			for _, m := range st {
				require.True(t, m.Applied, "%d applied", m.Version)
				require.False(t, m.AppliedAt.IsZero())
			}
			applied, err = db.ApplyMigrations(ctx)
			require.NoError(t, err)
			require.Empty(t, applied, "up to date: nothing to apply")

			require.NoError(t, db.MigrateDownTo(ctx, stepTo))
			st, err = db.MigrationStatus(ctx)
			require.NoError(t, err)
			for _, m := range st {
				require.Equal(t, m.Version <= stepTo, m.Applied, "%d after stepping down to %d", m.Version, stepTo)
			}
			applied, err = db.ApplyMigrations(ctx)
			require.NoError(t, err)
			require.Equal(t, []int64{beforeLast, last}, []int64{applied[0].Version, applied[1].Version})
			require.Len(t, applied, 2)
		})
	}
}

// TestBackupSQLite: the copy is a store of its own with what the source
// held, a second backup to the same file is refused, and the request logs
// are copied only when asked.
func TestBackupSQLite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "godwit.db")
	db, err := sqlstore.Open(ctx, src, sqlstore.Options{Outbox: godwittest.NewOutbox()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	team := &store.Team{ID: uuid.NewString(), Name: "acme", CreatedAt: time.Now().UTC()}
	require.NoError(t, db.CreateTeam(ctx, team))
	var ids []string
	for range 3 {
		e := &store.Email{ID: store.NewID(), TeamID: team.ID, From: "a@example.com", To: []string{"b@example.net"}, Subject: "s",
			LastEvent: store.EventQueued, CreatedAt: time.Now().UTC()}
		require.NoError(t, db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e}}))
		ids = append(ids, e.ID)
	}

	to := filepath.Join(dir, "backup.db")
	b, err := sqlstore.BackupSQLite(ctx, src, to, false)
	require.NoError(t, err)
	require.Equal(t, int64(3), b.Emails)
	require.Positive(t, b.Bytes)
	require.Empty(t, b.LogsPath)
	_, err = os.Stat(filepath.Join(dir, "backup-logs.db"))
	require.ErrorIs(t, err, os.ErrNotExist, "no request logs without withLogs")

	_, err = sqlstore.BackupSQLite(ctx, src, to, false)
	require.ErrorIs(t, err, sqlstore.ErrBackupExists)

	b2, err := sqlstore.BackupSQLite(ctx, src, filepath.Join(dir, "with-logs.db"), true)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "with-logs-logs.db"), b2.LogsPath)
	require.Positive(t, b2.LogsBytes)

	copyDB, err := sqlstore.Open(ctx, to, sqlstore.Options{Outbox: godwittest.NewOutbox()})
	require.NoError(t, err, "the backup opens and migrates as a store")
	t.Cleanup(func() { _ = copyDB.Close() })
	for _, id := range ids {
		_, err := copyDB.GetEmail(ctx, team.ID, id)
		require.NoError(t, err, "email %s in the backup", id)
	}
}

func TestBackupSQLiteIsPrivate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlstore.Open(ctx, filepath.Join(dir, "godwit.db"), sqlstore.Options{Outbox: godwittest.NewOutbox()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	b, err := sqlstore.BackupSQLite(ctx, filepath.Join(dir, "godwit.db"), filepath.Join(dir, "b.db"), false)
	require.NoError(t, err)
	st, err := os.Stat(b.Path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "a backup holds key hashes and sealed secrets")
}
