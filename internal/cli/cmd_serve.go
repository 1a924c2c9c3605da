package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/server"
	"github.com/relink/relink/sshd"
)

func (a *app) serveCommand() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Receive provider webhooks and serve durable reconnect links",
		Long: `serve receives Plaid, Belvo and Cobalt webhooks on /webhooks/{plaid,belvo,cobalt}
and Cobalt's update-mode callback on /callbacks/cobalt. Each one is verified as
its provider documents and stored in the cache before it is acknowledged.
GET /r/{ticket} opens a durable reconnect link. GET /healthz and GET /metrics
(Prometheus text format) are for the operator.
As the team's hub it also syncs every provider at serve.sync_interval (one
sync at a time), sends what the reminder outbox holds every 30 s, and with
[ssh] addr serves the dashboard over SSH; what anyone does shows on every
open dashboard at once.
It stops cleanly on SIGINT or SIGTERM: every SSH session is told the hub is
going down, the requests in flight and the reminders being sent finish.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			e, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer e.Close()
			if addr == "" {
				addr = e.cfg.Serve.Addr
			}
			if _, _, err := net.SplitHostPort(addr); err != nil {
				return usagef("--addr %q is not HOST:PORT (e.g. 127.0.0.1:8787)", addr)
			}
			log := server.NewLogger(a.stderr, slog.LevelInfo)
			changes := &notices{}
			e.backend.OnChange = changes.Notify // before the server and reminders copy the backend
			belvoAuth := e.cfg.Belvo.WebhookAuthorization
			srv, err := newServer(e.st, e.backend, log, belvoAuth, e.cfg.Cobalt.WebhookSecret)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				srv.Close()
				return fmt.Errorf("listening on %s: %w; is another relink serve running? choose another with --addr or serve.addr", addr, err)
			}
			on, off := srv.Enabled()
			log.Info("relink serve listening", "addr", ln.Addr().String(), "webhooks", on, "db", e.st.Path())
			for name, why := range off {
				_, configured := e.backend.Providers[name]
				if configured || (name == provider.Belvo && belvoAuth != "") {
					log.Warn(why, "provider", name)
				}
			}
			if len(on) == 0 {
				log.Warn("no provider's webhooks are configured: every webhook will be answered 404")
			}
			rem, err := a.reminders(e)
			if err != nil {
				ln.Close()
				srv.Close()
				return err
			}
			defer rem.Close()
			g, gctx := errgroup.WithContext(ctx)
			if e.cfg.SSH.Addr != "" {
				if err := a.serveSSH(gctx, g, e, rem, changes, log); err != nil {
					ln.Close()
					srv.Close()
					return err
				}
			}
			a.serveHub(gctx, g, e, rem, log)
			g.Go(func() error { return srv.Serve(gctx, ln) })
			err = g.Wait()
			log.Info("relink serve stopped")
			return err
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "listen on HOST:PORT (default serve.addr, 127.0.0.1:8787)")
	return cmd
}

// serveSSH starts the dashboard over SSH ([ssh] addr) in g, until ctx
// ends: its host key beside the database unless ssh.host_key_file, its
// fingerprint logged for people to check. SIGHUP re-reads the config's
// [[people]] (and reminders.agent_bulk_limit): sessions of people removed
// or given another role end, the others go on.
func (a *app) serveSSH(ctx context.Context, g *errgroup.Group, e *env, rem *backend.Reminders, changes *notices, log *slog.Logger) error {
	hostKey := e.cfg.SSH.HostKeyFile
	if hostKey == "" {
		hostKey = sshd.HostKeyPath(e.st.Path())
	}
	hub, err := newHub(e.cfg, e, rem, hostKey, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", e.cfg.SSH.Addr)
	if err != nil {
		return fmt.Errorf("listening for SSH on %s: %w; choose another ssh.addr", e.cfg.SSH.Addr, err)
	}
	log.Info("relink serve: the dashboard over SSH", "addr", ln.Addr().String(), "host_key", hub.Fingerprint(),
		"host_key_file", hostKey, "people", len(e.cfg.People))
	if len(e.cfg.People) == 0 {
		log.Warn("ssh: no [[people]] in the config: every key will be refused")
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	g.Go(func() error {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-hup:
				a.reloadPeople(hub, log)
			}
		}
	})
	changes.listen(hub.Notify)
	g.Go(func() error { return hub.Serve(ctx, ln) })
	return nil
}

// serveHub starts, in g until ctx ends, the hub's sync for everyone at
// serve.sync_interval (when there is a provider to sync) and its outbox
// run every outboxEvery (when a reminder channel is configured and ready).
func (a *app) serveHub(ctx context.Context, g *errgroup.Group, e *env, rem *backend.Reminders, log *slog.Logger) {
	if every := e.cfg.Serve.SyncInterval.Duration; every > 0 && len(e.backend.Providers) > 0 {
		log.Info("serve: syncing every provider for everyone", "every", every.String())
		g.Go(func() error {
			t := time.NewTicker(every)
			defer t.Stop()
			syncLoop(ctx, e.backend, t.C, log)
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

// readyOutbox is the reminders with only the channels ready to send.
type readyOutbox struct {
	*backend.Reminders
	channels []string
}

func (o readyOutbox) Channels() []string { return o.channels }

// reloadPeople re-reads the config's [[people]] into hub. A config with a
// mistake changes nothing, and says so.
func (a *app) reloadPeople(hub *sshd.Server, log *slog.Logger) {
	cfg, err := a.loadConfig()
	if err == nil {
		var people []sshd.Person
		if people, err = sshPeople(cfg); err == nil {
			ended := hub.SetPeople(people, cfg.Reminders.AgentBulkLimit)
			log.Info("SIGHUP: re-read [[people]] (other settings take effect on restart)", "people", len(people), "sessions_ended", ended)
			return
		}
	}
	log.Error("SIGHUP: the config was not re-read; the people stay as they were", "err", err)
}
