package sqlstore

import (
	"context"
	"database/sql/driver"
	"regexp"
	"strings"

	"modernc.org/sqlite"
)

// SQLite parses every statement it is handed without a prepared statement,
// and River's SQLite driver hands it every statement that way: in delivery
// profiles, parsing SQL was a fifth of the server's CPU. The SQLite
// connections therefore keep a cache of prepared statements keyed by their
// text, as pgx does for PostgreSQL, and run ExecContext and QueryContext
// through it.

// maxCachedStmts bounds a connection's cache; past it the cache starts over.
const maxCachedStmts = 256

// openSQLite returns a connector for dsn whose connections cache statements.
func openSQLite(dsn string) (driver.Connector, error) {
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return cachingConnector{base}, nil
}

type cachingConnector struct{ base driver.Connector }

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &cachingConn{Conn: conn, stmts: map[string]*cachedStmt{}}, nil
}

func (c cachingConnector) Driver() driver.Driver { return c.base.Driver() }

type cachedStmt struct {
	s    driver.Stmt
	busy bool // rows of a query on it are still open
}

// cachingConn wraps a modernc.org/sqlite connection. It forwards the
// optional interfaces that driver's connections implement (its documentation
// asks wrappers to), and Unwrap.
type cachingConn struct {
	driver.Conn
	stmts map[string]*cachedStmt
}

func (c *cachingConn) Unwrap() driver.Conn { return c.Conn }

// maxCachedQuery bounds the text of a cached statement (migration scripts
// run once and need no cache).
const maxCachedQuery = 16 << 10

// cacheable reports whether query's prepared statement is worth keeping.
// Correctness does not depend on it: modernc's prepared statement runs a
// script (several statements) whole, re-parsing it as an unprepared call
// would.
func cacheable(query string) bool {
	return len(query) <= maxCachedQuery && strings.TrimSpace(query) != ""
}

// stmt returns the cached statement for query, preparing it on first use,
// or ok false when the caller should run query directly (a long script, or
// the cached statement is busy with open rows).
func (c *cachingConn) stmt(ctx context.Context, query string) (cs *cachedStmt, ok bool, err error) {
	if !cacheable(query) {
		return nil, false, nil
	}
	if cs, found := c.stmts[query]; found {
		if cs.busy {
			return nil, false, nil
		}
		return cs, true, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		for q, cs := range c.stmts {
			if !cs.busy {
				_ = cs.s.Close()
				delete(c.stmts, q)
			}
		}
	}
	s, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, stableLimits(query))
	if err != nil {
		return nil, false, err
	}
	cs = &cachedStmt{s: s}
	c.stmts[query] = cs
	return cs, true, nil
}

// SQLite (since 3.47) plans a statement with the value bound to its LIMIT
// parameter, and so prepares it again whenever that value changes: River's
// fetch of delivery jobs, whose LIMIT is the number of free workers, was
// parsed and planned on every call (2% of a busy node's CPU). A unary plus
// in front of the parameter keeps the value out of the plan (SQLite reads
// a bound value only for a bare parameter) and changes nothing else: the
// LIMIT is still the bound value.
var limitParam = regexp.MustCompile(`(?i)\b(LIMIT\s+)\?`)

// stableLimits returns query with a plus before each LIMIT parameter.
func stableLimits(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	return limitParam.ReplaceAllString(query, "${1}+?")
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, ok, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if !ok {
		return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
	}
	return cs.s.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, ok, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if !ok {
		return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
	}
	rows, err := cs.s.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.busy = true
	return &releasingRows{Rows: rows, cs: cs}, nil
}

func (c *cachingConn) Close() error {
	for _, cs := range c.stmts {
		_ = cs.s.Close()
	}
	c.stmts = nil
	return c.Conn.Close()
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c *cachingConn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

func (c *cachingConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *cachingConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

// releasingRows frees its cached statement for the next query when closed.
type releasingRows struct {
	driver.Rows
	cs *cachedStmt
}

func (r *releasingRows) Close() error {
	r.cs.busy = false
	return r.Rows.Close()
}

func (r *releasingRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}
