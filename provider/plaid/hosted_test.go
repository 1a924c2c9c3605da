package plaid_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/provider/sandbox"
)

func get(t *testing.T, method, u string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHostedLinkFlow is the whole repair loop: a broken Item, an update-mode
// link, the hosted page, its Continue button, and a healthy Item on the
// next poll. No webhook comes of the session, as Plaid's spec says: the
// link token's webhook "will not have an effect" in update mode, and
// LOGIN_REPAIRED is only for an Item repaired "without the user having gone
// through the update mode flow in your app" (2020-09-14.yml), so only the
// poll (relink serve's recheck after a click) sees the repair.
func TestHostedLinkFlow(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, sandbox.PlaidOptions{})
	c := newClient(t, emu, func(cfg *plaid.Config) { cfg.HostedLinkLifetime = 24 * time.Hour })
	rc := newReceiver(t, plaid.NewVerifier(c))
	emu.SetWebhookURL(rc.srv.URL)
	conn := addItem(t, emu, sandbox.Connection{Institution: "First Platypus Bank", UserRef: "user-7",
		Code: "ITEM_LOGIN_REQUIRED"})
	ctx := context.Background()

	if obs, err := c.Check(ctx, conn); err != nil || obs.Signal.Category != health.LoginRequired {
		t.Fatalf("before: %+v, %v", obs.Signal, err)
	}
	lt, err := c.UpdateLink(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	status, page := get(t, http.MethodGet, lt.URL)
	if status != 200 || !strings.Contains(page, "Reconnect First Platypus Bank") || !strings.Contains(page, "Continue") ||
		!strings.Contains(page, `method="post"`) {
		t.Fatalf("hosted page %d:\n%s", status, page)
	}
	status, page = get(t, http.MethodPost, lt.URL)
	if status != 200 || !strings.Contains(page, "Connected. You can close this window.") {
		t.Fatalf("after Continue %d:\n%s", status, page)
	}
	if obs, err := c.Check(ctx, conn); err != nil || obs.Signal.Category != health.Healthy {
		t.Errorf("after: %+v, %v; want healthy", obs.Signal, err)
	}
	if st := waitWebhooks(t, emu); st != (sandbox.PlaidWebhookStats{}) {
		t.Errorf("webhook stats %+v: an update-mode session sends no webhook", st)
	}
	if obs, errs := rc.observations(); len(obs) != 0 || len(errs) != 0 {
		t.Errorf("the receiver got %d observations (%v), want none", len(obs), errs)
	}

	// The used link now only says it is done.
	if status, page := get(t, http.MethodGet, lt.URL); status != 200 || !strings.Contains(page, "Connected") {
		t.Errorf("used link %d:\n%s", status, page)
	}
}

func TestHostedLinkRefused(t *testing.T) {
	t.Parallel()
	clk := newClock()
	emu := newEmulator(t, sandbox.PlaidOptions{Now: clk.Now})
	c := newClient(t, emu, nil) // Plaid's default: 30 minutes
	conn := addItem(t, emu, sandbox.Connection{Code: "ITEM_LOGIN_REQUIRED"})
	lt, err := c.UpdateLink(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(31 * time.Minute)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		if status, page := get(t, method, lt.URL); status != http.StatusGone || !strings.Contains(page, "expired") {
			t.Errorf("%s expired link: %d\n%s", method, status, page)
		}
	}
	if got, _ := emu.Connection(conn.ProviderID); got.Code != "ITEM_LOGIN_REQUIRED" {
		t.Errorf("an expired link repaired the item: %+v", got)
	}
	unknown := emu.URL() + "/hosted/" + url.PathEscape("link-sandbox-nope")
	if status, page := get(t, http.MethodGet, unknown); status != http.StatusNotFound || !strings.Contains(page, "not valid") {
		t.Errorf("unknown link: %d\n%s", status, page)
	}
}
