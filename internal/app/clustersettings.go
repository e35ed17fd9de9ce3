package app

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/config"
)

// ClusterSettingsStore is where the nodes' shared settings are recorded.
type ClusterSettingsStore interface {
	AddClusterSettings(ctx context.Context, settings map[string]string, at time.Time) (map[string]string, error)
	SetClusterSettings(ctx context.Context, settings map[string]string, at time.Time) error
	LiveNodes(ctx context.Context, within time.Duration) (int, error)
}

// clusterSettings are the settings every node of one database must share,
// by flag: the accept gate's test domain and the default rate limit, the
// records every domain publishes and the links every email carries. A node
// with others would answer differently from the rest.
func clusterSettings(cfg config.Config) map[string]string {
	return map[string]string{
		"test-domain":   cfg.TestDomain,
		"rate-limit":    strconv.Itoa(cfg.RateLimit),
		"mx-host":       cfg.BounceHost(),
		"spf":           cfg.SPFRecord(),
		"dkim-selector": cfg.DKIMSelector,
		"dkim-ed25519":  strconv.FormatBool(cfg.DKIMEd25519),
		"dmarc-report":  cfg.DMARCReport,
		"public-url":    strings.TrimSuffix(cfg.PublicURL, "/"),
		// Nodes counting in different places would each allow the limit.
		"rate-limiter": cfg.Limiter(),
		// With a shared connection limiter, --max-per-host is the total
		// across the worker nodes: nodes with different totals, or one
		// counting apart, would open more than the receiving host accepts.
		"connection-limiter": cfg.ConnLimiter(),
		"max-per-host":       strconv.Itoa(cfg.MaxPerHost),
		// The same for each destination's connections.
		"destination-limits": cfg.DestinationLimits,
	}
}

// liveWithin is how recent a heartbeat must be for its node to count as
// running (the delivery queue's dead-node threshold).
const liveWithin = 5 * time.Second

// CheckClusterSettings records this node's shared settings on the first
// start of a database and compares every later start's with them. A
// difference while another node is running stops start-up in one sentence
// naming the setting, both values and the fix; with no other node running
// the new values are the cluster's from now on (a change made on purpose:
// stop every node, start them with the new value), each change an INFO
// line.
func CheckClusterSettings(ctx context.Context, db ClusterSettingsStore, cfg config.Config, log *slog.Logger) error {
	mine := clusterSettings(cfg)
	now := time.Now().UTC()
	recorded, err := db.AddClusterSettings(ctx, mine, now)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(mine))
	for n := range mine {
		if recorded[n] != mine[n] {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	live := 0
	if config.IsPostgres(cfg.Database()) { // one process serves a SQLite file: there is no other node
		if live, err = db.LiveNodes(ctx, liveWithin); err != nil {
			return err
		}
	}
	if live > 0 {
		n := names[0]
		what := "--" + n
		switch n {
		case "mx-host":
			what = "the MX host (--mx-host, else the --public-url host or this machine's name)"
		case "spf":
			what = "the SPF record (--sending-ips, --spf-include)"
		}
		return fmt.Errorf("%s is %q on this node but %q on the other nodes of this database, %d of them running: start it with the same value, or, to change it, stop every node and start them all with the new one",
			what, mine[n], recorded[n], live)
	}
	changed := map[string]string{}
	for _, n := range names {
		changed[n] = mine[n]
		log.Info("shared setting changed: no other node is running, so this node's value is the cluster's now",
			slog.String("setting", n), slog.String("from", recorded[n]), slog.String("to", mine[n]))
	}
	return db.SetClusterSettings(ctx, changed, now)
}
