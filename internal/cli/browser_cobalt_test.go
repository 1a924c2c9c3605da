package cli

import (
	"testing"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/store"
)

// TestBrowserDurableLinkRepairsCobalt is the demo's Cobalt loop (issue 14,
// point 6) in headless Chromium: a durable link served by the demo's
// relink serve redirects to the Cobalt emulator's hosted Link with serve's
// return page as the session's callback; pressing Reconnect completes
// Link, which redirects back with ?token=<public_token>; serve exchanges
// it, records the completed session and shows "You're reconnected", and
// the connection is healthy in the cache. No callback of a Link page of
// ours is involved (the demo sets none). It skips when Chromium is missing,
// except under CI=true, where that is a failure.
func TestBrowserDurableLinkRepairsCobalt(t *testing.T) {
	ctx, env, newPage := browserDemo(t, 300)
	conns, err := env.Store.Page(ctx, store.PageQuery{Group: store.Group{Kind: store.GroupAllFailing}, Filter: provider.Cobalt, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var conn store.Connection
	for _, c := range conns {
		if c.Provider == provider.Cobalt && c.HasToken && c.Health.Category.Failing() && c.Health.Warning == health.NoWarning {
			conn = c
			break
		}
	}
	if conn.ID == 0 {
		t.Fatalf("the demo has no failing Cobalt connection among %d rows", len(conns))
	}
	link, err := env.Backend.DurableLink(ctx, conn.Ref())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("connection %s (%s), durable link %s", conn.Ref(), conn.Health.Category, link.URL)

	page := newPage()
	if err := page.Navigate(ctx, link.URL); err != nil {
		t.Fatal(err)
	}
	browserWaitPage(ctx, t, page, "the Cobalt emulator's hosted Link with serve's callback",
		`location.href.startsWith(`+browserJSString(env.Cobalt.URL()+"/link?")+`) && new URL(location.href).searchParams.get("callback_url").startsWith(`+
			browserJSString(env.WebhookBase+"/cobalt/done/")+`) && document.readyState === "complete" && !!document.querySelector("form button")`)
	if err := page.Eval(ctx, `document.querySelector("form button").click()`, nil); err != nil {
		t.Fatal(err)
	}
	browserWaitPage(ctx, t, page, "serve's page saying the user is reconnected",
		`location.href.startsWith(`+browserJSString(env.WebhookBase+"/cobalt/done/")+`) && new URL(location.href).searchParams.get("token") !== null && `+
			`document.readyState === "complete" && !!document.querySelector("h1") && document.querySelector("h1").textContent === "You're reconnected"`)

	got, err := env.Store.Connection(ctx, conn.Provider, conn.ProviderID)
	if err != nil || got.Health.Category != health.Healthy || got.Health.Source != health.SourceLinkResult {
		t.Fatalf("%s after the return: %+v, %v; want healthy by the completed Link session", conn.Ref(), got.Health, err)
	}

	// The durable link, opened again, now says nothing needs doing.
	if err := page.Navigate(ctx, link.URL); err != nil {
		t.Fatal(err)
	}
	browserWaitPage(ctx, t, page, "serve's page saying nothing needs doing",
		`location.href === `+browserJSString(link.URL)+` && document.readyState === "complete" && !!document.querySelector("h1") && document.querySelector("h1").textContent === "Nothing to do"`)
}
