package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/health"
	"github.com/relink/relink/internal/textfmt"
	"github.com/relink/relink/remind"
	"github.com/relink/relink/store"
)

func (a *app) remindCommand() *cobra.Command {
	var category, channel string
	var allFailing, dryRun, yes bool
	cmd := &cobra.Command{
		Use:   "remind (CONN... | --category C | --all-failing)",
		Short: "Remind users to reconnect, by email, SMS or webhook, each with a durable link",
		Long: `remind sends each affected user one message covering all their failing
connections, with a durable reconnect link per connection and instructions for
what is wrong (unlock the account first, reset the password first, …).

Connections that are healthy again, within the cooldown, in a category that is
not the user's to fix, or without an address for the channel are skipped, each
with a reason; during quiet hours nothing is sent. --dry-run shows who would
get what and why the others would not. On a terminal remind asks first (No by
default); elsewhere it needs --yes.

Messages are queued in the cache before they are sent: a run that is
interrupted (even killed) loses nothing, and the next relink remind sends what
is left. Templates can be overridden from the templates directory beside the
config file ($XDG_CONFIG_HOME/relink/templates).`,
		Args: func(cmd *cobra.Command, args []string) error {
			modes := 0
			for _, on := range []bool{len(args) > 0, category != "", allFailing} {
				if on {
					modes++
				}
			}
			if modes != 1 {
				return usagef("name who to remind: CONN ids, --category C or --all-failing (exactly one)")
			}
			for _, ref := range args {
				if _, _, err := backend.ParseRef(ref); err != nil {
					return usageError{err}
				}
			}
			if category != "" && !remindableGroup(category) {
				return usagef("--category %q: want a failing category or a warning (%s)", category, categoryList())
			}
			if !remind.ValidChannel(channel) {
				return usagef("--channel %q: want %s", channel, strings.Join(remind.ChannelNames(), ", "))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			e, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer e.Close()
			rem, err := a.reminders(e)
			if err != nil {
				return err
			}
			defer rem.Close()
			plan, err := rem.Plan(ctx, backend.Audience{Refs: args, Category: category, AllFailing: allFailing}, channel)
			if err != nil {
				return err
			}
			if dryRun {
				a.printPlan(plan)
				if err := rem.Ready(channel); err != nil {
					fmt.Fprintf(a.stdout, "\nNote: nothing could be sent now: %v\n", err)
				}
				return nil
			}
			if err := rem.Ready(channel); err != nil {
				return err
			}
			queued, err := e.st.QueuedReminders(ctx, channel)
			if err != nil {
				return err
			}
			if len(plan.Messages) == 0 && queued == 0 {
				fmt.Fprintln(a.stdout, "Nothing to send: "+plan.SkipSummary())
				return nil
			}
			fmt.Fprintln(a.stdout, planHeadline(plan, queued))
			if !yes {
				ok, err := a.confirm(fmt.Sprintf("Send %s?", textfmt.Plural(len(plan.Messages)+queued, "reminder", "reminders")), len(plan.Messages)+queued)
				if err != nil {
					return err
				}
				if !ok {
					fmt.Fprintln(a.stdout, "Nothing sent.")
					return nil
				}
			}
			prog := a.remindProgress()
			rep, err := rem.SendReminders(ctx, plan, prog.update)
			prog.done()
			a.printReport(rep)
			if err != nil {
				return err
			}
			if n := len(rep.Failed); n > 0 {
				return fmt.Errorf("%s failed; the reasons are above and in relink audit", textfmt.Plural(n, "reminder", "reminders"))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&category, "category", "", "every failing connection of this category, or with this warning")
	cmd.Flags().BoolVar(&allFailing, "all-failing", false, "every failing connection")
	cmd.Flags().StringVar(&channel, "channel", remind.Email, "email, sms or webhook")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show who would get what, and why the others would not; send nothing")
	cmd.Flags().BoolVar(&yes, "yes", false, "send without asking")
	cmd.RegisterFlagCompletionFunc("channel", fixedCompletion(remind.ChannelNames()...))
	return cmd
}

// remindableGroup reports whether name selects connections to remind: a
// failing category or a warning.
func remindableGroup(name string) bool {
	if w := health.Warning(name); w != health.NoWarning && w.Valid() {
		return true
	}
	c := health.Category(name)
	return c.Valid() && c.Failing()
}

// reminders builds the backend's reminders from the config: the configured
// channels, templates from the templates directory beside the config file,
// the cooldown and quiet hours (in the operator's zone).
func (a *app) reminders(e *env) (*backend.Reminders, error) {
	tpl, err := remind.LoadTemplates(a.templatesDir(e))
	if err != nil {
		return nil, err
	}
	rc := e.cfg.Reminders
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
	return backend.NewReminders(e.desk, backend.RemindOptions{Templates: tpl, Channels: channels,
		Cooldown: rc.Cooldown.Duration, Quiet: quiet})
}

// templatesDir is "templates" beside the config file in use, else in
// $XDG_CONFIG_HOME/relink.
func (a *app) templatesDir(e *env) string {
	if e.cfg.File != "" {
		return filepath.Join(filepath.Dir(e.cfg.File), "templates")
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

func planHeadline(p backend.Plan, queued int) string {
	s := fmt.Sprintf("%s by %s to %s, covering %s",
		textfmt.Plural(len(p.Messages), "reminder", "reminders"), p.Channel, textfmt.Plural(len(p.Messages), "user", "users"),
		textfmt.Plural(p.Connections(), "connection", "connections"))
	if len(p.Skipped) > 0 {
		s += "; " + p.SkipSummary()
	}
	if queued > 0 {
		s += fmt.Sprintf("; and %s left queued by an interrupted run", textfmt.Plural(queued, "reminder", "reminders"))
	}
	return s
}

// printPlan lists who would get what, why the others would not, and a sample.
func (a *app) printPlan(p backend.Plan) {
	w := a.stdout
	fmt.Fprintf(w, "Would send %s by %s, covering %s:\n", textfmt.Plural(len(p.Messages), "reminder", "reminders"), p.Channel,
		textfmt.Plural(p.Connections(), "connection", "connections"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, m := range p.Messages {
		var conns []string
		for _, c := range m.Conns {
			conns = append(conns, fmt.Sprintf("%s (%s, %s)", c.Ref, c.Topic(), textfmt.Dash(c.Institution)))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", m.To, textfmt.Dash(m.User.Name), strings.Join(conns, "; "))
	}
	tw.Flush()
	if len(p.Skipped) > 0 {
		fmt.Fprintf(w, "\nWould skip %s:\n", textfmt.Plural(len(p.Skipped), "connection", "connections"))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, s := range p.Skipped {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", s.Ref, textfmt.Dash(s.Name), s.Reason, s.Detail)
		}
		tw.Flush()
	}
	if m := p.Sample; m != nil {
		fmt.Fprintf(w, "\nSample, to %s (the links are minted when it is sent):\n", m.To)
		if m.Subject != "" {
			fmt.Fprintf(w, "  Subject: %s\n\n", m.Subject)
		}
		for _, line := range strings.Split(strings.TrimRight(m.Text, "\n"), "\n") {
			fmt.Fprintln(w, strings.TrimRight("  "+line, " "))
		}
	}
}

// printReport prints the summary and the failures (the first 20).
func (a *app) printReport(rep backend.Report) {
	fmt.Fprintln(a.stdout, rep.Summary())
	for i, f := range rep.Failed {
		if i == 20 {
			fmt.Fprintf(a.stdout, "  … and %d more (relink audit has them all)\n", len(rep.Failed)-20)
			break
		}
		fmt.Fprintf(a.stdout, "  ✗ %s (%s): %s\n", f.To, strings.Join(f.Connections, ", "), f.Reason)
	}
}

// confirm asks on a terminal, No by default; without a terminal it refuses.
func (a *app) confirm(prompt string, n int) (bool, error) {
	in, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return false, usagef("not sending %s without confirmation: stdin is not a terminal; pass --yes to send (or --dry-run to look first)",
			textfmt.Plural(n, "reminder", "reminders"))
	}
	fmt.Fprintf(a.stdout, "%s [y/N] ", prompt)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// remindProgress draws "sending reminders: 120/3000 (45/s)" on a terminal.
type remindProgress struct {
	out   *os.File
	start time.Time
	last  time.Time
}

func (a *app) remindProgress() *remindProgress {
	p := &remindProgress{start: time.Now()}
	if f, ok := a.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.out = f
	}
	return p
}

func (p *remindProgress) update(done, total int) {
	if p.out == nil || (time.Since(p.last) < 100*time.Millisecond && done < total) {
		return
	}
	p.last = time.Now()
	rate := float64(done) / max(time.Since(p.start).Seconds(), 0.001)
	line := fmt.Sprintf("sending reminders: %d/%d (%.0f/s)", done, total, rate)
	if rate > 0 && done < total {
		line += fmt.Sprintf(" eta %s", (time.Duration(float64(total-done)/rate) * time.Second).Round(time.Second))
	}
	width := 30
	if total > 0 {
		filled := width * done / total
		line = "[" + strings.Repeat("█", filled) + strings.Repeat("░", width-filled) + "] " + line
	}
	fmt.Fprintf(p.out, "\r\033[K%s", line)
}

func (p *remindProgress) done() {
	if p.out != nil {
		fmt.Fprint(p.out, "\r\033[K")
	}
}

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
	cmd.Flags().DurationVar(&since, "since", 30*24*time.Hour, "the period, back from now")
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
