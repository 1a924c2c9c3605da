package sshd

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	gossh "golang.org/x/crypto/ssh"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/provider/sandbox"
	"github.com/relink/relink/store"
	"github.com/relink/relink/ticket"
	"github.com/relink/relink/ui"
)

// syncBuffer is a bytes.Buffer safe for one writer and many readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// key is a person's key pair: the signer the client logs in with.
type key struct {
	signer gossh.Signer
	pub    gossh.PublicKey
}

func newKey(t testing.TB) key {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return key{signer: s, pub: s.PublicKey()}
}

// hub is a Server on loopback over a real cache with failing Plaid
// connections and a backend that mints durable links.
type hub struct {
	t    testing.TB
	st   *store.Store
	desk *backend.Backend
	emu  *sandbox.Plaid
	pc   *plaid.Client
	srv  *Server
	addr string
	logs *syncBuffer
	stop context.CancelFunc
	done chan error
}

func newHub(t testing.TB, conns int, people []Person, mod func(*Options)) *hub {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "relink.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	seed(t, st, conns)
	emu, err := sandbox.NewPlaid(sandbox.PlaidOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	id, secret := emu.Credentials()
	pc, err := plaid.New(plaid.Config{BaseURL: emu.URL(), ClientID: id, Secret: secret, ClientName: "relink test", Language: "en",
		CountryCodes: []string{"US"}, HostedLink: true})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ticket.LoadOrCreate(filepath.Join(dir, "link.key"))
	if err != nil {
		t.Fatal(err)
	}
	desk := &backend.Backend{Store: st, Providers: map[string]provider.Provider{"plaid": pc}, Operator: "hub",
		Tickets: signer, PublicURL: "https://relink.example.com", LinkTTL: time.Hour}
	logs := &syncBuffer{}
	o := Options{HostKeyFile: filepath.Join(dir, "host_key"), People: people, BulkLimit: 25, MaxSessions: 8,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Dashboard: func(p Person) ui.Options {
			return ui.Options{Store: st, Actions: desk.As(p.Name), Providers: []string{"plaid"}}
		}}
	if mod != nil {
		mod(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	h := &hub{t: t, st: st, desk: desk, emu: emu, pc: pc, srv: srv, addr: ln.Addr().String(), logs: logs, stop: stop, done: make(chan error, 1)}
	go func() { h.done <- srv.Serve(sctx, ln) }()
	t.Cleanup(h.shutdown)
	return h
}

// shutdown stops the server (once) and waits for it.
func (h *hub) shutdown() {
	if h.stop == nil {
		return
	}
	h.stop()
	h.stop = nil
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		h.t.Error("the server did not stop")
	}
}

// seed registers n failing Plaid connections.
func seed(t testing.TB, st *store.Store, n int) {
	t.Helper()
	ctx := context.Background()
	im, err := st.BeginImport(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	var obs []store.Observation
	for i := range n {
		pid := fmt.Sprintf("item-%04d", i)
		if err := im.Add(ctx, store.Registration{Provider: "plaid", ProviderID: pid, UserRef: fmt.Sprintf("u%d", i),
			Name: fmt.Sprintf("User %04d", i), Email: fmt.Sprintf("u%d@example.com", i), Institution: "Tartan Bank"}); err != nil {
			t.Fatal(err)
		}
		obs = append(obs, store.Observation{Provider: "plaid", ProviderID: pid, Kind: "poll", Signal: health.Signal{
			Effect: health.SetPrimary, Category: health.LoginRequired, ProviderCode: "ITEM_LOGIN_REQUIRED", Source: health.SourcePoll,
			ObservedAt: time.Now().Add(-time.Duration(i+1) * time.Minute)}})
	}
	if err := im.Commit(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(ctx, obs); err != nil {
		t.Fatal(err)
	}
}

func (h *hub) clientConfig(auth ...gossh.AuthMethod) *gossh.ClientConfig {
	return &gossh.ClientConfig{User: "whoever", Auth: auth, Timeout: 10 * time.Second,
		HostKeyCallback: gossh.FixedHostKey(h.srv.HostKey())}
}

// term is one client session with a pty, its output kept as it comes.
type term struct {
	t      testing.TB
	client *gossh.Client
	sess   *gossh.Session
	in     io.WriteCloser
	out    *syncBuffer
	done   chan error
}

// open logs in with k and opens a session with a pty of w×h and env.
func (h *hub) open(k key, w, hh int, env ...string) *term {
	h.t.Helper()
	c, err := gossh.Dial("tcp", h.addr, h.clientConfig(gossh.PublicKeys(k.signer)))
	if err != nil {
		h.t.Fatalf("ssh: %v", err)
	}
	h.t.Cleanup(func() { c.Close() })
	s, err := c.NewSession()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if err := s.Setenv(k, v); err != nil {
			h.t.Fatal(err)
		}
	}
	if err := s.RequestPty("xterm-256color", hh, w, gossh.TerminalModes{}); err != nil {
		h.t.Fatal(err)
	}
	tm := &term{t: h.t, client: c, sess: s, out: &syncBuffer{}, done: make(chan error, 1)}
	s.Stdout, s.Stderr = tm.out, tm.out
	if tm.in, err = s.StdinPipe(); err != nil {
		h.t.Fatal(err)
	}
	if err := s.Shell(); err != nil {
		h.t.Fatal(err)
	}
	go func() { tm.done <- s.Wait() }()
	return tm
}

// text is everything the session printed, without escape sequences.
func (tm *term) text() string { return ansi.Strip(tm.out.String()) }

// waitFor polls the output until ok holds.
func (tm *term) waitFor(what string, ok func(string) bool) {
	tm.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok(tm.text()) {
		if time.Now().After(deadline) {
			tm.t.Fatalf("waiting for %s; the session printed:\n%s", what, tm.text())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (tm *term) waitText(what string, wants ...string) {
	tm.t.Helper()
	tm.waitFor(what, func(s string) bool {
		for _, w := range wants {
			if !strings.Contains(s, w) {
				return false
			}
		}
		return true
	})
}

// dashboard waits for the dashboard with its rows read (the cursor's ›).
func (tm *term) dashboard() {
	tm.t.Helper()
	tm.waitText("the dashboard", "relink", "all failing", "? help", "›  User")
}

func (tm *term) press(keys string) {
	tm.t.Helper()
	if _, err := io.WriteString(tm.in, keys); err != nil {
		tm.t.Fatal(err)
	}
}

// ended waits for the session to end.
func (tm *term) ended(what string) {
	tm.t.Helper()
	select {
	case <-tm.done:
	case <-time.After(15 * time.Second):
		tm.t.Fatalf("waiting for the session to end (%s); it printed:\n%s", what, tm.text())
	}
}

// stillOpen checks the session has not ended.
func (tm *term) stillOpen() {
	tm.t.Helper()
	select {
	case err := <-tm.done:
		tm.t.Fatalf("the session ended (%v):\n%s", err, tm.text())
	default:
	}
}

func waitUntil(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A known key opens the dashboard as its person, whatever the SSH user
// name; the header names the person and role.
func TestKnownKeyOpensTheDashboardAsItsPerson(t *testing.T) {
	dana := newKey(t)
	h := newHub(t, 5, []Person{{Name: "dana", Role: ui.RoleLead, Keys: []gossh.PublicKey{dana.pub}}}, nil)
	tm := h.open(dana, 100, 30)
	tm.dashboard()
	tm.waitText("the person in the header", "dana · lead")
	if h.srv.Sessions() != 1 {
		t.Fatalf("%d sessions", h.srv.Sessions())
	}
	mustLog(t, h, "ssh session opened", "person=dana", "role=lead", "fingerprint="+gossh.FingerprintSHA256(dana.pub))
	tm.press("q")
	tm.ended("q")
	waitUntil(t, "the session to be counted out", func() bool { return h.srv.Sessions() == 0 })
}

// An unknown key is refused during authentication (no session, so no
// screen) and its fingerprint is logged for an admin to add.
func TestUnknownKeyIsRefusedAndItsFingerprintLogged(t *testing.T) {
	dana, stranger := newKey(t), newKey(t)
	h := newHub(t, 1, []Person{{Name: "dana", Role: ui.RoleLead, Keys: []gossh.PublicKey{dana.pub}}}, nil)
	_, err := gossh.Dial("tcp", h.addr, h.clientConfig(gossh.PublicKeys(stranger.signer)))
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("an unknown key: %v", err)
	}
	mustLog(t, h, "refused an unknown key", "fingerprint="+gossh.FingerprintSHA256(stranger.pub))
	if strings.Contains(h.logs.String(), "ssh session opened") {
		t.Fatal("a session opened for an unknown key")
	}
}

// The server offers neither password nor keyboard-interactive
// authentication: a client that would answer such a prompt is never asked.
func TestNoPasswordOrKeyboardInteractivePrompt(t *testing.T) {
	dana := newKey(t)
	h := newHub(t, 1, []Person{{Name: "dana", Role: ui.RoleLead, Keys: []gossh.PublicKey{dana.pub}}}, nil)
	asked := false
	_, err := gossh.Dial("tcp", h.addr, h.clientConfig(
		gossh.PasswordCallback(func() (string, error) { asked = true; return "hunter2", nil }),
		gossh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) { asked = true; return nil, nil })))
	if err == nil || asked {
		t.Fatalf("dial: %v, prompted %v", err, asked)
	}
	if !strings.Contains(err.Error(), "no supported methods remain") {
		t.Fatalf("dial: %v", err)
	}
}

// A viewer's r says why on the status line, over SSH as on a local
// terminal, and the hub sees no reminder planned.
func TestViewerIsToldWhyOverSSH(t *testing.T) {
	sam := newKey(t)
	h := newHub(t, 3, []Person{{Name: "sam", Role: ui.RoleViewer, Keys: []gossh.PublicKey{sam.pub}}}, nil)
	tm := h.open(sam, 120, 35)
	tm.dashboard()
	tm.press("r")
	tm.waitText("the refusal", "viewers cannot remind; ask a lead")
	tm.press("c") // the screen is redrawn where it differs: the new words
	tm.waitText("the second refusal", "copy links")
	if n, _ := h.st.OutboxCounts(context.Background()); len(n) != 0 {
		t.Fatalf("outbox %v", n)
	}
}

// A copy in a session is minted as the person, with their key in the
// audit log, and reaches the caller by OSC 52 on the session's output.
func TestCopyNamesThePersonAndTheKeyAndReachesTheCaller(t *testing.T) {
	dana := newKey(t)
	h := newHub(t, 3, []Person{{Name: "dana", Role: ui.RoleAgent, Keys: []gossh.PublicKey{dana.pub}}}, nil)
	tm := h.open(dana, 120, 35)
	tm.dashboard()
	tm.press("C")
	tm.waitText("the copy", "Copied durable link for User")
	waitUntil(t, "the OSC 52 sequence", func() bool { return strings.Contains(tm.out.String(), "\x1b]52;c;") })
	fp := gossh.FingerprintSHA256(dana.pub)
	var got []string
	waitUntil(t, "the copy in the audit log", func() bool {
		got = nil
		h.st.AuditSince(context.Background(), time.Time{}, func(e store.AuditEntry) error {
			if e.Action == "link" || e.Action == "copy" {
				got = append(got, e.Operator+" "+e.Action+" "+e.SSHKey)
			}
			return nil
		})
		return len(got) == 2
	})
	if got[0] != "dana link "+fp || got[1] != "dana copy "+fp {
		t.Fatalf("audit: %q, want dana's link and copy with %s", got, fp)
	}
}

// One session past ssh.max_sessions gets a one-line refusal; the others
// go on.
func TestMaxSessionsRefusesOneMoreInOneLine(t *testing.T) {
	dana := newKey(t)
	h := newHub(t, 1, []Person{{Name: "dana", Role: ui.RoleLead, Keys: []gossh.PublicKey{dana.pub}}},
		func(o *Options) { o.MaxSessions = 1 })
	first := h.open(dana, 100, 30)
	first.dashboard()
	second := h.open(dana, 100, 30)
	second.ended("the refusal")
	if got := strings.TrimSpace(second.text()); got != "relink: the hub is full (1 sessions, ssh.max_sessions); try again later." {
		t.Fatalf("the refusal is %q", got)
	}
	first.stillOpen()
}

// A session with no input for ssh.idle_timeout ends with a line saying so.
func TestIdleSessionEnds(t *testing.T) {
	dana := newKey(t)
	h := newHub(t, 1, []Person{{Name: "dana", Role: ui.RoleLead, Keys: []gossh.PublicKey{dana.pub}}},
		func(o *Options) { o.IdleTimeout = 500 * time.Millisecond })
	tm := h.open(dana, 100, 30)
	tm.ended("the idle timeout")
	mustContain(t, tm.text(), "relink: no key pressed for 500ms (ssh.idle_timeout); the session ends.")
	waitUntil(t, "the session to be counted out", func() bool { return h.srv.Sessions() == 0 })
}

// SetPeople (SIGHUP) ends the sessions of a person removed, with a line
// saying why, and of a person whose role changed; the others go on, and a
// person added may log in.
func TestSetPeopleEndsOnlyTheRemovedPersonsSessions(t *testing.T) {
	dana, sam, lee, kim := newKey(t), newKey(t), newKey(t), newKey(t)
	p := func(name string, r ui.Role, k key) Person {
		return Person{Name: name, Role: r, Keys: []gossh.PublicKey{k.pub}}
	}
	h := newHub(t, 2, []Person{p("dana", ui.RoleLead, dana), p("sam", ui.RoleAgent, sam), p("kim", ui.RoleAgent, kim)}, nil)
	td, ts, tk := h.open(dana, 100, 30), h.open(sam, 100, 30), h.open(kim, 100, 30)
	td.dashboard()
	ts.dashboard()
	tk.dashboard()
	if _, err := gossh.Dial("tcp", h.addr, h.clientConfig(gossh.PublicKeys(lee.signer))); err == nil {
		t.Fatal("lee is not one of the people yet")
	}

	if n := h.srv.SetPeople([]Person{p("dana", ui.RoleLead, dana), p("lee", ui.RoleViewer, lee), p("kim", ui.RoleViewer, kim)}, 25); n != 2 {
		t.Fatalf("SetPeople ended %d sessions, want sam's and kim's", n)
	}
	ts.ended("sam's removal")
	mustContain(t, ts.text(), "relink: sam's key was removed from this hub's people; the session ends.")
	tk.ended("kim's new role")
	mustContain(t, tk.text(), "relink: kim's role is now viewer; the session ends. Reconnect to go on as viewer.")
	td.stillOpen()
	td.press("j")
	td.waitText("dana's dashboard still answering", "›  User 0000")
	if h.srv.Sessions() != 1 {
		t.Fatalf("%d sessions, want dana's", h.srv.Sessions())
	}
	tl := h.open(lee, 100, 30)
	tl.dashboard()
	tl.waitText("lee as a viewer", "lee · viewer")
}

// Each session draws at its own pty's size and in its own colours: one
// with NO_COLOR in its environment gets no colour at all, one without gets
// 256 colours (TERM=xterm-256color), and a small one the too-small notice.
func TestEachSessionHasItsOwnSizeAndColours(t *testing.T) {
	dana := newKey(t)
	h := newHub(t, 3, []Person{{Name: "dana", Role: ui.RoleLead, Keys: []gossh.PublicKey{dana.pub}}}, nil)
	plain := h.open(dana, 120, 35, "NO_COLOR=1")
	colour := h.open(dana, 100, 30)
	small := h.open(dana, 60, 20)
	plain.dashboard()
	colour.dashboard()
	small.waitText("the too-small notice", "terminal too small (need 80x24)")
	fg := regexp.MustCompile(`\x1b\[[0-9;]*38;[25];`)
	if out := plain.out.String(); fg.MatchString(out) {
		t.Fatalf("NO_COLOR: a colour was drawn: %q", fg.FindString(out))
	}
	if out := colour.out.String(); !fg.MatchString(out) {
		t.Fatal("without NO_COLOR, no colour was drawn")
	}
	if strings.Contains(colour.text(), "too small") || strings.Contains(plain.text(), "too small") {
		t.Fatal("a large session drew the too-small notice")
	}
	colour.press("q")
	colour.ended("q")
	plain.stillOpen()
}

// The host key is made on first start (ed25519, mode 600) and the same one
// is used on the next; one others can read is refused.
func TestHostKeyIsCreatedPrivateAndKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "host")
	a, err := LoadOrCreateHostKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 || a.PublicKey().Type() != gossh.KeyAlgoED25519 {
		t.Fatalf("host key: %v, mode %v, type %s", err, fi.Mode(), a.PublicKey().Type())
	}
	b, err := LoadOrCreateHostKey(path)
	if err != nil || !bytes.Equal(a.PublicKey().Marshal(), b.PublicKey().Marshal()) {
		t.Fatalf("the second start made another key: %v", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateHostKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a readable host key: %v", err)
	}
}

// Stopping the server ends the open sessions and returns.
func TestServeStopsWithItsContext(t *testing.T) {
	dana := newKey(t)
	h := newHub(t, 1, []Person{{Name: "dana", Role: ui.RoleLead, Keys: []gossh.PublicKey{dana.pub}}}, nil)
	tm := h.open(dana, 100, 30)
	tm.dashboard()
	h.shutdown()
	tm.ended("the hub stopping")
	if _, err := gossh.Dial("tcp", h.addr, h.clientConfig(gossh.PublicKeys(dana.signer))); err == nil {
		t.Fatal("the stopped server still accepts connections")
	} else if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
}

func mustLog(t testing.TB, h *hub, wants ...string) {
	t.Helper()
	waitUntil(t, "the log line", func() bool {
		for _, line := range strings.Split(h.logs.String(), "\n") {
			ok := true
			for _, w := range wants {
				ok = ok && strings.Contains(line, w)
			}
			if ok {
				return true
			}
		}
		return false
	})
}

func mustContain(t testing.TB, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Fatalf("missing %q in:\n%s", w, s)
		}
	}
}
