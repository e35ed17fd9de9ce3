// Command godwit is a self-hosted email platform that speaks the Resend API.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/godwit/godwit/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
