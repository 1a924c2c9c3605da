package cli

import (
	"fmt"
	"log/slog"
	"net"

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
			var ssh *hubSSH
			if e.cfg.SSH.Addr != "" {
				if ssh, err = listenSSH(e, rem, log); err != nil {
					ln.Close()
					srv.Close()
					return err
				}
				ssh.reload = a.reloadPeople
			}
			g, gctx := errgroup.WithContext(ctx)
			a.runHub(gctx, g, e, rem, changes, ssh, log)
			g.Go(func() error { return srv.Serve(gctx, ln) })
			err = g.Wait()
			log.Info("relink serve stopped")
			return err
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "listen on HOST:PORT (default serve.addr, 127.0.0.1:8787)")
	return cmd
}

// listenSSH makes the dashboard over SSH of relink serve ([ssh] addr) and
// listens for it: its host key beside the database unless
// ssh.host_key_file, its fingerprint logged for people to check.
func listenSSH(e *env, rem *backend.Reminders, log *slog.Logger) (*hubSSH, error) {
	hostKey := e.cfg.SSH.HostKeyFile
	if hostKey == "" {
		hostKey = sshd.HostKeyPath(e.st.Path())
	}
	hub, err := newHub(e.cfg, e, rem, hostKey, log, nil)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", e.cfg.SSH.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening for SSH on %s: %w; choose another ssh.addr", e.cfg.SSH.Addr, err)
	}
	log.Info("relink serve: the dashboard over SSH", "addr", ln.Addr().String(), "host_key", hub.Fingerprint(),
		"host_key_file", hostKey, "people", len(e.cfg.People))
	if len(e.cfg.People) == 0 {
		log.Warn("ssh: no [[people]] in the config: every key will be refused")
	}
	return &hubSSH{srv: hub, ln: ln}, nil
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
