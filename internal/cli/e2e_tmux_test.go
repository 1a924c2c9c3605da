package cli_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDashboardInTmux runs the real binary with --demo in a real terminal
// (tmux), sends keys and reads the screen back with capture-pane. It skips
// when tmux is missing, except under CI=true, where that is a failure.
func TestDashboardInTmux(t *testing.T) {
	bin, dir := e2eBinary(t)
	tm := newTmux(t, dir)
	stderr := filepath.Join(dir, "stderr.log")
	tm.run("new-session", "-d", "-s", tm.session, "-x", "120", "-y", "35",
		fmt.Sprintf("%s --demo 2>%s", shellQuote(bin), shellQuote(stderr)))
	tm.stderr = stderr

	// The demo seeds, syncs and opens the dashboard.
	tm.waitFor("the dashboard", 60*time.Second, func(s string) bool {
		return strings.Contains(s, "all failing") && strings.Contains(s, "? help")
	})
	pos := regexp.MustCompile(`\b(\d+)/(\d+)\s*$`)
	row := func(s string) string { // the cursor position from the view bar, "3/412"
		lines := strings.Split(s, "\n")
		if len(lines) < 2 {
			return ""
		}
		m := pos.FindStringSubmatch(lines[1])
		if m == nil {
			return ""
		}
		return m[1]
	}
	tm.waitFor("the first row selected", 10*time.Second, func(s string) bool { return row(s) == "1" })

	// Move.
	tm.keys("j", "j")
	tm.waitFor("the cursor on row 3", 5*time.Second, func(s string) bool { return row(s) == "3" })
	tm.keys("k")
	tm.waitFor("the cursor on row 2", 5*time.Second, func(s string) bool { return row(s) == "2" })

	// Switch group: the next tab is the worst category.
	tm.keys("Tab")
	tm.waitFor("a category group", 5*time.Second, func(s string) bool {
		return !strings.Contains(viewBar(s), "All failing") && strings.Contains(s, "Where ") && row(s) == "1"
	})
	tm.keys("BTab")
	tm.waitFor("all failing again", 5*time.Second, func(s string) bool { return strings.Contains(viewBar(s), "All failing") })

	// The first screen names every failing category; ":mfa" finds one by name.
	tm.waitFor("the categories in the side pane", 5*time.Second, func(s string) bool {
		return strings.Contains(s, "By category, worst first") && strings.Contains(s, "mfa_required") && strings.Contains(s, "healthy")
	})
	tm.literal(":")
	tm.waitFor("the palette, groups first", 5*time.Second, func(s string) bool {
		return strings.Contains(s, "Commands") && strings.Contains(s, "› go to all failing")
	})
	tm.literal("mfa")
	tm.waitFor("mfa_required found", 5*time.Second, func(s string) bool { return strings.Contains(s, "› go to mfa_required") })
	tm.keys("Enter")
	tm.waitFor("the mfa_required group", 5*time.Second, func(s string) bool {
		return strings.Contains(viewBar(s), "MFA required (mfa_required)") && !strings.Contains(s, "Commands")
	})

	// Anyone by email, whatever their state: a connection with a warning
	// (working) is not in mfa_required; tab shows it among everyone.
	for i := 0; !strings.Contains(viewBar(tm.capture()), "Expiring"); i++ {
		if i == 20 {
			t.Fatalf("no expiring group:\n%s", tm.capture())
		}
		tm.nextGroup()
	}
	tm.keys("Enter")
	email := regexp.MustCompile(`[a-z0-9.]+@example\.(com|org|net)`)
	var who string
	tm.waitFor("an email in the pane", 5*time.Second, func(s string) bool {
		who = email.FindString(s)
		return strings.Contains(s, "Connection ") && who != ""
	})
	tm.keys("Escape")
	tm.waitFor("the pane closed", 5*time.Second, func(s string) bool { return !strings.Contains(s, "History") })
	tm.literal(":")
	tm.waitFor("the palette", 5*time.Second, func(s string) bool { return strings.Contains(s, "› go to all failing") })
	tm.literal("mfa")
	tm.waitFor("mfa_required found", 5*time.Second, func(s string) bool { return strings.Contains(s, "› go to mfa_required") })
	tm.keys("Enter")
	tm.waitFor("mfa_required again", 5*time.Second, func(s string) bool { return strings.Contains(viewBar(s), "(mfa_required)") })
	tm.keys("/")
	tm.literal(who)
	anyState, found := regexp.MustCompile(`\b[1-9]\d* in any state: tab shows them`), regexp.MustCompile(`" [1-9]\d* found`)
	tm.waitFor("a match outside the group", 5*time.Second, func(s string) bool { return anyState.MatchString(viewBar(s)) })
	tm.keys("Tab")
	tm.waitFor("the connection among everyone, with its state", 5*time.Second, func(s string) bool {
		return strings.Contains(viewBar(s), "Everyone: any state") && found.MatchString(viewBar(s)) &&
			(strings.Contains(s, "consent_expiring") || strings.Contains(s, "password_change_warn") || strings.Contains(s, "account_revoked_part"))
	})
	tm.keys("Escape")
	tm.waitFor("back in mfa_required", 5*time.Second, func(s string) bool { return strings.Contains(viewBar(s), "(mfa_required)") })
	tm.keys("Escape")
	tm.waitFor("the filter cleared", 5*time.Second, func(s string) bool { return !strings.Contains(viewBar(s), "filter") })
	tm.literal("1")
	tm.waitFor("all failing", 5*time.Second, func(s string) bool { return strings.Contains(viewBar(s), "All failing") })

	// Filter as you type.
	tm.keys("/")
	tm.literal("plaid")
	tm.waitFor("the filter input", 5*time.Second, func(s string) bool { return strings.Contains(viewBar(s), "/ plaid") })
	tm.keys("Enter")
	tm.waitFor("the filter applied", 5*time.Second, func(s string) bool {
		return strings.Contains(viewBar(s), `filter "plaid"`) && row(s) == "1"
	})

	// Open details.
	tm.keys("Enter")
	tm.waitFor("the connection pane", 5*time.Second, func(s string) bool {
		return strings.Contains(s, "Connection ") && strings.Contains(s, "History")
	})
	tm.keys("Escape")
	tm.waitFor("the pane closed", 5*time.Second, func(s string) bool { return !strings.Contains(s, "History") })

	// Mark.
	tm.keys("Space", "Space")
	tm.waitFor("two marks", 5*time.Second, func(s string) bool { return strings.Contains(viewBar(s), "2 marked") })
	tm.keys("Escape")
	tm.waitFor("marks cleared", 5*time.Second, func(s string) bool { return !strings.Contains(viewBar(s), "marked") })
	tm.keys("Escape")
	tm.waitFor("filter cleared", 5*time.Second, func(s string) bool { return !strings.Contains(viewBar(s), "filter") })

	// Help.
	tm.literal("?")
	tm.waitFor("the help", 5*time.Second, func(s string) bool {
		return strings.Contains(s, "Keys") && strings.Contains(s, "next row") && strings.Contains(s, "filter rows")
	})
	tm.keys("Escape")
	tm.waitFor("the help closed", 5*time.Second, func(s string) bool { return !strings.Contains(s, "filter rows") })

	// Too small, and back.
	tm.run("resize-window", "-t", tm.session, "-x", "60", "-y", "20")
	tm.waitFor("the too-small notice", 5*time.Second, func(s string) bool {
		return strings.Contains(s, "terminal too small (need 80x24)")
	})
	tm.run("resize-window", "-t", tm.session, "-x", "120", "-y", "35")
	tm.waitFor("the dashboard after resizing back", 5*time.Second, func(s string) bool {
		return strings.Contains(s, "all failing") && strings.Contains(s, "? help") && !strings.Contains(s, "too small")
	})

	tm.quit()
}

// TestDashboardCopiesAWorkingLinkInTmux presses c on a failing Plaid row of
// the demo in a tmux that takes the clipboard from applications (OSC 52,
// set-clipboard on): the tmux buffer then holds the link, and the link opens
// the emulator's update page. The copy shows in the connection's history,
// and Q draws the link as a QR code.
func TestDashboardCopiesAWorkingLinkInTmux(t *testing.T) {
	bin, dir := e2eBinary(t)
	tm := newTmux(t, dir)
	stderr := filepath.Join(dir, "stderr.log")
	tm.stderr = stderr
	tm.run("start-server", ";", "set-option", "-g", "set-clipboard", "on", ";",
		"new-session", "-d", "-s", tm.session, "-x", "120", "-y", "35",
		fmt.Sprintf("%s --demo 2>%s", shellQuote(bin), shellQuote(stderr)))
	if out, err := tm.cmd("show-options", "-g", "-v", "set-clipboard").Output(); err != nil || strings.TrimSpace(string(out)) != "on" {
		t.Fatalf("set-clipboard is %q (%v), want on", out, err)
	}
	tm.waitFor("the dashboard", 60*time.Second, func(s string) bool {
		return strings.Contains(s, "all failing") && strings.Contains(s, "? help")
	})

	// The login_required group, Plaid rows only.
	for i := 0; !strings.Contains(viewBar(tm.capture()), "(login_required)"); i++ {
		if i == 10 {
			t.Fatalf("no login_required group:\n%s", tm.capture())
		}
		tm.nextGroup()
	}
	tm.keys("/")
	tm.literal("plaid")
	tm.waitFor("the filter input", 5*time.Second, func(s string) bool { return strings.Contains(viewBar(s), "/ plaid") })
	tm.keys("Enter")
	first := regexp.MustCompile(`\b1/\d+\s*$`)
	tm.waitFor("the filter applied", 5*time.Second, func(s string) bool {
		return strings.Contains(viewBar(s), `filter "plaid"`) && strings.Contains(viewBar(s), "(login_required)") &&
			first.MatchString(viewBar(s))
	})

	if out, err := tm.cmd("list-buffers").Output(); err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Fatalf("a buffer before the copy: %q %v", out, err)
	}
	tm.keys("c")
	tm.waitFor("the copy feedback", 15*time.Second, func(s string) bool {
		return strings.Contains(s, "Copied direct link for") && strings.Contains(s, "(expires in ")
	})
	var link string
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := tm.cmd("show-buffer").Output()
		if link = strings.TrimSpace(string(out)); strings.HasPrefix(link, "http://127.0.0.1:") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tmux buffer holds %q, not the link; screen:\n%s%s", link, tm.capture(), tm.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(link, "/hosted/link-") {
		t.Fatalf("not a Plaid update-mode link: %q", link)
	}

	// The link works: the emulator's update page, with its button.
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`<button type="submit">Continue</button>`)) ||
		!bytes.Contains(body, []byte("Reconnect ")) {
		t.Fatalf("GET %s: %d\n%s", link, resp.StatusCode, body)
	}

	// The details: the copy in the history, then the link as a QR code.
	tm.keys("Enter")
	tm.waitFor("the copy in the history", 10*time.Second, func(s string) bool {
		return strings.Contains(s, "direct link copied by") && strings.Contains(s, "direct link minted by")
	})
	tm.literal("Q")
	tm.waitFor("the QR code", 5*time.Second, func(s string) bool {
		return strings.Contains(s, "scan to open") && strings.Contains(s, "▀▀▀▀▀▀▀▀") && !strings.Contains(s, "QR code hidden")
	})
	tm.literal("Q")
	tm.waitFor("the QR code hidden", 5*time.Second, func(s string) bool { return !strings.Contains(s, "scan to open") })

	// The user follows the link and the connection is repaired at Plaid (an
	// update-mode session sends no webhook: the next poll sees it); ctrl+r
	// syncs, and the connection stays in the pane, healthy.
	name := regexp.MustCompile(`Copied direct link for (.+?) \(expires`).FindStringSubmatch(tm.capture())
	if name == nil {
		// the copy feedback may have cleared: the pane's first line names them
		name = regexp.MustCompile(`│ (\S+ \S+) · `).FindStringSubmatch(tm.capture())
	}
	if name == nil {
		t.Fatalf("no name on screen:\n%s", tm.capture())
	}
	resp, err = client.Post(link, "application/x-www-form-urlencoded", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("Connected")) {
		t.Fatalf("POST %s: %d\n%s", link, resp.StatusCode, body)
	}
	tm.keys("C-r")
	tm.waitFor("the repair, in place", 30*time.Second, func(s string) bool {
		return strings.Contains(s, "✓ "+name[1]+" repaired") && strings.Contains(s, "Healthy (healthy)") &&
			strings.Contains(s, "repaired: no longer in") && strings.Contains(s, "│ "+name[1]+" · ")
	})
	tm.quit()
}

// e2eBinary skips without tmux (except under CI=true, where that fails) and
// in -short mode, and returns the relink binary and a temp dir.
func e2eBinary(t *testing.T) (bin, dir string) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is not installed; CI must install it (.ci/run) to run the end-to-end test")
		}
		t.Skip("tmux is not installed: skipping the end-to-end dashboard test (install tmux to run it)")
	}
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("end-to-end test skipped in -short mode")
	}
	dir = t.TempDir()
	bin = os.Getenv("RELINK_E2E_BIN") // a binary built already; by default the test builds one
	if bin == "" {
		bin = filepath.Join(dir, "relink")
		build := exec.Command("go", "build", "-o", bin, "github.com/relink/relink")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	return bin, dir
}

// quit presses q and waits for relink to exit, confirming if a background
// sync is still running.
func (tm *tmux) quit() {
	tm.t.Helper()
	tm.keys("q")
	deadline := time.Now().Add(15 * time.Second)
	for tm.alive() {
		if time.Now().After(deadline) {
			tm.t.Fatalf("relink did not quit:\n%s", tm.capture())
		}
		if strings.Contains(tm.capture(), "Quit anyway?") {
			tm.keys("y")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// viewBar is the second line of the screen: group, filter, sort, marks, position.
// nextGroup presses Tab and waits for the view bar to name another group.
// It compares the group's title only: the rest of the bar (the position,
// a count a sync changes) may change by itself, and a wait it ended would
// send the next Tab before this one took effect, overshooting the group.
func (tm *tmux) nextGroup() {
	tm.t.Helper()
	title := func(s string) string { t, _, _ := strings.Cut(viewBar(s), " · "); return strings.TrimSpace(t) }
	before := title(tm.capture())
	tm.keys("Tab")
	tm.waitFor("the next group", 5*time.Second, func(s string) bool { return title(s) != before })
}

func viewBar(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) < 2 {
		return ""
	}
	return lines[1]
}

// tmux drives one private tmux server (its own socket, no user config), so
// a tmux the developer already runs is never touched.
type tmux struct {
	t       *testing.T
	socket  string
	session string
	stderr  string
	env     []string
}

func newTmux(t *testing.T, dir string) *tmux {
	id := fmt.Sprintf("relink-e2e-%d-%d", os.Getpid(), time.Now().UnixNano())
	home := filepath.Join(dir, "home")
	for _, d := range []string{"config", "data", "state", "cache"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(),
		"TERM=xterm-256color", "HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "data"),
		"XDG_STATE_HOME="+filepath.Join(home, "state"), "XDG_CACHE_HOME="+filepath.Join(home, "cache"),
		"RELINK_CONFIG=", "RELINK_DB=", "NO_COLOR=", "BROWSER=true",
	)
	tm := &tmux{t: t, socket: id, session: id, env: env}
	t.Cleanup(func() {
		exec.Command("tmux", "-L", tm.socket, "kill-server").Run() //nolint:errcheck // gone already is fine
	})
	return tm
}

func (tm *tmux) cmd(args ...string) *exec.Cmd {
	c := exec.Command("tmux", append([]string{"-L", tm.socket, "-f", "/dev/null"}, args...)...)
	c.Env = tm.env
	return c
}

func (tm *tmux) run(args ...string) {
	tm.t.Helper()
	if out, err := tm.cmd(args...).CombinedOutput(); err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s%s", strings.Join(args, " "), err, out, tm.log())
	}
}

// keys sends tmux key names (j, Tab, BTab, Enter, Escape, Space…).
func (tm *tmux) keys(keys ...string) {
	tm.t.Helper()
	tm.run(append([]string{"send-keys", "-t", tm.session}, keys...)...)
}

// literal types text as it is.
func (tm *tmux) literal(text string) {
	tm.t.Helper()
	tm.run("send-keys", "-t", tm.session, "-l", text)
}

func (tm *tmux) alive() bool { return tm.cmd("has-session", "-t", tm.session).Run() == nil }

func (tm *tmux) capture() string {
	out, err := tm.cmd("capture-pane", "-p", "-t", tm.session).Output()
	if err != nil {
		return ""
	}
	return string(bytes.TrimRight(out, "\n"))
}

func (tm *tmux) log() string {
	if tm.stderr == "" {
		return ""
	}
	b, _ := os.ReadFile(tm.stderr)
	if len(b) == 0 {
		return ""
	}
	return "\nrelink stderr:\n" + string(b)
}

// waitFor polls the screen until ok holds, failing with the last screen
// after timeout. Waits are polls, never fixed sleeps.
func (tm *tmux) waitFor(what string, timeout time.Duration, ok func(screen string) bool) {
	tm.t.Helper()
	deadline := time.Now().Add(timeout)
	var s string
	for {
		s = tm.capture()
		if ok(s) {
			return
		}
		if !tm.alive() {
			tm.t.Fatalf("waiting for %s: relink exited%s\nlast screen:\n%s", what, tm.log(), s)
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("waiting for %s: timed out after %s\nscreen:\n%s%s", what, timeout, s, tm.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
