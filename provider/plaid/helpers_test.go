package plaid_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/provider/sandbox"
)

// These are contract tests: the real client against the real emulator over
// loopback HTTP.

// clock is a settable clock for the emulator and the verifier.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newEmulator(t testing.TB, opts sandbox.PlaidOptions) *sandbox.Plaid {
	t.Helper()
	emu, err := sandbox.NewPlaid(opts)
	if err != nil {
		t.Fatalf("starting the Plaid emulator: %v", err)
	}
	t.Cleanup(func() { emu.Close() })
	return emu
}

// newClient returns a client of emu with generous limits; edit adjusts the config.
func newClient(t testing.TB, emu *sandbox.Plaid, edit func(*plaid.Config)) *plaid.Client {
	t.Helper()
	id, secret := emu.Credentials()
	cfg := plaid.Config{BaseURL: emu.URL(), ClientID: id, Secret: secret, ClientName: "Acme Money",
		HostedLink: true, PerItemPerMinute: 6000, PerClientPerMinute: 600000, Timeout: 5 * time.Second}
	if edit != nil {
		edit(&cfg)
	}
	c, err := plaid.New(cfg)
	if err != nil {
		t.Fatalf("plaid.New: %v", err)
	}
	return c
}

func addItem(t testing.TB, emu *sandbox.Plaid, c sandbox.Connection) provider.Conn {
	t.Helper()
	got, err := emu.AddConnection(c)
	if err != nil {
		t.Fatalf("adding item: %v", err)
	}
	return provider.Conn{ProviderID: got.ID, AccessToken: got.AccessToken, UserRef: got.UserRef}
}

// providerError asserts err is a *provider.Error and returns it.
func providerError(t *testing.T, err error) *provider.Error {
	t.Helper()
	var pe *provider.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *provider.Error", err, err)
	}
	return pe
}

// assertNoSecrets fails if text holds any of the secrets.
func assertNoSecrets(t *testing.T, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("error text leaks a secret (%.6s…): %s", s, text)
		}
	}
}

// receiver is a webhook endpoint like relink serve's: it verifies and parses
// every delivery and keeps the observations.
type receiver struct {
	srv *httptest.Server

	mu   sync.Mutex
	obs  []provider.Observation
	errs []error
}

func newReceiver(t *testing.T, v *plaid.Verifier) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readAll(r)
		if err == nil {
			err = v.Verify(r.Context(), r.Header.Get("Plaid-Verification"), body)
		}
		var obs provider.Observation
		if err == nil {
			obs, err = plaid.ParseWebhook(body, time.Now())
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if err != nil {
			rc.errs = append(rc.errs, err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.obs = append(rc.obs, obs)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) observations() ([]provider.Observation, []error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]provider.Observation(nil), rc.obs...), append([]error(nil), rc.errs...)
}

func readAll(r *http.Request) ([]byte, error) { return io.ReadAll(io.LimitReader(r.Body, 1<<20)) }

func waitWebhooks(t *testing.T, emu *sandbox.Plaid) sandbox.PlaidWebhookStats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := emu.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	return emu.WebhookStats()
}
