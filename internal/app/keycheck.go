package app

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/godwit/godwit/internal/config"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/secretbox"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/webhook"
)

// keyCheckLabel is what the check value authenticates; the key it is
// computed under is derived from the server key for this use alone.
const keyCheckLabel = "godwit server key check v1"

// KeyCheckStore is where the server key's check value is kept.
type KeyCheckStore interface {
	ServerKeyCheck(ctx context.Context) (string, error)
	SetServerKeyCheck(ctx context.Context, mac string, at time.Time) (string, error)
	AnySealedSecret(ctx context.Context) (sqlstore.SealedSecret, error)
}

// KeyCheckValue is the check value of a server key: HMAC-SHA256 of a fixed
// label under a key derived from it with HKDF. It tells whether two keys
// are the same and says nothing of the key.
func KeyCheckValue(key []byte) (string, error) {
	sub, err := hkdf.Key(sha256.New, key, nil, "godwit server key check", 32)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, sub)
	mac.Write([]byte(keyCheckLabel))
	return base64.RawStdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// CheckServerKey makes sure key is the one this database's secrets were
// sealed with, source naming where it came from (for the fix). The first
// start stores the key's check value; every start compares with it. A
// database with sealed secrets but no check value yet (made before there
// was one) adopts key only if key opens one of them.
func CheckServerKey(ctx context.Context, db KeyCheckStore, key []byte, source string) error {
	want, err := KeyCheckValue(key)
	if err != nil {
		return err
	}
	got, err := db.ServerKeyCheck(ctx)
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNotFound):
		if err := opensExistingSecret(ctx, db, key, source); err != nil {
			return err
		}
		if got, err = db.SetServerKeyCheck(ctx, want, time.Now().UTC()); err != nil {
			return err
		}
	default:
		return err
	}
	if !hmac.Equal([]byte(got), []byte(want)) {
		return keyMismatch(source)
	}
	return nil
}

// opensExistingSecret tells whether key opens a secret the database
// already holds (nil when it holds none).
func opensExistingSecret(ctx context.Context, db KeyCheckStore, key []byte, source string) error {
	s, err := db.AnySealedSecret(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	box, err := secretbox.New(key)
	if err != nil {
		return err
	}
	// Opened as their owners open them.
	if s.Kind == "webhook" {
		_, err = box.Open(s.Sealed, webhook.SecretAD(s.ID))
	} else {
		_, err = domains.Settings{Keys: box}.PrivateKey(s.ID, s.Sealed)
	}
	if err != nil {
		return keyMismatch(source)
	}
	return nil
}

func keyMismatch(source string) error {
	return fmt.Errorf("this node's secret key (%s) is not the one this database's secrets were sealed with: "+
		"copy the first node's secret.key here or pass the same --secret-key", source)
}

// serverKeySource names where serverKey took the key from.
func serverKeySource(cfg config.Config) string {
	if cfg.SecretKey != "" {
		return "--secret-key"
	}
	return filepath.Join(cfg.DataDir, "secret.key")
}
