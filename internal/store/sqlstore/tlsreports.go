package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// AddTLSResults adds the counts to the day's counters (TLS reporting,
// RFC 8460), in one transaction: each (day, domain, policy type, MX host,
// result type) is one row whose sessions grow; its policy string becomes
// the latest given.
func (db *DB) AddTLSResults(ctx context.Context, counts []store.TLSResultCount) error {
	if len(counts) == 0 {
		return nil
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add TLS results: %w", interpretError(err))
	}
	defer func() { _ = tx.Rollback() }()
	q := db.q(`INSERT INTO tls_report_counts (domain, day, policy_type, mx_host, result_type, policy_string, sessions)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (day, domain, policy_type, mx_host, result_type)
		DO UPDATE SET sessions = tls_report_counts.sessions + excluded.sessions, policy_string = excluded.policy_string`)
	for _, c := range counts {
		if _, err := tx.ExecContext(ctx, q, c.Domain, c.Day, c.PolicyType, c.MXHost, c.ResultType, c.PolicyString, c.Sessions); err != nil {
			return fmt.Errorf("add TLS results: %w", interpretError(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add TLS results: %w", interpretError(err))
	}
	return nil
}

// TLSResults returns the counters of one UTC day ("2006-01-02"), by
// domain, policy type, MX host and result type.
func (db *DB) TLSResults(ctx context.Context, day string) ([]store.TLSResultCount, error) {
	rows, err := db.w.QueryContext(ctx, db.q(`SELECT domain, day, policy_type, mx_host, result_type, policy_string, sessions
		FROM tls_report_counts WHERE day = ? ORDER BY domain, policy_type, mx_host, result_type`), day)
	if err != nil {
		return nil, fmt.Errorf("TLS results of %s: %w", day, interpretError(err))
	}
	defer rows.Close()
	var out []store.TLSResultCount
	for rows.Next() {
		var c store.TLSResultCount
		if err := rows.Scan(&c.Domain, &c.Day, &c.PolicyType, &c.MXHost, &c.ResultType, &c.PolicyString, &c.Sessions); err != nil {
			return nil, fmt.Errorf("TLS results of %s: %w", day, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ClaimTLSReport records that the report of domain for day is being sent
// and reports whether this call recorded it (false: it was already, by
// this node or another, before or after a restart). When it was, the jobs
// that mail the report (one per mailto: rua) are enqueued in the same
// transaction: a claimed report is never lost before it is mailed.
func (db *DB) ClaimTLSReport(ctx context.Context, domain, day string, at time.Time, mails []store.TLSReportMail) (bool, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("claim TLS report of %s for %s: %w", domain, day, interpretError(err))
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, db.q(`INSERT INTO tls_reports_sent (domain, day, sent_at) VALUES (?, ?, ?)
		ON CONFLICT (day, domain) DO NOTHING`), domain, day, micros(at))
	if err != nil {
		return false, fmt.Errorf("claim TLS report of %s for %s: %w", domain, day, interpretError(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim TLS report of %s for %s: %w", domain, day, err)
	}
	if n != 1 {
		return false, nil
	}
	if len(mails) > 0 {
		if err := db.outbox.MailTLSReports(ctx, tx, mails); err != nil {
			return false, fmt.Errorf("claim TLS report of %s for %s: enqueue its mail: %w", domain, day, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("claim TLS report of %s for %s: %w", domain, day, interpretError(err))
	}
	return true, nil
}

// PruneTLSResults deletes the counters and claims of days before day.
func (db *DB) PruneTLSResults(ctx context.Context, before string) error {
	for _, table := range []string{"tls_report_counts", "tls_reports_sent"} {
		if _, err := db.w.ExecContext(ctx, db.q(`DELETE FROM `+table+` WHERE day < ?`), before); err != nil {
			return fmt.Errorf("prune %s: %w", table, interpretError(err))
		}
	}
	return nil
}
