package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/godwit/godwit/internal/config"
	"github.com/godwit/godwit/internal/queue"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/google/uuid"
)

const usage = `godwit: a self-hosted email platform that speaks the Resend API

Usage:
  godwit serve [flags]                       run the API server
  godwit migrate [flags]                     apply database migrations and exit
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
  godwit queue [--team T] [--status S] [--limit N] [--after ID] [--json]
                                             list the emails waiting for delivery (queued,
                                             scheduled, deferred), oldest first, with why
  godwit version                             print the release, commit and build time

Every flag has an environment twin: --data-dir is GODWIT_DATA_DIR. Run
"godwit serve -h" for the server's flags.
`

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
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionLine(debug.ReadBuildInfo()))
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "godwit: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "godwit %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

func parseConfig(name string, args []string, stderr io.Writer, getenv func(string) string, extra func(*flag.FlagSet)) (config.Config, *flag.FlagSet, error) {
	cfg := config.Defaults()
	fs := flag.NewFlagSet("godwit "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.Register(fs)
	if extra != nil {
		extra(fs)
	}
	if err := config.Parse(fs, args, getenv); err != nil {
		return cfg, fs, err
	}
	return cfg, fs, nil
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
	cfg, _, err := parseConfig("serve", args, stderr, getenv, nil)
	if err != nil {
		return err
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
	cfg, _, err := parseConfig("migrate", args, stderr, getenv, nil)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, cfg) // Open applies pending migrations
	if err != nil {
		return err
	}
	defer db.Close()
	if err := queue.Migrate(ctx, db, nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "migrations applied (%s)\n", db.Dialect())
	return nil
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
		return errors.New("expected create, list or revoke")
	}
	sub := args[0]
	var name, permission, team string
	cfg, fs, err := parseConfig("keys "+sub, args[1:], stderr, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&team, "team", DefaultTeam, "team name or id (keys create makes a missing team)")
		if sub == "create" {
			fs.StringVar(&name, "name", "", "name of the key")
			fs.StringVar(&permission, "permission", store.PermissionFullAccess, "full_access or sending_access")
		}
	})
	if err != nil {
		return err
	}
	switch sub {
	case "create", "list", "revoke":
	default:
		return fmt.Errorf("unknown keys command %q: expected create, list or revoke", sub)
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
		return errors.New("expected the id of the key to revoke")
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
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tPERMISSION\tCREATED")
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Permission, k.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
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
		return errors.New("expected list or set-rate-limit")
	}
	sub := args[0]
	var team string
	var limit int
	cfg, _, err := parseConfig("teams "+sub, args[1:], stderr, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&team, "team", DefaultTeam, "team name or id")
		fs.IntVar(&limit, "limit", -1, "requests per second (0: the server default)")
	})
	if err != nil {
		return err
	}
	if sub != "list" && sub != "set-rate-limit" {
		return fmt.Errorf("unknown teams command %q: expected list or set-rate-limit", sub)
	}
	if sub == "set-rate-limit" && limit < 0 {
		return errors.New("--limit is required (0 or more)")
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
		fmt.Fprintln(tw, "ID\tNAME\tRATE LIMIT")
		for _, t := range teams {
			rl := "default"
			if t.RateLimit > 0 {
				rl = strconv.Itoa(t.RateLimit) + "/s"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", t.ID, t.Name, rl)
		}
		return tw.Flush()
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
	cfg, fs, err := parseConfig("queue", args, stderr, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&team, "team", "", "team name or id (default: every team)")
		fs.StringVar(&status, "status", "", "only this status: "+strings.Join(store.WaitingStatuses, ", "))
		fs.IntVar(&limit, "limit", 100, "at most this many emails (1-1000)")
		fs.StringVar(&after, "after", "", "list the emails after this email id (the last of the previous page)")
		fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
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
