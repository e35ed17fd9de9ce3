package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// CheckDatabase refuses a --database-url that cannot be what was meant,
// before anything is created: a scheme other than postgres://,
// postgresql://, sqlite: or file: (mysql://…, or postgres//… missing its
// colon, would otherwise name a new SQLite file), a PostgreSQL URL that
// does not parse, and a SQLite file whose directory does not exist (a
// typo; the default file in --data-dir is created with its directory).
func (c *Config) CheckDatabase() error {
	u := c.DatabaseURL
	if u == "" {
		return nil
	}
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		if _, err := url.Parse(u); err != nil {
			return fmt.Errorf("--database-url is not a valid PostgreSQL URL (postgres://user@host:5432/db): %v", redactURLError(err))
		}
		return nil
	}
	path := u
	for _, p := range []string{"sqlite://", "sqlite:", "file:"} {
		if strings.HasPrefix(path, p) {
			path = strings.TrimPrefix(path, p)
			break
		}
	}
	if path == u {
		if scheme, _, ok := strings.Cut(u, ":"); ok && isScheme(scheme) {
			return fmt.Errorf("--database-url scheme %q is not supported: give a SQLite file path or a postgres:// URL (a file whose name has a colon: ./%s)", scheme, u)
		}
		if strings.HasPrefix(u, "postgres/") || strings.HasPrefix(u, "postgresql/") {
			return fmt.Errorf("--database-url %q looks like a PostgreSQL URL missing its colon: postgres://…", u)
		}
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if path == "" {
		return fmt.Errorf("--database-url names no SQLite file")
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("--database-url: the directory %s of the SQLite file does not exist: create it, or give a postgres:// URL", dir)
	}
	return nil
}

// isScheme reports whether s reads as a URL scheme (a letter, then
// letters, digits, '+', '-' or '.').
func isScheme(s string) bool {
	if s == "" || !('a' <= s[0]|0x20 && s[0]|0x20 <= 'z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c|0x20 && c|0x20 <= 'z') && !('0' <= c && c <= '9') && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// redactURLError is a URL parse error without the URL, which may hold a
// password.
func redactURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
