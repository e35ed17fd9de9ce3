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
	conn, err := openSQLite("file:" + filepath.Join(t.TempDir(), "c.db"))
	require.NoError(t, err)
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1) // one connection: every call below shares its cache
	t.Cleanup(func() { db.Close() })

	// A script runs whole, through the cache too.
	_, err = db.ExecContext(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a'); -- a; comment
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
