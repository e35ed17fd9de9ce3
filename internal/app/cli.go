package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/godwit/godwit/internal/config"
	"github.com/godwit/godwit/internal/queue"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

const usage = `godwit: a self-hosted email platform that speaks the Resend API

Usage:
  godwit serve [flags]                       run the API server
  godwit migrate [--status]                  apply database migrations and exit, saying
                                             which; --status lists them, applied or pending
  godwit backup --to FILE [--with-logs]      copy a SQLite database, also while it serves
  godwit keys create --name N [--permission full_access|sending_access] [--team T]
                                             create an API key and print its token
  godwit keys list [--team T]                list a team's keys (never their tokens)
  godwit keys revoke [--team T] ID           revoke a key at once
  godwit users create --email E [--role admin|viewer] [--team T]
                                             add a dashboard user and print a one-time
                                             link (24 h) at which they set their password
  godwit users list [--team T]               list a team's dashboard users
  godwit users reset-password --email E [--team T]
                                             print a new one-time set-password link
  godwit teams list                          list teams and their rate limits
  godwit teams set-rate-limit --team T --limit N
                                             set a team's requests per second (0: server default)
  godwit ip-pools list                       list the sending IP pools (--ip-pool), each IP's
                                             warm-up (day, today's caps and counts), and which
                                             teams and domains are assigned which pool
  godwit ip-pools assign --team T [--domain D] --pool P
                                             send a team's (or one domain's) email from pool P
  godwit ip-pools unassign --team T [--domain D]
                                             back to the team's pool, or the default pool
  godwit domains list [--team T]             list a team's domains with their sending state
                                             (paused by the reputation guard, and why)
  godwit domains resume [--team T] [flags] DOMAIN
                                             resume a paused domain's sending: its held
                                             emails are enqueued at once
  godwit queue [--team T] [--status S] [--limit N] [--after ID] [--json]
                                             list the emails waiting for delivery (queued,
                                             scheduled, deferred), oldest first, with why
  godwit check-config [--config FILE] [flags]
                                             validate a configuration without starting
  godwit doctor [--config FILE] [--probe-domain D] [--timeout 10s] [flags]
                                             check the configuration against the world:
                                             names, reverse DNS, port 25 out, database,
                                             secret key, domains' DNS, certificate
  godwit healthcheck [--url URL]             exit 0 when the server's /readyz answers 200
  godwit version                             print the release, commit and build time

Every flag has an environment twin: --data-dir is GODWIT_DATA_DIR. Run
"godwit serve -h" for the server's flags, "godwit keys --help" (and so on)
for a command's.
`

// commandHelp is the part of the usage about the command prefix ("keys"):
// its lines and their continuations.
func commandHelp(prefix string) string {
	var b strings.Builder
	b.WriteString("Usage:\n")
	in := false
	for _, line := range strings.Split(usage, "\n") {
		switch {
		case strings.HasPrefix(line, "  godwit "):
			name := strings.TrimPrefix(line, "  godwit ")
			in = name == prefix || strings.HasPrefix(name, prefix+" ")
		case !strings.HasPrefix(line, "      "):
			in = false
		}
		if in {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// groupHelp answers `godwit keys --help` for a command with subcommands.
func groupHelp(cmd string, stdout io.Writer) error {
	fmt.Fprintf(stdout, "%s\nRun \"godwit %s SUBCOMMAND -h\" for a subcommand's flags.\n", commandHelp(cmd), cmd)
	return flag.ErrHelp
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}

// usageError is a mistake in a command line: Main prints it on one line
// with where to read the command's usage, and exits 2.
type usageError struct {
	name string // "godwit keys create"
	err  error
}

func (e *usageError) Error() string { return e.err.Error() }

func usageErrorf(name, format string, args ...any) error {
	return &usageError{name: name, err: fmt.Errorf(format, args...)}
}

// newFlags returns a flag set for the command name ("keys create") with
// only the named settings of the server's (and --config): the commands
// that just open the store take --data-dir and --database-url.
func newFlags(name string, cfg *config.Config, settings ...string) *flag.FlagSet {
	fs := flag.NewFlagSet("godwit "+name, flag.ContinueOnError)
	cfg.RegisterOnly(fs, settings...)
	return fs
}

// storeSettings are the settings of a command that opens the store.
var storeSettings = []string{"data-dir", "database-url"}

// parseFlags parses args into fs, then fills what the command line left
// from the environment and the config file. -h prints the command's
// synopsis and flags to stdout (flag.ErrHelp: exit 0); a bad flag is a
// usageError.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer, getenv func(string) string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, commandHelp(strings.TrimPrefix(fs.Name(), "godwit ")))
		fmt.Fprintln(stdout, "\nFlags (each also from its environment twin, GODWIT_DATA_DIR for --data-dir, or the --config file):")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return flag.ErrHelp
	} else if err != nil {
		return &usageError{name: fs.Name(), err: err}
	}
	return config.Fill(fs, getenv)
}

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "serve":
		err = cmdServe(ctx, rest, stdout, stderr, getenv)
	case "migrate":
		err = cmdMigrate(ctx, rest, stdout, stderr, getenv)
	case "keys":
		err = cmdKeys(ctx, rest, stdout, stderr, getenv)
	case "users":
		err = cmdUsers(ctx, rest, stdout, stderr, getenv)
	case "teams":
		err = cmdTeams(ctx, rest, stdout, stderr, getenv)
	case "queue":
		err = cmdQueue(ctx, rest, stdout, stderr, getenv)
	case "ip-pools":
		err = cmdIPPools(ctx, rest, stdout, stderr, getenv)
	case "domains":
		err = cmdDomains(ctx, rest, stdout, stderr, getenv)
	case "backup":
		err = cmdBackup(ctx, rest, stdout, stderr, getenv)
	case "check-config":
		err = cmdCheckConfig(ctx, rest, stdout, stderr, getenv)
	case "doctor":
		err = cmdDoctor(ctx, rest, stdout, stderr, getenv)
	case "healthcheck":
		err = cmdHealthcheck(ctx, rest, stdout, stderr, getenv)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionLine(debug.ReadBuildInfo()))
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "godwit: unknown command %q\nrun 'godwit --help'\n", cmd)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "%s: %v\nrun '%s --help'\n", ue.name, ue.err, ue.name)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "godwit %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg := config.Defaults()
	fs := flag.NewFlagSet("godwit serve", flag.ContinueOnError)
	cfg.Register(fs)
	if err := parseFlags(fs, args, stdout, getenv); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageErrorf(fs.Name(), "unexpected argument %q", fs.Arg(0))
	}
	if v := getenv("GODWIT_TEST_MTA_STS_PORT"); v != "" { // tests only: policies served on loopback
		p, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("GODWIT_TEST_MTA_STS_PORT %q is not a port number", v)
		}
		cfg.MTASTSPort = p
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	return Serve(ctx, cfg, newLogger(cfg, stderr), stdout)
}

// openStore opens the store for a command that never enqueues a job (keys,
// teams, migrate): a write that would is refused with sqlstore.ErrNoOutbox.
func openStore(ctx context.Context, cfg config.Config) (*sqlstore.DB, error) {
	if err := cfg.CheckDatabase(); err != nil {
		return nil, err
	}
	return sqlstore.Open(ctx, cfg.Database(), sqlstore.Options{Outbox: sqlstore.NoOutbox})
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg := config.Defaults()
	fs := newFlags("migrate", &cfg, storeSettings...)
	var status bool
	fs.BoolVar(&status, "status", false, "list every migration, applied or pending, and change nothing")
	if err := parseFlags(fs, args, stdout, getenv); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageErrorf(fs.Name(), "unexpected argument %q", fs.Arg(0))
	}
	if err := cfg.CheckDatabase(); err != nil {
		return err
	}
	if status && !sqlstore.IsPostgresURL(cfg.Database()) {
		if _, err := os.Stat(sqlstore.SQLitePath(cfg.Database())); err != nil {
			return fmt.Errorf("no database at %s yet (godwit migrate or godwit serve creates it)", sqlstore.SQLitePath(cfg.Database()))
		}
	}
	db, err := sqlstore.Open(ctx, cfg.Database(), sqlstore.Options{Outbox: sqlstore.NoOutbox, NoMigrate: true})
	if err != nil {
		return err
	}
	defer db.Close()
	if status {
		return printMigrationStatus(ctx, db, stdout)
	}
	applied, err := db.ApplyMigrations(ctx)
	if err != nil {
		return err
	}
	if err := queue.Migrate(ctx, db, nil); err != nil {
		return err
	}
	if len(applied) == 0 {
		st, err := db.MigrationStatus(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "the database is up to date at %05d (%s)\n", lastApplied(st), db.Dialect())
		return nil
	}
	first, last := applied[0], applied[len(applied)-1]
	if len(applied) == 1 {
		fmt.Fprintf(stdout, "applied %05d (%s)\n", first.Version, db.Dialect())
	} else {
		fmt.Fprintf(stdout, "applied %05d…%05d (%s)\n", first.Version, last.Version, db.Dialect())
	}
	if len(applied) <= 5 { // a new database gets every one: no list
		for _, m := range applied {
			fmt.Fprintf(stdout, "  %s\n", m.Name)
		}
	}
	return nil
}

func lastApplied(st []sqlstore.Migration) int64 {
	var v int64
	for _, m := range st {
		if m.Applied && m.Version > v {
			v = m.Version
		}
	}
	return v
}

// printMigrationStatus lists the store's migrations, applied or pending.
func printMigrationStatus(ctx context.Context, db *sqlstore.DB, stdout io.Writer) error {
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MIGRATION\tSTATUS\tAPPLIED AT")
	pending := 0
	for _, m := range st {
		state, at := "applied", m.AppliedAt.UTC().Format(time.RFC3339)
		if !m.Applied {
			state, at = "pending", "-"
			pending++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", m.Name, state, at)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if pending == 0 {
		fmt.Fprintf(stdout, "%d applied, none pending: the database (%s) is up to date at %05d\n", len(st), db.Dialect(), lastApplied(st))
	} else {
		fmt.Fprintf(stdout, "%d applied, %d pending (%s): godwit migrate, or the next godwit serve, applies them\n", len(st)-pending, pending, db.Dialect())
	}
	return nil
}

// cmdBackup copies a SQLite store into a new file, consistently, while a
// server may be writing it.
func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg := config.Defaults()
	fs := newFlags("backup", &cfg, storeSettings...)
	var to string
	var withLogs bool
	fs.StringVar(&to, "to", "", "the new file to write the copy to (never overwritten)")
	fs.BoolVar(&withLogs, "with-logs", false, "also copy the request logs (GET /logs), kept in a file of their own, to FILE's -logs file")
	if err := parseFlags(fs, args, stdout, getenv); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageErrorf(fs.Name(), "unexpected argument %q", fs.Arg(0))
	}
	if sqlstore.IsPostgresURL(cfg.Database()) {
		return errors.New("a PostgreSQL database is backed up with pg_dump (e.g. pg_dump -Fc -f godwit.dump \"$GODWIT_DATABASE_URL\"); keep the secret key (<data-dir>/secret.key or --secret-key) with it, as without it the DKIM keys and webhook secrets in the dump cannot be opened")
	}
	if to == "" {
		return usageErrorf(fs.Name(), "--to FILE is required")
	}
	if err := cfg.CheckDatabase(); err != nil {
		return err
	}
	b, err := sqlstore.BackupSQLite(ctx, cfg.Database(), to, withLogs)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s, %d emails, schema %05d\n", b.Path, byteSize(b.Bytes), b.Emails, b.Version)
	if b.LogsPath != "" {
		fmt.Fprintf(stdout, "wrote %s: the request logs, %s\n", b.LogsPath, byteSize(b.LogsBytes))
	} else if withLogs {
		fmt.Fprintln(stdout, "no request logs to copy")
	} else {
		fmt.Fprintln(stdout, "the request logs (godwit-logs.db) are not copied: --with-logs copies them")
	}
	fmt.Fprintln(stdout, "keep the secret key (<data-dir>/secret.key or --secret-key) with it: the backup's DKIM keys and webhook secrets open only with it")
	return nil
}

// byteSize writes n bytes for a person: 12.3 MB.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// resolveTeam finds a team by id or name; create makes a missing one.
func resolveTeam(ctx context.Context, db store.Teams, ref string, create bool) (*store.Team, error) {
	if ref == "" {
		ref = DefaultTeam
	}
	if t, err := db.GetTeam(ctx, ref); err == nil {
		return t, nil
	}
	t, err := db.GetTeamByName(ctx, ref)
	if err == nil || !errors.Is(err, store.ErrNotFound) || !create {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("no team %q", ref)
		}
		return t, err
	}
	t = &store.Team{ID: uuid.NewString(), Name: ref, CreatedAt: time.Now().UTC()}
	if err := db.CreateTeam(ctx, t); errors.Is(err, store.ErrConflict) {
		return db.GetTeamByName(ctx, ref)
	} else if err != nil {
		return nil, err
	}
	return t, nil
}

func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usageErrorf("godwit keys", "expected create, list or revoke")
	}
	if isHelp(args[0]) {
		return groupHelp("keys", stdout)
	}
	sub := args[0]
	switch sub {
	case "create", "list", "revoke":
	default:
		return usageErrorf("godwit keys", "unknown keys command %q: expected create, list or revoke", sub)
	}
	var name, permission, team string
	cfg := config.Defaults()
	fs := newFlags("keys "+sub, &cfg, storeSettings...)
	fs.StringVar(&team, "team", DefaultTeam, "team name or id (keys create makes a missing team)")
	if sub == "create" {
		fs.StringVar(&name, "name", "", "name of the key")
		fs.StringVar(&permission, "permission", store.PermissionFullAccess, "full_access or sending_access")
	}
	if err := parseFlags(fs, args[1:], stdout, getenv); err != nil {
		return err
	}
	if sub != "revoke" && fs.NArg() != 0 {
		return usageErrorf(fs.Name(), "unexpected argument %q", fs.Arg(0))
	}
	if sub == "create" {
		if name == "" {
			return errors.New("--name is required")
		}
		if permission != store.PermissionFullAccess && permission != store.PermissionSendingAccess {
			return fmt.Errorf("--permission %q must be full_access or sending_access", permission)
		}
	}
	if sub == "revoke" && fs.NArg() != 1 {
		return usageErrorf(fs.Name(), "expected the id of the key to revoke (godwit keys list shows it)")
	}
	db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	t, err := resolveTeam(ctx, db, team, sub == "create")
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		token, _, err := createKey(ctx, db, t.ID, name, permission)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, token)
	case "list":
		keys, err := db.ListAPIKeys(ctx, t.ID)
		if err != nil {
			return err
		}
		domains := map[string]string{}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPREFIX\tNAME\tPERMISSION\tDOMAIN\tCREATED\tLAST USED")
		for _, k := range keys {
			domain := "all"
			if k.DomainID != "" {
				if _, ok := domains[k.DomainID]; !ok {
					domains[k.DomainID] = k.DomainID
					if d, err := db.GetDomain(ctx, t.ID, k.DomainID); err == nil {
						domains[k.DomainID] = d.Name
					}
				}
				domain = domains[k.DomainID]
			}
			used := "never"
			if k.LastUsedAt != nil {
				used = k.LastUsedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, oneLine(k.Name), k.Permission, domain,
				k.CreatedAt.UTC().Format(time.RFC3339), used)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(keys) == 0 {
			fmt.Fprintf(stdout, "team %s has no keys: godwit keys create --name N --team %s\n", t.Name, t.Name)
		}
		return nil
	case "revoke":
		if err := db.DeleteAPIKey(ctx, t.ID, fs.Arg(0)); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no key %q in team %q", fs.Arg(0), t.Name)
		} else if err != nil {
			return err
		}
		fmt.Fprintln(stdout, "revoked", fs.Arg(0))
	}
	return nil
}

func cmdTeams(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usageErrorf("godwit teams", "expected list or set-rate-limit")
	}
	if isHelp(args[0]) {
		return groupHelp("teams", stdout)
	}
	sub := args[0]
	if sub != "list" && sub != "set-rate-limit" {
		return usageErrorf("godwit teams", "unknown teams command %q: expected list or set-rate-limit", sub)
	}
	var team string
	limit := -1
	cfg := config.Defaults()
	fs := newFlags("teams "+sub, &cfg, storeSettings...)
	if sub == "set-rate-limit" {
		fs.StringVar(&team, "team", DefaultTeam, "team name or id")
		fs.IntVar(&limit, "limit", -1, "requests per second (0: the server default)")
	}
	if err := parseFlags(fs, args[1:], stdout, getenv); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageErrorf(fs.Name(), "unexpected argument %q", fs.Arg(0))
	}
	if sub == "set-rate-limit" && limit < 0 {
		return usageErrorf(fs.Name(), "--limit is required (0 or more)")
	}
	db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if sub == "list" {
		teams, err := db.ListTeams(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tRATE LIMIT\tCREATED")
		for _, t := range teams {
			rl := "default (--rate-limit)"
			if t.RateLimit > 0 {
				rl = strconv.Itoa(t.RateLimit) + "/s"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, oneLine(t.Name), rl, t.CreatedAt.UTC().Format(time.RFC3339))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(teams) == 0 {
			fmt.Fprintln(stdout, "no teams yet: godwit serve makes the first, godwit keys create --team T makes others")
		}
		return nil
	}
	t, err := resolveTeam(ctx, db, team, false)
	if err != nil {
		return err
	}
	if err := db.SetTeamRateLimit(ctx, t.ID, limit); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "team %s: rate limit %d/s\n", t.Name, limit)
	return nil
}

// queueEntry is one line of godwit queue --json.
type queueEntry struct {
	ID            string    `json:"id"`
	TeamID        string    `json:"team_id"`
	To            []string  `json:"to"`
	Subject       string    `json:"subject"`
	Status        string    `json:"status"`
	Reason        string    `json:"reason"`
	Attempts      int       `json:"attempts"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
	CreatedAt     time.Time `json:"created_at"`
}

// cmdQueue prints what waits for delivery, from the store (as GET /queue
// answers a team): every team's unless --team names one.
func cmdQueue(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var team, after, status string
	var limit int
	var asJSON bool
	if len(args) > 0 && args[0] == "help" {
		args = []string{"-h"}
	}
	cfg := config.Defaults()
	fs := newFlags("queue", &cfg, storeSettings...)
	fs.StringVar(&team, "team", "", "team name or id (default: every team)")
	fs.StringVar(&status, "status", "", "only this status: "+strings.Join(store.WaitingStatuses, ", "))
	fs.IntVar(&limit, "limit", 100, "at most this many emails (1-1000)")
	fs.StringVar(&after, "after", "", "list the emails after this email id (the last of the previous page)")
	fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	if err := parseFlags(fs, args, stdout, getenv); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageErrorf(fs.Name(), "unexpected argument %q", fs.Arg(0))
	}
	if limit < 1 || limit > 1000 {
		return fmt.Errorf("--limit %d must be between 1 and 1000", limit)
	}
	if status != "" && !slices.Contains(store.WaitingStatuses, status) {
		return fmt.Errorf("--status %q must be one of %s", status, strings.Join(store.WaitingStatuses, ", "))
	}
	db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	teamID := ""
	if team != "" {
		t, err := resolveTeam(ctx, db, team, false)
		if err != nil {
			return err
		}
		teamID = t.ID
	}
	list, more, err := db.ListWaitingEmails(ctx, teamID, status, store.Page{Limit: limit, After: after})
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("--after %q is not an email of the queue's teams", after)
	}
	if err != nil {
		return err
	}
	if asJSON {
		out := struct {
			Data    []queueEntry `json:"data"`
			HasMore bool         `json:"has_more"`
		}{Data: make([]queueEntry, 0, len(list)), HasMore: more}
		for _, w := range list {
			out.Data = append(out.Data, queueEntry{ID: w.ID, TeamID: w.TeamID, To: w.To, Subject: w.Subject, Status: w.LastEvent,
				Reason: w.Reason(), Attempts: w.Attempts, NextAttemptAt: w.NextAttempt(), CreatedAt: w.CreatedAt})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CREATED\tID\tSTATUS\tATTEMPTS\tNEXT ATTEMPT\tREASON")
	for _, w := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", w.CreatedAt.Format(time.RFC3339), w.ID, w.LastEvent, w.Attempts,
			w.NextAttempt().Format(time.RFC3339), oneLine(w.Reason()))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "nothing is waiting")
	}
	if more {
		fmt.Fprintf(stdout, "more: godwit queue --after %s\n", list[len(list)-1].ID)
	}
	return nil
}

// oneLine makes text from outside (a remote server's reply) safe for one
// line of a terminal table: control characters (line breaks, tabs, escape
// sequences) become spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
