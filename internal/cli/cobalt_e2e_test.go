package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider/sandbox"
)

// cobaltConfig points the CLI at a Cobalt emulator; org is cobalt.org_id.
func (c *cli) cobaltConfig(emu *sandbox.Cobalt, org string) {
	id, secret := emu.Credentials()
	c.env["RELINK_CONFIG"] = c.file("config.toml", fmt.Sprintf(`
[cobalt]
client_id = %q
client_secret = %q
base_url = %q
link_url = %q
org_id = %q
`, id, secret, emu.URL(), emu.LinkURL(), org))
}

// lsCategories is relink ls --format json as provider:provider_id → category.
func (c *cli) lsCategories(t *testing.T) map[string]string {
	t.Helper()
	out, errs, code := c.run("", "ls", "--format", "json")
	if code != 0 {
		t.Fatalf("ls: %d %s", code, errs)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows {
		cat, _ := r["category"].(string)
		if w, _ := r["warning"].(string); w != "" {
			cat += "+" + w
		}
		got[fmt.Sprint(r["provider"], ":", r["provider_id"])] = cat
	}
	return got
}

// Issue 14, point 1: relink sync against a Cobalt history that holds one
// event relink cannot read, every event written with Cobalt's unpadded
// offsets. Every other connection lands in its category, the summary says
// one event was skipped and why, and the exit status stays 0 with a warning
// line. Today the first odd timestamp stopped the whole Cobalt sync.
func TestSyncSkipsAnUnreadableCobaltEvent(t *testing.T) {
	c := newCLI(t)
	emu, err := sandbox.NewCobalt(sandbox.CobaltOptions{Zone: time.FixedZone("PDT", -7*3600), UnpaddedOffset: true})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	want := map[string]string{}
	var reg strings.Builder
	reg.WriteString("provider,provider_id,access_token,user_ref,name,email,phone,institution\n")
	add := func(conn sandbox.Connection, cat string) {
		t.Helper()
		if _, err := emu.AddConnection(conn); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&reg, "cobalt,%s,%s,u-%s,User,u@example.com,,\n", conn.ID, conn.AccessToken, conn.ID)
		want["cobalt:"+conn.ID] = cat
	}
	add(sandbox.Connection{ID: "clinic-a", AccessToken: "tok-a", Code: "login_required"}, "login_required")
	add(sandbox.Connection{ID: "clinic-b", AccessToken: "tok-b", Code: "login_required", Reason: "password_expired"}, "password_expired")
	add(sandbox.Connection{ID: "clinic-odd", AccessToken: "tok-odd"}, "unknown") // its one event cannot be read: nothing is vouched for
	add(sandbox.Connection{ID: "clinic-c", AccessToken: "tok-c", Code: "login_required", Reason: "account_locked"}, "account_locked")
	add(sandbox.Connection{ID: "clinic-ok", AccessToken: "tok-ok"}, "healthy")
	add(sandbox.Connection{ID: "clinic-warned", AccessToken: "tok-w"}, "healthy+password_change_warning")
	if err := emu.Break("clinic-warned", "password_change_warning", ""); err != nil {
		t.Fatal(err)
	}
	if err := emu.SendRawEvent("clinic-odd", []byte(`{"id":"evt_odd","access_token_reference_id":"clinic-odd","object":"event",`+
		`"created":"yesterday","type":"access_token.login_required","data":{}}`)); err != nil {
		t.Fatal(err)
	}
	c.cobaltConfig(emu, emu.OrgID())
	if out, errs, code := c.run("", "import", c.file("reg.csv", reg.String())); code != 0 {
		t.Fatalf("import: %s %s", out, errs)
	}

	out, errs, code := c.run("", "sync")
	if code != 0 {
		t.Fatalf("sync: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "✓ cobalt:") || !strings.Contains(out, "; 1 unreadable event(s) skipped") {
		t.Errorf("summary:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "relink: warning: cobalt: skipped 1 event(s) relink could not read") ||
		!strings.Contains(lines[1], `cobalt:clinic-odd: event "evt_odd": created "yesterday": not an ISO-8601 time`) {
		t.Errorf("warning:\n%s", errs)
	}
	got := c.lsCategories(t)
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s = %s, want %s", id, got[id], w)
		}
	}
	// The sync was recorded as a success, and says what was skipped.
	out, _, _ = c.run("", "audit", "--format", "json")
	if !strings.Contains(out, "1 unreadable event(s) skipped") {
		t.Errorf("audit: %s", out)
	}
}

// Issue 14, point 2: a Cobalt row names its organization in the registry's
// org_id column (or takes cobalt.org_id); relink link sends that as
// Cobalt's org_id and the user as user_id. With neither, import refuses the
// row and says how to fix it.
func TestCobaltLinkNamesTheRowsOrganization(t *testing.T) {
	c := newCLI(t)
	emu, err := sandbox.NewCobalt(sandbox.CobaltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	if _, err := emu.AddConnectionIn("org_east", sandbox.Connection{ID: "clinic-e", AccessToken: "tok-e"}); err != nil {
		t.Fatal(err)
	}
	if _, err := emu.AddConnection(sandbox.Connection{ID: "clinic-d", AccessToken: "tok-d"}); err != nil {
		t.Fatal(err)
	}
	reg := "provider,provider_id,access_token,user_ref,name,email,phone,institution,org_id\n" +
		"cobalt,clinic-e,tok-e,dr_ada,Dr Ada,,,,org_east\n" +
		"cobalt,clinic-d,tok-d,dr_bo,Dr Bo,,,,\n"

	c.cobaltConfig(emu, "")
	_, errs, code := c.run("", "import", c.file("reg.csv", reg))
	if code != 1 || !strings.Contains(errs, "line 3: org_id is required for cobalt when cobalt.org_id is not set") {
		t.Fatalf("import without any org_id: %d %s", code, errs)
	}

	c.cobaltConfig(emu, emu.OrgID())
	if out, errs, code := c.run("", "import", c.file("reg.csv", reg)); code != 0 {
		t.Fatalf("import: %s %s", out, errs)
	}
	for _, tc := range []struct{ conn, user, org string }{
		{"cobalt:clinic-e", "dr_ada", "org_east"},
		{"cobalt:clinic-d", "dr_bo", emu.OrgID()},
	} {
		out, errs, code := c.run("", "link", tc.conn)
		if code != 0 || !strings.Contains(out, emu.URL()+"/link?token=lt_") {
			t.Errorf("link %s: %d %s %s", tc.conn, code, out, errs)
		}
		if user, org := emu.LastLinkRequest(); user != tc.user || org != tc.org {
			t.Errorf("link %s: user_id %q org_id %q, want %q %q", tc.conn, user, org, tc.user, tc.org)
		}
	}
	if got := c.lsCategories(t); got["cobalt:clinic-e"] != string(health.Unknown) {
		t.Errorf("minting a link changed the health: %v", got)
	}
}
