package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider/sandbox"
)

// relink import + relink sync against the three emulators, then relink ls:
// every code the emulators can produce lands in its TAXONOMY.md category.
func TestImportSyncLsAgainstEmulators(t *testing.T) {
	c := newCLI(t)
	plaid, err := sandbox.NewPlaid(sandbox.PlaidOptions{PerItemPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer plaid.Close()
	belvo, err := sandbox.NewBelvo(sandbox.BelvoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer belvo.Close()
	cobalt, err := sandbox.NewCobalt(sandbox.CobaltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cobalt.Close()

	type want struct {
		cat  health.Category
		warn health.Warning
	}
	expect := map[string]want{}
	var reg strings.Builder
	reg.WriteString("provider,provider_id,access_token,user_ref,name,email,phone,institution\n")
	add := func(prov string, conn sandbox.Connection, w want) {
		t.Helper()
		var err error
		switch prov {
		case "plaid":
			_, err = plaid.AddConnection(conn)
		case "belvo":
			_, err = belvo.AddConnection(conn)
		case "cobalt":
			_, err = cobalt.AddConnection(conn)
		}
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&reg, "%s,%s,%s,u-%s,User,u@example.com,,\n", prov, conn.ID, conn.AccessToken, conn.ID)
		expect[prov+":"+conn.ID] = w
	}
	plaidCases := []struct {
		code, reason string
		cat          health.Category
	}{
		{"", "", health.Healthy},
		{"ITEM_LOGIN_REQUIRED", "", health.LoginRequired},
		{"ITEM_LOGIN_REQUIRED", "OAUTH_INVALID_TOKEN", health.LoginRequired},
		{"ITEM_LOGIN_REQUIRED", "OAUTH_CONSENT_EXPIRED", health.ConsentExpired},
		{"ITEM_LOGIN_REQUIRED", "OAUTH_USER_REVOKED", health.PermissionRevoked},
		{"PASSWORD_RESET_REQUIRED", "", health.PasswordExpired},
		{"ITEM_LOCKED", "", health.AccountLocked},
		{"USER_SETUP_REQUIRED", "", health.ActionAtInstitution},
		{"INVALID_CREDENTIALS", "", health.LoginRequired},
		{"INVALID_MFA", "", health.MFARequired},
		{"USER_INPUT_TIMEOUT", "", health.MFARequired},
		{"ACCESS_NOT_GRANTED", "", health.ConsentInsufficient},
		{"NO_ACCOUNTS", "", health.ConsentInsufficient},
		{"USER_PERMISSION_REVOKED", "", health.PermissionRevoked},
		{"ITEM_NOT_FOUND", "", health.NotFound},
		{"ITEM_NOT_SUPPORTED", "", health.Unsupported},
		{"MFA_NOT_SUPPORTED", "", health.Unsupported},
		{"NO_AUTH_ACCOUNTS", "", health.Unknown}, // product fit: the connection is not marked broken
		{"ITEM_NO_ERROR", "", health.Healthy},
		{"INSTITUTION_DOWN", "", health.InstitutionDown},
		{"INSTITUTION_NOT_RESPONDING", "", health.InstitutionDown},
		{"INSTITUTION_NO_LONGER_SUPPORTED", "", health.Unsupported},
		{"UNAUTHORIZED_INSTITUTION", "", health.IntegrationError},
		{"ITEM_GET_LIMIT", "", health.RateLimited},
		{"INTERNAL_SERVER_ERROR", "", health.ProviderError},
	}
	for i, pc := range plaidCases {
		add("plaid", sandbox.Connection{ID: fmt.Sprintf("item-%02d", i), AccessToken: fmt.Sprintf("access-sandbox-%02d", i),
			Code: pc.code, Reason: pc.reason}, want{cat: pc.cat})
	}
	add("belvo", sandbox.Connection{ID: "link-valid", Code: "valid"}, want{cat: health.Healthy})
	add("belvo", sandbox.Connection{ID: "link-invalid", Code: "invalid"}, want{cat: health.LoginRequired})
	add("belvo", sandbox.Connection{ID: "link-token", Code: "token_required"}, want{cat: health.MFARequired})
	add("belvo", sandbox.Connection{ID: "link-unconfirmed", Code: "unconfirmed"}, want{cat: health.Incomplete})
	cobaltCases := []struct {
		reason string
		cat    health.Category
	}{{"", health.LoginRequired}, {"password_expired", health.PasswordExpired}, {"account_locked", health.AccountLocked}, {"mystery", health.LoginRequired}}
	for i, cc := range cobaltCases {
		add("cobalt", sandbox.Connection{ID: fmt.Sprintf("clinic-%d", i), AccessToken: fmt.Sprintf("cobalt-tok-%d", i),
			Code: "login_required", Reason: cc.reason}, want{cat: cc.cat})
	}
	add("cobalt", sandbox.Connection{ID: "clinic-ok", AccessToken: "cobalt-tok-ok"}, want{cat: health.Healthy})
	add("cobalt", sandbox.Connection{ID: "clinic-warned", AccessToken: "cobalt-tok-warned"}, want{cat: health.Healthy, warn: health.PasswordChangeWarning})
	if err := cobalt.Break("clinic-warned", "password_change_warning", ""); err != nil {
		t.Fatal(err)
	}

	pid, psecret := plaid.Credentials()
	bid, bpw := belvo.Credentials()
	cid, csecret := cobalt.Credentials()
	c.env["RELINK_CONFIG"] = c.file("config.toml", fmt.Sprintf(`
[plaid]
client_id = %q
secret = %q
base_url = %q
[belvo]
secret_id = %q
secret_password = %q
base_url = %q
[cobalt]
client_id = %q
client_secret = %q
base_url = %q
org_id = %q
`, pid, psecret, plaid.URL(), bid, bpw, belvo.URL(), cid, csecret, cobalt.URL(), cobalt.OrgID()))

	if out, errs, code := c.run("", "import", c.file("reg.csv", reg.String())); code != 0 {
		t.Fatalf("import: %s %s", out, errs)
	}
	out, errs, code := c.run("", "sync")
	if code != 0 {
		t.Fatalf("sync: %d\n%s\n%s", code, out, errs)
	}
	for _, p := range []string{"✓ plaid", "✓ belvo", "✓ cobalt"} {
		if !strings.Contains(out, p) {
			t.Errorf("sync summary lacks %q:\n%s", p, out)
		}
	}
	out, _, _ = c.run("", "ls", "--format", "json")
	var rows []struct {
		Provider, ProviderID, Category string
		Warning, ProviderCode          *string
	}
	if err := json.Unmarshal([]byte(strings.NewReplacer(`"provider_id"`, `"ProviderID"`, `"provider_code"`, `"ProviderCode"`).Replace(out)), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(expect) {
		t.Fatalf("%d rows, want %d", len(rows), len(expect))
	}
	for _, r := range rows {
		w := expect[r.Provider+":"+r.ProviderID]
		warn := ""
		if r.Warning != nil {
			warn = *r.Warning
		}
		code := ""
		if r.ProviderCode != nil {
			code = *r.ProviderCode
		}
		if r.Category != string(w.cat) || warn != string(w.warn) {
			t.Errorf("%s:%s (code %s) = %s/%s, want %s/%s", r.Provider, r.ProviderID, code, r.Category, warn, w.cat, w.warn)
		}
	}
	// A second sync changes nothing and the ls output is stable.
	out, _, _ = c.run("", "sync", "--provider", "belvo")
	if !strings.Contains(out, "0 changed") {
		t.Errorf("second belvo sync: %s", out)
	}
}
