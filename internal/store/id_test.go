package store

import (
	"testing"

	"github.com/google/uuid"
)

func TestNewID(t *testing.T) {
	a, b := NewID(), NewID()
	for _, s := range []string{a, b} {
		id, err := uuid.Parse(s)
		if err != nil || id.Version() != 7 {
			t.Fatalf("%q is not a UUIDv7 (%v)", s, err)
		}
	}
	if a >= b {
		t.Fatalf("ids are not time-ordered: %s then %s", a, b)
	}
}
