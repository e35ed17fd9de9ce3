package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/godwit/godwit/internal/config"
	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/queue"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// cmdDomains is `godwit domains list|resume`: the sending state of the
// teams' domains, and the admin's resume of a domain the reputation guard
// paused.
func cmdDomains(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || isHelp(args[0]) {
		return groupHelp("domains", stdout)
	}
	switch args[0] {
	case "list":
		return cmdDomainsList(ctx, args[1:], stdout, getenv)
	case "resume":
		return cmdDomainsResume(ctx, args[1:], stdout, getenv)
	}
	return usageErrorf("godwit domains", "unknown subcommand %q", args[0])
}

func cmdDomainsList(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	cfg := config.Defaults()
	fs := newFlags("domains list", &cfg, storeSettings...)
	var team string
	fs.StringVar(&team, "team", "", "team name or id (default: the default team)")
	if err := parseFlags(fs, args, stdout, getenv); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageErrorf(fs.Name(), "unexpected argument %q", fs.Arg(0))
	}
	db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	t, err := resolveTeam(ctx, db, team, false)
	if err != nil {
		return err
	}
	list, err := db.ListDomains(ctx, t.ID)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tSENDING\tPAUSED AT\tREASON")
	for _, d := range list {
		sending, at, reason := d.Sending, "-", "-"
		if p := d.SendingPause; p != nil {
			sending, at, reason = "paused", p.At.UTC().Format(time.RFC3339), p.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Name, d.Status, sending, at, reason)
	}
	return tw.Flush()
}

// cmdDomainsResume resumes a paused domain: it takes the server's flags
// (the domain.updated webhook carries the domain's records, built from
// them and the secret key) and enqueues the held emails through an
// insert-only queue, in the transaction that clears the pause.
func cmdDomainsResume(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	cfg := config.Defaults()
	fs := flag.NewFlagSet("godwit domains resume", flag.ContinueOnError)
	cfg.Register(fs)
	var team string
	fs.StringVar(&team, "team", "", "team name or id (default: the default team)")
	if err := parseFlags(fs, args, stdout, getenv); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErrorf(fs.Name(), "give one domain, by name or id")
	}
	if err := cfg.CheckDatabase(); err != nil {
		return err
	}
	outbox := queue.NewOutbox()
	db, err := sqlstore.Open(ctx, cfg.Database(), sqlstore.Options{Outbox: outbox})
	if err != nil {
		return err
	}
	defer db.Close()
	key, err := serverKey(cfg)
	if err != nil {
		return err
	}
	if err := CheckServerKey(ctx, db, key, serverKeySource(cfg)); err != nil {
		return err
	}
	domainCfg, err := domainSettings(cfg, key)
	if err != nil {
		return err
	}
	qc := queue.Config{Outbox: outbox} // insert-only: no workers
	if db.Dialect() == sqlstore.Postgres {
		qc.PostgresDSN = cfg.Database()
	}
	q, err := queue.Open(ctx, db, &delivery.Worker{}, qc)
	if err != nil {
		return err
	}
	defer q.Stop(context.WithoutCancel(ctx)) //nolint:errcheck // insert-only: nothing to stop but the listener
	t, err := resolveTeam(ctx, db, team, false)
	if err != nil {
		return err
	}
	d, err := domainByRef(ctx, db, t.ID, fs.Arg(0))
	if err != nil {
		return err
	}
	guard := newReputationGuard(cfg, db, domainCfg, nil, newLogger(cfg, io.Discard))
	d, resumed, held, err := guard.Resume(ctx, t.ID, d.ID, "cli")
	if err != nil {
		return err
	}
	if !resumed {
		fmt.Fprintf(stdout, "%s was not paused: nothing to do\n", d.Name)
		return nil
	}
	fmt.Fprintf(stdout, "resumed %s: %d held emails enqueued for delivery now\n", d.Name, held)
	return nil
}

// domainByRef finds a team's domain by id or name.
func domainByRef(ctx context.Context, db store.Domains, teamID, ref string) (*store.Domain, error) {
	d, err := db.GetDomain(ctx, teamID, ref)
	if errors.Is(err, store.ErrNotFound) {
		d, err = db.GetDomainByName(ctx, teamID, ref)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("the team has no domain %q", ref)
	}
	return d, err
}
