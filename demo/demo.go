// Package demo builds the world `relink --demo` shows: the three provider
// emulators on loopback, seeded with a few thousand connections with
// histories, a throwaway cache filled through the real clients (registry
// import, then a sync), and the backend to act on it. Nothing leaves the machine.
package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/belvo"
	"github.com/relink/relink/provider/cobalt"
	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/provider/sandbox"
	"github.com/relink/relink/store"
	"github.com/relink/relink/ticket"
	"github.com/relink/relink/vault"
)

// Options size the demo.
type Options struct {
	Connections int    // default 3000
	Seed        uint64 // default 1
	Dir         string // where the throwaway cache goes; default a new temp dir, removed at Close
	Operator    string
	Now         func() time.Time
	// Handler builds the in-process server (webhooks, reconnect links) once
	// the cache and desk exist; the emulators deliver to it while the demo
	// is seeded and afterwards. Required.
	Handler func(*Env) (http.Handler, error)
}

// RecheckAfter is the demo's serve.recheck_after: seconds, not minutes,
// so a repair made on an emulator's page shows within moments even when
// the provider sends no webhook for it (Plaid after an update-mode session).
var RecheckAfter = []time.Duration{time.Second, 3 * time.Second, 10 * time.Second, time.Minute}

// Env is a running demo.
type Env struct {
	Store     *store.Store
	Backend   *backend.Backend
	Plaid     *sandbox.Plaid
	Belvo     *sandbox.Belvo
	Cobalt    *sandbox.Cobalt
	Providers map[string]provider.Provider
	// Listener is reserved on loopback for the in-process reconnect and
	// webhook server; the emulators send their webhooks to it.
	Listener net.Listener
	// WebhookBase is the listener's URL.
	WebhookBase string
	// CobaltSecret and BelvoAuthorization verify the emulators' webhooks.
	CobaltSecret, BelvoAuthorization string
	Reports                          []backend.SyncReport

	dir     string
	ownsDir bool
	httpSrv *http.Server
	closers []func() error
}

// OnClose runs f when the demo closes, after the HTTP server has stopped
// and before the cache is closed (the emulators register theirs here too).
func (e *Env) OnClose(f func() error) { e.closers = append(e.closers, f) }

// Start builds the demo: emulators, seed data, registry import, history (a
// month of reminders, clicks and repairs among it: funnel.go) and a first
// sync through the real clients.
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	if opts.Connections <= 0 {
		opts.Connections = 3000
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Operator == "" {
		opts.Operator = "demo"
	}
	e := &Env{}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	e.dir, e.ownsDir = opts.Dir, opts.Dir == ""
	if e.ownsDir {
		if e.dir, err = os.MkdirTemp("", "relink-demo-"); err != nil {
			return nil, fmt.Errorf("demo: making a temp dir: %w", err)
		}
	}
	if e.Listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("demo: reserving a loopback port: %w", err)
	}
	e.WebhookBase = "http://" + e.Listener.Addr().String()

	if err := e.startEmulators(); err != nil {
		return nil, err
	}
	key, _, err := vault.Generate()
	if err != nil {
		return nil, err
	}
	clk := &seedClock{now: opts.Now}
	if e.Store, err = store.Open(ctx, filepath.Join(e.dir, "demo.db"), store.Options{Sealer: key, Now: clk.Now}); err != nil {
		return nil, err
	}
	if err := e.connectClients(); err != nil {
		return nil, err
	}
	signer, err := ticket.LoadOrCreate(ticket.KeyPath(e.Store.Path()))
	if err != nil {
		return nil, err
	}
	e.Backend = &backend.Backend{Store: e.Store, Providers: e.Providers, Operator: opts.Operator, Now: opts.Now,
		Tickets: signer, PublicURL: e.WebhookBase, LinkTTL: 168 * time.Hour, RecheckAfter: RecheckAfter,
		Clicks: backend.NewClickGuard()}
	if opts.Handler == nil {
		return nil, errors.New("demo: no server handler given")
	}
	h, err := opts.Handler(e)
	if err != nil {
		return nil, fmt.Errorf("demo: building the in-process server: %w", err)
	}
	e.httpSrv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go e.httpSrv.Serve(e.Listener)

	data := sandbox.DemoData(opts.Seed, opts.Connections, opts.Now())
	if err := e.seed(ctx, data); err != nil {
		return nil, err
	}
	if err := e.seedFunnel(ctx, data, clk, opts.Seed, opts.Now()); err != nil {
		return nil, err
	}
	e.Reports, err = e.Backend.Sync(ctx, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("demo: first sync: %w", err)
	}
	return e, nil
}

func (e *Env) startEmulators() error {
	var err error
	if e.Plaid, err = sandbox.NewPlaid(sandbox.PlaidOptions{WebhookURL: e.WebhookBase + "/webhooks/plaid", PerItemPerMinute: -1}); err != nil {
		return fmt.Errorf("demo: starting the Plaid emulator: %w", err)
	}
	e.OnClose(e.Plaid.Close)
	e.BelvoAuthorization = "Bearer demo-belvo-webhook"
	if e.Belvo, err = sandbox.NewBelvo(sandbox.BelvoOptions{WebhookURL: e.WebhookBase + "/webhooks/belvo",
		WebhookAuthorization: e.BelvoAuthorization}); err != nil {
		return fmt.Errorf("demo: starting the Belvo emulator: %w", err)
	}
	e.OnClose(e.Belvo.Close)
	e.CobaltSecret = "demo-cobalt-webhook-secret"
	// Cobalt's own hosted Link, as cobalt.link_url's default is: a repair
	// comes back through its redirect to serve's return page
	// (/cobalt/done/{ticket}?token=<public_token>), not through a callback
	// of a Link page of ours (OnRepairedURL).
	if e.Cobalt, err = sandbox.NewCobalt(sandbox.CobaltOptions{WebhookURL: e.WebhookBase + "/webhooks/cobalt",
		WebhookSecret: e.CobaltSecret}); err != nil {
		return fmt.Errorf("demo: starting the Cobalt emulator: %w", err)
	}
	e.OnClose(e.Cobalt.Close)
	return nil
}

// connectClients builds the real clients against the emulators. The Plaid
// rate limits are lifted: these requests never reach Plaid.
func (e *Env) connectClients() error {
	pid, psecret := e.Plaid.Credentials()
	pc, err := plaid.New(plaid.Config{BaseURL: e.Plaid.URL(), ClientID: pid, Secret: psecret, ClientName: "relink demo",
		Language: "en", CountryCodes: []string{"US"}, HostedLink: true, HostedLinkLifetime: 24 * time.Hour,
		PerItemPerMinute: 1000, PerClientPerMinute: 1_000_000})
	if err != nil {
		return fmt.Errorf("demo: plaid client: %w", err)
	}
	bid, bpw := e.Belvo.Credentials()
	bc, err := belvo.New(belvo.Config{BaseURL: e.Belvo.URL(), SecretID: bid, SecretPassword: bpw, WidgetURL: e.Belvo.WidgetURL()})
	if err != nil {
		return fmt.Errorf("demo: belvo client: %w", err)
	}
	cid, csecret := e.Cobalt.Credentials()
	cc, err := cobalt.New(cobalt.Config{BaseURL: e.Cobalt.URL(), ClientID: cid, ClientSecret: csecret, LinkURL: e.Cobalt.LinkURL(),
		OrgID: e.Cobalt.OrgID()})
	if err != nil {
		return fmt.Errorf("demo: cobalt client: %w", err)
	}
	e.Providers = map[string]provider.Provider{provider.Plaid: pc, provider.Belvo: bc, provider.Cobalt: cc}
	return nil
}

// seed fills the emulators, imports the registry (every provider, so Belvo
// links have names too) and backdates each failure's first signal.
func (e *Env) seed(ctx context.Context, data []sandbox.DemoConn) error {
	im, err := e.Store.BeginImport(ctx, "demo")
	if err != nil {
		return err
	}
	var history []store.Observation
	var warned []sandbox.DemoConn
	for _, d := range data {
		var addErr error
		switch d.Provider {
		case provider.Plaid:
			_, addErr = e.Plaid.AddConnection(d.Conn)
		case provider.Belvo:
			_, addErr = e.Belvo.AddConnection(d.Conn)
		case provider.Cobalt:
			_, addErr = e.Cobalt.AddConnection(d.Conn)
		}
		if d.Warning != health.NoWarning {
			warned = append(warned, d)
		}
		if addErr != nil {
			im.Rollback()
			return fmt.Errorf("demo: seeding %s %s: %w", d.Provider, d.Conn.ID, addErr)
		}
		tok := d.Conn.AccessToken
		if d.Provider == provider.Belvo {
			tok = ""
		}
		if err := im.Add(ctx, store.Registration{Provider: d.Provider, ProviderID: d.Conn.ID, AccessToken: tok,
			UserRef: d.Conn.UserRef, Name: d.Name, Email: d.Email, Phone: d.Phone, Institution: d.Conn.Institution}); err != nil {
			im.Rollback()
			return err
		}
		if sig, ok := d.History(); ok {
			history = append(history, store.Observation{Provider: d.Provider, ProviderID: d.Conn.ID, Kind: "webhook",
				EventID: "demo-history-" + d.Conn.ID, Signal: sig, Verified: "demo history", ReceivedAt: d.FailedAt})
		}
	}
	if err := im.Commit(ctx, "demo registry"); err != nil {
		return err
	}
	// Warnings go out as webhooks to the in-process server, which writes
	// to the cache: only now that the import transaction is done.
	for _, d := range warned {
		var err error
		switch d.Warning {
		case health.ConsentExpiring:
			err = e.Plaid.SetConsentExpiration(d.Conn.ID, d.WarningUntil)
		case health.PasswordChangeWarning:
			err = e.Cobalt.Break(d.Conn.ID, "password_change_warning", "")
		}
		if err != nil {
			return fmt.Errorf("demo: warning %s: %w", d.Conn.ID, err)
		}
	}
	for i := 0; i < len(history); i += 500 {
		if _, err := e.Store.Apply(ctx, history[i:min(i+500, len(history))]); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the emulators and removes the throwaway cache.
func (e *Env) Close() error {
	var errs []error
	if e.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		e.httpSrv.Shutdown(ctx)
		cancel()
	} else if e.Listener != nil {
		e.Listener.Close()
	}
	for _, f := range e.closers {
		errs = append(errs, f())
	}
	if e.Store != nil {
		errs = append(errs, e.Store.Close())
	}
	if e.ownsDir && e.dir != "" {
		os.RemoveAll(e.dir)
	}
	return errors.Join(errs...)
}
