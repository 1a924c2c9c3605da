package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/config"
	"github.com/relink/relink/demo"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/belvo"
	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/remind"
	"github.com/relink/relink/server"
	"github.com/relink/relink/store"
	"github.com/relink/relink/ui"
)

type dashboardFlags struct {
	demo, readOnly bool
	theme          string
	demoSize       int
}

func (a *app) addDashboard(root *cobra.Command) {
	var f dashboardFlags
	root.Flags().BoolVar(&f.demo, "demo", false, "show the whole product against local provider emulators: no keys, no network")
	root.Flags().BoolVar(&f.readOnly, "read-only", false, "remove every action that sends or mints")
	root.Flags().StringVar(&f.theme, "theme", "", "auto, dark, light, high-contrast, colorblind, or a theme file's name in [ui] theme_dir")
	root.Flags().IntVar(&f.demoSize, "demo-connections", 3000, "how many connections the demo seeds")
	root.Flags().MarkHidden("demo-connections")
	root.RunE = func(cmd *cobra.Command, args []string) error { return a.dashboard(cmd.Context(), f) }
}

// dashboard loads everything that can fail before the terminal is taken
// over, then runs the Bubble Tea program.
func (a *app) dashboard(ctx context.Context, f dashboardFlags) error {
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
	var st *store.Store
	var d *backend.Backend
	var rem *backend.Reminders
	var providers []string
	if f.demo {
		fmt.Fprintln(a.stderr, "relink: starting the demo (provider emulators on loopback, a throwaway cache)…")
		env, err := demo.Start(ctx, demo.Options{Connections: f.demoSize, Operator: operatorOr(cfg), Handler: demoServer})
		if err != nil {
			return err
		}
		defer env.Close()
		st, d = env.Store, env.Backend
		if rem, err = demoReminders(env); err != nil {
			return err
		}
	} else {
		e, err := a.open(ctx)
		if err != nil {
			return err
		}
		defer e.Close()
		st, d = e.st, e.desk
		if rem, err = a.reminders(e); err != nil {
			return err
		}
	}
	defer rem.Close()
	for _, n := range provider.Names() {
		if _, ok := d.Providers[n]; ok {
			providers = append(providers, n)
		}
	}
	opts := ui.Options{Store: st, Keys: keyOverrides(cfg), Theme: cfg.UI.Theme, ThemeDir: cfg.UI.ThemeDir,
		ReadOnly: f.readOnly, SyncInterval: cfg.UI.SyncInterval.Duration, Providers: providers, Operator: operatorOr(cfg)}
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

// demoReminders sends the demo's reminders by email to a local mailbox on
// loopback: a real SMTP conversation that never leaves the machine.
func demoReminders(e *demo.Env) (*backend.Reminders, error) {
	box, err := remind.StartMailbox(remind.MailboxOptions{})
	if err != nil {
		return nil, fmt.Errorf("demo: starting the local mailbox: %w", err)
	}
	e.OnClose(box.Close)
	email, err := remind.NewEmail(remind.EmailOptions{Email: box.EmailConfig("Demo Support <support@demo.invalid>")})
	if err != nil {
		return nil, err
	}
	tpl, err := remind.LoadTemplates("")
	if err != nil {
		return nil, err
	}
	return backend.NewReminders(e.Backend, backend.RemindOptions{Templates: tpl, Channels: map[string]remind.Channel{remind.Email: email},
		Cooldown: 24 * time.Hour})
}

// demoServer is the demo's in-process relink serve: verified webhooks from
// the emulators and durable reconnect links. Its logs are discarded so they
// cannot draw over the dashboard.
func demoServer(e *demo.Env) (http.Handler, error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := server.Config{Store: e.Store, Backend: e.Backend, Reconnect: e.Backend, Logger: log, CobaltSecret: e.CobaltSecret,
		BelvoAuthorization: e.BelvoAuthorization}
	if pc, ok := e.Providers[provider.Plaid].(*plaid.Client); ok {
		cfg.PlaidVerifier = plaid.NewVerifier(pc)
	}
	if bc, ok := e.Providers[provider.Belvo].(*belvo.Client); ok {
		cfg.Belvo = bc
	}
	srv, err := server.New(cfg)
	if err != nil {
		return nil, err
	}
	e.OnClose(srv.Close) // drains the writer: what was acknowledged is stored
	return srv.Handler(), nil
}
