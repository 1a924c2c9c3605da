package server

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider/sandbox"
	"github.com/relink/relink/store"
)

// browse GETs or POSTs (form, when not nil) u as a browser does, following
// redirects, and returns where it ended, its status and its page.
func browse(t *testing.T, u string, form url.Values) (*url.URL, int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	var resp *http.Response
	var err error
	if form == nil {
		resp, err = c.Get(u)
	} else {
		resp, err = c.PostForm(u, form)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Request.URL, resp.StatusCode, string(b)
}

var formAction = regexp.MustCompile(`action="([^"]*)"`)

// TestCobaltLinkReturnClosesTheLoop: a durable link sends the user to
// Cobalt's hosted Link (the emulator's) with serve's return page as the
// session's callback; Link redirects there with ?token=<public_token>
// (docs.usecobalt.com/docs/link/setup); serve exchanges it, records the
// completed session, which clears login_required, and says "you're
// reconnected". No callback of our own Link page is involved. A reload
// says the same and records nothing more; a made-up public token, a
// durable link's ticket, another provider's page or no token at all are
// refused and change nothing.
func TestCobaltLinkReturnClosesTheLoop(t *testing.T) {
	e, _ := clickEnv(t)
	ctx := context.Background()
	e.cobalt.SetOnRepairedURL("")
	add := func(id string) string {
		cc, err := e.cobalt.AddConnection(sandbox.Connection{ID: id, Code: "login_required"})
		if err != nil {
			t.Fatal(err)
		}
		e.register(store.Registration{Provider: "cobalt", ProviderID: id, AccessToken: cc.AccessToken, UserRef: "u-" + id, OrgID: e.cobalt.OrgID()})
		if err := e.desk.Check(ctx, "cobalt:"+id); err != nil {
			t.Fatal(err)
		}
		return cc.AccessToken
	}
	access := add("clinic-back")
	add("clinic-other")

	link := e.click("cobalt:clinic-back")
	lu, _ := url.Parse(link)
	cb, _ := url.Parse(lu.Query().Get("callback_url"))
	if !strings.HasPrefix(link, e.cobalt.URL()+"/link?token=lt_") || cb.Host != strings.TrimPrefix(e.base, "http://") ||
		!strings.HasPrefix(cb.Path, "/cobalt/done/") {
		t.Fatalf("the click leads to %s, want Cobalt Link with serve's return page as callback_url", link)
	}
	_, status, form := browse(t, link, nil)
	m := formAction.FindStringSubmatch(form)
	if status != 200 || m == nil {
		t.Fatalf("Link page %d:\n%s", status, form)
	}
	events := e.events()
	landed, status, page := browse(t, e.cobalt.URL()+strings.ReplaceAll(m[1], "&amp;", "&"),
		url.Values{"token": {lu.Query().Get("token")}, "password": {"new"}})
	if status != 200 || landed.Path != cb.Path || landed.Query().Get("token") == "" || !strings.Contains(page, "reconnected") {
		t.Fatalf("after Link: %d at %s:\n%s", status, landed, page)
	}
	c := e.connection("cobalt", "clinic-back")
	if c.Health.Category != health.Healthy || c.Health.Source != health.SourceLinkResult || e.events() != events+1 {
		t.Fatalf("after the return: %+v, %d new events; want the completed session recorded", c.Health, e.events()-events)
	}
	if got, _ := e.st.AccessToken(ctx, "cobalt", "clinic-back"); got != access {
		t.Error("the access token changed though Cobalt's exchange gave the same one")
	}

	// A reload: the public token is spent, the session recorded already.
	if _, status, page := browse(t, landed.String(), nil); status != 200 || !strings.Contains(page, "reconnected") || e.events() != events+1 {
		t.Errorf("reload: %d, %d new events:\n%s", status, e.events()-events, page)
	}

	// The other connection's return page, with a public token Cobalt never gave.
	other := e.click("cobalt:clinic-other")
	ou, _ := url.Parse(other)
	ocb := ou.Query().Get("callback_url")
	if _, status, _ := browse(t, ocb+"?token=pt_madeup", nil); status != http.StatusBadGateway || e.category("cobalt", "clinic-other") != health.LoginRequired {
		t.Errorf("made-up public token: %d, %s", status, e.category("cobalt", "clinic-other"))
	}
	if _, status, _ := browse(t, ocb, nil); status != http.StatusNotFound {
		t.Errorf("no public token: %d", status)
	}
	ticketOf := func(u string) string { return u[strings.LastIndex(u, "/")+1:] }
	durable, err := e.desk.DurableLink(ctx, "cobalt:clinic-other")
	if err != nil {
		t.Fatal(err)
	}
	for what, u := range map[string]string{
		"a durable link's ticket": e.base + "/cobalt/done/" + ticketOf(durable.URL) + "?token=pt_x",
		"Belvo's page":            e.base + "/belvo/done/" + ticketOf(ocb),
		"Cobalt's exit":           e.base + "/cobalt/exit/" + ticketOf(ocb),
		"a forged ticket":         e.base + "/cobalt/done/" + ticketOf(ocb)[:20] + "x.y?token=pt_x",
		"a return ticket at /r/":  e.base + "/r/" + ticketOf(ocb),
	} {
		if _, status, _ := browse(t, u, nil); status != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", what, status)
		}
	}
	if got := e.category("cobalt", "clinic-other"); got != health.LoginRequired {
		t.Errorf("the refusals changed clinic-other: %s", got)
	}
	if logs := e.logs.String(); strings.Contains(logs, landed.Query().Get("token")) || strings.Contains(logs, ticketOf(ocb)) {
		t.Error("the log holds a public token or a return ticket")
	}
}

// TestBelvoWidgetReturnsToServe: the widget token a durable link mints
// asks for widget.callback_urls {success, exit} at serve's pages; the
// emulator's hosted widget, as Belvo's, offers the exit and sends a user
// who finishes to success. Leaving says the connection was not updated;
// finishing says "you're reconnected" and reads the link at once (no
// webhook is needed, and the recheck schedule is not waited for).
func TestBelvoWidgetReturnsToServe(t *testing.T) {
	e, _ := clickEnv(t)
	ctx := context.Background()
	e.belvo.SetWebhookURL("") // no historical_update webhook: only the recheck can tell
	l, err := e.belvo.AddConnection(sandbox.Connection{Code: "invalid", Institution: "erebor_mx_retail"})
	if err != nil {
		t.Fatal(err)
	}
	e.register(store.Registration{Provider: "belvo", ProviderID: l.ID, UserRef: "u-belvo"})
	ref := "belvo:" + l.ID
	if err := e.desk.Check(ctx, ref); err != nil {
		t.Fatal(err)
	}
	widget := e.click(ref)
	_, status, page := browse(t, widget, nil)
	exit := regexp.MustCompile(`id="exit" href="([^"]*)"`).FindStringSubmatch(page)
	if status != 200 || exit == nil || !strings.HasPrefix(exit[1], e.base+"/belvo/exit/") {
		t.Fatalf("widget %d without an exit to serve:\n%s", status, page)
	}
	if _, status, page := browse(t, strings.ReplaceAll(exit[1], "&amp;", "&"), nil); status != 200 || !strings.Contains(page, "not finished") ||
		e.category("belvo", l.ID) != health.LoginRequired {
		t.Errorf("exit: %d %s:\n%s", status, e.category("belvo", l.ID), page)
	}

	wu, _ := url.Parse(widget)
	landed, status, page := browse(t, widget, url.Values{"access_token": {wu.Query().Get("access_token")}, "password": {"new"}})
	if status != 200 || !strings.HasPrefix(landed.Path, "/belvo/done/") || landed.Query().Get("link") != l.ID || !strings.Contains(page, "reconnected") {
		t.Fatalf("after the widget: %d at %s:\n%s", status, landed, page)
	}
	e.eventually("the link read again at once", func() bool {
		return e.category("belvo", l.ID) == health.Healthy && e.rechecked() == 1
	})
	if c := e.connection("belvo", l.ID); c.Health.Source != health.SourcePoll {
		t.Errorf("healthy by %s, want the recheck's poll", c.Health.Source)
	}
}
