package cli

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/spf13/cobra"

	"github.com/relink/relink/provider"
	"github.com/relink/relink/server"
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
It stops cleanly on SIGINT or SIGTERM, finishing the requests in flight.`,
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
			err = srv.Serve(ctx, ln)
			log.Info("relink serve stopped")
			return err
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "listen on HOST:PORT (default serve.addr, 127.0.0.1:8787)")
	return cmd
}
