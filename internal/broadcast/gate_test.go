package broadcast_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/accept"
	"github.com/godwit/godwit/internal/broadcast"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
)

// TestSenderCheckedAtSend: the broadcast's sender passes the sending-domain
// gate as it is sent, not only when its draft was saved. A domain that is
// no longer verified cancels the broadcast with a warning naming the
// reason, before its first chunk or between two chunks; the emails of the
// chunks already committed stay, and each records its sending domain.
func TestSenderCheckedAtSend(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			tm := newTeam(t, kind)
			for _, a := range []string{"a@example.net", "b@example.net", "c@example.net", "d@example.net"} {
				tm.contact(&store.Contact{Email: a})
			}
			ctx := context.Background()

			// Before the first chunk: a domain that failed its verification.
			tm.domain("lapsed.example", store.DomainFailed)
			var logs godwittest.LogBuffer
			log := slog.New(slog.NewJSONHandler(&logs, nil))
			s := &broadcast.Sender{Store: tm.db, Logger: log}
			b := &store.Broadcast{From: "news@lapsed.example", Subject: "s", Text: ptr("t")}
			require.NoError(t, tm.send(s, b), "the job is done: nothing to retry")
			require.Empty(t, tm.emailsOf(b.ID))
			require.Equal(t, store.BroadcastCanceled, tm.status(b.ID))
			recs := logs.Records(t, "broadcast canceled: its sender was refused at send time")
			require.Len(t, recs, 1)
			require.Equal(t, b.ID, recs[0]["broadcast_id"])
			require.Contains(t, recs[0]["reason"], "`lapsed.example` domain is not verified")

			// Between two chunks: the domain loses its verification after
			// the first chunk is committed (no cache, so the next chunk
			// reads the domain again).
			d, err := tm.db.GetDomainByName(ctx, tm.id, "example.com")
			require.NoError(t, err)
			s = &broadcast.Sender{Store: tm.db, Logger: log, ChunkSize: 2,
				Accept: accept.New(accept.Config{Store: tm.db, CacheTTL: -1}),
				AfterChunk: func(int64) error {
					d.Status = store.DomainFailed
					return tm.db.UpdateDomain(ctx, d)
				}}
			b = &store.Broadcast{From: "Acme <news@Example.com>", Subject: "s", Text: ptr("t")}
			require.NoError(t, tm.send(s, b))
			got := tm.emailsOf(b.ID)
			require.Len(t, got, 2, "the first chunk only")
			for _, e := range got {
				require.Equal(t, d.ID, e.DomainID)
				require.Equal(t, "example.com", e.DomainName)
				require.Equal(t, "<"+e.ID+"@example.com>", e.MessageID())
			}
			require.Equal(t, store.BroadcastCanceled, tm.status(b.ID))
			require.Len(t, logs.Records(t, "broadcast canceled: its sender was refused at send time"), 2)
		})
	}
}
