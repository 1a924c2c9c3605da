package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/provider/cobalt"
)

func TestProvidersNotConfiguredAnswer404(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PlaidVerifier, c.BelvoAuthorization, c.CobaltSecret = nil, "", "" })
	for path, want := range map[string]string{
		"/webhooks/plaid":   "plaid webhooks are off",
		"/webhooks/belvo":   "belvo.webhook_authorization",
		"/webhooks/cobalt":  "cobalt.webhook_secret",
		"/callbacks/cobalt": "cobalt.webhook_secret",
	} {
		status, answer := e.post(path, []byte(`{}`), nil)
		checkRefusal(t, status, answer, http.StatusNotFound)
		if !strings.Contains(answer, want) {
			t.Errorf("%s: %q does not say %q", path, answer, want)
		}
	}
	on, off := e.srv.Enabled()
	if len(on) != 0 || len(off) != 3 {
		t.Errorf("Enabled: on %v, off %v", on, off)
	}
	if e.events() != 0 {
		t.Error("something was stored")
	}
}

func TestRoutesAndMethods(t *testing.T) {
	e := newEnv(t)
	if on, _ := e.srv.Enabled(); strings.Join(on, ",") != "plaid,belvo,cobalt" {
		t.Errorf("Enabled: %v", on)
	}
	resp, err := e.client.Get(e.base + "/webhooks/cobalt")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /webhooks/cobalt: %d", resp.StatusCode)
	}
	if status, _ := e.post("/webhooks/unknown", []byte(`{}`), nil); status != http.StatusNotFound {
		t.Errorf("an unknown route: %d", status)
	}
	if status, _ := e.get("/r/not-a-ticket"); status != http.StatusNotFound {
		t.Errorf("/r/ without Config.Reconnect: %d", status)
	}
	withLinks := newEnv(t, func(c *Config) { c.Reconnect = c.Backend.(Redeemer) })
	resp, err = withLinks.client.Get(withLinks.base + "/r/not-a-ticket")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 4 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("/r/ with Config.Reconnect: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestHealthz(t *testing.T) {
	e := newEnv(t)
	if status, answer := e.get("/healthz"); status != 200 || answer != "ok\n" {
		t.Fatalf("%d %q", status, answer)
	}
	e.st.Close() // the database goes away
	status, answer := e.get("/healthz")
	checkRefusal(t, status, answer, http.StatusServiceUnavailable)
}

func TestMetricsInPrometheusTextFormat(t *testing.T) {
	e := newEnv(t)
	e.addCobalt("clinic_1")
	b := cobaltBody(t, "evt_1", "clinic_1", "access_token.login_required", time.Now(), loginRequired("clinic_1"))
	e.post("/webhooks/cobalt", b, e.cobaltHeader(b))
	e.post("/webhooks/cobalt", b, e.cobaltHeader(b))
	e.post("/webhooks/cobalt", b, nil)
	resp, err := e.client.Get(e.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	text, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`relink_webhooks_total{provider="cobalt",result="accepted"} 1`,
		`relink_webhooks_total{provider="cobalt",result="duplicate"} 1`,
		`relink_webhooks_total{provider="cobalt",result="rejected"} 1`,
		`relink_webhooks_total{provider="plaid",result="accepted"} 0`,
		`relink_webhook_ack_seconds_count{provider="cobalt"} 2`,
		`relink_webhook_ack_seconds_bucket{provider="cobalt",le="+Inf"} 2`,
		`# TYPE relink_webhook_ack_seconds histogram`,
		`relink_store_batch_events_total 2`,
	} {
		if !strings.Contains(string(text), want+"\n") {
			t.Errorf("no %q in\n%s", want, text)
		}
	}
	sample := regexp.MustCompile(`^[a-z_]+(\{([a-z_]+="[^"]*",?)+\})? [0-9.e+-]+$`)
	for _, line := range strings.Split(strings.TrimSpace(string(text)), "\n") {
		if !strings.HasPrefix(line, "# HELP ") && !strings.HasPrefix(line, "# TYPE ") && !sample.MatchString(line) {
			t.Errorf("not a Prometheus text line: %q", line)
		}
	}
}

func TestOversizedChunkedBodyIs413(t *testing.T) {
	e := newEnv(t)
	big := strings.Repeat("x", 70<<10)
	req, _ := http.NewRequest(http.MethodPost, e.base+"/webhooks/cobalt", io.MultiReader(strings.NewReader(big)))
	req.Header.Set(cobalt.SignatureHeader, hmacHex(e.cobalt.WebhookSecret(), []byte(big)))
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if req.ContentLength != 0 || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("content length %d, status %d", req.ContentLength, resp.StatusCode)
	}
}

func TestSlowClientsAreCutOff(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Timeouts = Timeouts{ReadHeader: 200 * time.Millisecond, Read: 400 * time.Millisecond}
	})
	addr := strings.TrimPrefix(e.base, "http://")
	// closedWithin reads until the server answers or hangs up.
	closedWithin := func(t *testing.T, conn net.Conn, d time.Duration) string {
		t.Helper()
		conn.SetReadDeadline(time.Now().Add(d))
		b, err := io.ReadAll(conn)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the server still holds the connection after %v", d)
		}
		return string(b)
	}
	t.Run("headers that never end", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprint(conn, "POST /webhooks/cobalt HTTP/1.1\r\nHost: relink\r\nContent-Type: application/json\r\n")
		closedWithin(t, conn, 3*time.Second)
	})
	t.Run("a body that stops halfway", func(t *testing.T) {
		e.addCobalt("clinic_1")
		b := cobaltBody(t, "evt_slow", "clinic_1", "access_token.login_required", time.Now(), loginRequired("clinic_1"))
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /webhooks/cobalt HTTP/1.1\r\nHost: relink\r\n%s: %s\r\nContent-Length: %d\r\n\r\n%s",
			cobalt.SignatureHeader, hmacHex(e.cobalt.WebhookSecret(), b), len(b), b[:len(b)/2])
		answer := closedWithin(t, conn, 3*time.Second)
		t.Logf("answer: %q", answer)
		if answer != "" && !strings.HasPrefix(answer, "HTTP/1.1 408") {
			t.Errorf("answer %q", answer)
		}
		if _, _, _, ok := e.event("cobalt", "evt_slow"); ok {
			t.Error("half an event was stored")
		}
	})
}

func TestGracefulShutdownFinishesRequestsInFlight(t *testing.T) {
	ln := watch(listen(t))
	e := newEnvOn(t, ln)
	e.addCobalt("clinic_1")
	b := cobaltBody(t, "evt_inflight", "clinic_1", "access_token.login_required", time.Now(), loginRequired("clinic_1"))
	addr := strings.TrimPrefix(e.base, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sent, err := fmt.Fprintf(conn, "POST /webhooks/cobalt HTTP/1.1\r\nHost: relink\r\n%s: %s\r\nContent-Length: %d\r\n\r\n%s",
		cobalt.SignatureHeader, hmacHex(e.cobalt.WebhookSecret(), b), len(b), b[:10])
	if err != nil {
		t.Fatal(err)
	}
	// The server has read the headers and the first bytes of the body, and
	// asks for the rest: the handler is reading the body.
	e.eventually("the server to read the body", func() bool { return ln.conn(conn).waitsAfter(sent) })

	stopped := make(chan error, 1)
	go func() { stopped <- e.shutdown() }()
	e.eventually("the server to close its listener", ln.isClosed)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("the server still takes connections while shutting down")
	}
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	default:
	}
	conn.Write(b[10:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, _, _, ok := e.event("cobalt", "evt_inflight"); !ok {
		t.Fatal("the acknowledged event is not stored")
	}
	// After Serve returned, the handler refuses rather than loses events.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/cobalt", strings.NewReader(string(b)))
	req.Header = e.cobaltHeader(b)
	e.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("after Close: %d %q", rec.Code, rec.Body)
	}
}
