package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/store"
	"github.com/relink/relink/vault"
)

// What came from outside (a provider's institution name and code, here)
// reaches a terminal only as visible escapes: a raw OSC 52 rewrote the
// operator's clipboard through tmux. JSON stays exact, escaped as JSON is.
func TestTableOutputShowsEscapeSequencesInsteadOfSendingThem(t *testing.T) {
	c := newCLI(t)
	reg := "provider,provider_id,access_token,user_ref,name,email,phone,institution\n" +
		"plaid,item-evil,access-sandbox-evil,u1,Ana Silva,ana@example.com,,Tartan Bank\n"
	if out, errs, code := c.run("", "import", c.file("reg.csv", reg)); code != 0 {
		t.Fatalf("import: %s %s", out, errs)
	}
	const institution = "\x1b]52;c;aGFja2Vk\x07Tartan\x1b[2J"
	key, err := vault.ParseKey(testKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, c.env["RELINK_DB"], store.Options{Sealer: key})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	_, err = st.Apply(ctx, []store.Observation{{Provider: "plaid", ProviderID: "item-evil", Institution: institution, Kind: "poll",
		ReceivedAt: now, Signal: health.Signal{Effect: health.SetPrimary, Category: health.LoginRequired,
			ProviderCode: "ITEM_LOGIN_REQUIRED\x1b[31m", Source: health.SourcePoll, ObservedAt: now}}})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}

	out, errs, code := c.run("", "ls", "--failing")
	if code != 0 {
		t.Fatalf("ls: %d %s", code, errs)
	}
	if strings.ContainsAny(out, "\x1b\x07") {
		t.Errorf("ls writes raw control bytes:\n%q", out)
	}
	for _, want := range []string{`\x1b]52;c;aGFja2Vk\x07Tartan\x1b[2J`, `ITEM_LOGIN_REQUIRED\x1b[31m`} {
		if !strings.Contains(out, want) {
			t.Errorf("ls does not show %s:\n%s", want, out)
		}
	}

	c.env["RELINK_CONFIG"] = c.file("config.toml", `
[plaid]
client_id = "id"
secret = "secret"
base_url = "http://127.0.0.1:9"
[serve]
public_url = "https://relink.example.com"
[reminders.email]
smtp_host = "127.0.0.1"
smtp_port = 9
tls = "none"
from = "Acme Support <support@acme.example>"
`)
	out, errs, code = c.run("", "remind", "--all-failing", "--dry-run")
	if code != 0 {
		t.Fatalf("remind --dry-run: %d %s", code, errs)
	}
	if strings.ContainsAny(out, "\x1b\x07") || !strings.Contains(out, `\x1b]52;c;aGFja2Vk\x07Tartan\x1b[2J`) {
		t.Errorf("remind --dry-run must show the escapes, not send them:\n%q", out)
	}

	out, _, code = c.run("", "ls", "--format", "json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil || len(rows) != 1 {
		t.Fatalf("ls json: %d %v\n%s", code, err, out)
	}
	if rows[0]["institution"] != institution || strings.Contains(out, "\x1b") {
		t.Errorf("json must keep the value exact, escaped as JSON: %q", out)
	}
}
