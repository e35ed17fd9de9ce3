package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/store/storetest"
)

func TestStore(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
				db, err := sqlstore.Open(context.Background(), godwittest.StoreURL(t, kind), sqlstore.Options{Now: now, Outbox: godwittest.NewOutbox()})
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				t.Cleanup(func() { _ = db.Close() })
				return db
			})
		})
	}
}
