package store

import (
	"regexp"
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

func TestWebhookIDs(t *testing.T) {
	if m := NewWebhookMessageID(); !regexp.MustCompile(`^msg_[0-9A-Za-z]{27}$`).MatchString(m) {
		t.Fatalf("message id %q", m)
	}
	if a := NewWebhookAttemptID(); !regexp.MustCompile(`^atmpt_[0-9A-Za-z]{27}$`).MatchString(a) {
		t.Fatalf("attempt id %q", a)
	}
	if NewWebhookMessageID() == NewWebhookMessageID() {
		t.Fatal("two message ids are equal")
	}
}
