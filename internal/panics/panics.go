// Package panics turns a panic in work that handles untrusted data (a
// delivery, a webhook post, a broadcast chunk, a DNS check) into an error for
// that one item, so that no input can stop the process.
//
// Every goroutine Godwit starts for such work runs it through Catch; the
// caller then fails the item with a visible reason and logs the panic with
// its stack (LogAttrs). HTTP handlers and SMTP sessions are covered by their
// servers (the API's ServeHTTP and go-smtp recover per request and per
// connection).
package panics

import (
	"fmt"
	"log/slog"
	"runtime/debug"
)

// Error is a recovered panic.
type Error struct {
	Value any    // what was passed to panic
	Stack []byte // the panicking goroutine's stack
}

func (e *Error) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Catch runs fn and returns its error, or an *Error if it panicked.
func Catch(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &Error{Value: v, Stack: debug.Stack()}
		}
	}()
	return fn()
}

// LogAttrs are the attributes that describe e in a log line.
func (e *Error) LogAttrs() []any {
	return []any{slog.String("panic", fmt.Sprint(e.Value)), slog.String("stack", string(e.Stack))}
}
