package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	db := oneConn(t) // one connection: every call below shares its cache

	// A script runs whole, through the cache too.
	_, err := db.ExecContext(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a'); -- a; comment
		INSERT INTO t VALUES (2, 'b');`)
	require.NoError(t, err)

	// The same query while its rows are still open on the connection (in a
	// transaction) runs beside them instead of resetting them.
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	const q = `SELECT k, v FROM t WHERE k >= ? ORDER BY k`
	outer, err := tx.QueryContext(ctx, q, 1)
	require.NoError(t, err)
	var got []string
	for outer.Next() {
		var k int
		var v string
		require.NoError(t, outer.Scan(&k, &v))
		var n int
		require.NoError(t, tx.QueryRowContext(ctx, `SELECT count(*) FROM (`+q+`)`, k).Scan(&n))
		inner, err := tx.QueryContext(ctx, q, k)
		require.NoError(t, err)
		require.True(t, inner.Next())
		var ik int
		var iv string
		require.NoError(t, inner.Scan(&ik, &iv))
		require.NoError(t, inner.Close())
		got = append(got, fmt.Sprintf("%d%s:%d:%d", k, v, n, ik))
	}
	require.NoError(t, outer.Err())
	require.NoError(t, outer.Close())
	require.NoError(t, tx.Commit())
	require.Equal(t, []string{"1a:2:1", "2b:1:2"}, got)

	// Cached statements are reused with new arguments, and the cache stays bounded.
	for i := range maxCachedStmts + 10 {
		_, err := db.ExecContext(ctx, fmt.Sprintf(`INSERT INTO t (v) VALUES (?) -- %d`, i%(maxCachedStmts+5)), fmt.Sprint(i))
		require.NoError(t, err)
	}
	var n int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n))
	require.Equal(t, 2+maxCachedStmts+10, n)
	c, err := db.Conn(ctx)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Raw(func(dc any) error {
		cc := dc.(*cachingConn)
		require.LessOrEqual(t, len(cc.stmts), maxCachedStmts)
		require.NotEmpty(t, cc.stmts)
		return nil
	}))

	require.True(t, cacheable("SELECT 1; -- ; in a comment"))
	require.False(t, cacheable("   "))
}

// A cached statement's LIMIT parameter is prepared as +? (stableLimits),
// and still limits the rows to the value bound on each call.
func TestStableLimits(t *testing.T) {
	require.Equal(t, "SELECT 1 FROM t ORDER BY k LIMIT +?5 OFFSET ?", stableLimits("SELECT 1 FROM t ORDER BY k LIMIT ?5 OFFSET ?"))
	require.Equal(t, "SELECT 1 FROM t\n\tlimit\n+?", stableLimits("SELECT 1 FROM t\n\tlimit\n?"))
	require.Equal(t, "SELECT 1 FROM t LIMIT 10", stableLimits("SELECT 1 FROM t LIMIT 10"))
	require.Equal(t, "SELECT x_limit ? FROM t", stableLimits("SELECT x_limit ? FROM t"), "only the LIMIT keyword")

	ctx := context.Background()
	db := oneConn(t)
	_, err := db.ExecContext(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY); INSERT INTO t VALUES (1), (2), (3), (4), (5)`)
	require.NoError(t, err)
	for _, limit := range []any{1, 3, 0, 10, "2", -1} {
		rows, err := db.QueryContext(ctx, `SELECT k FROM t ORDER BY k LIMIT ?`, limit)
		require.NoError(t, err)
		var got []int
		for rows.Next() {
			var k int
			require.NoError(t, rows.Scan(&k))
			got = append(got, k)
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		want := map[any][]int{1: {1}, 3: {1, 2, 3}, 0: nil, 10: {1, 2, 3, 4, 5}, "2": {1, 2}, -1: {1, 2, 3, 4, 5}}[limit]
		require.Equal(t, want, got, "LIMIT %v", limit)
	}
}

// oneConn opens a new SQLite database through the statement cache, on one
// connection, so that every call shares its cache.
func oneConn(tb testing.TB) *sql.DB {
	conn, err := openSQLite("file:" + filepath.Join(tb.TempDir(), "c.db"))
	require.NoError(tb, err)
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	tb.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkVaryingLimit: a cached statement run with a new LIMIT value on
// each call (as River's job fetch is); compare with stableLimits made the
// identity to see what the re-preparing cost.
func BenchmarkVaryingLimit(b *testing.B) {
	ctx := context.Background()
	db := oneConn(b)
	_, err := db.ExecContext(ctx, `CREATE TABLE j (id INTEGER PRIMARY KEY, state TEXT, queue TEXT, priority INT, at TEXT);
		CREATE INDEX j_fetch ON j (state, queue, priority, at, id)`)
	require.NoError(b, err)
	const q = `UPDATE j SET state = 'running' WHERE id IN (SELECT id FROM j WHERE priority >= 0 AND queue = ?1
		AND at <= coalesce(cast(?2 AS text), datetime('now', 'subsec')) AND state = 'available'
		ORDER BY priority, at, id LIMIT ?3) RETURNING id`
	for i := 0; b.Loop(); i++ {
		rows, err := db.QueryContext(ctx, q, "deliver", nil, 1+i%50)
		require.NoError(b, err)
		require.NoError(b, rows.Close())
	}
}
