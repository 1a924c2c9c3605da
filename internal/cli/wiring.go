package cli

// The wiring: the one place where a config becomes a cache, provider
// clients, a backend, reminder channels and a server. The commands, the
// dashboard and the demo all assemble their parts here, so each part is
// built one way.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/config"
	"github.com/relink/relink/demo"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/belvo"
	"github.com/relink/relink/provider/cobalt"
	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/provider/sandbox"
	"github.com/relink/relink/remind"
	"github.com/relink/relink/server"
	"github.com/relink/relink/sshd"
	"github.com/relink/relink/store"
	"github.com/relink/relink/ticket"
	"github.com/relink/relink/ui"
	"github.com/relink/relink/vault"
)

// The clients offer serve the webhook side it finds by interface
// (newServer): a compile-time check that they still do.
var (
	_ provider.WebhookKeys   = (*plaid.Client)(nil)
	_ provider.WebhookParser = (*belvo.Client)(nil)
)

// loadConfig reads the config named by --config, RELINK_CONFIG or the XDG
// default.
func (a *app) loadConfig() (config.Config, error) {
	path, explicit := a.configPath, a.configPath != ""
	if !explicit {
		if v := a.getenv("RELINK_CONFIG"); v != "" {
			path, explicit = v, true
		}
	}
	return config.Load(path, explicit, a.getenv)
}

func (a *app) dbFile() string {
	if a.dbPath != "" {
		return a.dbPath
	}
	if v := a.getenv("RELINK_DB"); v != "" {
		return v
	}
	return config.DefaultDBPath()
}

// openStore opens the cache with the configured secret key.
func (a *app) openStore(ctx context.Context, cfg config.Config) (*store.Store, error) {
	key, err := vault.LoadKey(cfg.SecretKey, cfg.SecretKeyFile)
	if err != nil {
		return nil, err
	}
	opts := store.Options{}
	if key != nil {
		opts.Sealer = key
	}
	return store.Open(ctx, a.dbFile(), opts)
}

// openCache loads the config and opens the cache, for the commands that
// need no provider.
func (a *app) openCache(ctx context.Context) (config.Config, *store.Store, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return cfg, nil, err
	}
	st, err := a.openStore(ctx, cfg)
	return cfg, st, err
}

// env is a loaded config with an open cache and the backend over it.
type env struct {
	cfg     config.Config
	st      *store.Store
	backend *backend.Backend
	close   func() error
	mailbox string // the demo's mailbox page (openDemo); "" otherwise
}

func (e *env) Close() error { return e.close() }

// open loads the config, opens the cache and builds the backend with a
// client for every provider the config turns on.
func (a *app) open(ctx context.Context) (*env, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	st, err := a.openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	provs, err := buildProviders(cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	signer, err := ticket.LoadOrCreate(ticket.KeyPath(a.dbFile()))
	if err != nil {
		st.Close()
		return nil, err
	}
	b := &backend.Backend{Store: st, Providers: provs, Operator: cfg.Operator, Now: time.Now,
		Tickets: signer, PublicURL: cfg.Serve.PublicURL, LinkTTL: cfg.Serve.LinkTTL.Duration, RecheckAfter: cfg.Serve.RecheckDelays(),
		Clicks: backend.NewClickGuard()}
	return &env{cfg: cfg, st: st, backend: b, close: st.Close}, nil
}

// openDemo builds the demo world (emulators, a throwaway cache, a first
// sync) with its in-process relink serve, and its reminders sent by email
// to a local mailbox on loopback: a real SMTP conversation that never
// leaves the machine. The mailbox has a web page on loopback (env.mailbox)
// where the newcomer reads what was sent and clicks its links. onChange
// (may be nil) becomes the backend's OnChange before the server and the
// reminders copy it: the demo hub's notice to every session.
func (a *app) openDemo(ctx context.Context, cfg config.Config, connections int, onChange func()) (*env, *backend.Reminders, error) {
	handler := func(de *demo.Env) (http.Handler, error) {
		de.Backend.OnChange = onChange
		return demoServer(de)
	}
	d, err := demo.Start(ctx, demo.Options{Connections: connections, Operator: operatorOr(cfg), Handler: handler})
	if err != nil {
		return nil, nil, err
	}
	e := &env{cfg: cfg, st: d.Store, backend: d.Backend, close: d.Close}
	box, err := sandbox.StartMailbox(sandbox.MailboxOptions{})
	if err != nil {
		e.Close()
		return nil, nil, fmt.Errorf("demo: starting the local mailbox: %w", err)
	}
	d.OnClose(box.Close)
	page, err := box.ServePage("")
	if err != nil {
		e.Close()
		return nil, nil, fmt.Errorf("demo: serving the local mailbox's page: %w", err)
	}
	d.OnClose(page.Close)
	e.mailbox = page.URL()
	rc := config.Reminders{Cooldown: config.Duration{Duration: 24 * time.Hour},
		Email: box.EmailConfig("Demo Support <support@demo.invalid>")}
	rem, err := newReminders(d.Backend, rc, "")
	if err != nil {
		e.Close()
		return nil, nil, err
	}
	return e, rem, nil
}

// demoServer is the demo's in-process relink serve: verified webhooks from
// the emulators and durable reconnect links. Its logs are discarded so they
// cannot draw over the dashboard.
func demoServer(e *demo.Env) (http.Handler, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := newServer(e.Store, e.Backend, quiet, e.BelvoAuthorization, e.CobaltSecret)
	if err != nil {
		return nil, err
	}
	e.OnClose(srv.Close) // drains the writer: what was acknowledged is stored
	return srv.Handler(), nil
}

// buildProviders makes a client for every provider the config turns on.
func buildProviders(cfg config.Config) (map[string]provider.Provider, error) {
	out := map[string]provider.Provider{}
	if cfg.PlaidOn() {
		base := cfg.Plaid.BaseURL
		if base == "" {
			base = map[string]string{"sandbox": "https://sandbox.plaid.com", "production": "https://production.plaid.com"}[cfg.Plaid.Environment]
		}
		c, err := plaid.New(plaid.Config{BaseURL: base, ClientID: cfg.Plaid.ClientID, Secret: cfg.Plaid.Secret,
			ClientName: cfg.Plaid.ClientName, Language: cfg.Plaid.Language, CountryCodes: cfg.Plaid.CountryCodes,
			HostedLink: cfg.Plaid.HostedLink, HostedLinkLifetime: cfg.Plaid.HostedLinkLifetime.Duration, LinkURL: cfg.Plaid.LinkURL})
		if err != nil {
			return nil, fmt.Errorf("config %s: [plaid]: %w", cfg.File, err)
		}
		out[provider.Plaid] = c
	}
	if cfg.BelvoOn() {
		base := cfg.Belvo.BaseURL
		if base == "" {
			base = map[string]string{"sandbox": "https://sandbox.belvo.com", "production": "https://api.belvo.com"}[cfg.Belvo.Environment]
		}
		c, err := belvo.New(belvo.Config{BaseURL: base, SecretID: cfg.Belvo.SecretID, SecretPassword: cfg.Belvo.SecretPassword,
			WidgetURL: cfg.Belvo.WidgetURL, LoginRules: cfg.Belvo.LoginRules})
		if err != nil {
			return nil, fmt.Errorf("config %s: [belvo]: %w", cfg.File, err)
		}
		out[provider.Belvo] = c
	}
	if cfg.CobaltOn() {
		c, err := cobalt.New(cobalt.Config{BaseURL: cfg.Cobalt.BaseURL, ClientID: cfg.Cobalt.ClientID,
			ClientSecret: cfg.Cobalt.ClientSecret, LinkURL: cfg.Cobalt.LinkURL, OrgID: cfg.Cobalt.OrgID})
		if err != nil {
			return nil, fmt.Errorf("config %s: [cobalt]: %w", cfg.File, err)
		}
		out[provider.Cobalt] = c
	}
	return out, nil
}

// newServer is relink serve over b: webhooks verified with what each
// configured client offers (Plaid's keys from its API, Belvo's parsing with
// the login rules) and the shared secrets, rechecks and durable links
// through the backend.
func newServer(st *store.Store, b *backend.Backend, log *slog.Logger, belvoAuthorization, cobaltSecret string) (*server.Server, error) {
	cfg := server.Config{Store: st, Backend: b, Reconnect: b, Returns: b, Logger: log, RecheckAfter: b.RecheckAfter,
		BelvoAuthorization: belvoAuthorization, CobaltSecret: cobaltSecret}
	if k, ok := b.Providers[provider.Plaid].(provider.WebhookKeys); ok {
		cfg.PlaidVerifier = k.NewWebhookVerifier()
	}
	if p, ok := b.Providers[provider.Belvo].(provider.WebhookParser); ok {
		cfg.Belvo = p
	}
	cfg.OnStored = b.OnChange // a stored webhook is news for every open dashboard, as the backend's writes are
	return server.New(cfg)
}

// newHub is the dashboard over SSH ([ssh], [[people]]): its host key at
// hostKey, and every session's dashboard over e's store, acting through
// rem as its person (backend.As), so the audit log and the histories name
// them. Sessions do not sync on a timer (ui.sync_interval is the local
// dashboard's): ten open sessions would poll the providers ten times.
// tune, when set, adjusts each session's options last (tests: an hour
// between re-reads, so that only the hub's notice can show a change).
func newHub(cfg config.Config, e *env, rem *backend.Reminders, hostKey string, log *slog.Logger, tune func(*ui.Options)) (*sshd.Server, error) {
	people, err := sshPeople(cfg)
	if err != nil {
		return nil, err
	}
	var providers []string
	for _, n := range provider.Names() {
		if _, ok := e.backend.Providers[n]; ok {
			providers = append(providers, n)
		}
	}
	channels := rem.Channels()
	return sshd.New(sshd.Options{HostKeyFile: hostKey, IdleTimeout: cfg.SSH.IdleTimeout.Duration, MaxSessions: cfg.SSH.MaxSessions,
		People: people, BulkLimit: cfg.Reminders.AgentBulkLimit, Logger: log,
		Dashboard: func(p sshd.Person) ui.Options {
			o := ui.Options{Store: e.st, Keys: keyOverrides(cfg), Theme: cfg.UI.Theme, ThemeDir: cfg.UI.ThemeDir, Providers: providers,
				DemoMailbox: e.mailbox} // the demo hub's sessions name its mailbox page as the local demo does; "" for serve
			acts := rem.As(p.Name)
			if len(providers) > 0 {
				o.Actions = acts
			}
			if len(channels) > 0 {
				o.Reminders, o.RemindChannel = acts, channels[0]
			}
			if tune != nil {
				tune(&o)
			}
			return o
		}})
}

// sshPeople are the config's [[people]], their keys parsed and roles read
// (config.Validate has checked both).
func sshPeople(cfg config.Config) ([]sshd.Person, error) {
	out := make([]sshd.Person, 0, len(cfg.People))
	for i, p := range cfg.People {
		keys, err := p.PublicKeys()
		if err != nil {
			return nil, fmt.Errorf("config %s: people[%d] (%s).%w", cfg.File, i, p.Name, err)
		}
		role, err := ui.ParseRole(p.Role)
		if err != nil {
			return nil, fmt.Errorf("config %s: people[%d] (%s).role: %w", cfg.File, i, p.Name, err)
		}
		out = append(out, sshd.Person{Name: p.Name, Role: role, Keys: keys})
	}
	return out, nil
}

// newReminders builds the backend's reminders: the channels rc configures,
// templates from templatesDir ("" for the embedded ones), the cooldown and
// quiet hours (in the operator's zone).
func newReminders(b *backend.Backend, rc config.Reminders, templatesDir string) (*backend.Reminders, error) {
	tpl, err := remind.LoadTemplates(templatesDir)
	if err != nil {
		return nil, err
	}
	channels := map[string]remind.Channel{}
	fail := func(err error) (*backend.Reminders, error) {
		for _, c := range channels {
			c.Close()
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	if rc.Email.From != "" {
		ch, err := remind.NewEmail(remind.EmailOptions{Email: rc.Email})
		if err != nil {
			return fail(err)
		}
		channels[remind.Email] = ch
	}
	if rc.SMS.AccountSID != "" || rc.SMS.AuthToken != "" || rc.SMS.From != "" {
		ch, err := remind.NewSMS(remind.SMSOptions{SMS: rc.SMS})
		if err != nil {
			return fail(err)
		}
		channels[remind.SMS] = ch
	}
	if u := rc.Webhook.URL; u != "" {
		ch, err := remind.NewWebhook(remind.WebhookOptions{URL: u, Secret: rc.Webhook.Secret})
		if err != nil {
			return fail(fmt.Errorf("[reminders.webhook]: %w", err))
		}
		channels[remind.Webhook] = ch
	}
	quiet, err := remind.ParseQuietHours(rc.QuietHours, time.Local)
	if err != nil {
		return fail(err)
	}
	return backend.NewReminders(b, backend.RemindOptions{Templates: tpl, Channels: channels,
		Cooldown: rc.Cooldown.Duration, Quiet: quiet})
}

// reminders builds the reminders of a command's env from its config.
func (a *app) reminders(e *env) (*backend.Reminders, error) {
	return newReminders(e.backend, e.cfg.Reminders, a.templatesDir(e.cfg))
}

// templatesDir is "templates" beside the config file in use, else in
// $XDG_CONFIG_HOME/relink.
func (a *app) templatesDir(cfg config.Config) string {
	if cfg.File != "" {
		return filepath.Join(filepath.Dir(cfg.File), "templates")
	}
	base := a.getenv("XDG_CONFIG_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		base = filepath.Join(home, ".config")
	}
	return filepath.Join(base, "relink", "templates")
}

// operatorOr is who acts: the config's operator, else the login name.
func operatorOr(cfg config.Config) string {
	if cfg.Operator != "" {
		return cfg.Operator
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}
