package backend_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/store"
)

func TestNoteLinkUseRecordsHistoryAndAuditWithoutTheToken(t *testing.T) {
	w := newLinkWorld(t)
	ctx := context.Background()
	direct, err := w.desk.DirectLink(ctx, "plaid:item-broken")
	if err != nil {
		t.Fatal(err)
	}
	durable, err := w.desk.DurableLink(ctx, "plaid:item-broken")
	if err != nil {
		t.Fatal(err)
	}
	*w.clock = w.clock.Add(time.Minute)
	if err := w.desk.NoteLinkUse(ctx, "plaid:item-broken", "direct", backend.LinkCopied); err != nil {
		t.Fatal(err)
	}
	*w.clock = w.clock.Add(time.Minute)
	if err := w.desk.NoteLinkUse(ctx, "plaid:item-broken", "durable", backend.LinkOpened); err != nil {
		t.Fatal(err)
	}

	// What must never be written: the URLs, the link token in them, the
	// durable ticket, the access token.
	secrets := []string{direct.URL, durable.URL, "SECRET", "link-sandbox"}
	du, _ := url.Parse(direct.URL)
	secrets = append(secrets, strings.TrimPrefix(du.Path, "/hosted/"), ticketOf(t, durable.URL))
	holdsSecret := func(s string) string {
		for _, sec := range secrets {
			if sec != "" && strings.Contains(s, sec) {
				return sec
			}
		}
		return ""
	}

	conn, _ := w.st.Connection(ctx, "plaid", "item-broken")
	hist, err := w.st.History(ctx, conn.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	var summaries []string
	for _, h := range hist {
		if h.Kind == "link" {
			summaries = append(summaries, h.Summary)
		}
		if s := holdsSecret(h.Summary); s != "" {
			t.Fatalf("history holds %q: %q", s, h.Summary)
		}
	}
	got := strings.Join(summaries, "\n")
	for _, want := range []string{"durable link opened by dana", "direct link copied by dana"} {
		if !strings.Contains(got, want) {
			t.Fatalf("history lacks %q:\n%s", want, got)
		}
	}
	if !strings.HasPrefix(got, "durable link opened by dana\ndirect link copied by dana\n") {
		t.Fatalf("history, newest first:\n%s", got)
	}

	var uses []store.AuditEntry
	err = w.st.AuditSince(ctx, time.Time{}, func(e store.AuditEntry) error {
		if s := holdsSecret(e.Target + " " + e.Detail); s != "" {
			t.Fatalf("audit entry holds %q: %+v", s, e)
		}
		if e.Action == "copy" || e.Action == "open" {
			uses = append(uses, e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(uses) != 2 {
		t.Fatalf("audit uses %+v", uses)
	}
	start := w.clock.Add(-2 * time.Minute)
	for i, want := range []store.AuditEntry{
		{At: start.Add(time.Minute), Operator: "dana", Action: "copy", Target: "plaid:item-broken", Detail: "direct link"},
		{At: start.Add(2 * time.Minute), Operator: "dana", Action: "open", Target: "plaid:item-broken", Detail: "durable link"},
	} {
		g := uses[i]
		if g.Operator != want.Operator || g.Action != want.Action || g.Target != want.Target || g.Detail != want.Detail ||
			!g.At.Equal(want.At.Truncate(time.Millisecond)) {
			t.Fatalf("audit %d = %+v, want %+v", i, g, want)
		}
	}
}

func TestNoteLinkUseRefusesWhatItCannotRecord(t *testing.T) {
	w := newLinkWorld(t)
	ctx := context.Background()
	for _, c := range []struct {
		ref    string
		kind   store.LinkKind
		action string
		want   string
	}{
		{"plaid:item-broken", "secret", backend.LinkCopied, "unknown link kind"},
		{"plaid:item-broken", "direct", "printed", "unknown action"},
		{"plaid:item-nobody", "direct", backend.LinkCopied, "not found"},
		{"item-broken", "direct", backend.LinkCopied, "not a connection id"},
	} {
		err := w.desk.NoteLinkUse(ctx, c.ref, c.kind, c.action)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NoteLinkUse(%s, %s, %s) = %v, want %q", c.ref, c.kind, c.action, err, c.want)
		}
	}
	conn, _ := w.st.Connection(ctx, "plaid", "item-broken")
	hist, _ := w.st.History(ctx, conn.ID, 10)
	for _, h := range hist {
		if strings.Contains(h.Summary, " by dana") && !strings.Contains(h.Summary, "minted") {
			t.Fatalf("a refused use was recorded: %q", h.Summary)
		}
	}
}
