package cli_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/relink/relink/internal/cli"
	"github.com/relink/relink/provider/sandbox"
	"github.com/relink/relink/ui"
)

// TestDashboardOverSSHInTmux runs the real relink serve with [ssh] on a
// loopback port, a Plaid emulator behind it and one person (an agent) with
// a generated ed25519 key, then OpenSSH's ssh inside tmux at 100x30: the
// dashboard draws at the caller's size, j moves, c mints a link that
// reaches the caller's tmux buffer by OSC 52, the audit log names the
// person and the key, and a SIGHUP after the person is removed from the
// config ends the session with a line saying so. It skips without tmux or
// ssh, except under CI=true.
func TestDashboardOverSSHInTmux(t *testing.T) {
	bin, dir := e2eBinary(t)
	if _, err := exec.LookPath("ssh"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ssh is not installed; CI must install openssh-client (.ci/run) to run the SSH end-to-end test")
		}
		t.Skip("ssh is not installed: skipping the SSH end-to-end test (install openssh-client to run it)")
	}

	// The emulator, with failing items, and the registry that names them.
	emu, err := sandbox.NewPlaid(sandbox.PlaidOptions{PerItemPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	var reg strings.Builder
	reg.WriteString("provider,provider_id,access_token,user_ref,name,email,phone,institution\n")
	for i := range 6 {
		c := sandbox.Connection{ID: fmt.Sprintf("item-%02d", i), AccessToken: fmt.Sprintf("access-sandbox-%02d", i), Code: "ITEM_LOGIN_REQUIRED"}
		if _, err := emu.AddConnection(c); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&reg, "plaid,%s,%s,u%d,User %02d,u%d@example.com,,Tartan Bank\n", c.ID, c.AccessToken, i, i, i)
	}
	keyFile, pub := writeKey(t, filepath.Join(dir, "dana_ed25519"))
	sshPort, httpPort := freePort(t), freePort(t)
	id, secret := emu.Credentials()
	config := func(people string) string {
		return fmt.Sprintf(`operator = "admin"
[plaid]
client_id = %q
secret = %q
base_url = %q
[serve]
addr = "127.0.0.1:%s"
public_url = "http://127.0.0.1:%s"
[ssh]
addr = "127.0.0.1:%s"
%s`, id, secret, emu.URL(), httpPort, httpPort, sshPort, people)
	}
	cfgFile := filepath.Join(dir, "config.toml")
	write := func(body string) {
		if err := os.WriteFile(cfgFile, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(config(fmt.Sprintf("[[people]]\nname = \"dana\"\nrole = \"agent\"\nkeys = [%q]\n", pub)))
	env := append(os.Environ(), "RELINK_CONFIG="+cfgFile, "RELINK_DB="+filepath.Join(dir, "relink.db"),
		"RELINK_SECRET_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
	relink := func(args ...string) string {
		t.Helper()
		c := exec.Command(bin, args...)
		c.Env = env
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("relink %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if err := os.WriteFile(filepath.Join(dir, "reg.csv"), []byte(reg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	relink("import", filepath.Join(dir, "reg.csv"))
	relink("sync")

	// relink serve, HTTP and SSH.
	serveLog := filepath.Join(dir, "serve.log")
	logf, err := os.Create(serveLog)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	serve := exec.Command(bin, "serve")
	serve.Env, serve.Stdout, serve.Stderr = env, logf, logf
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	t.Cleanup(func() {
		serve.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			serve.Process.Kill()
			t.Error("relink serve did not stop on SIGTERM")
		}
	})
	readLog := func() string { b, _ := os.ReadFile(serveLog); return string(b) }
	waitLog := func(what string, ok func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok(readLog()) {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s in serve's log:\n%s", what, readLog())
			}
			select {
			case err := <-exited:
				t.Fatalf("relink serve exited (%v):\n%s", err, readLog())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	var hostFP string
	waitLog("the SSH listener", func(s string) bool {
		m := regexp.MustCompile(`"host_key":"(SHA256:[^"]+)"`).FindStringSubmatch(s)
		if m != nil {
			hostFP = m[1]
		}
		return m != nil
	})

	// OpenSSH in tmux, which takes the clipboard from applications.
	tm := newTmux(t, dir)
	tm.stderr = serveLog
	ssh := fmt.Sprintf("ssh -p %s -i %s -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR anyone@127.0.0.1; sleep 60",
		sshPort, shellQuote(keyFile))
	tm.run("start-server", ";", "set-option", "-g", "set-clipboard", "on", ";",
		"new-session", "-d", "-s", tm.session, "-x", "100", "-y", "30", ssh)
	tm.waitFor("the dashboard over SSH", 30*time.Second, func(s string) bool {
		return strings.Contains(s, "all failing 6") && strings.Contains(s, "dana · agent") && strings.Contains(s, "? help")
	})
	// At the caller's size: 30 lines, the footer's "? help" at column 100.
	lines := strings.Split(tm.capture(), "\n")
	if len(lines) != 30 || len([]rune(lines[29])) != 100 || !strings.HasSuffix(lines[29], "? help") {
		t.Fatalf("the dashboard is not drawn at 100x30 (%d lines, footer %q):\n%s", len(lines), lines[len(lines)-1], tm.capture())
	}
	mustLine := func(what, want string) {
		t.Helper()
		waitLog(what, func(s string) bool { return strings.Contains(s, want) })
	}
	mustLine("the session opening", `"person":"dana","role":"agent"`)
	if !strings.Contains(readLog(), hostFP) {
		t.Fatal("the host key's fingerprint is not logged")
	}

	pos := regexp.MustCompile(`\b(\d+)/6\s*$`)
	row := func(s string) string {
		if m := pos.FindStringSubmatch(viewBar(s)); m != nil {
			return m[1]
		}
		return ""
	}
	tm.waitFor("the first row", 10*time.Second, func(s string) bool { return row(s) == "1" })
	tm.keys("j")
	tm.waitFor("the cursor on row 2", 5*time.Second, func(s string) bool { return row(s) == "2" })

	if out, err := tm.cmd("list-buffers").Output(); err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Fatalf("a buffer before the copy: %q %v", out, err)
	}
	tm.keys("c")
	tm.waitFor("the copy feedback", 15*time.Second, func(s string) bool { return strings.Contains(s, "Copied direct link for User") })
	var link string
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := tm.cmd("show-buffer").Output()
		if link = strings.TrimSpace(string(out)); strings.HasPrefix(link, emu.URL()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tmux buffer holds %q, not the link; screen:\n%s", link, tm.capture())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The audit log names dana and her key.
	keyFP := fingerprintOf(t, pub)
	var entries []map[string]any
	deadline = time.Now().Add(10 * time.Second)
	for {
		entries = nil
		if err := json.Unmarshal([]byte(relink("audit", "--format", "json")), &entries); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range entries {
			if e["operator"] == "dana" && e["ssh_key"] == keyFP && (e["action"] == "link" || e["action"] == "copy") {
				n++
			}
		}
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the audit log lacks dana's link and copy with %s: %v", keyFP, entries)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// dana leaves the config; SIGHUP ends her session with a line saying so.
	write(config(""))
	if err := serve.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	tm.waitFor("the removal notice", 10*time.Second, func(s string) bool {
		return strings.Contains(s, "relink: dana's key was removed from this hub's people; the session ends.")
	})
	mustLine("the reload", `"sessions_ended":1`)
}

// writeKey writes an ed25519 key pair for ssh -i: the private key at path
// (mode 600) and returns its authorized_keys line.
func writeKey(t *testing.T, path string) (string, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "dana@laptop")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	spub, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return path, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(spub))) + " dana@laptop"
}

func fingerprintOf(t *testing.T, line string) string {
	t.Helper()
	k, _, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	return gossh.FingerprintSHA256(k)
}

// freePort is a loopback port free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestDemoOverSSHInTmux runs relink --demo --ssh-addr and the ssh command
// it prints, as it prints it, in tmux: the demo's dashboard opens as its
// lead, with no question about the host key.
func TestDemoOverSSHInTmux(t *testing.T) {
	bin, dir := e2eBinary(t)
	if _, err := exec.LookPath("ssh"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ssh is not installed; CI must install openssh-client (.ci/run)")
		}
		t.Skip("ssh is not installed")
	}
	port := freePort(t)
	outFile, errFile := filepath.Join(dir, "demo.out"), filepath.Join(dir, "demo.err")
	stdout, err := os.Create(outFile)
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(errFile)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	demo := exec.Command(bin, "--demo", "--ssh-addr", "127.0.0.1:"+port)
	demo.Env = append(os.Environ(), "RELINK_CONFIG=", "RELINK_DB=", "HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	demo.Stdout, demo.Stderr = stdout, stderr
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- demo.Wait() }()
	t.Cleanup(func() {
		demo.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			demo.Process.Kill()
			t.Error("the demo did not stop on SIGINT")
		}
	})
	var command string
	deadline := time.Now().Add(90 * time.Second)
	for {
		b, _ := os.ReadFile(outFile)
		if m := regexp.MustCompile(`(?m)^  (ssh -p .*)$`).FindSubmatch(b); m != nil {
			command = string(m[1])
			break
		}
		select {
		case err := <-exited:
			e, _ := os.ReadFile(errFile)
			t.Fatalf("the demo exited (%v):\n%s\n%s", err, b, e)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ssh command printed:\n%s", b)
		}
	}
	if !strings.Contains(command, "-p "+port) || !strings.Contains(command, "UserKnownHostsFile=") {
		t.Fatalf("the printed command: %s", command)
	}
	tm := newTmux(t, dir)
	tm.stderr = errFile
	tm.run("new-session", "-d", "-s", tm.session, "-x", "120", "-y", "35", command+"; sleep 60")
	tm.waitFor("the demo's dashboard over SSH", 30*time.Second, func(s string) bool {
		return strings.Contains(s, "all failing") && strings.Contains(s, "demo · lead") && strings.Contains(s, "? help")
	})
	// The session names the demo's mailbox page, as the local demo does: in
	// help, and on the status line at start.
	b, _ := os.ReadFile(outFile)
	mailbox := regexp.MustCompile(`(?m)^  (http://127\.0\.0\.1:\d+/)$`).FindSubmatch(b)
	if mailbox == nil {
		t.Fatalf("no mailbox page printed:\n%s", b)
	}
	tm.keys("?")
	tm.waitFor("the mailbox page in the session's help", 10*time.Second, func(s string) bool {
		return strings.Contains(s, "local mailbox") && strings.Contains(s, string(mailbox[1]))
	})
	tm.keys("?", "q")
	tm.waitFor("the session's end", 10*time.Second, func(s string) bool { return !strings.Contains(s, "? help") })
}

// lockedBuffer is a bytes.Buffer written by one goroutine and read by another.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestDemoHubSessionsSeeEachOthersActInTmux runs relink --demo --ssh-addr
// in this process, with every session's periodic re-read of the cache an
// hour away, and two OpenSSH sessions to it in tmux. A reminder sent in
// one shows in the other's row at once: only the hub's notice (runHub, as
// relink serve wires it) can have shown it. The other, reminding the same
// user, is told it was reminded just now.
func TestDemoHubSessionsSeeEachOthersActInTmux(t *testing.T) {
	if _, err := exec.LookPath("ssh"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ssh is not installed; CI must install openssh-client (.ci/run)")
		}
		t.Skip("ssh is not installed")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	dir := t.TempDir()
	env := map[string]string{"HOME": dir, "XDG_CONFIG_HOME": filepath.Join(dir, "config")}
	var stdout, stderr lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- cli.DemoHub(ctx, "127.0.0.1:0", 400, &stdout, &stderr, func(k string) string { return env[k] },
			func(o *ui.Options) { o.RefreshInterval = time.Hour })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-served:
		case <-time.After(15 * time.Second):
			t.Error("the demo hub did not stop")
		}
	})
	var command string
	deadline := time.Now().Add(90 * time.Second)
	for command == "" {
		if m := regexp.MustCompile(`(?m)^  (ssh -p .*)$`).FindStringSubmatch(stdout.String()); m != nil {
			command = m[1]
			break
		}
		select {
		case err := <-served:
			t.Fatalf("the demo hub stopped (%v):\n%s\n%s", err, stdout.String(), stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ssh command printed:\n%s", stdout.String())
		}
	}

	sessions := []*tmux{newTmux(t, dir), newTmux(t, dir)}
	firstRow := regexp.MustCompile(`(?m)^›  (\S+ \S+) .*$`)
	var name string
	for _, tm := range sessions {
		tm.run("new-session", "-d", "-s", tm.session, "-x", "120", "-y", "35", command+"; sleep 60")
		tm.waitFor("the demo's dashboard over SSH", 30*time.Second, func(s string) bool {
			return strings.Contains(s, "demo · lead") && firstRow.MatchString(s)
		})
		row := firstRow.FindStringSubmatch(tm.capture())
		if name == "" {
			name = row[1]
		}
		if row[1] != name || strings.Contains(row[0], " just now ") {
			t.Fatalf("the sessions do not open on the same user, not reminded just now: %q", row[0])
		}
	}
	one, other := sessions[0], sessions[1]
	rowOf := func(s string) string {
		if m := firstRow.FindStringSubmatch(s); m != nil && m[1] == name {
			return m[0]
		}
		return ""
	}

	one.keys("r")
	one.waitFor("the preview", 15*time.Second, func(s string) bool { return strings.Contains(s, "Send 1 reminder to "+name) })
	// The dialog swallows keys until input has been quiet a moment: y
	// again until it is taken.
	for sent := false; !sent; {
		one.keys("y")
		until := time.Now().Add(time.Second)
		for !sent && time.Now().Before(until) {
			sent = strings.Contains(one.capture(), "1 sent")
			time.Sleep(50 * time.Millisecond)
		}
		if time.Now().After(deadline.Add(60 * time.Second)) {
			t.Fatalf("the reminder was not sent:\n%s", one.capture())
		}
	}
	other.waitFor("the reminder in the other session's row", 15*time.Second, func(s string) bool {
		return strings.Contains(rowOf(s), " just now ")
	})

	other.keys("r")
	other.waitFor("the other session told it was reminded", 15*time.Second, func(s string) bool {
		flat := strings.Join(strings.Fields(s), " ")
		return strings.Contains(flat, "Nothing to send.") && strings.Contains(flat, "you reminded them just now")
	})
}
