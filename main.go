// Command relink is the support team's dashboard for broken bank and
// health-record connections: it caches every connection's health in SQLite,
// groups the failing ones by what is wrong, mints update-mode links and
// reminds users. The command line lives in internal/cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/relink/relink/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
