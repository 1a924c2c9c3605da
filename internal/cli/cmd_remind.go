package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/health"
	"github.com/relink/relink/internal/textfmt"
	"github.com/relink/relink/remind"
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
			// Before planning: a message a killed run left 'sending' is queued
			// again (and sent below), not counted as "already queued".
			recovered := 0
			if !dryRun {
				if recovered, err = rem.Recover(ctx); err != nil {
					return err
				}
			}
			plan, err := rem.Plan(ctx, backend.Audience{Refs: args, Category: category, AllFailing: allFailing}, channel)
			if err != nil {
				return err
			}
			plan.Recovered = recovered
			if dryRun {
				a.printPlan(plan)
				if err := rem.Ready(channel); err != nil {
					fmt.Fprintf(a.stdout, "\nNote: nothing could be sent now: %s\n", textfmt.SafeLines(err.Error()))
				}
				return nil
			}
			if err := rem.Ready(channel); err != nil {
				return err
			}
			if plan.Sends() == 0 {
				fmt.Fprintln(a.stdout, "Nothing to send: "+plan.SkipSummary())
				a.printReminded(plan)
				return nil
			}
			fmt.Fprintln(a.stdout, planHeadline(plan))
			a.printReminded(plan)
			if !yes {
				ok, err := a.confirm(fmt.Sprintf("Send %s?", textfmt.Plural(plan.Sends(), "reminder", "reminders")), plan.Sends())
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

func planHeadline(p backend.Plan) string {
	queued, recovered := p.Queued, p.Recovered
	s := fmt.Sprintf("%s by %s to %s, covering %s",
		textfmt.Plural(len(p.Messages), "reminder", "reminders"), p.Channel, textfmt.Plural(len(p.Messages), "user", "users"),
		textfmt.Plural(p.Connections(), "connection", "connections"))
	if len(p.Skipped) > 0 {
		s += "; " + p.SkipSummary()
	}
	if queued > 0 {
		s += fmt.Sprintf("; and %s left queued by an interrupted run", textfmt.Plural(queued, "reminder", "reminders"))
		if recovered > 0 {
			s += fmt.Sprintf(" (%d of them recovered: that run stopped while sending them)", recovered)
		}
	}
	return s
}

// maxReminded is how many skips printReminded lists.
const maxReminded = 10

// printReminded lists the users skipped because someone reminded them
// already (queued, or within cooldown), with who and when: "plaid:item-1
// Hiro Schmidt  dana reminded them 12s ago (cooldown 24h)", so that two
// people reminding the same users learn of each other.
func (a *app) printReminded(p backend.Plan) {
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	n := 0
	for _, s := range p.Skipped {
		if s.By == "" {
			continue
		}
		if n++; n <= maxReminded {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", textfmt.Safe(s.Ref), safe(s.Name), textfmt.Safe(s.Detail))
		}
	}
	tw.Flush()
	if n > maxReminded {
		fmt.Fprintf(a.stdout, "  … and %d more reminded already (relink remind --dry-run lists them all)\n", n-maxReminded)
	}
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
			conns = append(conns, fmt.Sprintf("%s (%s, %s)", textfmt.Safe(c.Ref), c.Topic(), safe(c.Institution)))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", textfmt.Safe(m.To), safe(m.User.Name), strings.Join(conns, "; "))
	}
	tw.Flush()
	if len(p.Skipped) > 0 {
		fmt.Fprintf(w, "\nWould skip %s:\n", textfmt.Plural(len(p.Skipped), "connection", "connections"))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, s := range p.Skipped {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", textfmt.Safe(s.Ref), safe(s.Name), s.Reason, textfmt.Safe(s.Detail))
		}
		tw.Flush()
	}
	if m := p.Sample; m != nil {
		fmt.Fprintf(w, "\nSample, to %s (the links are minted when it is sent):\n", textfmt.Safe(m.To))
		if m.Subject != "" {
			fmt.Fprintf(w, "  Subject: %s\n\n", textfmt.Safe(m.Subject))
		}
		for _, line := range strings.Split(strings.TrimRight(m.Text, "\n"), "\n") {
			fmt.Fprintln(w, strings.TrimRight("  "+textfmt.Safe(line), " "))
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
		fmt.Fprintf(a.stdout, "  ✗ %s (%s): %s\n", textfmt.Safe(f.To), textfmt.Safe(strings.Join(f.Connections, ", ")), textfmt.Safe(f.Reason))
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
