package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestMigrationsParity: the SQLite and PostgreSQL migrations, fully applied,
// give the same schema for Godwit's own tables (goose's version table and
// River's river_* tables are left out): the same tables, the same columns
// (name, type class, NOT NULL), the same primary keys and the same indexes
// (name, columns in order, uniqueness, whether partial). Differences the two
// dialects need are listed in parityAllowed, each with its reason.
//
// Type classes (declared type → class):
//
//	SQLite INTEGER, INT, BIGINT, SMALLINT  | PostgreSQL integer, bigint, smallint → integer
//	SQLite TEXT, VARCHAR(n), CHAR(n)       | PostgreSQL text, character varying  → text
//	SQLite BLOB                            | PostgreSQL bytea                    → blob
//	SQLite BOOLEAN                         | PostgreSQL boolean                  → boolean
//	SQLite REAL, DOUBLE, FLOAT             | PostgreSQL real, double precision   → real
//
// Any other declared type is its own class ("other:<type>"), so it must be
// allowlisted or mapped above before the test passes.
//
// Normalisations that are not differences:
//   - An index that backs a UNIQUE constraint has a generated name on both
//     databases (sqlite_autoindex_<table>_<n>, <table>_<cols>_key), so it is
//     compared by its columns: "UNIQUE(a,b)".
//   - The primary key is compared as a column list, not as an index (SQLite's
//     INTEGER PRIMARY KEY is the rowid and has no index).
//   - A column of SQLite's INTEGER PRIMARY KEY (the rowid) cannot be NULL
//     even when not declared NOT NULL, so it counts as NOT NULL.
func TestMigrationsParity(t *testing.T) {
	ctx := context.Background()
	schemas := map[sqlstore.Dialect]dbSchema{}
	for _, kind := range godwittest.Kinds {
		db, err := sqlstore.Open(ctx, godwittest.StoreURL(t, kind), sqlstore.Options{})
		if err != nil {
			t.Fatalf("open %s: %v", kind, err)
		}
		t.Cleanup(func() { _ = db.Close() })
		var s dbSchema
		if kind == sqlstore.SQLite {
			s, err = readSQLiteSchema(ctx, db.Writer())
			if err == nil {
				// The request logs' own file (logsdb.go) holds the rest.
				var logs dbSchema
				if logs, err = readSQLiteSchema(ctx, db.LogWriter()); err == nil {
					for name, tab := range logs {
						if _, dup := s[name]; dup {
							t.Fatalf("table %s is in both SQLite files", name)
						}
						s[name] = tab
					}
				}
			}
		} else {
			s, err = readPostgresSchema(ctx, db.Writer())
		}
		if err != nil {
			t.Fatalf("read %s schema: %v", kind, err)
		}
		if len(s) == 0 {
			t.Fatalf("%s: no tables read: the schema query is looking in the wrong place", kind)
		}
		schemas[kind] = s
	}

	lite, pg := schemas[sqlstore.SQLite].facts(), schemas[sqlstore.Postgres].facts()
	keys := map[string]bool{}
	for k := range lite {
		keys[k] = true
	}
	for k := range pg {
		keys[k] = true
	}
	used := map[int]bool{}
	var diff []string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		lv, pv := lite[k], pg[k] // "" when absent
		if lv == pv {
			continue
		}
		if i := slices.IndexFunc(parityAllowed, func(a parityDifference) bool {
			return a.fact == k && a.sqlite == lv && a.postgres == pv
		}); i >= 0 {
			used[i] = true
			continue
		}
		diff = append(diff, fmt.Sprintf("  %s\n    - sqlite:   %s\n    + postgres: %s", k, orAbsent(lv), orAbsent(pv)))
	}
	if len(diff) > 0 {
		t.Errorf("the SQLite and PostgreSQL schemas differ (fix the migrations, or allowlist a legitimate difference in parityAllowed):\n%s",
			strings.Join(diff, "\n"))
	}
	for i, a := range parityAllowed {
		if !used[i] {
			t.Errorf("allowlisted difference no longer present, remove it from parityAllowed: %s (sqlite %s, postgres %s)",
				a.fact, orAbsent(a.sqlite), orAbsent(a.postgres))
		}
	}
}

func orAbsent(v string) string {
	if v == "" {
		return "(absent)"
	}
	return v
}

// parityDifference is a fact (as the failure diff prints it: "table t",
// "column t.c", "primary key t", "index t.name") whose value legitimately
// differs between the dialects; "" means absent on that dialect.
type parityDifference struct {
	fact, sqlite, postgres string
}

// parityAllowed lists the differences the test accepts, each with its reason.
var parityAllowed = []parityDifference{
	// SQLite lets a PRIMARY KEY column that is not INTEGER (the rowid) hold
	// NULL unless it is also declared NOT NULL (a documented SQLite quirk);
	// PostgreSQL makes every primary key column NOT NULL. These TEXT primary
	// keys were declared without NOT NULL on SQLite. Godwit always supplies
	// the id, so no NULL is written today, but SQLite does not enforce it.
	// Adding NOT NULL on SQLite needs a table rebuild (and teams is
	// referenced by most tables' foreign keys), so it is left to a
	// deliberate migration rather than slipped in with this test.
	{"column api_keys.id", "text NULL", "text NOT NULL"},
	{"column captured_messages.email_id", "text NULL", "text NOT NULL"},
	{"column domains.id", "text NULL", "text NOT NULL"},
	{"column node_heartbeats.node_id", "text NULL", "text NOT NULL"},
	{"column teams.id", "text NULL", "text NOT NULL"},
}

type dbSchema map[string]*tableSchema

type tableSchema struct {
	columns    []columnSchema
	primaryKey []string
	indexes    map[string]indexSchema
}

type columnSchema struct {
	name, class string
	notNull     bool
}

type indexSchema struct {
	columns         []string
	unique, partial bool
}

// facts flattens the schema into "key = value" facts, one per table,
// column, primary key and index, so two schemas compare line by line.
func (s dbSchema) facts() map[string]string {
	f := map[string]string{}
	for name, tab := range s {
		f["table "+name] = "present"
		for _, c := range tab.columns {
			v := c.class
			if c.notNull {
				v += " NOT NULL"
			} else {
				v += " NULL"
			}
			f["column "+name+"."+c.name] = v
		}
		f["primary key "+name] = "(" + strings.Join(tab.primaryKey, ",") + ")"
		for iname, ix := range tab.indexes {
			v := "(" + strings.Join(ix.columns, ",") + ")"
			if ix.unique {
				v += " unique"
			}
			if ix.partial {
				v += " partial"
			}
			f["index "+name+"."+iname] = v
		}
	}
	return f
}

func typeClass(declared string) string {
	t := strings.ToLower(strings.TrimSpace(declared))
	if i := strings.IndexByte(t, '('); i >= 0 {
		t = strings.TrimSpace(t[:i])
	}
	switch t {
	case "integer", "int", "bigint", "smallint":
		return "integer"
	case "text", "varchar", "char", "character varying", "character":
		return "text"
	case "blob", "bytea":
		return "blob"
	case "boolean", "bool":
		return "boolean"
	case "real", "double", "float", "double precision":
		return "real"
	}
	return "other:" + t
}

func ownTable(name string) bool {
	return name != "goose_db_version" && !strings.HasPrefix(name, "river_") && !strings.HasPrefix(name, "sqlite_")
}

func queryStrings(ctx context.Context, db *sql.DB, query string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func uniqueName(cols []string) string { return "UNIQUE(" + strings.Join(cols, ",") + ")" }

func readSQLiteSchema(ctx context.Context, db *sql.DB) (dbSchema, error) {
	names, err := queryStrings(ctx, db, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	s := dbSchema{}
	for _, name := range names {
		if !ownTable(name) {
			continue
		}
		tab := &tableSchema{indexes: map[string]indexSchema{}}
		rows, err := db.QueryContext(ctx, `SELECT name, type, "notnull", pk FROM pragma_table_info(?) ORDER BY cid`, name)
		if err != nil {
			return nil, err
		}
		pk := map[int]string{}
		pkType := ""
		for rows.Next() {
			var c columnSchema
			var typ string
			var pkPos int
			if err := rows.Scan(&c.name, &typ, &c.notNull, &pkPos); err != nil {
				rows.Close()
				return nil, err
			}
			c.class = typeClass(typ)
			if pkPos > 0 {
				pk[pkPos] = c.name
				pkType = strings.ToUpper(typ)
			}
			tab.columns = append(tab.columns, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		for i := 1; i <= len(pk); i++ {
			tab.primaryKey = append(tab.primaryKey, pk[i])
		}
		if len(pk) == 1 && pkType == "INTEGER" { // the rowid: never NULL
			for i := range tab.columns {
				if tab.columns[i].name == pk[1] {
					tab.columns[i].notNull = true
				}
			}
		}

		type ixRow struct {
			name, origin    string
			unique, partial bool
		}
		var ixs []ixRow
		rows, err = db.QueryContext(ctx, `SELECT name, "unique", origin, partial FROM pragma_index_list(?)`, name)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var r ixRow
			if err := rows.Scan(&r.name, &r.unique, &r.origin, &r.partial); err != nil {
				rows.Close()
				return nil, err
			}
			ixs = append(ixs, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		for _, r := range ixs {
			if r.origin == "pk" {
				continue // compared as the primary key
			}
			// pragma_index_info names a column, or gives NULL for an expression.
			irows, err := db.QueryContext(ctx, `SELECT coalesce(name, '<expr>') FROM pragma_index_info(?) ORDER BY seqno`, r.name)
			if err != nil {
				return nil, err
			}
			var cols []string
			for irows.Next() {
				var c string
				if err := irows.Scan(&c); err != nil {
					irows.Close()
					return nil, err
				}
				cols = append(cols, c)
			}
			irows.Close()
			if err := irows.Err(); err != nil {
				return nil, err
			}
			iname := r.name
			if r.origin == "u" {
				iname = uniqueName(cols)
			}
			tab.indexes[iname] = indexSchema{columns: cols, unique: r.unique, partial: r.partial}
		}
		s[name] = tab
	}
	return s, nil
}

func readPostgresSchema(ctx context.Context, db *sql.DB) (dbSchema, error) {
	// The store's connection has search_path set to the test's schema.
	names, err := queryStrings(ctx, db, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		return nil, err
	}
	s := dbSchema{}
	for _, name := range names {
		if !ownTable(name) {
			continue
		}
		tab := &tableSchema{indexes: map[string]indexSchema{}}
		rows, err := db.QueryContext(ctx, `SELECT column_name, data_type, is_nullable = 'NO' FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, name)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var c columnSchema
			var typ string
			if err := rows.Scan(&c.name, &typ, &c.notNull); err != nil {
				rows.Close()
				return nil, err
			}
			c.class = typeClass(typ)
			tab.columns = append(tab.columns, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}

		// One row per index: its name (from pg_indexes), its columns in
		// order ('<expr>' for an expression), and whether it is the primary
		// key, backs a UNIQUE constraint, is unique, is partial.
		rows, err = db.QueryContext(ctx, `
			SELECT pi.indexname,
			       array_to_string(ARRAY(
			           SELECT coalesce(a.attname, '<expr>')
			           FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
			           LEFT JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum AND k.attnum > 0
			           WHERE k.ord <= ix.indnkeyatts
			           ORDER BY k.ord), ','),
			       ix.indisprimary,
			       EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = ix.indexrelid AND con.contype = 'u'),
			       ix.indisunique,
			       ix.indpred IS NOT NULL
			FROM pg_indexes pi
			JOIN pg_class ic ON ic.relname = pi.indexname
			JOIN pg_namespace n ON n.oid = ic.relnamespace AND n.nspname = pi.schemaname
			JOIN pg_index ix ON ix.indexrelid = ic.oid
			WHERE pi.schemaname = current_schema() AND pi.tablename = $1`, name)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var iname, cols string
			var primary, constraint bool
			var ix indexSchema
			if err := rows.Scan(&iname, &cols, &primary, &constraint, &ix.unique, &ix.partial); err != nil {
				rows.Close()
				return nil, err
			}
			ix.columns = strings.Split(cols, ",")
			switch {
			case primary:
				tab.primaryKey = ix.columns
			case constraint:
				tab.indexes[uniqueName(ix.columns)] = ix
			default:
				tab.indexes[iname] = ix
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("indexes of %s: %w", name, err)
		}
		s[name] = tab
	}
	return s, nil
}
