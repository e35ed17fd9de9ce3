package app

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/godwit/godwit/internal/config"
	"github.com/godwit/godwit/internal/destination"
	"github.com/godwit/godwit/internal/ippool"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/warmup"
)

// ipPoolSettings are the settings godwit ip-pools reads besides the
// store's: the pools and the warm-up, as serve has them.
var ipPoolSettings = []string{"sending-ips", "ip-pool", "bind-sending-ips", "warmup", "warmup-ips"}

// cmdIPPools lists the sending IP pools and assigns them to teams and
// domains (stored in the database: every worker node reads the
// assignment within a minute).
func cmdIPPools(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usageErrorf("godwit ip-pools", "expected list, assign or unassign")
	}
	if isHelp(args[0]) {
		return groupHelp("ip-pools", stdout)
	}
	sub := args[0]
	if !slices.Contains([]string{"list", "assign", "unassign"}, sub) {
		return usageErrorf("godwit ip-pools", "unknown ip-pools command %q: expected list, assign or unassign", sub)
	}
	var team, domainName, pool string
	cfg := config.Defaults()
	fs := newFlags("ip-pools "+sub, &cfg, append(slices.Clone(storeSettings), ipPoolSettings...)...)
	if sub != "list" {
		fs.StringVar(&team, "team", DefaultTeam, "team name or id")
		fs.StringVar(&domainName, "domain", "", "a domain of the team (its name or id); without it, the whole team")
	}
	if sub == "assign" {
		fs.StringVar(&pool, "pool", "", "the pool's name (--ip-pool, or default)")
	}
	if err := parseFlags(fs, args[1:], stdout, getenv); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageErrorf(fs.Name(), "unexpected argument %q", fs.Arg(0))
	}
	pools, err := cfg.SendingPools()
	if err != nil {
		return err
	}
	wu, err := cfg.WarmupConfig()
	if err != nil {
		return err
	}
	if sub == "assign" {
		if pool == "" {
			return usageErrorf(fs.Name(), "--pool is required")
		}
		if _, ok := pools[pool]; !ok {
			return fmt.Errorf("the pool %q is not configured (give --ip-pool %s=IP,… and the same to every worker node); configured: %s",
				pool, pool, strings.Join(pools.Names(), ", "))
		}
	}
	db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if sub == "list" {
		return listIPPools(ctx, db, pools, wu, time.Now(), stdout)
	}
	t, err := resolveTeam(ctx, db, team, false)
	if err != nil {
		return err
	}
	domainID, what := "", "team "+t.Name
	if domainName != "" {
		d, err := db.GetDomain(ctx, t.ID, domainName)
		if err != nil {
			d, err = db.GetDomainByName(ctx, t.ID, strings.ToLower(domainName))
		}
		if err != nil {
			return fmt.Errorf("domain %q of team %s: %w", domainName, t.Name, err)
		}
		domainID, what = d.ID, "domain "+d.Name+" of team "+t.Name
	}
	if err := db.SetIPPool(ctx, t.ID, domainID, pool); err != nil {
		return err
	}
	if pool == "" {
		fmt.Fprintf(stdout, "%s: no pool of its own (the team's, else the default pool)\n", what)
	} else {
		fmt.Fprintf(stdout, "%s: sends from the pool %s\n", what, pool)
	}
	return nil
}

// ipPoolLister is what godwit ip-pools list reads.
type ipPoolLister interface {
	ListIPPoolAssignments(ctx context.Context) ([]*store.IPPoolAssignment, error)
	WarmupCounts(ctx context.Context, day string) ([]*store.WarmupCount, error)
}

func listIPPools(ctx context.Context, db ipPoolLister, pools ippool.Pools, wu warmup.Config, now time.Time, stdout io.Writer) error {
	if pools == nil {
		fmt.Fprintln(stdout, "no sending IP pools: delivery binds to no source address (give --sending-ips with --bind-sending-ips, --ip-pool or --warmup-ips)")
	}
	counts, err := db.WarmupCounts(ctx, warmup.DayKey(now))
	if err != nil {
		return err
	}
	sent := map[string]int{}
	for _, c := range counts {
		sent[c.IP+"\x00"+c.Destination] = c.Sent
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if pools != nil {
		fmt.Fprintln(tw, "POOL\tIP\tWARM-UP\tTODAY (SENT/CAP)")
		for _, name := range pools.Names() {
			for _, ip := range pools[name] {
				state, today := "done (no cap)", "-"
				if start, ok := wu.IPs()[ip]; ok {
					day := warmup.DayNumber(start, now)
					state = fmt.Sprintf("day %d since %s", day, start.Format(time.DateOnly))
					var parts []string
					for _, dest := range destination.Names() {
						c, limited := wu.Cap(ip, dest, now)
						n := sent[ip.String()+"\x00"+dest]
						switch {
						case limited:
							parts = append(parts, fmt.Sprintf("%s %d/%d", dest, n, c))
						case n > 0:
							parts = append(parts, fmt.Sprintf("%s %d/-", dest, n))
						}
					}
					if len(parts) == 0 {
						state = "done (no cap) since day " + fmt.Sprint(day)
					} else {
						today = strings.Join(parts, " ")
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, ip, state, today)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	list, err := db.ListIPPoolAssignments(ctx)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "\nno assignments: every team sends from the default pool")
		return nil
	}
	fmt.Fprintln(stdout)
	tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TEAM\tDOMAIN\tPOOL\tNOTE")
	for _, a := range list {
		dom, note := "(all)", ""
		if a.DomainID != "" {
			dom = a.DomainName
			if dom == "" {
				dom, note = a.DomainID, "domain deleted"
			}
		}
		if _, ok := pools[a.Pool]; !ok {
			note = strings.TrimPrefix(note+"; not configured: the default pool is used", "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", oneLine(a.TeamName), dom, a.Pool, note)
	}
	return tw.Flush()
}
