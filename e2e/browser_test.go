package e2e

import (
	"context"
	"testing"

	"github.com/godwit/godwit/internal/godwittest"
)

// browser starts headless Chromium for the pages Godwit serves to people
// (godwittest.Browser: skips without it, except in CI).
func browser(t *testing.T) context.Context { return godwittest.Browser(t) }
