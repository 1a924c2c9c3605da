package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
)

// directShapes are the direct links each provider mints (provider/*/token.go):
// the URL, the token in it, and the origin that is all that may be stored.
var directShapes = []struct {
	name, url, token, origin string
}{
	{"plaid hosted link", "https://secure.plaid.com/hl/lp-sandbox-8f3c1a2b-6d4e-4f10-9a7b-1c2d3e4f5a6b", "lp-sandbox-8f3c1a2b", "https://secure.plaid.com"},
	{"plaid link_url", "https://app.example.com/plaid/update?token=link-sandbox-3eea47bf-6a7f-4558-b96b-7e17c62238bb", "link-sandbox-3eea47bf", "https://app.example.com"},
	{"plaid sandbox", "http://127.0.0.1:40123/hosted/link-sandbox-6f1c2d9e-8a4b-4c1e-9f0a-1b2c3d4e5f60", "link-sandbox-6f1c2d9e", "http://127.0.0.1:40123"},
	{"belvo widget", "https://widget.belvo.io/?access_token=eyJhbGciOiJIUzI1NiJ9.WIDGETSECRET.sig&locale=es", "WIDGETSECRET", "https://widget.belvo.io"},
	{"cobalt link", "https://link.usecobalt.com?token=lt_sandbox_4b9e2f7c1d", "lt_sandbox_4b9e2f7c1d", "https://link.usecobalt.com"},
	{"cobalt fragment and user info", "https://ops:pw@link.example:8443/cobalt#token=lt_frag_77aa", "lt_frag_77aa", "https://link.example:8443"},
}

// fileText is the database file and its WAL, as bytes on disk.
func fileText(t *testing.T, path string) []byte {
	t.Helper()
	var all []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

func TestDirectLinksAreStoredWithoutTheirToken(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	importRows(t, s, Registration{Provider: "plaid", ProviderID: "i1", Name: "Ana"})
	c, err := s.Connection(ctx, "plaid", "i1")
	if err != nil {
		t.Fatal(err)
	}
	exp := t0.Add(30 * time.Minute)
	for i, sh := range directShapes {
		if _, err := s.AddLink(ctx, Link{ConnectionID: c.ID, Kind: LinkDirect, URL: sh.url, ExpiresAt: &exp, Operator: "dana",
			TokenHash: fmt.Sprintf("%064x", i+1), CreatedAt: t0.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	durable := "https://relink.example.com/r/eyJpIjoiYWJjIn0.c2lnbmF0dXJl"
	if _, err := s.AddLink(ctx, Link{ConnectionID: c.ID, Kind: LinkDurable, URL: durable, Ticket: "abc", ExpiresAt: &exp,
		Operator: "dana", CreatedAt: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	links, err := s.Links(ctx, c.ID, 20)
	if err != nil || len(links) != len(directShapes)+1 {
		t.Fatalf("links %d, %v", len(links), err)
	}
	byOrigin := map[string]Link{}
	for _, l := range links {
		byOrigin[l.URL] = l
	}
	for i, sh := range directShapes {
		l, ok := byOrigin[sh.origin]
		if !ok {
			t.Errorf("%s: no link stored as %s: %+v", sh.name, sh.origin, links)
			continue
		}
		if l.Kind != LinkDirect || l.Reusable() || l.ExpiresAt == nil || !l.ExpiresAt.Equal(exp) || l.Host() == "" {
			t.Errorf("%s: %+v (reusable %v, host %q)", sh.name, l, l.Reusable(), l.Host())
		}
		if pid, err := s.ConnectionByLinkToken(ctx, "plaid", fmt.Sprintf("%064x", i+1)); err != nil || pid != "i1" {
			t.Errorf("%s: the token hash no longer finds the connection: %q %v", sh.name, pid, err)
		}
	}
	if l, err := s.LinkByTicket(ctx, "abc"); err != nil || l.URL != durable || !l.Reusable() || l.Host() != "relink.example.com" {
		t.Errorf("durable link %+v %v, want it whole", l, err)
	}
	s.Close()
	disk := fileText(t, s.Path())
	for _, sh := range directShapes {
		if bytes.Contains(disk, []byte(sh.token)) {
			t.Errorf("%s: the token %s is in the database file", sh.name, sh.token)
		}
	}
}

// v4 is a database as relink made it before migration 0005: migrations
// 0001–0004 only, with rows written as they were then.
func v4(t *testing.T, path string, rows ...string) {
	t.Helper()
	cacheAt(t, path, 4, func(db *sql.DB) {
		for _, r := range rows {
			if _, err := db.Exec(r); err != nil {
				t.Fatalf("%s: %v", r, err)
			}
		}
	})
}

func TestMigration0005RedactsTokensWrittenBefore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	rows := []string{`INSERT INTO connections (id, provider, provider_id, name, created_at, updated_at) VALUES (1, 'plaid', 'i1', 'Ana', 0, 0)`}
	for i, sh := range directShapes {
		rows = append(rows, fmt.Sprintf(`INSERT INTO links (connection_id, kind, url, token_hash, expires_at, created_at, operator) VALUES (1, 'direct', %s, '%064x', 9, %d, 'dana')`,
			q(sh.url), i+1, i))
	}
	durable := "https://relink.example.com/r/eyJpIjoiZHVyIn0.c2ln"
	rows = append(rows, `INSERT INTO links (connection_id, kind, url, ticket, created_at) VALUES (1, 'durable', `+q(durable)+`, 'dur', 50)`)
	events := map[string]string{
		"plaid-session": `{"environment":"sandbox","link_session_id":"s-1","link_token":"link-sandbox-OLDTOKEN-1","status":"SUCCESS","webhook_code":"SESSION_FINISHED","webhook_type":"LINK"}`,
		"cobalt-result": `{"access_token_reference_id":"ref-1","completed_at":"2026-11-20T09:00:00Z","public_token":"pt-OLDTOKEN-2"}`,
		"belvo-nested":  `{"webhook_id":"w1","link_id":"l1","data":{"access":"OLDTOKEN-3","refresh":"OLDTOKEN-4","error_code":"token_required"}}`,
		"clean":         `{"webhook_type":"ITEM","webhook_code":"LOGIN_REPAIRED","item_id":"i1"}`,
	}
	for id, raw := range events {
		rows = append(rows, fmt.Sprintf(`INSERT INTO events (connection_id, provider, provider_id, event_id, kind, raw, observed_at, received_at) VALUES (1, 'plaid', 'i1', %s, 'webhook', CAST(%s AS BLOB), 1, 1)`,
			q(id), q(raw)))
	}
	v4(t, path, rows...)
	if !bytes.Contains(fileText(t, path), []byte("OLDTOKEN")) || !bytes.Contains(fileText(t, path), []byte("lt_sandbox_4b9e2f7c1d")) {
		t.Fatal("the fixture does not hold the old tokens")
	}

	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.SchemaVersion(ctx); v < 5 {
		t.Fatalf("schema version %d", v)
	}
	check := func(when string) {
		t.Helper()
		links, err := s.Links(ctx, 1, 20)
		if err != nil || len(links) != len(directShapes)+1 {
			t.Fatalf("%s: links %+v %v", when, links, err)
		}
		for _, l := range links {
			if l.Kind == LinkDurable {
				if l.URL != durable {
					t.Errorf("%s: durable link changed: %s", when, l.URL)
				}
				continue
			}
			sh := directShapes[l.CreatedAt.UnixMilli()]
			if l.URL != sh.origin || l.Operator != "dana" || l.ExpiresAt == nil {
				t.Errorf("%s: %s stored as %+v, want %s", when, sh.name, l, sh.origin)
			}
		}
		if pid, err := s.ConnectionByLinkToken(ctx, "plaid", fmt.Sprintf("%064x", 1)); err != nil || pid != "i1" {
			t.Errorf("%s: token_hash lost: %q %v", when, pid, err)
		}
		got := map[string]string{}
		rs, err := s.db.Query(`SELECT event_id, raw FROM events WHERE event_id IS NOT NULL`)
		if err != nil {
			t.Fatal(err)
		}
		for rs.Next() {
			var id string
			var raw []byte
			rs.Scan(&id, &raw)
			got[id] = string(raw)
		}
		rs.Close()
		want := map[string]string{
			"plaid-session": `{"environment":"sandbox","link_session_id":"s-1","status":"SUCCESS","webhook_code":"SESSION_FINISHED","webhook_type":"LINK"}`,
			"cobalt-result": `{"access_token_reference_id":"ref-1","completed_at":"2026-11-20T09:00:00Z"}`,
			"belvo-nested":  `{"webhook_id":"w1","link_id":"l1","data":{"error_code":"token_required"}}`,
			"clean":         events["clean"],
		}
		for id, w := range want {
			if got[id] != w {
				t.Errorf("%s: event %s raw\n got %s\nwant %s", when, id, got[id], w)
			}
		}
	}
	check("after the migration")
	s.Close()
	disk := fileText(t, path)
	for _, tok := range []string{"OLDTOKEN", "link-sandbox-3eea47bf", "WIDGETSECRET", "lt_sandbox_4b9e2f7c1d", "lp-sandbox-8f3c1a2b"} {
		if bytes.Contains(disk, []byte(tok)) {
			t.Errorf("%s is still in the database file after the migration", tok)
		}
	}

	// Run again (as if it had been interrupted after its work): nothing more changes.
	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := redactTokensAtRest(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	check("run twice")
}

func TestStoredRawEventsHoldNoTokens(t *testing.T) {
	s := openTest(t)
	importRows(t, s, Registration{Provider: "plaid", ProviderID: "i1"}, Registration{Provider: "cobalt", ProviderID: "ref-1"},
		Registration{Provider: "belvo", ProviderID: "l1"})
	sig := health.Signal{Effect: health.NoChange, Source: health.SourceWebhook, ObservedAt: t0}
	cases := []struct {
		provider, id, event, raw, want string
	}{
		{"plaid", "i1", "e1", `{"webhook_type":"LINK","webhook_code":"SESSION_FINISHED","link_token":"link-sandbox-LIVE1","public_tokens":["public-sandbox-LIVE2"],"status":"SUCCESS"}`,
			`{"webhook_type":"LINK","webhook_code":"SESSION_FINISHED","status":"SUCCESS"}`},
		{"cobalt", "ref-1", "e2", `{"access_token_reference_id":"ref-1","completed_at":"2026-11-20T09:00:00Z","public_token":"pt-LIVE3","token":"lt_LIVE4"}`,
			`{"access_token_reference_id":"ref-1","completed_at":"2026-11-20T09:00:00Z"}`},
		{"cobalt", "ref-1", "e3", `{"id":"ev","type":"access_token.failed","data":{"access_token_reference_id":"ref-1","Access_Token":"at-LIVE5","items":[{"token":"LIVE6","n":1.50}]}}`,
			`{"id":"ev","type":"access_token.failed","data":{"access_token_reference_id":"ref-1","items":[{"n":1.50}]}}`},
		{"belvo", "l1", "e4", `{"webhook_id":"w","link_id":"l1","data":{"access":"LIVE7","refresh":"LIVE8"},"na\u006de":"x"}`,
			`{"webhook_id":"w","link_id":"l1","data":{},"name":"x"}`},
		{"belvo", "l1", "e5", `{"webhook_id":"w2","link_id":"l1","link\u005ftoken":"LIVE9"}`,
			`{"webhook_id":"w2","link_id":"l1"}`},
		{"plaid", "i1", "e6", `{"webhook_type":"ITEM","webhook_code":"ERROR","item_id":"i1","error":{"error_code":"ITEM_LOGIN_REQUIRED"}}`,
			`{"webhook_type":"ITEM","webhook_code":"ERROR","item_id":"i1","error":{"error_code":"ITEM_LOGIN_REQUIRED"}}`},
		{"plaid", "i1", "e7", `token=LIVE10&"token"`, ``}, // names a token, is not JSON: not kept
	}
	var obs []Observation
	for _, c := range cases {
		obs = append(obs, Observation{Provider: c.provider, ProviderID: c.id, EventID: c.event, Kind: "webhook", Signal: sig,
			Raw: []byte(c.raw), ReceivedAt: t0})
	}
	mustApply(t, s, obs...)
	for _, c := range cases {
		var raw []byte
		if err := s.db.QueryRow(`SELECT raw FROM events WHERE event_id = ?`, c.event).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if string(raw) != c.want {
			t.Errorf("%s: stored raw\n got %s\nwant %s", c.event, raw, c.want)
		}
	}
	s.Close()
	if disk := fileText(t, s.Path()); bytes.Contains(disk, []byte("LIVE")) {
		t.Errorf("a token is in the database file: …%s…", disk[bytes.Index(disk, []byte("LIVE")):][:10])
	}
}

func TestScrubRawDepthAndShapes(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 40) + `{"token":"DEEP"}` + strings.Repeat(`}`, 40)
	if out := string(scrubRaw([]byte(deep))); strings.Contains(out, "DEEP") || !strings.HasPrefix(out, `{"a":{"a":`) {
		t.Errorf("deep: %s", out)
	}
	for in, want := range map[string]string{
		`[{"token":"x"},{"ok":true}]`:       `[{},{"ok":true}]`,
		` {"token" : "x", "b" : 2} `:        `{"b":2}`,
		`"token"`:                           `"token"`,
		`{"kind":"token","b":[1,2]}`:        `{"kind":"token","b":[1,2]}`,
		`{"access_token_reference_id":"r"}`: `{"access_token_reference_id":"r"}`,
		`{"a":"caf\u00e9"}`:                 `{"a":"caf\u00e9"}`,
	} {
		if got := string(scrubRaw([]byte(in))); got != want {
			t.Errorf("scrubRaw(%s) = %s, want %s", in, got, want)
		}
	}
	if scrubRaw(nil) != nil {
		t.Error("nil raw is not nil")
	}
}
