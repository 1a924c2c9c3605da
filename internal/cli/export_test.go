package cli

import (
	"context"
	"io"

	"github.com/relink/relink/ui"
)

// DemoHub runs relink --demo --ssh-addr addr, with a demo of size
// connections, in this process until ctx ends: its output to stdout and
// stderr, the environment from getenv, and each SSH session's dashboard
// options adjusted by tune.
func DemoHub(ctx context.Context, addr string, size int, stdout, stderr io.Writer, getenv func(string) string, tune func(*ui.Options)) error {
	a := &app{stdout: stdout, stderr: stderr, getenv: getenv, tuneSession: tune}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	return a.demoHub(ctx, cfg, dashboardFlags{demo: true, sshAddr: addr, demoSize: size})
}
