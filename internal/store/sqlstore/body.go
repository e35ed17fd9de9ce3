package sqlstore

import (
	"fmt"

	"github.com/klauspost/compress/s2"
)

// Email bodies on SQLite are compressed with S2 before they reach the
// committer: the single writer then copies and writes a third of the bytes,
// and the compression runs on the request goroutines, on every core.
// PostgreSQL compresses bodies itself (lz4, see its first migration), so
// there they are stored as text.
const (
	codecText = 0
	codecS2   = 1
)

// minCompress is the body size below which compression is not worth it.
const minCompress = 1024

// encodeBodies returns the stored form of html and text and their codec.
// Both are compressed or neither, so one codec column describes the row.
func (db *DB) encodeBodies(html, text *string) (h, t any, codec int) {
	size := 0
	if html != nil {
		size += len(*html)
	}
	if text != nil {
		size += len(*text)
	}
	if db.dialect != SQLite || size < minCompress {
		return nullString(html), nullString(text), codecText
	}
	return compressed(html), compressed(text), codecS2
}

func compressed(s *string) any {
	if s == nil {
		return nil
	}
	return s2.Encode(nil, []byte(*s))
}

// decodeBody turns a stored body back into text.
func decodeBody(stored []byte, valid bool, codec int) (*string, error) {
	if !valid {
		return nil, nil
	}
	b, err := decodeBytes(stored, codec)
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}

// decodeBytes turns a stored body back into its bytes (stored itself for
// text).
func decodeBytes(stored []byte, codec int) ([]byte, error) {
	switch codec {
	case codecText:
		return stored, nil
	case codecS2:
		b, err := s2.Decode(nil, stored)
		if err != nil {
			return nil, fmt.Errorf("decompress body: %w", err)
		}
		return b, nil
	default:
		return nil, fmt.Errorf("unknown body codec %d", codec)
	}
}
