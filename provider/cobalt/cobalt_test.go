package cobalt_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/cobalt"
	"github.com/relink/relink/provider/sandbox"
)

// env is a Cobalt emulator with a ticking clock, a client configured for
// it, and receivers that verify and parse its webhooks and repaired
// callbacks.
type env struct {
	emu      *sandbox.Cobalt
	client   *cobalt.Client
	cfg      cobalt.Config // the client's
	hooks    chan provider.Observation
	repaired chan provider.Observation
}

// clock ticks one second per reading, so every event has its own time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func newEnv(t *testing.T, legacy bool, mod func(*cobalt.Config)) *env {
	t.Helper()
	return newEnvWith(t, func(o *sandbox.CobaltOptions) { o.LegacyEvents = legacy }, mod)
}

// newEnvWith is newEnv with the emulator's options changed by emu.
func newEnvWith(t *testing.T, emuOpts func(*sandbox.CobaltOptions), mod func(*cobalt.Config)) *env {
	t.Helper()
	e := &env{hooks: make(chan provider.Observation, 512), repaired: make(chan provider.Observation, 16)}
	var secret string // known once the emulator runs
	clk := &clock{t: time.Date(2025, 10, 21, 14, 30, 0, 0, time.UTC)}
	receiver := func(parse func([]byte, time.Time) (provider.Observation, error), out chan provider.Observation) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if err := cobalt.VerifyWebhook(r.Header.Get(cobalt.SignatureHeader), body, secret); err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			obs, err := parse(body, clk.now())
			if errors.Is(err, cobalt.ErrUnreadableEvent) {
				// Verified but unreadable: acknowledged, as relink serve
				// must (Cobalt does not retry a 4xx).
				out <- provider.Observation{Kind: "skipped", Skipped: err}
				return
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			out <- obs
		}))
		t.Cleanup(s.Close)
		return s
	}
	opts := sandbox.CobaltOptions{Now: clk.now,
		WebhookURL:    receiver(cobalt.ParseWebhook, e.hooks).URL,
		OnRepairedURL: receiver(cobalt.ParseLinkResult, e.repaired).URL}
	if emuOpts != nil {
		emuOpts(&opts)
	}
	emu, err := sandbox.NewCobalt(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	secret = emu.WebhookSecret()
	e.emu = emu
	id, cs := emu.Credentials()
	cfg := cobalt.Config{BaseURL: emu.URL(), ClientID: id, ClientSecret: cs, LinkURL: emu.LinkURL(),
		Timeout: 2 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	if e.client, err = cobalt.New(cfg); err != nil {
		t.Fatal(err)
	}
	e.cfg = cfg
	return e
}

// withTimeout is another client of the emulator, whose attempts give up
// after d. Only a step that makes the emulator hang needs a short one:
// every other answer comes well within the default.
func (e *env) withTimeout(t *testing.T, d time.Duration) *cobalt.Client {
	t.Helper()
	cfg := e.cfg
	cfg.Timeout = d
	c, err := cobalt.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// withConfig is another client of the emulator, its config changed by mod.
func (e *env) withConfig(t *testing.T, mod func(*cobalt.Config)) *cobalt.Client {
	t.Helper()
	cfg := e.cfg
	mod(&cfg)
	c, err := cobalt.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// add registers a connection and returns what the registry would hold.
func (e *env) add(t *testing.T, c sandbox.Connection) provider.Conn {
	t.Helper()
	c, err := e.emu.AddConnection(c)
	if err != nil {
		t.Fatal(err)
	}
	return provider.Conn{ProviderID: c.ID, AccessToken: c.AccessToken, UserRef: c.UserRef, OrgID: e.emu.OrgID()}
}

// settings calls the emulator's GET /v1/settings with an access token and
// returns the HTTP status.
func (e *env) settings(accessToken string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, e.emu.URL()+"/v1/settings", nil)
	if err != nil {
		return 0, err
	}
	id, secret := e.emu.Credentials()
	req.Header["client_id"] = []string{id}
	req.Header["client_secret"] = []string{secret}
	req.Header["access_token"] = []string{accessToken}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// only keeps the observations of one kind.
func only(kind string, obs []provider.Observation) []provider.Observation {
	var out []provider.Observation
	for _, o := range obs {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// providerError asserts err is a *provider.Error and that no secret leaks.
func providerError(t *testing.T, err error, secrets ...string) *provider.Error {
	t.Helper()
	var pe *provider.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *provider.Error", err, err)
	}
	if pe.Provider != provider.Cobalt || pe.Call == "" || pe.Hint == "" {
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
}

func TestNewValidates(t *testing.T) {
	ok := cobalt.Config{BaseURL: "https://api.usecobalt.com", ClientID: "ci_live_1", ClientSecret: "cs_live_secret"}
	c, err := cobalt.New(ok)
	if err != nil || c.Name() != "cobalt" {
		t.Fatalf("valid config: %v", err)
	}
	for name, tc := range map[string]struct {
		mod  func(*cobalt.Config)
		want string
	}{
		"no base url":      {func(c *cobalt.Config) { c.BaseURL = "" }, "cobalt.base_url"},
		"plain http":       {func(c *cobalt.Config) { c.BaseURL = "http://api.usecobalt.com" }, "https"},
		"no client id":     {func(c *cobalt.Config) { c.ClientID = "" }, "COBALT_CLIENT_ID"},
		"no secret":        {func(c *cobalt.Config) { c.ClientSecret = "" }, "COBALT_CLIENT_SECRET"},
		"bad template":     {func(c *cobalt.Config) { c.LinkURL = "https://x/?t={{.Token" }, "cobalt.link_url"},
		"no token":         {func(c *cobalt.Config) { c.LinkURL = "https://x/link" }, "{{.Token}}"},
		"unknown field":    {func(c *cobalt.Config) { c.LinkURL = "https://x/?t={{.Tok}}" }, "cobalt.link_url"},
		"relative link":    {func(c *cobalt.Config) { c.LinkURL = "/link?token={{.Token}}" }, "cobalt.link_url"},
		"negative timeout": {func(c *cobalt.Config) { c.Timeout = -1 }, "timeout"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := ok
			tc.mod(&cfg)
			_, err := cobalt.New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "cs_live_secret") {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
	v1 := ok
	v1.BaseURL = "https://api.usecobalt.com/v1/"
	if _, err := cobalt.New(v1); err != nil {
		t.Errorf("base URL with /v1: %v", err)
	}
}
