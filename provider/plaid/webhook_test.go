package plaid_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/provider/sandbox"
)

// TestParseWebhook maps every webhook of TAXONOMY.md §3.2, in the shapes of
// PLAID.md §6.2.
func TestParseWebhook(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	deadline := time.Date(2026, 3, 8, 13, 25, 17, 766000000, time.UTC)
	const item = `"item_id":"wz666MBjYWTp2PDzzggYhM6oWWmBb","environment":"production"`
	cases := []struct {
		name     string
		body     string
		effect   health.Effect
		cat      health.Category
		warning  health.Warning
		deadline *time.Time
		reason   string
		recheck  bool
	}{
		{"ERROR login required", `{"webhook_type":"ITEM","webhook_code":"ERROR",` + item + `,"error":{"error_type":"ITEM_ERROR","error_code":"ITEM_LOGIN_REQUIRED","error_code_reason":"OAUTH_INVALID_TOKEN","error_message":"the login details of this item have changed","display_message":"The user's OAuth connection to this institution has been invalidated.","status":400}}`,
			health.SetPrimary, health.LoginRequired, "", nil, "OAUTH_INVALID_TOKEN", false},
		{"ERROR consent expired", `{"webhook_type":"ITEM","webhook_code":"ERROR",` + item + `,"error":{"error_type":"ITEM_ERROR","error_code":"ITEM_LOGIN_REQUIRED","error_code_reason":"OAUTH_CONSENT_EXPIRED","error_message":"x","display_message":null,"status":400}}`,
			health.SetPrimary, health.ConsentExpired, "", nil, "OAUTH_CONSENT_EXPIRED", false},
		{"ERROR locked", `{"webhook_type":"ITEM","webhook_code":"ERROR",` + item + `,"error":{"error_type":"ITEM_ERROR","error_code":"ITEM_LOCKED","error_code_reason":null,"error_message":"x","display_message":null,"status":400}}`,
			health.SetPrimary, health.AccountLocked, "", nil, "", false},
		{"PENDING_EXPIRATION", `{"webhook_type":"ITEM","webhook_code":"PENDING_EXPIRATION",` + item + `,"consent_expiration_time":"2026-03-08T13:25:17.766Z"}`,
			health.SetWarning, "", health.ConsentExpiring, &deadline, "", false},
		{"PENDING_DISCONNECT token expiration", `{"webhook_type":"ITEM","webhook_code":"PENDING_DISCONNECT",` + item + `,"reason":"INSTITUTION_TOKEN_EXPIRATION","disconnect_time":"2026-03-08T13:25:17.766Z"}`,
			health.SetWarning, "", health.ConsentExpiring, &deadline, "INSTITUTION_TOKEN_EXPIRATION", false},
		{"PENDING_DISCONNECT migration", `{"webhook_type":"ITEM","webhook_code":"PENDING_DISCONNECT",` + item + `,"reason":"INSTITUTION_MIGRATION","disconnect_time":"2026-03-08T13:25:17.766Z"}`,
			health.SetWarning, "", health.ConsentExpiring, &deadline, "INSTITUTION_MIGRATION", false},
		{"USER_PERMISSION_REVOKED", `{"webhook_type":"ITEM","webhook_code":"USER_PERMISSION_REVOKED",` + item + `,"error":{"error_type":"ITEM_ERROR","error_code":"USER_PERMISSION_REVOKED","error_code_reason":null,"error_message":"x","display_message":null,"status":400}}`,
			health.SetPrimary, health.PermissionRevoked, "", nil, "", false},
		{"USER_ACCOUNT_REVOKED", `{"webhook_type":"ITEM","webhook_code":"USER_ACCOUNT_REVOKED",` + item + `,"account_id":"BxBXxLj1m4HMXBm9WZJyUg9XLd4rKEhw8Pb1J"}`,
			health.SetWarning, "", health.AccountRevokedPartial, nil, "", false},
		{"LOGIN_REPAIRED", `{"webhook_type":"ITEM","webhook_code":"LOGIN_REPAIRED",` + item + `}`,
			health.SetPrimary, health.Healthy, "", nil, "", false},
		{"NEW_ACCOUNTS_AVAILABLE", `{"webhook_type":"ITEM","webhook_code":"NEW_ACCOUNTS_AVAILABLE",` + item + `,"error":null}`,
			health.NoChange, "", "", nil, "", false},
		{"WEBHOOK_UPDATE_ACKNOWLEDGED", `{"webhook_type":"ITEM","webhook_code":"WEBHOOK_UPDATE_ACKNOWLEDGED",` + item + `,"new_webhook_url":"https://x.example/hook","error":null}`,
			health.NoChange, "", "", nil, "", false},
		{"AUTH PRODUCT_PERMISSIONS_REQUIRED", `{"webhook_type":"AUTH","webhook_code":"PRODUCT_PERMISSIONS_REQUIRED",` + item + `}`,
			health.SetPrimary, health.ConsentInsufficient, "", nil, "", false},
		{"SESSION_FINISHED success", `{"webhook_type":"LINK","webhook_code":"SESSION_FINISHED","status":"SUCCESS","link_session_id":"s1","link_token":"link-sandbox-1","public_tokens":["public-sandbox-secret"],"environment":"sandbox"}`,
			health.NoChange, "", "", nil, "SUCCESS", true},
		{"SESSION_FINISHED exited", `{"webhook_type":"LINK","webhook_code":"SESSION_FINISHED","status":"EXITED","link_session_id":"s1","link_token":"link-sandbox-1","environment":"sandbox"}`,
			health.NoChange, "", "", nil, "EXITED", false},
	}
	for _, tc := range cases {
		obs, err := plaid.ParseWebhook([]byte(tc.body), at)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		s := obs.Signal
		if s.Effect != tc.effect || s.Category != tc.cat || s.Warning != tc.warning || s.ProviderReason != tc.reason {
			t.Errorf("%s: signal %+v, want effect %d category %q warning %q reason %q", tc.name, s, tc.effect, tc.cat, tc.warning, tc.reason)
		}
		if (s.Deadline == nil) != (tc.deadline == nil) || (s.Deadline != nil && !s.Deadline.Equal(*tc.deadline)) {
			t.Errorf("%s: deadline %v, want %v", tc.name, s.Deadline, tc.deadline)
		}
		sum := sha256.Sum256([]byte(tc.body))
		if obs.EventID != hex.EncodeToString(sum[:16])+"@"+at.UTC().Format("2006010215") || obs.Kind != "webhook" || !s.ObservedAt.Equal(at) || obs.Recheck != tc.recheck {
			t.Errorf("%s: observation %+v", tc.name, obs)
		}
		if strings.Contains(string(obs.Raw), "public-sandbox") {
			t.Errorf("%s: Raw keeps a public token: %s", tc.name, obs.Raw)
		}
		if strings.Contains(string(obs.Raw), "link-sandbox") || strings.Contains(string(obs.Raw), `"link_token"`) {
			t.Errorf("%s: Raw keeps the link token: %s", tc.name, obs.Raw)
		}
		if !strings.Contains(tc.body, `"LINK"`) && obs.ProviderID != "wz666MBjYWTp2PDzzggYhM6oWWmBb" {
			t.Errorf("%s: provider id %q", tc.name, obs.ProviderID)
		}
	}
	body := []byte(cases[len(cases)-2].body)
	obs, _ := plaid.ParseWebhook(body, at)
	want := provider.TokenHash("link-sandbox-1")
	if h := plaid.SessionLinkTokenHash(obs.Raw); h != want {
		t.Errorf("SessionLinkTokenHash(Raw) = %q, want %q (raw %s)", h, want, obs.Raw)
	}
	if h := plaid.SessionLinkTokenHash(body); h != want {
		t.Errorf("SessionLinkTokenHash(body as received) = %q, want %q", h, want)
	}
	if !strings.Contains(string(obs.Raw), `"link_token_sha256":"`+want+`"`) || !strings.Contains(string(obs.Raw), `"link_session_id":"s1"`) {
		t.Errorf("Raw = %s, want the token's hash and the other fields", obs.Raw)
	}
}

// TestWebhookRawKeepsNoToken: however a LINK webhook spells its token keys,
// the stored copy holds no token, and a link_token_sha256 the body brings
// itself is not trusted.
func TestWebhookRawKeepsNoToken(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for name, body := range map[string]string{
		"upper case":      `{"webhook_type":"LINK","webhook_code":"SESSION_FINISHED","status":"SUCCESS","LINK_TOKEN":"link-sandbox-2","Public_Token":"public-sandbox-2"}`,
		"escaped key":     `{"webhook_type":"LINK","webhook_code":"SESSION_FINISHED","status":"SUCCESS","link\u005ftoken":"link-sandbox-2"}`,
		"forged hash":     `{"webhook_type":"LINK","webhook_code":"SESSION_FINISHED","status":"SUCCESS","link_token":"link-sandbox-2","link_token_sha256":"` + strings.Repeat("0", 64) + `"}`,
		"ITEM_ADD_RESULT": `{"webhook_type":"LINK","webhook_code":"ITEM_ADD_RESULT","link_token":"link-sandbox-2","public_token":"public-sandbox-2"}`,
	} {
		obs, err := plaid.ParseWebhook([]byte(body), at)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if strings.Contains(string(obs.Raw), "sandbox-2") || strings.Contains(string(obs.Raw), strings.Repeat("0", 64)) {
			t.Errorf("%s: Raw = %s", name, obs.Raw)
		}
		if h := plaid.SessionLinkTokenHash(obs.Raw); h != provider.TokenHash("link-sandbox-2") {
			t.Errorf("%s: SessionLinkTokenHash = %q (raw %s)", name, h, obs.Raw)
		}
	}
	if h := plaid.SessionLinkTokenHash([]byte(`{"webhook_type":"LINK","link_token_sha256":"not-hex"}`)); h != "" {
		t.Errorf("a malformed hash is returned: %q", h)
	}
}

func TestParseWebhookRefuses(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"not JSON":        `{"webhook_type":"ITEM",`,
		"empty":           ``,
		"no webhook_type": `{"webhook_code":"ERROR","item_id":"x"}`,
		"no webhook_code": `{"webhook_type":"ITEM","item_id":"x"}`,
		"no item_id":      `{"webhook_type":"ITEM","webhook_code":"LOGIN_REPAIRED"}`,
		"LINK, no token":  `{"webhook_type":"LINK","webhook_code":"SESSION_FINISHED","status":"SUCCESS"}`,
		"wrong types":     `{"webhook_type":1,"webhook_code":"ERROR","item_id":"x"}`,
	} {
		if _, err := plaid.ParseWebhook([]byte(body), time.Now()); err == nil {
			t.Errorf("%s: ParseWebhook accepted %s", name, body)
		}
	}
}

// TestEmulatorWebhooksEndToEnd: every ITEM webhook the emulator sends
// arrives signed, verifies, and parses to the right signal.
func TestEmulatorWebhooksEndToEnd(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, sandbox.PlaidOptions{})
	rc := newReceiver(t, plaid.NewVerifier(newClient(t, emu, nil)))
	emu.SetWebhookURL(rc.srv.URL)
	conn := addItem(t, emu, sandbox.Connection{Institution: "Tartan Bank"})
	id := conn.ProviderID
	at := time.Now().Add(7 * 24 * time.Hour)
	steps := []func() error{
		func() error { return emu.Break(id, "ITEM_LOGIN_REQUIRED", "OAUTH_CONSENT_EXPIRED") },
		func() error { return emu.Repair(id) },
		func() error { return emu.SetConsentExpiration(id, at) },
		func() error { return emu.SetPendingDisconnect(id, "INSTITUTION_MIGRATION", at) },
		func() error { return emu.Break(id, "USER_PERMISSION_REVOKED", "") },
		func() error { return emu.FireWebhook(id, "USER_ACCOUNT_REVOKED") },
		func() error { return emu.FireWebhook(id, "NEW_ACCOUNTS_AVAILABLE") },
		func() error { return emu.FireWebhook(id, "WEBHOOK_UPDATE_ACKNOWLEDGED") },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if st := waitWebhooks(t, emu); st.Delivered != len(steps) || st.Failed != 0 {
		t.Fatalf("webhook stats %+v, want %d delivered", st, len(steps))
	}
	obs, errs := rc.observations()
	if len(errs) > 0 {
		t.Fatalf("receiver refused: %v", errs)
	}
	want := []struct {
		code    string
		effect  health.Effect
		cat     health.Category
		warning health.Warning
	}{
		{"ITEM_LOGIN_REQUIRED", health.SetPrimary, health.ConsentExpired, ""},
		{"LOGIN_REPAIRED", health.SetPrimary, health.Healthy, ""},
		{"PENDING_EXPIRATION", health.SetWarning, "", health.ConsentExpiring},
		{"PENDING_DISCONNECT", health.SetWarning, "", health.ConsentExpiring},
		{"USER_PERMISSION_REVOKED", health.SetPrimary, health.PermissionRevoked, ""},
		{"USER_ACCOUNT_REVOKED", health.SetWarning, "", health.AccountRevokedPartial},
		{"NEW_ACCOUNTS_AVAILABLE", health.NoChange, "", ""},
		{"WEBHOOK_UPDATE_ACKNOWLEDGED", health.NoChange, "", ""},
	}
	// One Item's webhooks arrive in the order they were fired.
	for i, w := range want {
		s := obs[i].Signal
		if obs[i].ProviderID != id || s.ProviderCode != w.code || s.Effect != w.effect || s.Category != w.cat || s.Warning != w.warning {
			t.Errorf("webhook %d: %s %+v, want %+v", i, obs[i].ProviderID, s, w)
		}
	}
}

// A retry within the hour is one event; the same body hours later is a new
// event (a second break after a repair must not be dropped as a duplicate).
func TestParseWebhookEventIDWindow(t *testing.T) {
	body := []byte(`{"webhook_type":"ITEM","webhook_code":"ERROR","item_id":"i1","error":{"error_type":"ITEM_ERROR","error_code":"ITEM_LOGIN_REQUIRED"}}`)
	t1 := time.Date(2026, 3, 1, 12, 5, 0, 0, time.UTC)
	a, _ := plaid.ParseWebhook(body, t1)
	b, _ := plaid.ParseWebhook(body, t1.Add(40*time.Minute))
	c, _ := plaid.ParseWebhook(body, t1.Add(5*time.Hour))
	if a.EventID != b.EventID || a.EventID == c.EventID {
		t.Fatalf("ids %s %s %s", a.EventID, b.EventID, c.EventID)
	}
}
