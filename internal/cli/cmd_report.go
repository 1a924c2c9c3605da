package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/relink/relink/health"
	"github.com/relink/relink/internal/textfmt"
	"github.com/relink/relink/store"
)

func (a *app) reportCommand() *cobra.Command {
	var since time.Duration
	var format string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "The reconnect funnel: failing → reminded → link clicked → repaired, per category and channel",
		Long: `report shows, for each category (and warning), how many connections were
failing in the period and, per channel, how many of them were reminded, clicked
their reconnect link afterwards and were repaired, with the median time from
the first reminder to the repair; then the repairs no reminder led to: a
reconnect link clicked, or copied or opened by an agent (read out on a call),
with no reminder sent. It is how a support lead learns which message brings
users back. Shares are whole percent, "<1%" and ">99%" at the ends; --format
json gives the exact counts.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return usagef("--format %q: want table or json", format)
			}
			if since <= 0 {
				return usagef("--since must be positive, e.g. 720h")
			}
			ctx := cmd.Context()
			_, st, err := a.openCache(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			from := time.Now().Add(-since)
			rows, err := st.Funnel(ctx, from, health.Topics())
			if err != nil {
				return err
			}
			if format == "json" {
				return writeFunnelJSON(a.stdout, rows)
			}
			return writeFunnelTable(a.stdout, from, rows)
		},
	}
	since = 30 * 24 * time.Hour
	cmd.Flags().Var(durationFlag{&since}, "since", "the period, back from now (e.g. 720h, 30d, 4w)")
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	cmd.RegisterFlagCompletionFunc("format", fixedCompletion("table", "json"))
	return cmd
}

// linkOnlyChannel is what the CHANNEL column says on a LinkOnly row.
const linkOnlyChannel = "link, no reminder"

// writeFunnelTable is report's table: a row per category and channel, the
// LinkOnly row last in its category, and a note on it when one shows.
func writeFunnelTable(w io.Writer, from time.Time, rows []store.FunnelRow) error {
	fmt.Fprintf(w, "Reconnect funnel since %s\n\n", from.Local().Format("2006-01-02 15:04"))
	if len(rows) == 0 {
		fmt.Fprintln(w, "No failing connections and no reminders in this period.")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CATEGORY\tFAILING\tCHANNEL\tREMINDED\tCLICKED\tREPAIRED\tMEDIAN TO REPAIR")
	prev, linked := "", false
	for _, r := range rows {
		cat, failing := r.Category, fmt.Sprint(r.Failing)
		if cat == prev {
			cat, failing = "", ""
		}
		prev = r.Category
		median := "-"
		if r.Repaired > 0 {
			median = humanAge(r.MedianRepair())
		}
		switch {
		case r.LinkOnly:
			linked = true
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\t%d\t%s\t%s\n", cat, failing, linkOnlyChannel, r.Clicked, share(r.Repaired, r.Clicked), median)
		case r.Channel == "":
			fmt.Fprintf(tw, "%s\t%s\t-\t0\t-\t-\t-\n", cat, failing)
		default:
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", cat, failing, r.Channel, r.Reminded,
				share(r.Clicked, r.Reminded), share(r.Repaired, r.Reminded), median)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if linked {
		_, err := fmt.Fprintf(w, "\n%s: no reminder was sent; a reconnect link was clicked, or copied or opened by an agent.\n"+
			"CLICKED counts those connections, REPAIRED is a share of them, the median runs from the first use.\n", linkOnlyChannel)
		return err
	}
	return nil
}

// share is "6 (50%)", n and its share of of; "-" of nothing.
func share(n, of int) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%d (%s)", n, textfmt.Share(n, of))
}

func writeFunnelJSON(w io.Writer, rows []store.FunnelRow) error {
	type row struct {
		Category      string   `json:"category"`
		Channel       *string  `json:"channel"`
		Failing       int      `json:"failing"`
		Reminded      int      `json:"reminded"`
		Clicked       int      `json:"clicked"`
		Repaired      int      `json:"repaired"`
		MedianRepairS *float64 `json:"median_repair_seconds"`
		// LinkOnly: the repairs after a link with no reminder (channel null,
		// reminded 0, clicked the connections whose link was used).
		LinkOnly bool `json:"link_only"`
	}
	out := make([]row, 0, len(rows))
	for _, r := range rows {
		j := row{Category: r.Category, Channel: strOrNil(r.Channel), LinkOnly: r.LinkOnly, Failing: r.Failing, Reminded: r.Reminded,
			Clicked: r.Clicked, Repaired: r.Repaired}
		if r.Repaired > 0 {
			s := r.MedianRepair().Seconds()
			j.MedianRepairS = &s
		}
		out = append(out, j)
	}
	return json.NewEncoder(w).Encode(out)
}
