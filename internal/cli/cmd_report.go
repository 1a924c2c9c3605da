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
the first reminder to the repair. It is how a support lead learns which
message brings users back.`,
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
			fmt.Fprintf(a.stdout, "Reconnect funnel since %s\n\n", from.Local().Format("2006-01-02 15:04"))
			if len(rows) == 0 {
				fmt.Fprintln(a.stdout, "No failing connections and no reminders in this period.")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CATEGORY\tFAILING\tCHANNEL\tREMINDED\tCLICKED\tREPAIRED\tMEDIAN TO REPAIR")
			prev := ""
			for _, r := range rows {
				cat, failing := r.Category, fmt.Sprint(r.Failing)
				if cat == prev {
					cat, failing = "", ""
				}
				prev = r.Category
				if r.Channel == "" {
					fmt.Fprintf(tw, "%s\t%s\t-\t0\t-\t-\t-\n", cat, failing)
					continue
				}
				median := "-"
				if r.Repaired > 0 {
					median = humanAge(r.MedianRepair())
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", cat, failing, r.Channel, r.Reminded,
					share(r.Clicked, r.Reminded), share(r.Repaired, r.Reminded), median)
			}
			return tw.Flush()
		},
	}
	since = 30 * 24 * time.Hour
	cmd.Flags().Var(durationFlag{&since}, "since", "the period, back from now (e.g. 720h, 30d, 4w)")
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	cmd.RegisterFlagCompletionFunc("format", fixedCompletion("table", "json"))
	return cmd
}

func share(n, of int) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%d (%d%%)", n, textfmt.Percent(n, of))
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
	}
	out := make([]row, 0, len(rows))
	for _, r := range rows {
		j := row{Category: r.Category, Channel: strOrNil(r.Channel), Failing: r.Failing, Reminded: r.Reminded,
			Clicked: r.Clicked, Repaired: r.Repaired}
		if r.Repaired > 0 {
			s := r.MedianRepair().Seconds()
			j.MedianRepairS = &s
		}
		out = append(out, j)
	}
	return json.NewEncoder(w).Encode(out)
}
