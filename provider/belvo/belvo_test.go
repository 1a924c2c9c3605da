package belvo_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/belvo"
	"github.com/relink/relink/provider/sandbox"
)

// env is a Belvo emulator, a client configured for it, and a webhook
// receiver that verifies and parses what the emulator sends.
type env struct {
	emu    *sandbox.Belvo
	client *belvo.Client
	cfg    belvo.Config // the client's
	hooks  chan provider.Observation
}

func newEnv(t testing.TB, mod func(*belvo.Config)) *env {
	t.Helper()
	e := &env{hooks: make(chan provider.Observation, 16)}
	var parser *belvo.Client // set below; the receiver starts first
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := belvo.VerifyWebhook(r.Header.Get("Authorization"), e.emu.WebhookAuthorization()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		obs, err := parser.ParseWebhook(body, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		e.hooks <- obs
	}))
	t.Cleanup(recv.Close)
	emu, err := sandbox.NewBelvo(sandbox.BelvoOptions{WebhookURL: recv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	e.emu = emu
	id, pw := emu.Credentials()
	cfg := belvo.Config{BaseURL: emu.URL(), SecretID: id, SecretPassword: pw, WidgetURL: emu.WidgetURL(),
		Timeout: 2 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	c, err := belvo.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.client, e.cfg, parser = c, cfg, c
	return e
}

// withTimeout is e with another client of the emulator, whose attempts
// give up after d. Only a step that makes the emulator hang needs a short
// one: every other answer comes well within the default.
func (e *env) withTimeout(t testing.TB, d time.Duration) *env {
	t.Helper()
	cfg := e.cfg
	cfg.Timeout = d
	c, err := belvo.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	short := *e
	short.client = c
	return &short
}

func (e *env) add(t testing.TB, c sandbox.Connection) string {
	t.Helper()
	c, err := e.emu.AddConnection(c)
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// sync runs a full Sync and returns the observations in order.
func (e *env) sync(t testing.TB) ([]provider.Observation, error) {
	t.Helper()
	var out []provider.Observation
	cur, err := e.client.Sync(context.Background(), nil, "keep", func(o provider.Observation) error {
		out = append(out, o)
		return nil
	})
	if cur != "keep" {
		t.Errorf("cursor %q, want it unchanged", cur)
	}
	return out, err
}

// providerError asserts err is a *provider.Error and that no secret leaks.
func providerError(t *testing.T, err error, secrets ...string) *provider.Error {
	t.Helper()
	var pe *provider.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *provider.Error", err, err)
	}
	if pe.Provider != provider.Belvo || pe.Call == "" || pe.Hint == "" {
		t.Errorf("incomplete error: %+v", pe)
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains a secret", err)
		}
	}
	return pe
}

func wantSignal(t *testing.T, s *health.Signal, cat health.Category) {
	t.Helper()
	if s == nil {
		t.Fatalf("no signal, want %s", cat)
	}
	if s.Category != cat {
		t.Errorf("category %s, want %s", s.Category, cat)
	}
	if s.ObservedAt.IsZero() {
		t.Error("signal has no time")
	}
}

func TestNewValidates(t *testing.T) {
	ok := belvo.Config{BaseURL: "https://api.belvo.com", SecretID: "id", SecretPassword: "pw-secret-1"}
	if _, err := belvo.New(ok); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for name, tc := range map[string]struct {
		mod  func(*belvo.Config)
		want string
	}{
		"no base url":      {func(c *belvo.Config) { c.BaseURL = "" }, "belvo.base_url"},
		"relative url":     {func(c *belvo.Config) { c.BaseURL = "api.belvo.com" }, "belvo.base_url"},
		"plain http":       {func(c *belvo.Config) { c.BaseURL = "http://api.belvo.com" }, "https"},
		"userinfo":         {func(c *belvo.Config) { c.BaseURL = "https://u:pw-secret-1@api.belvo.com" }, "credentials"},
		"no secret id":     {func(c *belvo.Config) { c.SecretID = "" }, "BELVO_SECRET_ID"},
		"no password":      {func(c *belvo.Config) { c.SecretPassword = "" }, "BELVO_SECRET_PASSWORD"},
		"bad widget url":   {func(c *belvo.Config) { c.WidgetURL = "ftp://widget" }, "belvo.widget_url"},
		"page size":        {func(c *belvo.Config) { c.PageSize = 1001 }, "page size"},
		"negative timeout": {func(c *belvo.Config) { c.Timeout = -time.Second }, "timeout"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := ok
			tc.mod(&cfg)
			_, err := belvo.New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "pw-secret-1") {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
	for _, loop := range []string{"http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:2"} {
		cfg := ok
		cfg.BaseURL = loop
		if _, err := belvo.New(cfg); err != nil {
			t.Errorf("%s: %v", loop, err)
		}
	}
	c, _ := belvo.New(ok)
	if c.Name() != "belvo" {
		t.Errorf("Name %q", c.Name())
	}
}
