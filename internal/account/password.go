package account

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// MinPasswordLength is the shortest password accepted, in characters.
const MinPasswordLength = 10

// maxPasswordLength bounds the work one sign-in can ask for.
const maxPasswordLength = 1024

// Params are argon2id's costs. DefaultParams (OWASP's 19 MiB, two passes,
// one lane) take about 45 ms on the development machine: slow for a guesser,
// quick for a person.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultParams are the costs new hashes are made with.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

var (
	// ErrPasswordTooShort is a new password under MinPasswordLength.
	ErrPasswordTooShort = fmt.Errorf("account: a password needs at least %d characters", MinPasswordLength)
	// ErrPasswordTooLong is a new password over 1,024 bytes.
	ErrPasswordTooLong = errors.New("account: a password may have at most 1024 bytes")
	// errBadHash is a stored hash this package cannot read.
	errBadHash = errors.New("account: malformed password hash")
)

// CheckPassword reports whether pw may be a new password.
func CheckPassword(pw string) error {
	if len([]rune(pw)) < MinPasswordLength {
		return ErrPasswordTooShort
	}
	if len(pw) > maxPasswordLength {
		return ErrPasswordTooLong
	}
	return nil
}

// HashPassword hashes pw with argon2id and a random salt, encoded in the
// PHC string format: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
// (unpadded standard base64), so that the parameters travel with the hash
// and can be raised later without invalidating old hashes.
func HashPassword(pw string, p Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword reports whether pw matches the encoded hash, comparing in
// constant time. A hash it cannot read is an error, never a match.
func VerifyPassword(encoded, pw string) (bool, error) {
	p, salt, want, err := parseHash(encoded)
	if err != nil {
		return false, err
	}
	if len(pw) > maxPasswordLength {
		return false, nil
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// parseHash reads a PHC-encoded argon2id hash, refusing parameters that
// would make verifying it unreasonably costly.
func parseHash(encoded string) (Params, []byte, []byte, error) {
	var p Params
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, errBadHash
	}
	for i, kv := range strings.Split(parts[3], ",") {
		name, val, ok := strings.Cut(kv, "=")
		want := [...]string{"m", "t", "p"}
		if !ok || i >= len(want) || name != want[i] {
			return p, nil, nil, errBadHash
		}
		n, err := strconv.ParseUint(val, 10, 32)
		if err != nil || n == 0 {
			return p, nil, nil, errBadHash
		}
		switch name {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return p, nil, nil, errBadHash
			}
			p.Threads = uint8(n)
		}
	}
	if p.Memory == 0 || p.Time == 0 || p.Threads == 0 || p.Memory > 1<<20 || p.Time > 64 || p.Memory < 8*uint32(p.Threads) {
		return p, nil, nil, errBadHash
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, errBadHash
	}
	key, err := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errBadHash
	}
	return p, salt, key, nil
}
