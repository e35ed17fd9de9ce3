package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/godwit/godwit/internal/store"
)

const contactPropertyColumns = `id, team_id, prop_key, type, fallback_value, created_at, updated_at`

func scanContactProperty(row interface{ Scan(...any) error }) (*store.ContactProperty, error) {
	var p store.ContactProperty
	var fallback sql.NullString
	var created, updated int64
	if err := row.Scan(&p.ID, &p.TeamID, &p.Key, &p.Type, &fallback, &created, &updated); err != nil {
		return nil, interpretError(err)
	}
	if fallback.Valid {
		if err := json.Unmarshal([]byte(fallback.String), &p.FallbackValue); err != nil {
			return nil, fmt.Errorf("decode contact property %s: %w", p.ID, err)
		}
	}
	p.CreatedAt, p.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &p, nil
}

// fallbackText encodes a fallback value as stored: its JSON, or NULL.
func fallbackText(v any) (sql.NullString, error) {
	if v == nil {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return sql.NullString{}, fmt.Errorf("encode fallback value: %w", err)
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

// CreateContactProperty implements store.Store.
func (db *DB) CreateContactProperty(ctx context.Context, p *store.ContactProperty) error {
	fallback, err := fallbackText(p.FallbackValue)
	if err != nil {
		return fmt.Errorf("create contact property: %w", err)
	}
	_, err = db.w.ExecContext(ctx, db.q(`INSERT INTO contact_properties (`+contactPropertyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		p.ID, p.TeamID, p.Key, p.Type, fallback, micros(p.CreatedAt), micros(p.UpdatedAt))
	if isUniqueViolation(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("create contact property: %w", interpretError(err))
	}
	return nil
}

// GetContactProperty implements store.Store.
func (db *DB) GetContactProperty(ctx context.Context, teamID, id string) (*store.ContactProperty, error) {
	return scanContactProperty(db.r.QueryRowContext(ctx, db.q(`SELECT `+contactPropertyColumns+` FROM contact_properties
		WHERE team_id = ? AND id = ?`), teamID, id))
}

// ListContactProperties implements store.Store.
func (db *DB) ListContactProperties(ctx context.Context, teamID string, p store.Page) ([]*store.ContactProperty, bool, error) {
	return listTeamRows(ctx, db, "list contact properties", "contact_properties", contactPropertyColumns, teamID, p, scanContactProperty)
}

// ContactPropertiesByKey implements store.Store, in one query through the
// (team_id, prop_key) unique index.
func (db *DB) ContactPropertiesByKey(ctx context.Context, teamID string, keys []string) ([]*store.ContactProperty, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(keys)+1)
	args = append(args, teamID)
	for _, k := range keys {
		args = append(args, k)
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+contactPropertyColumns+` FROM contact_properties
		WHERE team_id = ? AND prop_key IN (?`+strings.Repeat(", ?", len(keys)-1)+`)`), args...)
	if err != nil {
		return nil, fmt.Errorf("contact properties by key: %w", interpretError(err))
	}
	defer rows.Close()
	var out []*store.ContactProperty
	for rows.Next() {
		p, err := scanContactProperty(rows)
		if err != nil {
			return nil, fmt.Errorf("contact properties by key: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("contact properties by key: %w", interpretError(err))
	}
	return out, nil
}

// UpdateContactProperty implements store.Store.
func (db *DB) UpdateContactProperty(ctx context.Context, p *store.ContactProperty) error {
	fallback, err := fallbackText(p.FallbackValue)
	if err != nil {
		return fmt.Errorf("update contact property: %w", err)
	}
	res, err := db.w.ExecContext(ctx, db.q(`UPDATE contact_properties SET fallback_value = ?, updated_at = ?
		WHERE team_id = ? AND id = ?`), fallback, micros(p.UpdatedAt), p.TeamID, p.ID)
	if err != nil {
		return fmt.Errorf("update contact property: %w", interpretError(err))
	}
	return mustAffect(res)
}

// DeleteContactProperty implements store.Store. Contacts' values for the
// key stay in contacts.properties.
func (db *DB) DeleteContactProperty(ctx context.Context, teamID, id string) error {
	res, err := db.w.ExecContext(ctx, db.q(`DELETE FROM contact_properties WHERE team_id = ? AND id = ?`), teamID, id)
	if err != nil {
		return fmt.Errorf("delete contact property: %w", interpretError(err))
	}
	return mustAffect(res)
}
