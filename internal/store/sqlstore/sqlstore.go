// Package sqlstore implements store.Store on SQLite (modernc.org/sqlite, pure
// Go) and on PostgreSQL (pgx through database/sql).
//
// # One implementation, two dialects
//
// Every query is written once, in SQL that both databases accept (ON CONFLICT,
// integer microsecond timestamps, TEXT/JSON columns), with '?' placeholders
// that are rewritten to $n for PostgreSQL. Only the schema differs, so each
// dialect has its own numbered migrations under migrations/<dialect>, applied
// with goose at start and by `godwit migrate`.
//
// # Writes
//
// SQLite has one writer: the store keeps a single writing connection and a
// separate pool of read-only connections (WAL lets them read while it writes).
// PostgreSQL uses one pool for both.
//
// # Group commit
//
// A commit costs a disk flush (~0.6 ms here), so accepting emails one
// transaction each caps a server near 1,500/s. AcceptEmails therefore hands
// its work to committer goroutines that gather every request waiting at that
// moment into one transaction. Each caller returns only after the commit that
// holds its emails. If a group's transaction fails, each of its requests is
// retried alone, so one bad request never fails its neighbours. Delivery
// outcomes (RecordDelivery) are committed the same way; on SQLite, whose one
// writing connection would only make the two kinds take turns, a single
// committer (writeLoop) puts the accepts and the outcomes waiting at that
// moment into one transaction, and the emails of a whole group share their
// delivery jobs.
//
// # Jobs
//
// A write that makes work for later (an accepted email's delivery, a
// retry, a webhook message, a broadcast's send, a contact import's run)
// enqueues its job through the Outbox given to Open, inside the write's own
// transaction: both commit or neither does. Without an outbox such a write
// fails with ErrNoOutbox instead of committing without its job.
//
// # Dependencies
//
// The package imports only store of Godwit's (imports_test.go checks):
// event payloads come from the callers (store.SuppressionEvent), and the
// job queue behind the Outbox is the caller's.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/crc64"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/godwit/godwit/internal/store"
)

//go:embed migrations
var migrations embed.FS

// Dialect names the database behind a DB.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Options tune a DB. The zero value is usable.
type Options struct {
	// Now is the clock used for timestamps the store sets itself.
	Now func() time.Time
	// Committers is the number of group-commit goroutines of accepts
	// (SQLite: always 1, shared with the delivery outcomes).
	Committers int
	// MaxGroup bounds the requests gathered into one commit.
	MaxGroup int
	// Outbox enqueues the jobs of the store's writes in their transactions
	// (see Outbox). Nil is NoOutbox: a write with a job to enqueue fails
	// with ErrNoOutbox.
	Outbox Outbox
	// ObserveCommit, when set, is told of every group commit after it ends
	// (on the committer's goroutine: it must be quick).
	ObserveCommit func(CommitStats)
	// NoMigrate opens the database as it is, without applying pending
	// migrations (for godwit migrate, which reports what it applies, and
	// migrate --status). Only Migrate, ApplyMigrations, MigrationStatus
	// and Close are meant to be used on such a DB before it is migrated.
	NoMigrate bool
}

// CommitStats describes one group commit.
type CommitStats struct {
	// Kind is "accept" (emails), "outcomes" (delivery outcomes) or
	// "received" (received emails).
	Kind     string
	Duration time.Duration
	// Requests is the callers' requests in the group; Emails the emails
	// they held (accepts only).
	Requests, Emails int
	// Failed reports that the group's transaction failed (its requests
	// are then committed one by one, each observed too).
	Failed bool
}

// DB is a store.Store backed by SQL.
type DB struct {
	dialect Dialect
	path    string  // SQLite: the database file
	w       *sql.DB // writes (SQLite: one connection)
	r       *sql.DB // reads (SQLite: read-only pool; PostgreSQL: same as w)
	logW    *sql.DB // request logs' writes (SQLite: their own file, logsdb.go; PostgreSQL: w)
	logR    *sql.DB // request logs' reads (SQLite: their own file; PostgreSQL: w)
	now     func() time.Time

	accepts  chan *acceptReq
	outcomes chan *outcomeReq
	received chan *receivedReq
	closeMu  sync.RWMutex
	closed   bool
	wg       sync.WaitGroup
	maxGroup int

	outbox Outbox        // never nil: NoOutbox when none was given
	wake   atomic.Uint32 // jobs to run at once enqueued since the last commit (outbox.go)

	observe func(CommitStats) // nil: commits are not observed

	stmts sync.Map // stmtKey → *sql.Stmt: hot statements, parsed once

	hooksMu         sync.Mutex
	receivingChange []func() // OnReceivingChange

	checkpointer *sql.DB // SQLite: the connection that checkpoints the WAL
	stopCkpt     chan struct{}
	ckptDone     chan struct{}
}

type stmtKey struct {
	pool  *sql.DB
	query string
}

// prepared returns the statement for query on pool, preparing it once.
// Hot paths use it: SQLite parses a statement on every unprepared call.
func (db *DB) prepared(ctx context.Context, pool *sql.DB, query string) (*sql.Stmt, error) {
	k := stmtKey{pool, query}
	if s, ok := db.stmts.Load(k); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := pool.PrepareContext(ctx, db.q(query))
	if err != nil {
		return nil, interpretError(err)
	}
	if prev, loaded := db.stmts.LoadOrStore(k, s); loaded {
		s.Close()
		return prev.(*sql.Stmt), nil
	}
	return s, nil
}

var _ store.Store = (*DB)(nil)

// IsPostgresURL reports whether a database URL selects PostgreSQL.
func IsPostgresURL(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// SQLitePath returns the file a sqlite URL or path names.
func SQLitePath(u string) string {
	u = strings.TrimPrefix(u, "sqlite://")
	u = strings.TrimPrefix(u, "sqlite:")
	u = strings.TrimPrefix(u, "file:")
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u = u[:i]
	}
	return u
}

// Open connects to the database at dsn (a postgres:// URL, or a SQLite file
// path, optionally prefixed with sqlite:// or file:), applies pending
// migrations, and starts the committers.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	db, err := open(ctx, dsn, opts)
	if err != nil {
		return nil, err
	}
	if !opts.NoMigrate {
		if err := db.Migrate(ctx); err != nil {
			db.closeDBs()
			return nil, err
		}
		if err := db.prepareWriter(ctx); err != nil {
			db.closeDBs()
			return nil, err
		}
	}
	db.start(opts)
	return db, nil
}

func open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	db := &DB{now: opts.Now, outbox: opts.Outbox, observe: opts.ObserveCommit}
	if db.now == nil {
		db.now = time.Now
	}
	if db.outbox == nil {
		db.outbox = NoOutbox
	}
	if IsPostgresURL(dsn) {
		db.dialect = Postgres
		pool, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		pool.SetMaxOpenConns(32)
		pool.SetMaxIdleConns(32)
		pool.SetConnMaxIdleTime(5 * time.Minute)
		db.w, db.r, db.logW, db.logR = pool, pool, pool, pool
	} else {
		db.dialect = SQLite
		path := SQLitePath(dsn)
		db.path = path
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("create database directory: %w", err)
			}
		}
		// synchronous(FULL): a commit is on disk before AcceptEmails returns,
		// so an accepted email survives power loss, not only a crash. Group
		// commit pays the flush once for many emails.
		// page_size takes effect only on a new database, before WAL is on:
		// 16 KiB pages hold a typical 10 KB email in its leaf instead of a
		// chain of overflow pages, which halves the bytes written per email.
		//
		// wal_autocheckpoint is high because a background goroutine
		// checkpoints (see checkpointLoop), off the committer's path; the
		// automatic checkpoint only bounds the WAL if that falls behind.
		const pragmas = "_pragma=page_size(16384)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=wal_autocheckpoint(8192)"
		q := url.PathEscape(path)
		w, r, err := openSQLitePools(path, pragmas, "&_pragma=cache_size(-16384)", 8)
		if err != nil {
			return nil, err
		}
		c, err := sql.Open("sqlite", "file:"+q+"?"+pragmas)
		if err != nil {
			w.Close()
			r.Close()
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		c.SetMaxOpenConns(1)
		db.w, db.r, db.checkpointer = w, r, c
		if err := db.openLogs(); err != nil {
			db.closeDBs()
			return nil, err
		}
	}
	if err := db.w.PingContext(ctx); err != nil {
		db.closeDBs()
		return nil, fmt.Errorf("connect to %s: %w", db.dialect, err)
	}
	return db, nil
}

// openSQLitePools opens a SQLite file's one writing connection (with
// writerPragmas too) and a pool of that many read-only connections
// (readers).
func openSQLitePools(path, pragmas, writerPragmas string, readers int) (w, r *sql.DB, err error) {
	q := url.PathEscape(path)
	wc, err := openSQLite("file:" + q + "?" + pragmas + writerPragmas + "&_txlock=immediate")
	if err != nil {
		return nil, nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w = sql.OpenDB(wc)
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	rc, err := openSQLite("file:" + q + "?" + pragmas + "&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r = sql.OpenDB(rc)
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	return w, r, nil
}

// Migrate applies every pending migration.
func (db *DB) Migrate(ctx context.Context) error {
	_, err := db.ApplyMigrations(ctx)
	return err
}

// Migration is one of the store's schema migrations.
type Migration struct {
	Version int64  // 27 for 00027_domain_record_checks.sql
	Name    string // its file name without the extension
	Applied bool
	// AppliedAt is when it was applied (zero when pending).
	AppliedAt time.Time
}

// ApplyMigrations applies every pending migration and returns those it
// applied, oldest first (none when the database was up to date).
func (db *DB) ApplyMigrations(ctx context.Context) ([]Migration, error) {
	p, err := db.migrations(ctx)
	if err != nil {
		return nil, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply migrations: %w", err)
	}
	var applied []Migration
	for _, r := range res {
		if r.Source == nil {
			continue
		}
		applied = append(applied, Migration{Version: r.Source.Version, Name: migrationName(r.Source.Path), Applied: true, AppliedAt: time.Now().UTC()})
	}
	return applied, db.migrateLogs(ctx)
}

// MigrationStatus lists every migration of the database's dialect, oldest
// first, with whether it is applied.
func (db *DB) MigrationStatus(ctx context.Context) ([]Migration, error) {
	p, err := db.migrations(ctx)
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]Migration, 0, len(st))
	for _, m := range st {
		out = append(out, Migration{Version: m.Source.Version, Name: migrationName(m.Source.Path),
			Applied: m.State == goose.StateApplied, AppliedAt: m.AppliedAt})
	}
	return out, nil
}

func migrationName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}

// migrations returns the migration provider of the database's dialect.
func (db *DB) migrations(ctx context.Context) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations/"+string(db.dialect))
	if err != nil {
		return nil, err
	}
	var p *goose.Provider
	if db.dialect == Postgres {
		// The advisory lock is per schema, so that databases in different
		// schemas of one server migrate independently.
		var schema string
		if err := db.w.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		lockID := int64(crc64.Checksum([]byte("godwit:"+schema), crc64.MakeTable(crc64.ECMA)) >> 1)
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID), lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, err
		}
		p, err = goose.NewProvider(goose.DialectPostgres, db.w, fsys, goose.WithSessionLocker(locker))
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
	} else {
		p, err = goose.NewProvider(goose.DialectSQLite3, db.w, fsys)
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
	}
	return p, nil
}

// Dialect returns which database this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// Writer returns the writing *sql.DB, for components (such as the job queue)
// that must share transactions with the store.
func (db *DB) Writer() *sql.DB { return db.w }

func (db *DB) start(opts Options) {
	n := opts.Committers
	if n <= 0 {
		n = 4
	}
	db.maxGroup = opts.MaxGroup
	if db.maxGroup <= 0 {
		db.maxGroup = 512
	}
	db.accepts = make(chan *acceptReq, 4*db.maxGroup)
	db.outcomes = make(chan *outcomeReq, 4*db.maxGroup)
	db.received = make(chan *receivedReq, 4*maxGroupReceived)
	db.wg.Add(1)
	go db.receivedLoop()
	if db.checkpointer != nil {
		db.stopCkpt, db.ckptDone = make(chan struct{}), make(chan struct{})
		go db.checkpointLoop()
	}
	if db.dialect == SQLite {
		// One writing connection: accepts and outcomes share its
		// transactions (writeLoop).
		db.wg.Add(1)
		go db.writeLoop()
		return
	}
	db.wg.Add(1 + n)
	go db.outcomeLoop()
	for i := range n {
		go db.commitLoop(acceptShard(i))
	}
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.r.PingContext(ctx) }

// Close stops accepting, lets the committers finish every request already
// handed to them, and closes the connections.
func (db *DB) Close() error {
	db.closeMu.Lock()
	if db.closed {
		db.closeMu.Unlock()
		return nil
	}
	db.closed = true
	if db.accepts != nil {
		close(db.accepts)
		close(db.outcomes)
		close(db.received)
	}
	db.closeMu.Unlock()
	db.wg.Wait()
	if db.stopCkpt != nil {
		close(db.stopCkpt)
		<-db.ckptDone
	}
	return db.closeDBs()
}

func (db *DB) closeDBs() error {
	var errs []error
	db.stmts.Range(func(k, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		db.stmts.Delete(k)
		return true
	})
	if db.checkpointer != nil {
		errs = append(errs, db.checkpointer.Close())
	}
	if db.logR != nil && db.logR != db.w {
		errs = append(errs, db.logR.Close())
	}
	if db.logW != nil && db.logW != db.w {
		errs = append(errs, db.logW.Close())
	}
	if db.r != nil && db.r != db.w {
		errs = append(errs, db.r.Close())
	}
	if db.w != nil {
		errs = append(errs, db.w.Close())
	}
	return errors.Join(errs...)
}

// checkpointLoop copies the WAL into the database file in the background
// (PASSIVE: it never blocks the writer or readers), so that commits do not
// pay for checkpoints.
func (db *DB) checkpointLoop() {
	defer close(db.ckptDone)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-db.stopCkpt:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, _ = db.checkpointer.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
			cancel()
		}
	}
}

// q rewrites '?' placeholders for the dialect.
func (db *DB) q(query string) string {
	if db.dialect != Postgres {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// micros encodes a time as stored.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(*t), Valid: true}
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// interpretError maps database/sql's sentinel errors to the store's:
// sql.ErrNoRows is store.ErrNotFound, a closed database is store.ErrClosed.
func interpretError(err error) error {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case err != nil && (err.Error() == "sql: database is closed" || err.Error() == "sql: statement is closed"):
		// database/sql's errDBClosed and errStmtClosed are unexported.
		return fmt.Errorf("%w: %w", store.ErrClosed, err)
	}
	return err
}

// isUniqueViolation recognises a unique-constraint failure on either database.
func isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || // SQLite
		strings.Contains(s, "SQLSTATE 23505") // PostgreSQL unique_violation
}

// seqPageQuery is the query and arguments of one page of a table listed
// newest first by seq within one scope (scopeCol = scope, e.g. team_id):
// the first page, the page after the item p.After (older), or the page
// before p.Before (newer, fetched oldest first for queryPage to reverse).
// It asks for limit+1 rows, as queryPage expects. The callers check that
// the cursor exists in the scope.
func seqPageQuery(columns, table, scopeCol, scope string, p store.Page, limit int) (string, []any) {
	from := `SELECT ` + columns + ` FROM ` + table + ` WHERE ` + scopeCol + ` = ?`
	cursor := `(SELECT seq FROM ` + table + ` WHERE ` + scopeCol + ` = ? AND id = ?)`
	switch {
	case p.After != "":
		return from + ` AND seq < ` + cursor + ` ORDER BY seq DESC LIMIT ?`, []any{scope, scope, p.After, limit + 1}
	case p.Before != "":
		return from + ` AND seq > ` + cursor + ` ORDER BY seq ASC LIMIT ?`, []any{scope, scope, p.Before, limit + 1}
	default:
		return from + ` ORDER BY seq DESC LIMIT ?`, []any{scope, limit + 1}
	}
}

// queryPage runs a list query that asks for limit+1 rows and returns at most
// limit items, whether more exist, and (when reverse, for a "before" page
// fetched oldest first) the items newest first.
func queryPage[T any](ctx context.Context, db *DB, pool *sql.DB, what, query string, args []any, limit int, reverse bool,
	scan func(interface{ Scan(...any) error }) (T, error)) ([]T, bool, error) {
	rows, err := pool.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", what, interpretError(err))
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("%s: %w", what, err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	if reverse {
		slices.Reverse(out)
	}
	return out, more, nil
}
