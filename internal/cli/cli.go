// Package cli is relink's command line: the subcommands, their flags and
// output, and (in wiring.go) the one place where a config becomes providers,
// a backend, reminder channels and a server. main.go only calls Run.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/relink/relink/internal/textfmt"
	"github.com/relink/relink/ui"
)

// Exit codes of the public contract.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks a mistake in how relink was called (exit 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// app is what every command shares: global flags and the environment.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	configPath     string
	dbPath         string
	args           []string // as given, for telling a mistyped command from a bad flag
	// tuneSession, when set, adjusts each SSH session's dashboard options
	// (tests only; nil in relink).
	tuneSession func(*ui.Options)
}

// Run executes one relink invocation and returns its exit status.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, args: args}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "relink:", textfmt.SafeLines(err.Error()))
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintln(stderr, "Run 'relink --help' for usage.")
		return exitUsage
	}
	return exitFailure
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "relink",
		Short: "Triage broken bank and health-record connections (Plaid, Belvo, Cobalt)",
		Long: `relink keeps a local cache of every connection's health, groups the failing
ones by what is wrong, mints update-mode links and reminds users.

Run it without a command to open the dashboard; relink --demo shows the whole
product against local provider emulators, with no keys and no network.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		// "relink lss" suggests ls: cobra only fills this in on its own
		// path for unknown commands, which noArgs replaces.
		SuggestionsMinimumDistance: 2,
	}
	root.PersistentFlags().StringVar(&a.configPath, "config", "", "config file (env RELINK_CONFIG; default $XDG_CONFIG_HOME/relink/config.toml)")
	root.PersistentFlags().StringVar(&a.dbPath, "db", "", "cache database (env RELINK_DB; default $XDG_DATA_HOME/relink/relink.db)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		// "relink remnd --dry-run": the word is the mistake, not the flag.
		if cmd == root {
			if word := firstWord(a.args); word != "" {
				return unknownCommand(root, word)
			}
		}
		return usageError{err}
	})
	a.addDashboard(root)
	root.AddCommand(a.importCommand(), a.lsCommand(), a.auditCommand(), a.syncCommand(), a.linkCommand(), a.serveCommand(),
		a.remindCommand(), a.reportCommand())
	return root
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return unknownCommand(cmd, args[0])
	}
	return nil
}

// unknownCommand is the usage error for a word that names no command, with
// the commands it is close to ("relink lss": did you mean ls?).
func unknownCommand(cmd *cobra.Command, word string) error {
	if near := cmd.SuggestionsFor(word); len(near) > 0 {
		return usagef("unknown command %q for %q; did you mean %s?", word, cmd.CommandPath(), strings.Join(near, " or "))
	}
	return usagef("unknown command %q for %q", word, cmd.CommandPath())
}

// firstWord is the first argument that is not a flag or a flag's value,
// when it names no command: what a mistyped command looks like.
func firstWord(args []string) string {
	for i := 0; i < len(args); i++ {
		switch arg := args[i]; {
		case arg == "--":
			return ""
		case arg == "--config" || arg == "--db" || arg == "--theme":
			i++ // the flag's value
		case strings.HasPrefix(arg, "-"):
		default:
			return arg
		}
	}
	return ""
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes %s", cmd.CommandPath(), what)
		}
		return nil
	}
}
