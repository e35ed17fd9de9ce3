package panics

import (
	"errors"
	"strings"
	"testing"
)

func TestCatch(t *testing.T) {
	want := errors.New("plain")
	if err := Catch(func() error { return want }); err != want {
		t.Fatalf("Catch changed a returned error: %v", err)
	}
	if err := Catch(func() error { return nil }); err != nil {
		t.Fatalf("Catch of nil: %v", err)
	}
	err := Catch(func() error {
		var s []int
		_ = s[3] // index out of range
		return nil
	})
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("panic not caught as *Error: %v", err)
	}
	if !strings.Contains(pe.Error(), "index out of range") || !strings.Contains(string(pe.Stack), "panics_test.go") {
		t.Fatalf("panic value or stack missing: %v\n%s", pe, pe.Stack)
	}
	if len(pe.LogAttrs()) != 2 {
		t.Fatal("LogAttrs")
	}
}
