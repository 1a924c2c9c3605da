package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/config"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/ui"
)

type dashboardFlags struct {
	demo, readOnly bool
	theme          string
	demoSize       int
	sshAddr        string // --demo --ssh-addr: the demo served over SSH (demo_hub.go)
}

func (a *app) addDashboard(root *cobra.Command) {
	var f dashboardFlags
	root.Flags().BoolVar(&f.demo, "demo", false, "show the whole product against local provider emulators: no keys, no network")
	root.Flags().BoolVar(&f.readOnly, "read-only", false, "remove every action that sends or mints")
	root.Flags().StringVar(&f.theme, "theme", "", "auto, dark, light, high-contrast, colorblind, or a theme file's name in [ui] theme_dir")
	root.Flags().IntVar(&f.demoSize, "demo-connections", 3000, "how many connections the demo seeds")
	root.Flags().MarkHidden("demo-connections")
	root.Flags().StringVar(&f.sshAddr, "ssh-addr", "", "with --demo: serve the demo's dashboard over SSH on HOST:PORT and print the ssh command that opens it")
	root.RunE = func(cmd *cobra.Command, args []string) error { return a.dashboard(cmd.Context(), f) }
}

// dashboard loads everything that can fail before the terminal is taken
// over, then runs the Bubble Tea program.
func (a *app) dashboard(ctx context.Context, f dashboardFlags) error {
	if f.sshAddr != "" {
		if !f.demo {
			return usagef("--ssh-addr is for the demo (relink --demo --ssh-addr 127.0.0.1:2222); a hub serves SSH with relink serve and [ssh] addr")
		}
		cfg, err := a.loadConfig()
		if err != nil {
			return err
		}
		return a.demoHub(ctx, cfg, f)
	}
	out, ok := a.stdout.(*os.File)
	if !ok || !term.IsTerminal(int(out.Fd())) {
		return errors.New("the dashboard needs a terminal; for scripts use relink ls, relink link or relink sync")
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	if f.theme != "" {
		cfg.UI.Theme = f.theme
	}
	var e *env
	var rem *backend.Reminders
	if f.demo {
		fmt.Fprintln(a.stderr, "relink: starting the demo (provider emulators on loopback, a throwaway cache)…")
		e, rem, err = a.openDemo(ctx, cfg, f.demoSize, nil)
	} else if e, err = a.open(ctx); err == nil {
		if rem, err = a.reminders(e); err != nil {
			e.Close()
		}
	}
	if err != nil {
		return err
	}
	defer e.Close()
	defer rem.Close()
	st, d := e.st, e.backend
	var providers []string
	for _, n := range provider.Names() {
		if _, ok := d.Providers[n]; ok {
			providers = append(providers, n)
		}
	}
	opts := ui.Options{Store: st, Keys: keyOverrides(cfg), Theme: cfg.UI.Theme, ThemeDir: cfg.UI.ThemeDir,
		ReadOnly: f.readOnly, SyncInterval: cfg.UI.SyncInterval.Duration, Providers: providers, Operator: operatorOr(cfg)}
	opts.ConfigFile, opts.ConfigFound = a.configLookedFor(cfg)
	opts.DemoMailbox = e.mailbox
	if len(d.Providers) > 0 {
		opts.Actions = rem
	}
	if chs := rem.Channels(); len(chs) > 0 {
		opts.Reminders, opts.RemindChannel = rem, chs[0]
	}
	m, err := ui.New(opts)
	if err != nil {
		return err
	}
	_, err = tea.NewProgram(m, tea.WithContext(ctx)).Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // interrupted by a signal: a normal way out
	}
	return err
}

func keyOverrides(cfg config.Config) map[string][]string {
	out := map[string][]string{}
	for k, v := range cfg.Keys {
		out[k] = v
	}
	return out
}

// configLookedFor is the config file the dashboard read, or else the one it
// looked for (as loadConfig does: --config, RELINK_CONFIG, the XDG default),
// for the first screen to name.
func (a *app) configLookedFor(cfg config.Config) (string, bool) {
	switch {
	case cfg.File != "":
		return cfg.File, true
	case a.configPath != "":
		return a.configPath, false
	case a.getenv("RELINK_CONFIG") != "":
		return a.getenv("RELINK_CONFIG"), false
	}
	return config.DefaultPath(), false
}
