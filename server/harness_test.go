package server

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/belvo"
	"github.com/relink/relink/provider/cobalt"
	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/provider/sandbox"
	"github.com/relink/relink/store"
	"github.com/relink/relink/vault"
)

// env is a running server on loopback with a real SQLite cache and the
// three provider emulators, whose webhooks point at it.
type env struct {
	t      testing.TB
	dbPath string
	st     *store.Store
	ro     *sql.DB // a reader of the same file, as the dashboard would be
	key    *vault.Key

	plaid        *sandbox.Plaid
	plaidOffset  atomic.Int64              // the Plaid emulator's clock runs this far from now
	cobaltClock  atomic.Pointer[testClock] // when set, the Cobalt emulator's clock; time.Now otherwise
	belvo        *sandbox.Belvo
	cobalt       *sandbox.Cobalt
	plaidClient  *plaid.Client
	belvoClient  *belvo.Client
	cobaltClient *cobalt.Client
	desk         *backend.Backend

	srv    *Server
	base   string // http://127.0.0.1:port
	client *http.Client
	logs   *syncBuffer

	stop   context.CancelFunc
	served chan error
}

// envOption adjusts the server's config before it starts.
type envOption func(*Config)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	return newEnvOn(t, listen(t), opts...)
}

// listen opens a listener on a free loopback port.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening on loopback: %v", err)
	}
	return ln
}

// newEnvOn is newEnv serving on ln (a watchedListener, say).
func newEnvOn(t testing.TB, ln net.Listener, opts ...envOption) *env {
	t.Helper()
	return newEnvFsync(t, ln, nil, opts...)
}

// newEnvFsync is newEnvOn with the store flushing its files by fsync (the
// disk's flush, which a test may hold); nil: the real one.
func newEnvFsync(t testing.TB, ln net.Listener, fsync func(string) error, opts ...envOption) *env {
	t.Helper()
	var err error
	e := &env{t: t, base: "http://" + ln.Addr().String(), logs: &syncBuffer{},
		dbPath: filepath.Join(t.TempDir(), "relink.db")}
	e.client = &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	t.Cleanup(e.client.CloseIdleConnections)

	e.plaid, err = sandbox.NewPlaid(sandbox.PlaidOptions{WebhookURL: e.base + "/webhooks/plaid",
		Now: func() time.Time { return time.Now().Add(time.Duration(e.plaidOffset.Load())) }})
	if err != nil {
		t.Fatalf("starting the Plaid emulator: %v", err)
	}
	t.Cleanup(func() { e.plaid.Close() })
	e.belvo, err = sandbox.NewBelvo(sandbox.BelvoOptions{WebhookURL: e.base + "/webhooks/belvo"})
	if err != nil {
		t.Fatalf("starting the Belvo emulator: %v", err)
	}
	t.Cleanup(func() { e.belvo.Close() })
	e.cobalt, err = sandbox.NewCobalt(sandbox.CobaltOptions{WebhookURL: e.base + "/webhooks/cobalt",
		OnRepairedURL: e.base + "/callbacks/cobalt", Now: func() time.Time {
			if c := e.cobaltClock.Load(); c != nil {
				return c.Now()
			}
			return time.Now()
		}})
	if err != nil {
		t.Fatalf("starting the Cobalt emulator: %v", err)
	}
	t.Cleanup(func() { e.cobalt.Close() })

	id, secret := e.plaid.Credentials()
	e.plaidClient, err = plaid.New(plaid.Config{BaseURL: e.plaid.URL(), ClientID: id, Secret: secret,
		ClientName: "Acme", HostedLink: true, PerItemPerMinute: 6000, PerClientPerMinute: 600000, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("plaid.New: %v", err)
	}
	bid, bpw := e.belvo.Credentials()
	e.belvoClient, err = belvo.New(belvo.Config{BaseURL: e.belvo.URL(), SecretID: bid, SecretPassword: bpw,
		WidgetURL: e.belvo.WidgetURL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("belvo.New: %v", err)
	}
	cid, csecret := e.cobalt.Credentials()
	e.cobaltClient, err = cobalt.New(cobalt.Config{BaseURL: e.cobalt.URL(), ClientID: cid, ClientSecret: csecret,
		LinkURL: e.cobalt.LinkURL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("cobalt.New: %v", err)
	}

	e.key, _, err = vault.Generate()
	if err != nil {
		t.Fatalf("making a secret key: %v", err)
	}
	e.st, err = store.Open(context.Background(), e.dbPath, store.Options{Sealer: e.key, Fsync: fsync})
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	t.Cleanup(func() { e.st.Close() })
	e.ro, err = sql.Open("sqlite", "file:"+e.dbPath+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatalf("opening a reader: %v", err)
	}
	t.Cleanup(func() { e.ro.Close() })
	e.desk = &backend.Backend{Store: e.st, Operator: "test", Providers: map[string]provider.Provider{
		provider.Plaid: e.plaidClient, provider.Belvo: e.belvoClient, provider.Cobalt: e.cobaltClient}}

	cfg := Config{Store: e.st, Backend: e.desk, PlaidVerifier: plaid.NewVerifier(e.plaidClient),
		Belvo: e.belvoClient, BelvoAuthorization: e.belvo.WebhookAuthorization(), CobaltSecret: e.cobalt.WebhookSecret(),
		Logger:  slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MaxBody: 64 << 10}
	for _, o := range opts {
		o(&cfg)
	}
	e.srv, err = New(cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.stop, e.served = cancel, make(chan error, 1)
	go func() { e.served <- e.srv.Serve(ctx, ln) }()
	t.Cleanup(func() { e.shutdown() })
	return e
}

// shutdown stops the server as SIGTERM would and returns Serve's result.
func (e *env) shutdown() error {
	e.stop()
	select {
	case err := <-e.served:
		e.served <- err // for a second call
		return err
	case <-time.After(40 * time.Second):
		e.t.Errorf("the server did not stop")
		return errors.New("the server did not stop")
	}
}

// post sends body to path with headers and returns the status and answer.
func (e *env) post(path string, body []byte, h http.Header) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.base+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatalf("building a request: %v", err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) get(path string) (int, string) {
	e.t.Helper()
	resp, err := e.client.Get(e.base + path)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// register imports connections into the registry, as relink import does.
func (e *env) register(regs ...store.Registration) {
	e.t.Helper()
	ctx := context.Background()
	im, err := e.st.BeginImport(ctx, "test")
	if err != nil {
		e.t.Fatalf("starting an import: %v", err)
	}
	for _, r := range regs {
		if err := im.Add(ctx, r); err != nil {
			im.Rollback()
			e.t.Fatalf("importing %s:%s: %v", r.Provider, r.ProviderID, err)
		}
	}
	if err := im.Commit(ctx, "test"); err != nil {
		e.t.Fatalf("committing the import: %v", err)
	}
}

// category is a connection's category ("" when it is not in the cache).
func (e *env) category(prov, id string) health.Category {
	e.t.Helper()
	c, err := e.st.Connection(context.Background(), prov, id)
	if errors.Is(err, store.ErrNotFound) {
		return ""
	}
	if err != nil {
		e.t.Fatalf("reading %s:%s: %v", prov, id, err)
	}
	return c.Health.Category
}

func (e *env) connection(prov, id string) store.Connection {
	e.t.Helper()
	c, err := e.st.Connection(context.Background(), prov, id)
	if err != nil {
		e.t.Fatalf("reading %s:%s: %v", prov, id, err)
	}
	return c
}

// events counts the stored events.
func (e *env) events() int {
	e.t.Helper()
	var n int
	if err := e.ro.QueryRow(`SELECT COUNT(*) FROM events`).Scan(&n); err != nil {
		e.t.Fatalf("counting events: %v", err)
	}
	return n
}

// event reads one stored provider event: its connection id (0 when it
// waits for one), how it was verified, and its raw body.
func (e *env) event(prov, eventID string) (connID int64, verified string, raw []byte, ok bool) {
	e.t.Helper()
	var conn sql.NullInt64
	err := e.ro.QueryRow(`SELECT connection_id, verified, raw FROM events WHERE provider = ? AND event_id = ?`,
		prov, eventID).Scan(&conn, &verified, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", nil, false
	}
	if err != nil {
		e.t.Fatalf("reading event %s %s: %v", prov, eventID, err)
	}
	return conn.Int64, verified, raw, true
}

// eventually polls cond until it holds or 10 s pass.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitPlaid waits until the Plaid emulator has delivered its webhooks.
func (e *env) waitPlaid() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.plaid.WaitWebhooks(ctx); err != nil {
		e.t.Fatal(err)
	}
	if st := e.plaid.WebhookStats(); st.Failed != 0 {
		e.t.Fatalf("the Plaid emulator failed to deliver %d webhooks", st.Failed)
	}
}

// plaidHeader signs body as the Plaid emulator does now.
func (e *env) plaidHeader(body []byte) http.Header {
	e.t.Helper()
	sig, err := e.plaid.SignWebhook(body)
	if err != nil {
		e.t.Fatalf("signing a Plaid webhook: %v", err)
	}
	return http.Header{"Plaid-Verification": {sig}, "Content-Type": {"application/json"}}
}

// checkRefusal asserts a one-line 4xx answer of the given status.
func checkRefusal(t testing.TB, status int, answer string, want int) {
	t.Helper()
	t.Logf("%d %s", status, strings.TrimSpace(answer))
	if status != want {
		t.Fatalf("status %d (%q), want %d", status, answer, want)
	}
	if !strings.HasSuffix(answer, "\n") || strings.Count(answer, "\n") != 1 || len(answer) < 5 {
		t.Fatalf("answer %q is not one line with a reason", answer)
	}
}

// syncBuffer is a log destination safe for concurrent writes.
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

// lines counts the log lines holding every one of subs.
func (s *syncBuffer) lines(subs ...string) int {
	n := 0
	for _, l := range strings.Split(s.String(), "\n") {
		all := l != ""
		for _, sub := range subs {
			all = all && strings.Contains(l, sub)
		}
		if all {
			n++
		}
	}
	return n
}

// testClock is a clock that moves only when the test moves it, so events
// get distinct times by construction.
type testClock struct{ ns atomic.Int64 }

func newTestClock(start time.Time) *testClock {
	c := &testClock{}
	c.ns.Store(start.UnixNano())
	return c
}

func (c *testClock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// watchedListener lets a test see what the server does with its listener:
// the connections it accepted, how far it has read each, and whether it
// has closed the listener.
type watchedListener struct {
	net.Listener
	closed    chan struct{} // closed once the server closed the listener
	closeOnce sync.Once

	mu    sync.Mutex
	conns map[string]*watchedConn // by the client's address
}

func watch(ln net.Listener) *watchedListener {
	return &watchedListener{Listener: ln, closed: make(chan struct{}), conns: map[string]*watchedConn{}}
}

func (l *watchedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	wc := &watchedConn{Conn: c}
	l.mu.Lock()
	l.conns[c.RemoteAddr().String()] = wc
	l.mu.Unlock()
	return wc, nil
}

func (l *watchedListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.closed) })
	return err
}

// isClosed reports whether the server has closed the listener.
func (l *watchedListener) isClosed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}

// conn is the server's side of the client connection c (nil until accepted).
func (l *watchedListener) conn(c net.Conn) *watchedConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns[c.LocalAddr().String()]
}

// watchedConn counts what the server reads from a connection.
type watchedConn struct {
	net.Conn
	read    atomic.Int64 // bytes the server has read
	askedAt atomic.Int64 // read, when the server last asked for more
}

func (c *watchedConn) Read(p []byte) (int, error) {
	c.askedAt.Store(c.read.Load())
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// waitsAfter reports whether the server has read n bytes and is waiting
// for more.
func (c *watchedConn) waitsAfter(n int) bool {
	return c != nil && c.read.Load() == int64(n) && c.askedAt.Load() == int64(n)
}

// CloseWrite keeps the half-close net/http does before closing a
// connection with an unread body (a *net.TCPConn has it).
func (c *watchedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
