package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/godwit/godwit/internal/store"
)

const topicColumns = `id, team_id, name, description, default_subscription, visibility, created_at, updated_at`

func scanTopic(row interface{ Scan(...any) error }) (*store.Topic, error) {
	var t store.Topic
	var created, updated int64
	if err := row.Scan(&t.ID, &t.TeamID, &t.Name, &t.Description, &t.DefaultSubscription, &t.Visibility, &created, &updated); err != nil {
		return nil, interpretError(err)
	}
	t.CreatedAt, t.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &t, nil
}

// CreateTopic implements store.Store.
func (db *DB) CreateTopic(ctx context.Context, t *store.Topic, events ...*store.Event) error {
	err := db.withEvents(ctx, events, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO topics (`+topicColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			t.ID, t.TeamID, t.Name, t.Description, t.DefaultSubscription, t.Visibility, micros(t.CreatedAt), micros(t.UpdatedAt))
		return err
	})
	if isUniqueViolation(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("create topic: %w", interpretError(err))
	}
	return nil
}

// GetTopic implements store.Store.
func (db *DB) GetTopic(ctx context.Context, teamID, id string) (*store.Topic, error) {
	return scanTopic(db.r.QueryRowContext(ctx, db.q(`SELECT `+topicColumns+` FROM topics WHERE team_id = ? AND id = ?`), teamID, id))
}

// ListTopics implements store.Store.
func (db *DB) ListTopics(ctx context.Context, teamID string, p store.Page) ([]*store.Topic, bool, error) {
	return listTeamRows(ctx, db, "list topics", "topics", topicColumns, teamID, p, scanTopic)
}

// UpdateTopic implements store.Store.
func (db *DB) UpdateTopic(ctx context.Context, t *store.Topic, events ...*store.Event) error {
	return db.changeDomain(ctx, "update topic", events, `UPDATE topics SET name = ?, description = ?, visibility = ?, updated_at = ?
		WHERE team_id = ? AND id = ?`, t.Name, t.Description, t.Visibility, micros(t.UpdatedAt), t.TeamID, t.ID)
}

// DeleteTopic implements store.Store. Its subscriptions go with it (ON
// DELETE CASCADE).
func (db *DB) DeleteTopic(ctx context.Context, teamID, id string, events ...*store.Event) error {
	return db.changeDomain(ctx, "delete topic", events, `DELETE FROM topics WHERE team_id = ? AND id = ?`, teamID, id)
}

// setTopicSQL records a contact's choice for one of the team's topics,
// replacing an earlier one; it inserts nothing when the topic is not the
// team's. Its arguments: team, contact id, subscription, time, time, team,
// topic id. (The WHERE clause also keeps SQLite from reading ON CONFLICT
// as a join constraint.)
const setTopicSQL = `INSERT INTO contact_topics (team_id, contact_id, topic_id, subscription, created_at, updated_at)
	SELECT ?, ?, id, ?, ?, ? FROM topics WHERE team_id = ? AND id = ?
	ON CONFLICT (contact_id, topic_id) DO UPDATE SET subscription = excluded.subscription, updated_at = excluded.updated_at`

// setTopicsTx writes subs for a contact known to be the team's: the last
// choice for a topic named twice wins; store.ErrUnknownTopic if a topic is
// not the team's.
func (db *DB) setTopicsTx(ctx context.Context, tx *sql.Tx, teamID, contactID string, subs []store.TopicSubscription, at time.Time) error {
	last := make(map[string]string, len(subs))
	var order []string
	for _, s := range subs {
		if _, ok := last[s.TopicID]; !ok {
			order = append(order, s.TopicID)
		}
		last[s.TopicID] = s.Subscription
	}
	for _, topicID := range order {
		res, err := tx.ExecContext(ctx, db.q(setTopicSQL), teamID, contactID, last[topicID], micros(at), micros(at), teamID, topicID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrUnknownTopic
		}
	}
	return nil
}

// SetContactTopics implements store.Store.
func (db *DB) SetContactTopics(ctx context.Context, teamID, contactID string, subs []store.TopicSubscription, at time.Time,
	events ...*store.Event) error {
	err := db.withEvents(ctx, events, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM contacts WHERE team_id = ? AND id = ?`), teamID, contactID).Scan(&one); err != nil {
			return interpretError(err)
		}
		return db.setTopicsTx(ctx, tx, teamID, contactID, subs, at)
	})
	switch {
	case errors.Is(err, store.ErrNotFound): // the contact, or store.ErrUnknownTopic
		return err
	case isForeignKeyViolation(err): // the contact or a topic was deleted meanwhile
		return store.ErrNotFound
	case err != nil:
		return fmt.Errorf("set contact topics: %w", interpretError(err))
	}
	return nil
}

// ListContactTopics implements store.Store: the team's topics in
// ListTopics' order, each joined to the contact's choice if any.
func (db *DB) ListContactTopics(ctx context.Context, teamID, contactID string, p store.Page) ([]*store.ContactTopic, bool, error) {
	limit := cmpLimit(p.Limit)
	if err := db.exists(ctx, `SELECT 1 FROM contacts WHERE team_id = ? AND id = ?`, teamID, contactID); err != nil {
		return nil, false, err
	}
	op, seq, order, err := db.cursor(ctx, "topics", teamID, p)
	if err != nil {
		return nil, false, err
	}
	query := `SELECT ` + qualified("t", topicColumns) + `, s.subscription FROM topics t
		LEFT JOIN contact_topics s ON s.topic_id = t.id AND s.contact_id = ?
		WHERE t.team_id = ?`
	args := []any{contactID, teamID}
	if op != "" {
		query += ` AND t.seq ` + op + ` ?`
		args = append(args, seq)
	}
	args = append(args, limit+1)
	return queryPage(ctx, db, db.r, "list contact topics", query+` ORDER BY t.seq `+order+` LIMIT ?`, args, limit, order == "ASC",
		func(row interface{ Scan(...any) error }) (*store.ContactTopic, error) {
			var t store.Topic
			var created, updated int64
			var sub sql.NullString
			if err := row.Scan(&t.ID, &t.TeamID, &t.Name, &t.Description, &t.DefaultSubscription, &t.Visibility,
				&created, &updated, &sub); err != nil {
				return nil, err
			}
			t.CreatedAt, t.UpdatedAt = fromMicros(created), fromMicros(updated)
			ct := &store.ContactTopic{Topic: &t, Subscription: t.DefaultSubscription}
			if sub.Valid {
				ct.Subscription, ct.Explicit = sub.String, true
			}
			return ct, nil
		})
}

// TopicSubscriptionsAmong implements store.Store. The topic is the query's
// driving row, so that it answers the default (and that the topic exists)
// even when no address is a contact: one row per contact found, or one
// with NULLs.
func (db *DB) TopicSubscriptionsAmong(ctx context.Context, teamID, topicID string, emails []string) (map[string]string, error) {
	lower := make([]string, len(emails))
	for i, e := range emails {
		lower[i] = emailKey(e)
	}
	runs := chunks(lower, maxInList)
	if len(runs) == 0 {
		runs = [][]string{{""}} // no contact has an empty address: the topic's row alone
	}
	def := ""
	chosen := map[string]string{}
	for _, run := range runs {
		args := make([]any, 0, len(run)+2)
		for _, e := range run {
			args = append(args, e)
		}
		args = append(args, teamID, topicID)
		query := `SELECT t.default_subscription, c.email_key, s.subscription FROM topics t
			LEFT JOIN contacts c ON c.team_id = t.team_id AND c.email_key IN (` + placeholders(len(run)) + `)
			LEFT JOIN contact_topics s ON s.contact_id = c.id AND s.topic_id = t.id
			WHERE t.team_id = ? AND t.id = ?`
		var rows *sql.Rows
		var err error
		if len(run) <= 8 { // the worker asks about a few recipients per email: prepare those shapes
			var stmt *sql.Stmt
			if stmt, err = db.prepared(ctx, db.r, query); err == nil {
				rows, err = stmt.QueryContext(ctx, args...)
			}
		} else {
			rows, err = db.r.QueryContext(ctx, db.q(query), args...)
		}
		if err != nil {
			return nil, fmt.Errorf("topic subscriptions: %w", interpretError(err))
		}
		found := false
		for rows.Next() {
			var key, sub sql.NullString
			if err := rows.Scan(&def, &key, &sub); err != nil {
				rows.Close()
				return nil, fmt.Errorf("topic subscriptions: %w", err)
			}
			found = true
			if key.Valid && sub.Valid {
				chosen[key.String] = sub.String
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("topic subscriptions: %w", interpretError(err))
		}
		if !found {
			return nil, store.ErrNotFound
		}
	}
	out := make(map[string]string, len(emails))
	for i, e := range emails {
		if s, ok := chosen[lower[i]]; ok {
			out[e] = s
		} else {
			out[e] = def
		}
	}
	return out, nil
}
