package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestIdempotencyRecords: a new record keeps the ids (neutral, readable by
// every face), and a record stored before (the response body as it was
// sent) is still replayed as it was, byte for byte.
func TestIdempotencyRecords(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		ctx := context.Background()

		id := e.send(e.keyA, simpleEmail, "Idempotency-Key", "new-1")
		rec, err := e.db.GetIdempotency(ctx, e.teamA, "new-1")
		require.NoError(t, err)
		require.JSONEq(t, `{"ids":["`+id+`"]}`, string(rec.Response))

		batch := `[` + simpleEmail + `,{"from":"x"}]`
		r := e.do("POST", "/emails/batch", e.keyA, batch, "Idempotency-Key", "new-2", "x-batch-validation", "permissive")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		again := e.do("POST", "/emails/batch", e.keyA, batch, "Idempotency-Key", "new-2", "x-batch-validation", "permissive")
		require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
		require.JSONEq(t, string(r.body), string(again.body), "the refused items are replayed too")

		legacy := func(key, endpoint, body, response string) {
			h := sha256.New()
			h.Write([]byte(endpoint + "\n"))
			h.Write([]byte(body))
			require.NoError(t, e.db.AcceptEmails(ctx, &store.Accept{IdempotencyTTL: e.handler.IdempotencyTTL,
				Idempotency: &store.Idempotency{TeamID: e.teamA, Key: key, Endpoint: endpoint, RequestHash: h.Sum(nil),
					Response: []byte(response), CreatedAt: e.clock.Now().UTC()}}))
		}
		old := `{"id":"0192f6e4-0000-7000-8000-000000000001"}`
		legacy("old-1", "POST /emails", simpleEmail, old)
		r = e.do("POST", "/emails", e.keyA, simpleEmail, "Idempotency-Key", "old-1")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, "true", r.header.Get("Idempotent-Replayed"))
		require.Equal(t, old, string(r.body))

		oldBatch := `{"data":[{"id":"0192f6e4-0000-7000-8000-000000000002"}],"errors":[{"index":1,"message":"Missing ` + "`to`" + ` field."}]}`
		legacy("old-2", "POST /emails/batch", batch, oldBatch)
		r = e.do("POST", "/emails/batch", e.keyA, batch, "Idempotency-Key", "old-2", "x-batch-validation", "permissive")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, oldBatch, string(r.body))

		list := e.do("GET", "/emails", e.keyA, "")
		var out struct{ Data []json.RawMessage }
		require.NoError(t, json.Unmarshal(list.body, &out))
		require.Len(t, out.Data, 2, "replays store nothing")
	})
}
