package cli

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/relink/relink/config"
	"github.com/relink/relink/health"
	"github.com/relink/relink/internal/cdp"
)

// TestBrowserMailboxLinkRepairs is issue 11's loop as the newcomer clicks
// it, in headless Chromium against the demo as relink --demo wires it: a
// reminder sent by email shows on the mailbox page; a click opens it, a
// click on its reconnect link reaches the Plaid emulator's hosted page
// through the demo's relink serve, a click on its button repairs the Item,
// and serve's recheck turns the connection healthy in the cache. It skips
// as the other browser tests do.
func TestBrowserMailboxLinkRepairs(t *testing.T) {
	exe, err := cdp.Find()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v; CI must install it (.ci/run: apt-get install -y chromium) to run the browser test", err)
		}
		t.Skipf("skipping the browser test: %v (apt-get install chromium to run it)", err)
	}
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("browser test skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	a := &app{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	e, rem, err := a.openDemo(ctx, config.Config{Operator: "dana"}, 200, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	defer rem.Close()
	conn := remindOnePlaidUser(ctx, t, e.st, rem)

	br, err := cdp.Launch(exe, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := br.Close(); err != nil {
			t.Errorf("stopping chromium: %v", err)
		}
	}()
	page, err := br.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := page.Navigate(ctx, e.mailbox); err != nil {
		t.Fatal(err)
	}
	row := `[...document.querySelectorAll("tbody tr")].find(r => r.cells[0].textContent === ` + browserJSString(conn.Email) + `)`
	browserWaitPage(ctx, t, page, "the reminder listed on the mailbox page", `document.readyState === "complete" && !!`+row)
	if err := page.Eval(ctx, row+`.querySelector("a").click()`, nil); err != nil {
		t.Fatal(err)
	}
	browserWaitPage(ctx, t, page, "the message's page with its reconnect link",
		`document.readyState === "complete" && !!document.querySelector("a.button") && document.querySelector("pre").innerText.includes("Reconnect: ")`)
	if err := page.Eval(ctx, `document.querySelector("a.button").click()`, nil); err != nil {
		t.Fatal(err)
	}
	browserWaitPage(ctx, t, page, "the Plaid emulator's hosted update page",
		`!location.href.startsWith(`+browserJSString(e.backend.PublicURL)+`) && location.pathname.startsWith("/hosted/") && document.readyState === "complete" && !!document.querySelector("form button")`)
	if err := page.Eval(ctx, `document.querySelector("form button").click()`, nil); err != nil {
		t.Fatal(err)
	}
	browserWaitPage(ctx, t, page, "the emulator's page saying the account is connected",
		`document.readyState === "complete" && !!document.querySelector("h1") && document.querySelector("h1").textContent === "Connected"`)
	eventuallyCtx(ctx, t, conn.Ref()+" healthy in the cache", func() bool {
		got, err := e.st.Connection(ctx, conn.Provider, conn.ProviderID)
		return err == nil && got.Health.Category == health.Healthy
	})
}
