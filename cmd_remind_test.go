package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/provider/sandbox"
	"github.com/relink/relink/remind"
)

// runRemind runs relink with the remind command registered (main.go may
// not register it yet).
func (c *cli) runRemind(stdin string, args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	a := &app{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(k string) string { return c.env[k] }}
	root := a.rootCommand()
	if cmd, _, err := root.Find([]string{"remind"}); err != nil || cmd == root {
		root.AddCommand(a.remindCommand())
	}
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return out.String(), errb.String(), exitOK
	}
	fmt.Fprintln(&errb, "relink:", err)
	var u usageError
	if errors.As(err, &u) {
		return out.String(), errb.String(), exitUsage
	}
	return out.String(), errb.String(), exitFailure
}

// remindCLI is a cache synced from the Plaid emulator, a mailbox, and a
// config that sends reminders to it.
func remindCLI(t *testing.T) (*cli, *remind.Mailbox) {
	c, box, _ := remindCLIEmu(t)
	return c, box
}

func remindCLIEmu(t *testing.T) (*cli, *remind.Mailbox, *sandbox.Plaid) {
	t.Helper()
	c := newCLI(t)
	emu, err := sandbox.NewPlaid(sandbox.PlaidOptions{PerItemPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	reg := "provider,provider_id,access_token,user_ref,name,email,phone,institution\n"
	for _, it := range []struct{ id, code, user, email string }{
		{"item-locked", "ITEM_LOCKED", "u-ana", "ana@example.com"},
		{"item-login", "ITEM_LOGIN_REQUIRED", "u-ana", "ana@example.com"},
		{"item-reset", "PASSWORD_RESET_REQUIRED", "u-bob", "bob@example.com"},
		{"item-down", "INSTITUTION_DOWN", "u-carl", "carl@example.com"},
		{"item-ok", "", "u-dee", "dee@example.com"},
	} {
		tok := "access-sandbox-" + it.id + "-SECRET"
		if _, err := emu.AddConnection(sandbox.Connection{ID: it.id, AccessToken: tok, Code: it.code, Institution: "Tartan Bank"}); err != nil {
			t.Fatal(err)
		}
		reg += fmt.Sprintf("plaid,%s,%s,%s,User %s,%s,,Tartan Bank\n", it.id, tok, it.user, it.user, it.email)
	}
	box, err := remind.StartMailbox(remind.MailboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { box.Close() })
	mail := box.EmailConfig("")
	id, secret := emu.Credentials()
	c.env["RELINK_CONFIG"] = c.file("config.toml", fmt.Sprintf(`
[plaid]
client_id = %q
secret = %q
base_url = %q
[serve]
public_url = "https://relink.example.com"
[reminders]
cooldown = "24h"
[reminders.email]
smtp_host = %q
smtp_port = %d
tls = "none"
from = "Acme Support <support@acme.example>"
`, id, secret, emu.URL(), mail.SMTPHost, mail.SMTPPort))
	if out, errs, code := c.run("", "import", c.file("reg.csv", reg)); code != 0 {
		t.Fatalf("import: %s %s", out, errs)
	}
	if out, errs, code := c.run("", "sync"); code != 0 {
		t.Fatalf("sync: %s %s", out, errs)
	}
	return c, box, emu
}

func TestRemindDryRunListsWhoGetsWhatAndWhy(t *testing.T) {
	c, box := remindCLI(t)
	out, errs, code := c.runRemind("", "remind", "--all-failing", "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"Would send 2 reminders by email, covering 3 connections:",
		"ana@example.com", "plaid:item-locked (account_locked, Tartan Bank); plaid:item-login (login_required, Tartan Bank)",
		"bob@example.com", "plaid:item-reset (password_expired, Tartan Bank)",
		"Would skip 1 connection:", "plaid:item-down", "not_users", "institution_down is not the user's to fix",
		"Sample, to ana@example.com", "Subject: Action needed: 2 of your connected accounts need you",
		"First unlock it with Tartan Bank", "https://relink.example.com/r/…",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if box.Count() != 0 {
		t.Fatal("a dry run sent mail")
	}
	// A named connection that is healthy is skipped with its reason.
	out, _, _ = c.runRemind("", "remind", "plaid:item-ok", "--dry-run")
	if !strings.Contains(out, "plaid:item-ok") || !strings.Contains(out, "healthy again") {
		t.Fatalf("healthy: %s", out)
	}
	// The dry run works for a channel that is not configured, and says so.
	out, _, code = c.runRemind("", "remind", "--category", "account_locked", "--channel", "sms", "--dry-run")
	if code != 0 || !strings.Contains(out, "no phone number") || !strings.Contains(out, "SMS reminders are not configured") {
		t.Fatalf("sms dry run: %d %s", code, out)
	}
}

func TestRemindNeedsYesWithoutATerminalThenSendsOnce(t *testing.T) {
	c, box := remindCLI(t)
	_, errs, code := c.runRemind("", "remind", "--all-failing")
	if code != 2 || !strings.Contains(errs, "pass --yes") || box.Count() != 0 {
		t.Fatalf("without --yes: exit %d, %q, %d sent", code, errs, box.Count())
	}
	out, errs, code := c.runRemind("", "remind", "--all-failing", "--yes")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	if !strings.Contains(out, "2 reminders by email to 2 users, covering 3 connections; 1 skipped (1 not the user's to fix)") ||
		!strings.Contains(out, "2 sent · 1 skipped (1 not the user's to fix) · 0 failed") {
		t.Fatalf("output:\n%s", out)
	}
	if !box.Wait(2, 5*time.Second) || box.Count() != 2 {
		t.Fatalf("%d messages arrived", box.Count())
	}
	for _, m := range box.Messages() {
		if !strings.Contains(m.Text, "https://relink.example.com/r/") || strings.Contains(m.Text, "SECRET") {
			t.Fatalf("mail to %v:\n%s", m.To, m.Text)
		}
	}
	// Again: everyone is within the cooldown.
	out, _, code = c.runRemind("", "remind", "--all-failing", "--yes")
	if code != 0 || !strings.Contains(out, "Nothing to send: 4 skipped (3 cooldown, 1 not the user's to fix)") || box.Count() != 2 {
		t.Fatalf("second run: %d %s", code, out)
	}
	out, _, _ = c.run("", "audit")
	if strings.Count(out, "remind") != 3 || !strings.Contains(out, "email sent to ana@example.com") {
		t.Fatalf("audit:\n%s", out)
	}
}

func TestRemindUsageAndConfigErrors(t *testing.T) {
	c, _ := remindCLI(t)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"remind"}, 2, "exactly one"},
		{[]string{"remind", "plaid:item-locked", "--all-failing"}, 2, "exactly one"},
		{[]string{"remind", "--category", "account_locked", "--all-failing"}, 2, "exactly one"},
		{[]string{"remind", "nocolon"}, 2, "provider:provider_id"},
		{[]string{"remind", "--category", "healthy"}, 2, "want a failing category or a warning"},
		{[]string{"remind", "--all-failing", "--channel", "fax"}, 2, "want email, sms, webhook"},
		{[]string{"remind", "plaid:nope", "--yes"}, 1, "plaid:nope is not in the cache"},
		{[]string{"remind", "--all-failing", "--channel", "sms", "--yes"}, 1, "SMS reminders are not configured"},
		{[]string{"remind", "--all-failing", "--channel", "webhook", "--yes"}, 1, "webhook reminders are not configured"},
	}
	for _, tc := range cases {
		_, errs, code := c.runRemind("", tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", tc.args, code, tc.code, errs, tc.msg)
		}
	}
	// A template that does not render stops the command and names its file.
	dir := filepath.Join(filepath.Dir(c.env["RELINK_CONFIG"]), "templates", "steps")
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, "account_locked.txt"), []byte("Unlock {{.Bank}}"), 0o600)
	_, errs, code := c.runRemind("", "remind", "--all-failing", "--dry-run")
	if code != 1 || !strings.Contains(errs, filepath.Join(dir, "account_locked.txt")) {
		t.Fatalf("bad template: %d %s", code, errs)
	}
}

// TestRemindAsksOnATerminal runs the real binary in tmux: the prompt's
// default is No, and "y" sends.
func TestRemindAsksOnATerminal(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	if testing.Short() {
		t.Skip("builds the binary")
	}
	c, box := remindCLI(t)
	bin := os.Getenv("RELINK_E2E_BIN") // a binary built already; by default the test builds one
	if bin == "" {
		bin = filepath.Join(c.dir, "relink")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	if out, _ := exec.Command(bin, "remind", "--help").CombinedOutput(); !strings.Contains(string(out), "--all-failing") {
		t.Skip("this build does not register the remind command yet (main.go)")
	}
	session := fmt.Sprintf("relink-remind-%d", os.Getpid())
	sock := filepath.Join(c.dir, "tmux.sock")
	tmux := func(args ...string) string {
		out, _ := exec.Command("tmux", append([]string{"-S", sock}, args...)...).CombinedOutput()
		return string(out)
	}
	defer tmux("kill-server")
	env := fmt.Sprintf("RELINK_CONFIG=%s RELINK_DB=%s RELINK_SECRET_KEY=%s", c.env["RELINK_CONFIG"], c.env["RELINK_DB"], testKey)
	screen := func() string { return tmux("capture-pane", "-p", "-t", session) }
	waitFor := func(what string) string {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if s := screen(); strings.Contains(s, what) {
				return s
			}
		}
		t.Fatalf("waiting for %q; screen:\n%s", what, screen())
		return ""
	}
	tmux("new-session", "-d", "-s", session, "-x", "150", "-y", "30", "sh")
	tmux("send-keys", "-t", session, env+" "+bin+" remind --all-failing; echo EXIT=$?", "Enter")
	waitFor("Send 2 reminders? [y/N]")
	tmux("send-keys", "-t", session, "Enter") // the default: No
	s := waitFor("EXIT=")
	if !strings.Contains(s, "Nothing sent.") || !strings.Contains(s, "EXIT=0") || box.Count() != 0 {
		t.Fatalf("declined by default:\n%s", s)
	}
	tmux("send-keys", "-t", session, "clear; "+env+" "+bin+" remind --all-failing; echo DONE=$?", "Enter")
	waitFor("Send 2 reminders? [y/N]")
	tmux("send-keys", "-t", session, "y", "Enter")
	s = waitFor("DONE=")
	if !strings.Contains(s, "2 sent · 1 skipped") || !strings.Contains(s, "DONE=0") || box.Count() != 2 {
		t.Fatalf("confirmed:\n%s", s)
	}
}

func TestReportShowsTheReconnectFunnel(t *testing.T) {
	c, _, emu := remindCLIEmu(t)
	if _, errs, code := c.runRemind("", "remind", "--all-failing", "--yes"); code != 0 {
		t.Fatal(errs)
	}
	if err := emu.Repair("item-reset"); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := c.run("", "sync"); code != 0 {
		t.Fatal(errs)
	}
	var out bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(k string) string { return c.env[k] }}
	for _, format := range []string{"table", "json"} {
		out.Reset()
		cmd := a.reportCommand()
		cmd.SetArgs([]string{"--format", format})
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			t.Fatal(err)
		}
		s := out.String()
		switch format {
		case "table":
			for _, want := range []string{"CATEGORY", "MEDIAN TO REPAIR", "password_expired", "1 (100%)", "account_locked", "institution_down"} {
				if !strings.Contains(s, want) {
					t.Errorf("report lacks %q:\n%s", want, s)
				}
			}
		case "json":
			if !strings.Contains(s, `{"category":"password_expired","channel":"email","failing":1,"reminded":1,"clicked":0,"repaired":1,"median_repair_seconds":`) ||
				!strings.Contains(s, `{"category":"institution_down","channel":null,"failing":1,"reminded":0`) {
				t.Errorf("json:\n%s", s)
			}
		}
	}
}
