package cli

// relink serve's own work as the team's hub, beside the HTTP server: the
// dashboard over SSH, the sync it runs for everyone at
// serve.sync_interval, the outbox it sends, and the notice that tells
// every open dashboard the cache changed. relink --demo --ssh-addr runs
// the same (runHub).

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/sshd"
)

// hubName is who the hub's own sync is by, in every session's "a sync is
// already running, started by the hub 20s ago" and the audit log.
const hubName = "the hub"

// hubSSH is the hub's dashboard over SSH and where it listens; reload,
// when set, re-reads [[people]] on SIGHUP.
type hubSSH struct {
	srv    *sshd.Server
	ln     net.Listener
	reload func(*sshd.Server, *slog.Logger)
}

// runHub starts, in g until ctx ends, what makes e a team's hub: every
// SSH session's dashboard (when ssh is set), told by changes whenever the
// cache changes (a stored webhook batch, a sync, anyone's act: the caller
// sets e.backend.OnChange to changes.Notify before it builds the server
// and the reminders); the sync for everyone at serve.sync_interval; and
// the outbox run every outboxEvery. One sync gate is shared by the hub's
// sync and every session's (backend.SyncGate), so a ctrl+r during the
// hub's sync follows it instead of polling the providers again. relink
// serve and relink --demo --ssh-addr both run this.
func (a *app) runHub(ctx context.Context, g *errgroup.Group, e *env, rem *backend.Reminders, changes *notices, ssh *hubSSH, log *slog.Logger) {
	if e.backend.Syncs == nil { // before any session copies the backend
		e.backend.Syncs = backend.NewSyncGate()
	}
	if ssh != nil {
		if ssh.reload != nil {
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			g.Go(func() error {
				defer signal.Stop(hup)
				for {
					select {
					case <-ctx.Done():
						return nil
					case <-hup:
						ssh.reload(ssh.srv, log)
					}
				}
			})
		}
		changes.listen(ssh.srv.Notify)
		g.Go(func() error { return ssh.srv.Serve(ctx, ssh.ln) })
	}
	a.serveHub(ctx, g, e, rem, log)
}

// serveHub starts, in g until ctx ends, the hub's sync for everyone at
// serve.sync_interval (when there is a provider to sync), by hubName, and
// its outbox run every outboxEvery (when a reminder channel is configured
// and ready).
func (a *app) serveHub(ctx context.Context, g *errgroup.Group, e *env, rem *backend.Reminders, log *slog.Logger) {
	if every := e.cfg.Serve.SyncInterval.Duration; every > 0 && len(e.backend.Providers) > 0 {
		log.Info("serve: syncing every provider for everyone", "every", every.String())
		hub := e.backend.As(hubName)
		g.Go(func() error {
			t := time.NewTicker(every)
			defer t.Stop()
			syncLoop(ctx, hub, t.C, log)
			return nil
		})
	} else if every == 0 {
		log.Info("serve: serve.sync_interval is off: the cache changes by webhooks only")
	}
	var channels []string
	for _, ch := range rem.Channels() {
		if err := rem.Ready(ch); err != nil {
			log.Warn("serve: the outbox will not send on this channel", "channel", ch, "err", err)
			continue
		}
		channels = append(channels, ch)
	}
	if len(channels) == 0 {
		return
	}
	g.Go(func() error {
		t := time.NewTicker(outboxEvery)
		defer t.Stop()
		outboxLoop(ctx, readyOutbox{rem, channels}, t.C, outboxGrace, log)
		return nil
	})
}

// outboxEvery is how often relink serve sends what the outbox holds
// (reminders a session queued and did not finish, or left by a killed run).
const outboxEvery = 30 * time.Second

// outboxGrace is how long, at SIGTERM, the outbox may go on finishing what
// it is sending before its run is stopped (what is left stays queued).
const outboxGrace = 20 * time.Second

// syncer is what the hub's sync runs: *backend.Backend.
type syncer interface {
	Sync(ctx context.Context, only []string, progress func(backend.SyncProgress)) ([]backend.SyncReport, error)
}

// syncLoop syncs every configured provider for everyone at each tick until
// ctx ends, one sync at a time (a tick that comes during a sync waits for
// it; time.Ticker drops those past the first), and logs one line per
// provider. The store records each provider's sync state, which every
// session's freshness line reads.
func syncLoop(ctx context.Context, s syncer, ticks <-chan time.Time, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
		reports, _ := s.Sync(ctx, nil, nil)
		if ctx.Err() != nil {
			log.Info("serve: the sync was stopped by the shutdown")
			return
		}
		for _, r := range reports {
			attrs := []any{"provider", r.Provider, "checked", r.Seen, "events", r.Events, "changed", r.Changed, "unattached", r.Unattached,
				"skipped", r.Skipped, "duration", r.Duration.Round(time.Millisecond).String()}
			if r.Err != nil {
				log.Warn("serve: sync failed", append(attrs, "err", r.Err)...)
				continue
			}
			log.Info("serve: synced", attrs...)
		}
	}
}

// outbox is what the hub's outbox loop runs: *backend.Reminders.
type outbox interface {
	Channels() []string
	Recover(ctx context.Context) (int, error)
	SendReminders(ctx context.Context, plan backend.Plan, progress func(done, total int)) (backend.Report, error)
}

// outboxLoop sends what the outbox holds, at start and at each tick, until
// ctx ends: first what a killed run left 'sending' is queued again
// (Recover), then each configured channel sends its queued messages (an
// empty plan sends only those). A run under way when ctx ends goes on for
// up to grace, so a message being sent is finished rather than cut off;
// anything it does not reach stays queued for the next start.
func outboxLoop(ctx context.Context, o outbox, ticks <-chan time.Time, grace time.Duration, log *slog.Logger) {
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	go func() {
		select {
		case <-ctx.Done():
			select {
			case <-time.After(grace):
				stop()
			case <-runCtx.Done():
			}
		case <-runCtx.Done():
		}
	}()
	for {
		sendOutbox(runCtx, o, log)
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
	}
}

// sendOutbox is one run of the outbox: Recover, then each channel.
func sendOutbox(ctx context.Context, o outbox, log *slog.Logger) {
	if n, err := o.Recover(ctx); err != nil {
		log.Warn("serve: outbox", "err", err)
	} else if n > 0 {
		log.Info("serve: outbox: queued again what an interrupted run left sending", "messages", n)
	}
	for _, ch := range o.Channels() {
		rep, err := o.SendReminders(ctx, backend.Plan{Channel: ch}, nil)
		if err != nil {
			log.Warn("serve: outbox: sending stopped", "channel", ch, "summary", rep.Summary(), "err", err)
			continue
		}
		if rep.Sent > 0 || len(rep.Failed) > 0 || rep.Cancelled > 0 {
			log.Info("serve: outbox: sent", "channel", ch, "sent", rep.Sent, "failed", len(rep.Failed),
				"cancelled", rep.Cancelled, "duration", rep.Elapsed.Round(time.Millisecond).String())
		}
	}
}

// notices passes the hub's word that the cache changed (a webhook stored,
// a sync, a session's act) to whoever listens: the SSH sessions. Notify
// never blocks: each listener coalesces bursts itself.
type notices struct {
	mu  sync.Mutex
	fns []func()
}

func (n *notices) listen(f func()) {
	n.mu.Lock()
	n.fns = append(n.fns, f)
	n.mu.Unlock()
}

// Notify tells every listener.
func (n *notices) Notify() {
	n.mu.Lock()
	fns := n.fns
	n.mu.Unlock()
	for _, f := range fns {
		f()
	}
}
