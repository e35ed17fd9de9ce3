package app

import (
	"context"
	"log/slog"

	"github.com/godwit/godwit/internal/config"
	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/inbound"
	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/reputation"
	"github.com/godwit/godwit/internal/store"
)

// reputationConfig is the guard's configuration from the flags.
func reputationConfig(cfg config.Config) reputation.Config {
	return reputation.Config{Disabled: !cfg.ReputationGuard, Window: cfg.ReputationWindow, MinVolume: cfg.ReputationMinVolume,
		BounceRate: cfg.ReputationBounceRate, ComplaintRate: cfg.ReputationComplaintRate}
}

// newReputationGuard is the reputation guard of this node (--reputation-*).
func newReputationGuard(cfg config.Config, db reputation.Store, domainCfg domains.Settings, met *metrics.Metrics, log *slog.Logger) *reputation.Guard {
	return &reputation.Guard{Store: db, Config: reputationConfig(cfg), Domains: domainCfg, Logger: log, Metrics: met}
}

// guardedDelivery is the delivery worker's store, telling the reputation
// guard of each outcome it records.
type guardedDelivery struct {
	delivery.Store
	guard *reputation.Guard
}

func (s guardedDelivery) RecordDelivery(ctx context.Context, o *store.DeliveryOutcome) error {
	if err := s.Store.RecordDelivery(ctx, o); err != nil {
		return err
	}
	s.guard.Recorded(ctx, o)
	return nil
}

// guardedReports is the MX's store, telling the reputation guard of each
// bounce and complaint report it records.
type guardedReports struct {
	inbound.Store
	guard *reputation.Guard
}

func (s guardedReports) RecordDelivery(ctx context.Context, o *store.DeliveryOutcome) error {
	if err := s.Store.RecordDelivery(ctx, o); err != nil {
		return err
	}
	s.guard.Recorded(ctx, o)
	return nil
}
