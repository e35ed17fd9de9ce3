package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// The email metrics rollup (email_metrics_hourly, migration 00020) holds,
// per team, UTC hour, sending domain and broadcast, one counter per metric,
// in a row per shard (migration 00047): each committer adds to its own
// shard, so that commits of different committers never wait for each
// other's row lock, and reads sum the shards. On SQLite, whose one writer
// makes no commit wait for another's row lock, every committer writes
// shard 0.
// It is written in the transaction that records what it counts, so it is
// never ahead of or behind the events: AcceptEmails adds each email to
// `received` at its created_at hour, and RecordDelivery adds each email
// event at its own hour. Each transaction adds one upsert per key it
// touches, keys in a fixed order (so that PostgreSQL's committers, which
// may touch the same rows, always lock them in the same order). countEvent
// is the one classification of an event, used both here and when counts
// are read from an email's own events.

// metricsCounterColumns are the rollup's counters, in EmailCounts' order.
const metricsCounterColumns = `received, sent, delivered, delivery_delayed, failed, suppressed, bounced,
	bounced_transient, bounced_permanent, bounced_undetermined, complained, opened, clicked, unique_opened, unique_clicked`

func counterArgs(c *store.EmailCounts) []any {
	return []any{c.Received, c.Sent, c.Delivered, c.DeliveryDelayed, c.Failed, c.Suppressed, c.Bounced,
		c.BouncedTransient, c.BouncedPermanent, c.BouncedUndetermined, c.Complained, c.Opened, c.Clicked,
		c.UniqueOpened, c.UniqueClicked}
}

func counterDests(c *store.EmailCounts) []any {
	return []any{&c.Received, &c.Sent, &c.Delivered, &c.DeliveryDelayed, &c.Failed, &c.Suppressed, &c.Bounced,
		&c.BouncedTransient, &c.BouncedPermanent, &c.BouncedUndetermined, &c.Complained, &c.Opened, &c.Clicked,
		&c.UniqueOpened, &c.UniqueClicked}
}

var upsertMetricsSQL = func() string {
	cols := strings.Fields(strings.ReplaceAll(metricsCounterColumns, ",", " "))
	set := make([]string, 0, len(cols)+1)
	for _, c := range cols {
		set = append(set, fmt.Sprintf("%[1]s = email_metrics_hourly.%[1]s + excluded.%[1]s", c))
	}
	set = append(set, "domain_name = CASE WHEN excluded.domain_name <> '' THEN excluded.domain_name ELSE email_metrics_hourly.domain_name END")
	return `INSERT INTO email_metrics_hourly (team_id, hour, domain_id, broadcast_id, shard, domain_name, ` + metricsCounterColumns + `)
	VALUES (?, ?, ?, ?, ?, ?` + strings.Repeat(", ?", len(cols)) + `)
	ON CONFLICT (team_id, hour, domain_id, broadcast_id, shard) DO UPDATE SET ` + strings.Join(set, ", ")
}()

// metricsKey is one rollup row.
type metricsKey struct {
	teamID      string
	hour        int64 // micros of the hour's start, UTC
	domainID    string
	broadcastID string
}

type metricsDelta struct {
	domainName string
	counts     store.EmailCounts
}

// metricsDeltas accumulates a transaction's additions to the rollup.
type metricsDeltas map[metricsKey]*metricsDelta

func hourOf(t time.Time) int64 { return micros(t.UTC().Truncate(time.Hour)) }

func (m metricsDeltas) at(k metricsKey, domainName string) *store.EmailCounts {
	d, ok := m[k]
	if !ok {
		d = &metricsDelta{domainName: domainName}
		m[k] = d
	}
	return &d.counts
}

// emailMetricsKey is what an email contributes under.
type emailMetricsKey struct {
	teamID, domainID, domainName, broadcastID string
}

// emailMetricsKeys reads the rollup keys of the emails ids, by id, in one
// statement per maxKeysPerSelect (a statement per email was two fifths of
// an outcome commit's statements). An id that is no email is missing.
func (db *DB) emailMetricsKeys(ctx context.Context, tx *sql.Tx, ids []string) (map[string]*emailMetricsKey, error) {
	keys := make(map[string]*emailMetricsKey, len(ids))
	err := byIDs(ids, func(n int, ids []string) error {
		args := make([]any, n)
		for i, id := range ids {
			args[i] = id
		}
		rows, err := tx.QueryContext(ctx, db.q(`SELECT id, team_id, COALESCE(domain_id, ''), COALESCE(domain_name, ''), broadcast_id
			FROM emails WHERE id IN (`+placeholders(n)+`)`), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			ek := &emailMetricsKey{}
			if err := rows.Scan(&id, &ek.teamID, &ek.domainID, &ek.domainName, &ek.broadcastID); err != nil {
				return err
			}
			keys[id] = ek
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("email metrics: %w", err)
	}
	return keys, nil
}

// maxIDsPerStatement bounds the ids of one byIDs statement.
const maxIDsPerStatement = 128

// byIDs calls run for ids in chunks of power-of-two sizes n up to
// maxIDsPerStatement, each chunk padded to n with its last id: a handful of
// statement texts, each parsed once, cover every count (an IN list or a
// CASE is unchanged by a repeated id).
func byIDs(ids []string, run func(n int, ids []string) error) error {
	for len(ids) > 0 {
		n := 1
		for n < len(ids) && n < maxIDsPerStatement {
			n *= 2
		}
		chunk := ids[:min(n, len(ids))]
		padded := make([]string, n)
		for i := range padded {
			padded[i] = chunk[min(i, len(chunk)-1)]
		}
		if err := run(n, padded); err != nil {
			return err
		}
		ids = ids[len(chunk):]
	}
	return nil
}

// addAccepted counts emails as received.
func (m metricsDeltas) addAccepted(emails []*store.Email) {
	for _, e := range emails {
		m.at(metricsKey{e.TeamID, hourOf(e.CreatedAt), e.DomainID, e.BroadcastID}, e.DomainName).Received++
	}
}

// countEvent adds one email event to c. first reports whether an opened or
// clicked event is the email's first of its type.
func countEvent(c *store.EmailCounts, typ string, data []byte, first bool) {
	switch typ {
	case store.EventSent:
		c.Sent++
	case store.EventDelivered:
		c.Delivered++
	case store.EventDeliveryDelayed:
		c.DeliveryDelayed++
	case store.EventFailed:
		c.Failed++
	case store.EventSuppressed:
		c.Suppressed++
	case store.EventComplained:
		c.Complained++
	case store.EventBounced:
		c.Bounced++
		var d struct {
			Bounce struct {
				Type string `json:"type"`
			} `json:"bounce"`
		}
		_ = json.Unmarshal(data, &d) // no type, or no readable one: undetermined
		switch d.Bounce.Type {
		case "Transient":
			c.BouncedTransient++
		case "Permanent":
			c.BouncedPermanent++
		default:
			c.BouncedUndetermined++
		}
	case eventOpened:
		c.Opened++
		if first {
			c.UniqueOpened++
		}
	case eventClicked:
		c.Clicked++
		if first {
			c.UniqueClicked++
		}
	}
}

// The tracking events' types as email_events stores them (the API's
// tracking handler records them; sqlstore imports nothing but store).
const (
	eventOpened  = "opened"
	eventClicked = "clicked"
)

func counted(typ string) bool {
	switch typ {
	case store.EventSent, store.EventDelivered, store.EventDeliveryDelayed, store.EventFailed, store.EventSuppressed,
		store.EventComplained, store.EventBounced, eventOpened, eventClicked:
		return true
	}
	return false
}

// addOutcomes counts the events of a group of delivery outcomes. It runs in
// tx before the events are inserted, so that a first open is told from the
// email's earlier ones.
func (db *DB) addOutcomes(ctx context.Context, tx *sql.Tx, m metricsDeltas, group []*outcomeReq) error {
	var ids []string
	for _, r := range group {
		if slices.ContainsFunc(r.o.Events, func(ev *store.EmailEvent) bool { return counted(ev.Type) }) {
			ids = append(ids, r.o.EmailID)
		}
	}
	keys, err := db.emailMetricsKeys(ctx, tx, ids)
	if err != nil {
		return err
	}
	firsts := map[[2]string]bool{} // (email, type) already opened/clicked
	for _, r := range group {
		o := r.o
		for _, ev := range o.Events {
			if !counted(ev.Type) {
				continue
			}
			ek, ok := keys[o.EmailID]
			if !ok || ek.teamID != o.TeamID {
				continue // not the team's email: nothing to count under
			}
			first := false
			if ev.Type == eventOpened || ev.Type == eventClicked {
				fk := [2]string{o.EmailID, ev.Type}
				if seen, ok := firsts[fk]; ok {
					first = !seen
				} else {
					var one int
					err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM email_events WHERE email_id = ? AND type = ? LIMIT 1`),
						o.EmailID, ev.Type).Scan(&one)
					switch {
					case errors.Is(err, sql.ErrNoRows):
						first = true
					case err != nil:
						return fmt.Errorf("email metrics: %w", err)
					}
				}
				firsts[fk] = true
			}
			countEvent(m.at(metricsKey{o.TeamID, hourOf(ev.CreatedAt), ek.domainID, ek.broadcastID}, ek.domainName), ev.Type, ev.Data, first)
		}
	}
	return nil
}

// outcomeShard is the email metrics shard of the delivery outcomes'
// committer (the accept committers': acceptShard).
const outcomeShard = 0

// upsert adds m to the rollup's rows of shard in tx, one statement per key,
// keys in order.
func (m metricsDeltas) upsert(ctx context.Context, db *DB, tx *sql.Tx, shard int64) error {
	keys := make([]metricsKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b metricsKey) int {
		return cmp.Or(cmp.Compare(a.teamID, b.teamID), cmp.Compare(a.hour, b.hour),
			cmp.Compare(a.domainID, b.domainID), cmp.Compare(a.broadcastID, b.broadcastID))
	})
	for _, k := range keys {
		d := m[k]
		args := append([]any{k.teamID, k.hour, k.domainID, k.broadcastID, shard, d.domainName}, counterArgs(&d.counts)...)
		if _, err := db.txExec(ctx, tx, upsertMetricsSQL, args...); err != nil {
			return fmt.Errorf("email metrics: %w", err)
		}
	}
	return nil
}

// EmailMetrics implements store.Store.
func (db *DB) EmailMetrics(ctx context.Context, f store.EmailMetricsFilter) ([]*store.EmailMetricsRow, error) {
	if len(f.EmailIDs) > 0 {
		return db.emailMetricsFromEvents(ctx, f)
	}
	// Rows are summed in SQL over what the caller does not break down by.
	sel, join := "", ""
	var group []string
	var groupArgs []any
	if f.ByHour && f.Bucket > time.Hour {
		sel, group = "MIN(r.hour), ", append(group, "(r.hour + ?) / ?")
		groupArgs = []any{f.Shift.Microseconds(), f.Bucket.Microseconds()}
	} else if f.ByHour {
		sel, group = "r.hour, ", append(group, "r.hour")
	} else {
		sel = "MIN(r.hour), "
	}
	if f.ByDomain {
		sel, group = sel+"r.domain_id, MAX(r.domain_name), ", append(group, "r.domain_id")
	} else {
		sel += "'', '', "
	}
	if f.ByBroadcast {
		sel += "r.broadcast_id, MAX(COALESCE(b.name, '')), "
		group = append(group, "r.broadcast_id")
		join = " LEFT JOIN broadcasts b ON b.id = r.broadcast_id AND b.team_id = r.team_id"
	} else {
		sel += "'', '', "
	}
	sums := strings.Fields(strings.ReplaceAll(metricsCounterColumns, ",", " "))
	for i, c := range sums {
		sums[i] = "SUM(r." + c + ")"
	}
	q := `SELECT ` + sel + strings.Join(sums, ", ") + ` FROM email_metrics_hourly r` + join + `
		WHERE r.team_id = ? AND r.hour >= ? AND r.hour < ?`
	args := []any{f.TeamID, hourOf(f.From), micros(f.To)}
	q, args = inList(q, args, "r.domain_id", f.DomainIDs)
	q, args = inList(q, args, "r.broadcast_id", f.BroadcastIDs)
	if len(group) > 0 {
		q += " GROUP BY " + strings.Join(group, ", ")
		args = append(args, groupArgs...)
	}
	rows, err := db.r.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("email metrics: %w", err)
	}
	defer rows.Close()
	var out []*store.EmailMetricsRow
	for rows.Next() {
		row := &store.EmailMetricsRow{}
		var hour sql.NullInt64
		sums := make([]sql.NullInt64, 15)
		dest := []any{&hour, &row.DomainID, &row.DomainName, &row.BroadcastID, &row.BroadcastName}
		for i := range sums {
			dest = append(dest, &sums[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("email metrics: %w", err)
		}
		if !hour.Valid {
			continue // no row matched: the one row of an aggregate without GROUP BY
		}
		for i, p := range counterDests(&row.EmailCounts) {
			*p.(*int64) = sums[i].Int64
		}
		row.Hour = fromMicros(hour.Int64)
		if !f.ByHour {
			row.Hour = fromMicros(hourOf(f.From))
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("email metrics: %w", err)
	}
	return out, nil
}

// inList appends "AND col IN (?, …)" when ids is not empty.
func inList(q string, args []any, col string, ids []string) (string, []any) {
	if len(ids) == 0 {
		return q, args
	}
	q += " AND " + col + " IN (?" + strings.Repeat(", ?", len(ids)-1) + ")"
	for _, id := range ids {
		args = append(args, id)
	}
	return q, args
}

// emailMetricsFromEvents counts the named emails from their own events: a
// bounded read (the filter takes at most a hundred emails), exact to the
// microsecond, with the same classification as the rollup.
func (db *DB) emailMetricsFromEvents(ctx context.Context, f store.EmailMetricsFilter) ([]*store.EmailMetricsRow, error) {
	q := `SELECT id, created_at, COALESCE(domain_id, ''), COALESCE(domain_name, ''), broadcast_id FROM emails WHERE team_id = ?`
	args := []any{f.TeamID}
	q, args = inList(q, args, "id", f.EmailIDs)
	q, args = inList(q, args, "COALESCE(domain_id, '')", f.DomainIDs)
	q, args = inList(q, args, "broadcast_id", f.BroadcastIDs)
	type emailInfo struct {
		created time.Time
		key     emailMetricsKey
	}
	infos := map[string]*emailInfo{}
	var ids, broadcasts []string
	err := func() error {
		rows, err := db.r.QueryContext(ctx, db.q(q), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var at int64
			in := &emailInfo{}
			if err := rows.Scan(&id, &at, &in.key.domainID, &in.key.domainName, &in.key.broadcastID); err != nil {
				return err
			}
			in.created = fromMicros(at)
			infos[id] = in
			ids = append(ids, id)
			if in.key.broadcastID != "" && !slices.Contains(broadcasts, in.key.broadcastID) {
				broadcasts = append(broadcasts, in.key.broadcastID)
			}
		}
		return rows.Err()
	}()
	if err != nil {
		return nil, fmt.Errorf("email metrics: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	names, err := db.broadcastNames(ctx, f.TeamID, broadcasts)
	if err != nil {
		return nil, err
	}
	type rowKey struct {
		email string
		hour  int64
	}
	rowsByKey := map[rowKey]*store.EmailMetricsRow{}
	at := func(email string, t time.Time) *store.EmailCounts {
		k := rowKey{email, hourOf(t)}
		r, ok := rowsByKey[k]
		if !ok {
			in := infos[email]
			r = &store.EmailMetricsRow{Hour: fromMicros(k.hour), DomainID: in.key.domainID, DomainName: in.key.domainName,
				BroadcastID: in.key.broadcastID, BroadcastName: names[in.key.broadcastID], EmailID: email}
			rowsByKey[k] = r
		}
		return &r.EmailCounts
	}
	inRange := func(t time.Time) bool { return !t.Before(f.From) && t.Before(f.To) }
	for _, id := range ids {
		if in := infos[id]; inRange(in.created) {
			at(id, in.created).Received++
		}
	}
	q, args = inList(`SELECT email_id, type, created_at, data FROM email_events WHERE team_id = ?`, []any{f.TeamID}, "email_id", ids)
	rows, err := db.r.QueryContext(ctx, db.q(q+" ORDER BY seq"), args...)
	if err != nil {
		return nil, fmt.Errorf("email metrics: %w", err)
	}
	defer rows.Close()
	seen := map[[2]string]bool{}
	for rows.Next() {
		var email, typ string
		var created int64
		var data sql.NullString
		if err := rows.Scan(&email, &typ, &created, &data); err != nil {
			return nil, fmt.Errorf("email metrics: %w", err)
		}
		fk := [2]string{email, typ}
		first := !seen[fk]
		seen[fk] = true
		if t := fromMicros(created); counted(typ) && inRange(t) {
			countEvent(at(email, t), typ, []byte(data.String), first)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("email metrics: %w", err)
	}
	out := make([]*store.EmailMetricsRow, 0, len(rowsByKey))
	for _, r := range rowsByKey {
		out = append(out, r)
	}
	return out, nil
}

// broadcastNames maps the team's broadcasts among ids to their names.
func (db *DB) broadcastNames(ctx context.Context, teamID string, ids []string) (map[string]string, error) {
	names := map[string]string{}
	if len(ids) == 0 {
		return names, nil
	}
	q, args := inList(`SELECT id, name FROM broadcasts WHERE team_id = ?`, []any{teamID}, "id", ids)
	rows, err := db.r.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("email metrics: broadcast names: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("email metrics: broadcast names: %w", err)
		}
		names[id] = name
	}
	return names, rows.Err()
}
