package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/internal/textfmt"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/store"
)

func (a *app) auditCommand() *cobra.Command {
	var since time.Duration
	var format string
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show who did what: imports, syncs, links, reminders",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return usagef("--format %q: want table or json", format)
			}
			ctx := cmd.Context()
			_, st, err := a.openCache(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			from := time.Time{}
			if since > 0 {
				from = time.Now().Add(-since)
			}
			if format == "json" {
				enc := json.NewEncoder(a.stdout)
				var all []map[string]any
				err := st.AuditSince(ctx, from, func(e store.AuditEntry) error {
					// ssh_key: the fingerprint of the key an act over SSH was done with, else null.
					var key any
					if e.SSHKey != "" {
						key = e.SSHKey
					}
					all = append(all, map[string]any{"at": e.At.Format(time.RFC3339), "operator": e.Operator,
						"action": e.Action, "target": e.Target, "detail": e.Detail, "ssh_key": key})
					return nil
				})
				if err != nil {
					return err
				}
				if all == nil {
					all = []map[string]any{}
				}
				return enc.Encode(all)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "AT\tOPERATOR\tACTION\tTARGET\tDETAIL")
			err = st.AuditSince(ctx, from, func(e store.AuditEntry) error {
				_, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.At.Local().Format("2006-01-02 15:04:05"), textfmt.Safe(e.Operator), e.Action, safe(e.Target), textfmt.Safe(e.Detail))
				return err
			})
			if err != nil {
				return err
			}
			return tw.Flush()
		},
	}
	cmd.Flags().Var(durationFlag{&since}, "since", "only entries newer than this (e.g. 24h, 7d); default all")
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	cmd.RegisterFlagCompletionFunc("format", fixedCompletion("table", "json"))
	return cmd
}

func (a *app) syncCommand() *cobra.Command {
	var only string
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Poll the configured providers into the cache",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if only != "" && !isProvider(only) {
				return usagef("--provider %q: want plaid, belvo or cobalt", only)
			}
			ctx := cmd.Context()
			e, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer e.Close()
			var names []string
			if only != "" {
				names = []string{only}
			}
			prog := a.syncProgress()
			reports, err := e.backend.Sync(ctx, names, prog.update)
			prog.done()
			if len(reports) == 0 && err != nil {
				return err
			}
			for _, r := range reports {
				if r.Err != nil {
					fmt.Fprintf(a.stdout, "✗ %s: %s\n", r.Provider, textfmt.SafeLines(r.Err.Error()))
					continue
				}
				line := fmt.Sprintf("✓ %s: %s, %d changed in %s", r.Provider, r.Counts(), r.Changed, r.Duration.Round(time.Millisecond))
				if r.Unattached > 0 {
					line += fmt.Sprintf(" (%d events wait for connections not in the registry)", r.Unattached)
				}
				if r.Skipped > 0 {
					line += fmt.Sprintf("; %d unreadable event(s) skipped", r.Skipped)
				}
				fmt.Fprintln(a.stdout, line)
			}
			for _, r := range reports {
				syncSkipWarning(a.stderr, r)
			}
			if err != nil {
				return fmt.Errorf("sync incomplete; the cache keeps its last good data for the providers that failed")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&only, "provider", "", "only this provider: plaid, belvo or cobalt")
	cmd.RegisterFlagCompletionFunc("provider", fixedCompletion(provider.Names()...))
	return cmd
}

// syncSkipWarning tells, on one warning line and one line per reason, of the
// events a provider sent that relink could not read and skipped. They do not
// fail the sync: everything else was synced, and the exit status stays 0.
// The reasons quote what the provider sent in ASCII already; textfmt.Safe
// is the belt to those braces.
func syncSkipWarning(w io.Writer, r backend.SyncReport) {
	if r.Skipped == 0 {
		return
	}
	fmt.Fprintf(w, "relink: warning: %s: skipped %d event(s) relink could not read; the other events and connections were synced:\n", r.Provider, r.Skipped)
	for _, why := range r.SkipReasons {
		fmt.Fprintf(w, "  %s\n", textfmt.Safe(why))
	}
	if more := r.Skipped - len(r.SkipReasons); more > 0 {
		fmt.Fprintf(w, "  … and %d more\n", more)
	}
}

func (a *app) linkCommand() *cobra.Command {
	var durable, asJSON, revoke bool
	cmd := &cobra.Command{
		Use:   "link CONN",
		Short: "Mint an update-mode link for one connection (CONN is provider:provider_id)",
		Long: `Mint an update-mode link for one connection. A direct link is the provider's
page with a fresh token, for someone who will click within minutes (Plaid 30 min,
Belvo 10 min, Cobalt 30 min, single use). A durable link (--durable) points at
relink serve's /r/{ticket}: it stays valid for serve.link_ttl and mints a fresh
token only when clicked; reminders use these. --revoke withdraws them.`,
		Args: exactArgs(1, "one CONN, e.g. plaid:Ed6bjN…"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, _, err := backend.ParseRef(args[0]); err != nil {
				return usageError{err}
			}
			if revoke && (durable || asJSON) {
				return usagef("--revoke takes no other flag")
			}
			ctx := cmd.Context()
			e, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer e.Close()
			if revoke {
				n, err := e.backend.RevokeLinks(ctx, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "revoked %d durable link(s) of %s\n", n, args[0])
				return nil
			}
			mint := e.backend.DirectLink
			if durable {
				mint = e.backend.DurableLink
			}
			l, err := mint(ctx, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(l)
			}
			fmt.Fprintf(a.stdout, "%s\nexpires %s (in %s)\n", textfmt.Safe(l.URL), l.ExpiresAt.Local().Format("15:04:05"), time.Until(l.ExpiresAt).Round(time.Second))
			return nil
		},
	}
	cmd.Flags().BoolVar(&durable, "durable", false, "a durable reconnect link served by relink serve")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"url", "expires_at", "kind", "connection"}`)
	cmd.Flags().BoolVar(&revoke, "revoke", false, "revoke every durable link of CONN")
	return cmd
}
