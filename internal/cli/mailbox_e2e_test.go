package cli

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/config"
	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/remind"
	"github.com/relink/relink/store"
)

// TestDemoMailboxPageClickRepairs is issue 11's loop, over HTTP, with the
// demo as relink --demo wires it (openDemo): a reminder sent by email lands
// in the local mailbox; its web page lists it and opens it; the message's
// reconnect link goes through the demo's relink serve to the Plaid
// emulator's hosted update page, whose form repairs the Item; serve's
// recheck after the click turns the connection healthy in the cache.
func TestDemoMailboxPageClickRepairs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the demo")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	a := &app{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	e, rem, err := a.openDemo(ctx, config.Config{Operator: "dana"}, 300, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	defer rem.Close()
	if !strings.HasPrefix(e.mailbox, "http://127.0.0.1:") {
		t.Fatalf("the mailbox page is not on loopback: %q", e.mailbox)
	}

	conn := remindOnePlaidUser(ctx, t, e.st, rem)
	t.Logf("reminded %s (%s) at %s", conn.Ref(), conn.Email, conn.Health.Category)

	// The list names the message; its page carries the reconnect link.
	var msgPath string
	eventuallyCtx(ctx, t, "the reminder on the mailbox page", func() bool {
		_, list := httpGet(t, e.mailbox)
		m := regexp.MustCompile(`<tr><td>` + regexp.QuoteMeta(html.EscapeString(conn.Email)) + `</td><td><a href="(/m/\d+)">[^<]+</a>`).FindStringSubmatch(list)
		if m != nil {
			msgPath = m[1]
		}
		return m != nil
	})
	_, msg := httpGet(t, strings.TrimSuffix(e.mailbox, "/")+msgPath)
	m := regexp.MustCompile(`<a class="button" href="([^"]+/r/[^"]+)">`).FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("no reconnect link on the message's page:\n%s", msg)
	}
	link := html.UnescapeString(m[1])
	if !strings.HasPrefix(link, e.backend.PublicURL+"/r/") {
		t.Fatalf("the link %s is not the demo serve's durable link (%s/r/…)", link, e.backend.PublicURL)
	}

	// The link redirects to the emulator's hosted page; its form repairs.
	resp, page := httpGet(t, link)
	hosted := resp.Request.URL
	if hosted.Host == strings.TrimPrefix(e.backend.PublicURL, "http://") || !strings.Contains(page, "<form") {
		t.Fatalf("the link did not lead to the emulator's hosted page but to %s:\n%s", hosted, page)
	}
	resp, done := submitForm(t, hosted, page)
	if resp.StatusCode != http.StatusOK || !strings.Contains(done, "Connected") {
		t.Fatalf("the emulator's form answered %d:\n%s", resp.StatusCode, done)
	}

	eventuallyCtx(ctx, t, conn.Ref()+" healthy in the cache", func() bool {
		got, err := e.st.Connection(ctx, conn.Provider, conn.ProviderID)
		return err == nil && got.Health.Category == health.Healthy
	})
}

// remindOnePlaidUser sends one email reminder through rem to a failing
// Plaid login_required user with no warning (a warning would keep the
// connection needing the user after the repair), and returns their
// connection. Users the plan skips (reminded within the cooldown, say) are
// passed over.
func remindOnePlaidUser(ctx context.Context, t *testing.T, st *store.Store, rem *backend.Reminders) store.Connection {
	t.Helper()
	conns, err := st.Page(ctx, store.PageQuery{Group: store.Group{Kind: store.GroupCategory, Category: health.LoginRequired},
		Filter: provider.Plaid, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		if c.Provider != provider.Plaid || !c.HasToken || c.Health.Warning != health.NoWarning || c.Email == "" {
			continue
		}
		plan, err := rem.PlanReminders(ctx, []string{c.Ref()}, remind.Email)
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Messages) != 1 {
			continue
		}
		rep, err := rem.SendReminders(ctx, plan, nil)
		if err != nil || rep.Sent != 1 {
			t.Fatalf("sending the reminder to %s: %+v %v", c.Ref(), rep, err)
		}
		return c
	}
	t.Fatalf("no Plaid login_required user to remind among %d", len(conns))
	return store.Connection{}
}

func httpGet(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// submitForm posts the page's one form as its button does: its hidden
// fields as they are, any other input filled in, to its action resolved
// against the page's address.
func submitForm(t *testing.T, at *url.URL, page string) (*http.Response, string) {
	t.Helper()
	form := regexp.MustCompile(`(?s)<form method="post" action="([^"]*)">(.*?)</form>`).FindStringSubmatch(page)
	if form == nil {
		t.Fatalf("no form on %s:\n%s", at, page)
	}
	action, err := at.Parse(html.UnescapeString(form[1]))
	if err != nil {
		t.Fatal(err)
	}
	vals := url.Values{}
	for _, in := range regexp.MustCompile(`<input([^>]*)>`).FindAllStringSubmatch(form[2], -1) {
		name := regexp.MustCompile(`name="([^"]*)"`).FindStringSubmatch(in[1])
		if name == nil {
			continue
		}
		v := "demo"
		if value := regexp.MustCompile(`value="([^"]*)"`).FindStringSubmatch(in[1]); value != nil {
			v = html.UnescapeString(value[1])
		}
		vals.Set(html.UnescapeString(name[1]), v)
	}
	resp, err := http.PostForm(action.String(), vals)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// eventuallyCtx polls ok until it holds, failing when ctx ends first.
func eventuallyCtx(ctx context.Context, t *testing.T, what string, ok func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
	}
}
