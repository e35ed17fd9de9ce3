package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/godwit/godwit/internal/store"
)

const templateColumns = `id, team_id, name, alias, version_id, from_addr, subject, reply_to, html, text_body, variables,
	published, status, published_at, created_at, updated_at`

// storedVariable is a template variable as the variables column (and the
// published copy) hold it: times in microseconds, as everywhere else.
type storedVariable struct {
	ID            string `json:"id"`
	Key           string `json:"key"`
	Type          string `json:"type"`
	FallbackValue any    `json:"fallback_value"`
	CreatedAt     int64  `json:"created_at"`
	UpdatedAt     int64  `json:"updated_at"`
}

// storedContent is the JSON of a published copy.
type storedContent struct {
	VersionID string           `json:"version_id"`
	From      string           `json:"from,omitempty"`
	Subject   string           `json:"subject,omitempty"`
	ReplyTo   []string         `json:"reply_to,omitempty"`
	HTML      string           `json:"html"`
	Text      *string          `json:"text,omitempty"`
	Variables []storedVariable `json:"variables,omitempty"`
}

func toStoredVariables(vs []store.TemplateVariable) []storedVariable {
	if len(vs) == 0 {
		return nil
	}
	out := make([]storedVariable, len(vs))
	for i, v := range vs {
		out[i] = storedVariable{ID: v.ID, Key: v.Key, Type: v.Type, FallbackValue: v.FallbackValue,
			CreatedAt: micros(v.CreatedAt), UpdatedAt: micros(v.UpdatedAt)}
	}
	return out
}

func fromStoredVariables(vs []storedVariable) []store.TemplateVariable {
	if len(vs) == 0 {
		return nil
	}
	out := make([]store.TemplateVariable, len(vs))
	for i, v := range vs {
		out[i] = store.TemplateVariable{ID: v.ID, Key: v.Key, Type: v.Type, FallbackValue: v.FallbackValue,
			CreatedAt: fromMicros(v.CreatedAt), UpdatedAt: fromMicros(v.UpdatedAt)}
	}
	return out
}

// templateArgs are the values of templateColumns but id, team, and the
// creation time (which never change): name, alias, version_id, from_addr,
// subject, reply_to, html, text_body, variables, published, status,
// published_at, updated_at.
func templateArgs(t *store.Template) ([]any, error) {
	var vars sql.NullString
	if sv := toStoredVariables(t.Content.Variables); sv != nil {
		b, err := json.Marshal(sv)
		if err != nil {
			return nil, fmt.Errorf("encode template variables: %w", err)
		}
		vars = sql.NullString{String: string(b), Valid: true}
	}
	var published sql.NullString
	if p := t.Published; p != nil {
		b, err := json.Marshal(storedContent{VersionID: p.VersionID, From: p.From, Subject: p.Subject, ReplyTo: p.ReplyTo,
			HTML: p.HTML, Text: p.Text, Variables: toStoredVariables(p.Variables)})
		if err != nil {
			return nil, fmt.Errorf("encode published template: %w", err)
		}
		published = sql.NullString{String: string(b), Valid: true}
	}
	alias := sql.NullString{String: t.Alias, Valid: t.Alias != ""}
	return []any{t.Name, alias, t.Content.VersionID, t.Content.From, t.Content.Subject, jsonOrNull(t.Content.ReplyTo),
		t.Content.HTML, nullString(t.Content.Text), vars, published, t.Status, nullMicros(t.PublishedAt), micros(t.UpdatedAt)}, nil
}

func scanTemplate(row interface{ Scan(...any) error }) (*store.Template, error) {
	var t store.Template
	var alias, replyTo, text, vars, published sql.NullString
	var publishedAt sql.NullInt64
	var created, updated int64
	if err := row.Scan(&t.ID, &t.TeamID, &t.Name, &alias, &t.Content.VersionID, &t.Content.From, &t.Content.Subject,
		&replyTo, &t.Content.HTML, &text, &vars, &published, &t.Status, &publishedAt, &created, &updated); err != nil {
		return nil, interpretError(err)
	}
	t.Alias = alias.String
	if text.Valid {
		t.Content.Text = &text.String
	}
	if err := unmarshalNull(replyTo, &t.Content.ReplyTo); err != nil {
		return nil, fmt.Errorf("decode template %s: %w", t.ID, err)
	}
	var sv []storedVariable
	if err := unmarshalNull(vars, &sv); err != nil {
		return nil, fmt.Errorf("decode template %s: %w", t.ID, err)
	}
	t.Content.Variables = fromStoredVariables(sv)
	if published.Valid {
		var p storedContent
		if err := json.Unmarshal([]byte(published.String), &p); err != nil {
			return nil, fmt.Errorf("decode template %s: %w", t.ID, err)
		}
		t.Published = &store.TemplateContent{VersionID: p.VersionID, From: p.From, Subject: p.Subject, ReplyTo: p.ReplyTo,
			HTML: p.HTML, Text: p.Text, Variables: fromStoredVariables(p.Variables)}
	}
	t.PublishedAt = timePtr(publishedAt)
	t.CreatedAt, t.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &t, nil
}

// CreateTemplate implements store.Store.
func (db *DB) CreateTemplate(ctx context.Context, t *store.Template) error {
	rest, err := templateArgs(t)
	if err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	// templateArgs ends with updated_at; created_at goes before it.
	args := append([]any{t.ID, t.TeamID}, rest[:len(rest)-1]...)
	args = append(args, micros(t.CreatedAt), rest[len(rest)-1])
	_, err = db.w.ExecContext(ctx, db.q(`INSERT INTO templates (`+templateColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), args...)
	if isUniqueViolation(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("create template: %w", interpretError(err))
	}
	return nil
}

// GetTemplate implements store.Store: an id wins over another template's
// alias of the same value.
func (db *DB) GetTemplate(ctx context.Context, teamID, idOrAlias string) (*store.Template, error) {
	return scanTemplate(db.r.QueryRowContext(ctx, db.q(`SELECT `+templateColumns+` FROM templates
		WHERE team_id = ? AND (id = ? OR alias = ?)
		ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END LIMIT 1`), teamID, idOrAlias, idOrAlias, idOrAlias))
}

// ListTemplates implements store.Store.
func (db *DB) ListTemplates(ctx context.Context, teamID string, p store.Page) ([]*store.Template, bool, error) {
	return listTeamRows(ctx, db, "list templates", "templates", templateColumns, teamID, p, scanTemplate)
}

// UpdateTemplate implements store.Store.
func (db *DB) UpdateTemplate(ctx context.Context, t *store.Template) error {
	args, err := templateArgs(t)
	if err != nil {
		return fmt.Errorf("update template: %w", err)
	}
	args = append(args, t.TeamID, t.ID)
	res, err := db.w.ExecContext(ctx, db.q(`UPDATE templates SET name = ?, alias = ?, version_id = ?, from_addr = ?,
		subject = ?, reply_to = ?, html = ?, text_body = ?, variables = ?, published = ?, status = ?, published_at = ?,
		updated_at = ? WHERE team_id = ? AND id = ?`), args...)
	if isUniqueViolation(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("update template: %w", interpretError(err))
	}
	return mustAffect(res)
}

// DeleteTemplate implements store.Store. Emails sent with it keep its id.
func (db *DB) DeleteTemplate(ctx context.Context, teamID, id string) error {
	res, err := db.w.ExecContext(ctx, db.q(`DELETE FROM templates WHERE team_id = ? AND id = ?`), teamID, id)
	if err != nil {
		return fmt.Errorf("delete template: %w", interpretError(err))
	}
	return mustAffect(res)
}
