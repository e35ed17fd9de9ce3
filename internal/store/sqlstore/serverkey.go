package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// ServerKeyCheck returns the check value of the secret key this database's
// secrets are sealed with, or store.ErrNotFound when none is stored yet.
func (db *DB) ServerKeyCheck(ctx context.Context) (string, error) {
	var mac string
	if err := db.w.QueryRowContext(ctx, `SELECT mac FROM server_key_check WHERE id = 1`).Scan(&mac); err != nil {
		return "", fmt.Errorf("server key check: %w", interpretError(err))
	}
	return mac, nil
}

// SetServerKeyCheck stores mac as the check value unless one is already
// stored (nodes starting together on one PostgreSQL race here; one wins),
// and returns the stored value: mac, or the one stored first.
func (db *DB) SetServerKeyCheck(ctx context.Context, mac string, at time.Time) (string, error) {
	if _, err := db.w.ExecContext(ctx, db.q(`INSERT INTO server_key_check (id, mac, created_at) VALUES (1, ?, ?)
		ON CONFLICT (id) DO NOTHING`), mac, micros(at)); err != nil {
		return "", fmt.Errorf("set server key check: %w", interpretError(err))
	}
	return db.ServerKeyCheck(ctx)
}

// SealedSecret is one secret sealed with the server key, with what opens
// it: the webhook's or the domain's id (the sealing's additional data is
// derived from it by its owner).
type SealedSecret struct {
	Kind   string // "webhook" (a signing secret) or "domain" (a DKIM key)
	ID     string
	Sealed []byte
}

// AnySealedSecret returns one secret sealed with the server key (a
// webhook's signing secret, else a domain's DKIM key), or
// store.ErrNotFound when the database holds none.
func (db *DB) AnySealedSecret(ctx context.Context) (SealedSecret, error) {
	s := SealedSecret{Kind: "webhook"}
	err := db.w.QueryRowContext(ctx, `SELECT id, secret FROM webhooks LIMIT 1`).Scan(&s.ID, &s.Sealed)
	if err == nil {
		return s, nil
	}
	if err = interpretError(err); !errors.Is(err, store.ErrNotFound) {
		return SealedSecret{}, fmt.Errorf("find a sealed secret: %w", err)
	}
	s = SealedSecret{Kind: "domain"}
	err = db.w.QueryRowContext(ctx, `SELECT id, dkim_key FROM domains LIMIT 1`).Scan(&s.ID, &s.Sealed)
	if err != nil {
		return SealedSecret{}, fmt.Errorf("find a sealed secret: %w", interpretError(err))
	}
	return s, nil
}
