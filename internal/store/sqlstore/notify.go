package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// keyRevokedChannel is the PostgreSQL notification channel that carries the
// public prefix of each deleted API key.
const keyRevokedChannel = "godwit_api_key_revoked"

// KeyRevocations calls forget with the prefix of every API key deleted
// anywhere (any node, the CLI), until ctx ends. It listens on PostgreSQL
// (LISTEN/NOTIFY, reconnecting after failures); on SQLite, whose only
// server is this process, it returns at once and nodes rely on their own
// deletions plus the key cache's short lifetime.
func (db *DB) KeyRevocations(ctx context.Context, dsn string, forget func(prefix string), onErr func(error)) {
	if db.dialect != Postgres {
		return
	}
	for wait := time.Second; ctx.Err() == nil; {
		err := listen(ctx, dsn, keyRevokedChannel, forget)
		if ctx.Err() != nil {
			return
		}
		onErr(fmt.Errorf("listen for key revocations: %w", err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}

func listen(ctx context.Context, dsn, channel string, handle func(string)) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		handle(n.Payload)
	}
}
