package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/godwit/godwit/internal/store"
)

const receivingRuleColumns = `id, team_id, domain_id, pattern, action, forward_to, forward_from, created_at, updated_at`

func scanReceivingRule(row interface{ Scan(...any) error }) (*store.ReceivingRule, error) {
	var r store.ReceivingRule
	var created, updated int64
	if err := row.Scan(&r.ID, &r.TeamID, &r.DomainID, &r.Match, &r.Action, &r.ForwardTo, &r.ForwardFrom, &created, &updated); err != nil {
		return nil, interpretError(err)
	}
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &r, nil
}

// CreateReceivingRule implements store.Store. The rule is inserted only
// when its domain is its team's.
func (db *DB) CreateReceivingRule(ctx context.Context, r *store.ReceivingRule) error {
	defer db.receivingChanged()
	res, err := db.w.ExecContext(ctx, db.q(`INSERT INTO receiving_rules (`+receivingRuleColumns+`)
		SELECT ?, ?, id, ?, ?, ?, ?, ?, ? FROM domains WHERE team_id = ? AND id = ?`),
		r.ID, r.TeamID, r.Match, r.Action, r.ForwardTo, r.ForwardFrom, micros(r.CreatedAt), micros(r.UpdatedAt), r.TeamID, r.DomainID)
	if err == nil {
		err = mustAffect(res)
	}
	if isUniqueViolation(err) {
		return fmt.Errorf("create receiving rule: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create receiving rule: %w", interpretError(err))
	}
	return nil
}

// GetReceivingRule implements store.Store.
func (db *DB) GetReceivingRule(ctx context.Context, teamID, domainID, id string) (*store.ReceivingRule, error) {
	return scanReceivingRule(db.r.QueryRowContext(ctx, db.q(`SELECT `+receivingRuleColumns+` FROM receiving_rules
		WHERE team_id = ? AND domain_id = ? AND id = ?`), teamID, domainID, id))
}

// ListReceivingRules implements store.Store.
func (db *DB) ListReceivingRules(ctx context.Context, teamID, domainID string) ([]*store.ReceivingRule, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+receivingRuleColumns+` FROM receiving_rules
		WHERE team_id = ? AND domain_id = ? ORDER BY CASE WHEN pattern = '*' THEN 0 ELSE 1 END, created_at, id`), teamID, domainID)
	if err != nil {
		return nil, fmt.Errorf("list receiving rules: %w", interpretError(err))
	}
	defer rows.Close()
	out := []*store.ReceivingRule{}
	for rows.Next() {
		r, err := scanReceivingRule(rows)
		if err != nil {
			return nil, fmt.Errorf("list receiving rules: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list receiving rules: %w", interpretError(err))
	}
	return out, nil
}

// UpdateReceivingRule implements store.Store.
func (db *DB) UpdateReceivingRule(ctx context.Context, r *store.ReceivingRule) error {
	defer db.receivingChanged()
	res, err := db.w.ExecContext(ctx, db.q(`UPDATE receiving_rules SET pattern = ?, action = ?, forward_to = ?, forward_from = ?,
		updated_at = ? WHERE team_id = ? AND domain_id = ? AND id = ?`),
		r.Match, r.Action, r.ForwardTo, r.ForwardFrom, micros(r.UpdatedAt), r.TeamID, r.DomainID, r.ID)
	if err == nil {
		err = mustAffect(res)
	}
	if isUniqueViolation(err) {
		return fmt.Errorf("update receiving rule: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("update receiving rule: %w", interpretError(err))
	}
	return nil
}

// DeleteReceivingRule implements store.Store.
func (db *DB) DeleteReceivingRule(ctx context.Context, teamID, domainID, id string) error {
	defer db.receivingChanged()
	res, err := db.w.ExecContext(ctx, db.q(`DELETE FROM receiving_rules WHERE team_id = ? AND domain_id = ? AND id = ?`),
		teamID, domainID, id)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("delete receiving rule: %w", interpretError(err))
	}
	return nil
}

// GetReceivingSettings implements store.Store.
func (db *DB) GetReceivingSettings(ctx context.Context, teamID, domainID string) (*store.ReceivingSettings, error) {
	var catchAll sql.NullInt64
	var updated sql.NullInt64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT s.catch_all, s.updated_at FROM domains d
		LEFT JOIN receiving_settings s ON s.domain_id = d.id WHERE d.team_id = ? AND d.id = ?`), teamID, domainID).Scan(&catchAll, &updated)
	if err != nil {
		return nil, fmt.Errorf("get receiving settings: %w", interpretError(err))
	}
	s := &store.ReceivingSettings{TeamID: teamID, DomainID: domainID, CatchAll: !catchAll.Valid || catchAll.Int64 != 0}
	if updated.Valid {
		s.UpdatedAt = fromMicros(updated.Int64)
	}
	return s, nil
}

// SetReceivingSettings implements store.Store.
func (db *DB) SetReceivingSettings(ctx context.Context, s *store.ReceivingSettings) error {
	defer db.receivingChanged()
	res, err := db.w.ExecContext(ctx, db.q(`INSERT INTO receiving_settings (domain_id, team_id, catch_all, updated_at)
		SELECT id, team_id, ?, ? FROM domains WHERE team_id = ? AND id = ?
		ON CONFLICT (domain_id) DO UPDATE SET catch_all = excluded.catch_all, updated_at = excluded.updated_at`),
		b2i(s.CatchAll), micros(s.UpdatedAt), s.TeamID, s.DomainID)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("set receiving settings: %w", interpretError(err))
	}
	return nil
}

// ReceivingRoute implements store.Store.
func (db *DB) ReceivingRoute(ctx context.Context, domainID, local string) (*store.ReceivingRoute, error) {
	route := &store.ReceivingRoute{CatchAll: true}
	var catchAll int64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT catch_all FROM receiving_settings WHERE domain_id = ?`), domainID).Scan(&catchAll)
	switch {
	case err == nil:
		route.CatchAll = catchAll != 0
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("receiving route: %w", interpretError(err))
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+receivingRuleColumns+` FROM receiving_rules
		WHERE domain_id = ? AND pattern IN (?, '*')`), domainID, local)
	if err != nil {
		return nil, fmt.Errorf("receiving route: %w", interpretError(err))
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanReceivingRule(rows)
		if err != nil {
			return nil, fmt.Errorf("receiving route: %w", err)
		}
		if route.Rule == nil || r.Match != store.RuleMatchAll {
			route.Rule = r // the address's own rule wins over the domain's
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("receiving route: %w", interpretError(err))
	}
	return route, nil
}
