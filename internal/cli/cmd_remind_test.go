package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/provider/sandbox"
)

// remindCLI is a cache synced from the Plaid emulator, a mailbox, and a
// config that sends reminders to it.
func remindCLI(t *testing.T) (*cli, *sandbox.Mailbox) {
	c, box, _ := remindCLIEmu(t)
	return c, box
}

func remindCLIEmu(t *testing.T) (*cli, *sandbox.Mailbox, *sandbox.Plaid) {
	return remindCLIWith(t, sandbox.MailboxOptions{})
}

func remindCLIWith(t *testing.T, mo sandbox.MailboxOptions) (*cli, *sandbox.Mailbox, *sandbox.Plaid) {
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
	box, err := sandbox.StartMailbox(mo)
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
	out, errs, code := c.run("", "remind", "--all-failing", "--dry-run")
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
	out, _, _ = c.run("", "remind", "plaid:item-ok", "--dry-run")
	if !strings.Contains(out, "plaid:item-ok") || !strings.Contains(out, "healthy again") {
		t.Fatalf("healthy: %s", out)
	}
	// The dry run works for a channel that is not configured, and says so.
	out, _, code = c.run("", "remind", "--category", "account_locked", "--channel", "sms", "--dry-run")
	if code != 0 || !strings.Contains(out, "no phone number") || !strings.Contains(out, "SMS reminders are not configured") {
		t.Fatalf("sms dry run: %d %s", code, out)
	}
}

func TestRemindNeedsYesWithoutATerminalThenSendsOnce(t *testing.T) {
	c, box := remindCLI(t)
	_, errs, code := c.run("", "remind", "--all-failing")
	if code != 2 || !strings.Contains(errs, "pass --yes") || box.Count() != 0 {
		t.Fatalf("without --yes: exit %d, %q, %d sent", code, errs, box.Count())
	}
	out, errs, code := c.run("", "remind", "--all-failing", "--yes")
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
	out, _, code = c.run("", "remind", "--all-failing", "--yes")
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
		_, errs, code := c.run("", tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", tc.args, code, tc.code, errs, tc.msg)
		}
	}
	// A template that does not render stops the command and names its file.
	dir := filepath.Join(filepath.Dir(c.env["RELINK_CONFIG"]), "templates", "steps")
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, "account_locked.txt"), []byte("Unlock {{.Bank}}"), 0o600)
	_, errs, code := c.run("", "remind", "--all-failing", "--dry-run")
	if code != 1 || !strings.Contains(errs, filepath.Join(dir, "account_locked.txt")) {
		t.Fatalf("bad template: %d %s", code, errs)
	}
}

// relinkBinary is $RELINK_E2E_BIN (a binary built already), else relink
// built into dir.
func relinkBinary(t *testing.T, dir string) string {
	t.Helper()
	if bin := os.Getenv("RELINK_E2E_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(dir, "relink")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/relink/relink").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
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
	bin := relinkBinary(t, c.dir)
	sock := filepath.Join(c.dir, "tmux.sock")
	tmux := func(args ...string) string {
		out, _ := exec.Command("tmux", append([]string{"-S", sock}, args...)...).CombinedOutput()
		return string(out)
	}
	defer tmux("kill-server")
	env := fmt.Sprintf("RELINK_CONFIG=%s RELINK_DB=%s RELINK_SECRET_KEY=%s", c.env["RELINK_CONFIG"], c.env["RELINK_DB"], testKey)
	// Each run gets a session of its own whose command is the run itself, so
	// nothing typed is ever on screen: what the test waits for can only be
	// the program's output (and the shell's "EXIT=<digits>" after it).
	exited := regexp.MustCompile(`(?m)^EXIT=(\d+)$`)
	start := func(session string) {
		tmux("new-session", "-d", "-s", session, "-x", "150", "-y", "30",
			"sh -c '"+env+" "+bin+" remind --all-failing; echo EXIT=$?; exec sleep 3600'")
	}
	waitFor := func(session string, done func(string) bool) string {
		t.Helper()
		screen := func() string { return tmux("capture-pane", "-p", "-t", session) }
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if s := screen(); done(s) {
				return s
			}
		}
		t.Fatalf("%s: gave up waiting; screen:\n%s", session, screen())
		return ""
	}
	prompt := func(s string) bool { return strings.Contains(s, "Send 2 reminders? [y/N]") }
	exit := func(s string) bool { return exited.MatchString(s) }

	start("declines")
	waitFor("declines", prompt)
	tmux("send-keys", "-t", "declines", "Enter") // the default: No
	s := waitFor("declines", exit)
	if got := exited.FindStringSubmatch(s)[1]; got != "0" || !strings.Contains(s, "Nothing sent.") || box.Count() != 0 {
		t.Fatalf("declined by default: exit %s, %d sent:\n%s", got, box.Count(), s)
	}
	start("confirms")
	waitFor("confirms", prompt)
	tmux("send-keys", "-t", "confirms", "y", "Enter")
	s = waitFor("confirms", exit)
	if got := exited.FindStringSubmatch(s)[1]; got != "0" || !strings.Contains(s, "2 sent · 1 skipped") || box.Count() != 2 {
		t.Fatalf("confirmed: exit %s, %d sent:\n%s", got, box.Count(), s)
	}
}

func TestReportShowsTheReconnectFunnel(t *testing.T) {
	c, _, emu := remindCLIEmu(t)
	if _, errs, code := c.run("", "remind", "--all-failing", "--yes"); code != 0 {
		t.Fatal(errs)
	}
	if err := emu.Repair("item-reset"); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := c.run("", "sync"); code != 0 {
		t.Fatal(errs)
	}
	for _, format := range []string{"table", "json"} {
		s, errs, code := c.run("", "report", "--format", format)
		if code != 0 {
			t.Fatalf("report --format %s: exit %d: %s", format, code, errs)
		}
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

// Two people reminding the same user from the hub's command line: the
// second is told who reminded them and when, not only "1 cooldown".
func TestRemindNamesWhoRemindedTheUserAlready(t *testing.T) {
	c, box := remindCLI(t)
	cfg, err := os.ReadFile(c.env["RELINK_CONFIG"])
	if err != nil {
		t.Fatal(err)
	}
	as := func(who string) {
		if err := os.WriteFile(c.env["RELINK_CONFIG"], append([]byte("operator = \""+who+"\"\n"), cfg...), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	as("dana")
	if out, errs, code := c.run("", "remind", "plaid:item-reset", "--yes"); code != 0 || !strings.HasPrefix(out, "1 reminder") {
		t.Fatalf("dana's remind: %d %s %s", code, out, errs)
	}
	as("lee")
	out, errs, code := c.run("", "remind", "plaid:item-reset", "--yes")
	if code != 0 || box.Count() != 1 {
		t.Fatalf("lee's remind: exit %d, %d messages: %s %s", code, box.Count(), out, errs)
	}
	if !strings.Contains(out, "Nothing to send: 1 skipped (1 cooldown)") ||
		!regexp.MustCompile(`plaid:item-reset\s+User u-bob\s+dana reminded them (just now|\d+s ago) \(cooldown 24h\)`).MatchString(out) {
		t.Fatalf("lee is not told dana reminded Bob:\n%s", out)
	}
}
