package plaid_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/provider/sandbox"
)

func TestUpdateLink(t *testing.T) {
	t.Parallel()
	clk := newClock()
	emu := newEmulator(t, sandbox.PlaidOptions{Now: clk.Now})
	conn := addItem(t, emu, sandbox.Connection{UserRef: "user-8841", Code: "ITEM_LOGIN_REQUIRED"})
	cases := []struct {
		name       string
		edit       func(*plaid.Config)
		wantPrefix string
		wantLife   time.Duration
	}{
		{"hosted, 7 days", func(cfg *plaid.Config) { cfg.HostedLinkLifetime = 7 * 24 * time.Hour },
			emu.URL() + "/hosted/link-sandbox-", 7 * 24 * time.Hour},
		{"hosted, Plaid's default", nil, emu.URL() + "/hosted/link-sandbox-", 30 * time.Minute},
		{"hosted, 21 days", func(cfg *plaid.Config) { cfg.HostedLinkLifetime = plaid.MaxHostedLinkLifetime },
			emu.URL() + "/hosted/link-sandbox-", 21 * 24 * time.Hour},
		{"our page", func(cfg *plaid.Config) {
			cfg.HostedLink, cfg.LinkURL = false, "https://app.example/relink?token={{.Token}}&x=1"
		}, "https://app.example/relink?token=link-sandbox-", 30 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, emu, tc.edit)
			lt, err := c.UpdateLink(context.Background(), conn)
			if err != nil {
				t.Fatalf("UpdateLink: %v", err)
			}
			if !strings.HasPrefix(lt.URL, tc.wantPrefix) {
				t.Errorf("URL %q, want prefix %q", lt.URL, tc.wantPrefix)
			}
			if want := clk.Now().Add(tc.wantLife); !lt.ExpiresAt.Equal(want) {
				t.Errorf("expires %v, want %v", lt.ExpiresAt, want)
			}
			assertNoSecrets(t, lt.URL, conn.AccessToken)
		})
	}
}

func TestUpdateLinkFailures(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, sandbox.PlaidOptions{})
	c := newClient(t, emu, nil)
	stale := provider.Conn{ProviderID: "item-x", AccessToken: "access-sandbox-not-known-0000"}
	_, err := c.UpdateLink(context.Background(), stale)
	pe := providerError(t, err)
	if pe.Call != "POST /link/token/create" || pe.Code != "INVALID_ACCESS_TOKEN" || pe.Signal.Category != health.IntegrationError {
		t.Errorf("unknown token: %#v", pe)
	}
	assertNoSecrets(t, err.Error(), stale.AccessToken)

	_, err = c.UpdateLink(context.Background(), provider.Conn{ProviderID: "item-x"})
	if pe := providerError(t, err); !strings.Contains(pe.Message, "no access token") {
		t.Errorf("no token: %v", err)
	}

	const secret = "wrong-secret-for-link-0000"
	bad := newClient(t, emu, func(cfg *plaid.Config) { cfg.Secret = secret })
	conn := addItem(t, emu, sandbox.Connection{})
	_, err = bad.UpdateLink(context.Background(), conn)
	if pe := providerError(t, err); pe.Code != "INVALID_API_KEYS" {
		t.Errorf("bad keys: %v", err)
	}
	assertNoSecrets(t, err.Error(), secret, conn.AccessToken)
}

// TestUpdateLinkUserRef: client_user_id is the user ref, else the item id;
// the emulator refuses a request without one, so success shows it was sent.
func TestUpdateLinkUserRef(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, sandbox.PlaidOptions{})
	c := newClient(t, emu, nil)
	conn := addItem(t, emu, sandbox.Connection{})
	conn.UserRef = ""
	if _, err := c.UpdateLink(context.Background(), conn); err != nil {
		t.Errorf("UpdateLink without a user ref: %v", err)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	const secret = "the-secret-must-not-show"
	good := plaid.Config{BaseURL: "https://sandbox.plaid.com/", ClientID: "cid", Secret: secret, ClientName: "Acme", HostedLink: true}
	if _, err := plaid.New(good); err != nil {
		t.Fatalf("good config: %v", err)
	}
	cases := []struct {
		name string
		edit func(*plaid.Config)
		want string
	}{
		{"no base URL", func(c *plaid.Config) { c.BaseURL = "" }, "plaid.base_url"},
		{"bad base URL", func(c *plaid.Config) { c.BaseURL = "ftp://x" }, "plaid.base_url"},
		{"no client id", func(c *plaid.Config) { c.ClientID = "" }, "plaid.client_id"},
		{"no secret", func(c *plaid.Config) { c.Secret = "" }, "plaid.secret"},
		{"no client name", func(c *plaid.Config) { c.ClientName = "" }, "plaid.client_name"},
		{"nowhere to link", func(c *plaid.Config) { c.HostedLink = false }, "plaid.link_url"},
		{"template syntax", func(c *plaid.Config) { c.HostedLink, c.LinkURL = false, "https://a/{{.Token" }, "plaid.link_url"},
		{"template field", func(c *plaid.Config) { c.HostedLink, c.LinkURL = false, "https://a/{{.Tok}}" }, "plaid.link_url"},
		{"lifetime too long", func(c *plaid.Config) { c.HostedLinkLifetime = 22 * 24 * time.Hour }, "21 days"},
		{"negative limit", func(c *plaid.Config) { c.PerItemPerMinute = -1 }, "rate limits"},
	}
	for _, tc := range cases {
		cfg := good
		tc.edit(&cfg)
		_, err := plaid.New(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
			continue
		}
		assertNoSecrets(t, err.Error(), secret)
	}
}
