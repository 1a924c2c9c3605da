package sandbox_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/relink/relink/provider/sandbox"
)

// The emulator's own contract: wire shapes and codes of PLAID.md, over HTTP.

func startPlaid(t *testing.T, opts sandbox.PlaidOptions) *sandbox.Plaid {
	t.Helper()
	p, err := sandbox.NewPlaid(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// call POSTs body to path with the emulator's keys in headers (unless
// headers is given) and decodes the answer into a map.
func call(t *testing.T, p *sandbox.Plaid, path string, body any, headers map[string]string) (int, map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, p.URL()+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if headers == nil {
		id, secret := p.Credentials()
		headers = map[string]string{"PLAID-CLIENT-ID": id, "PLAID-SECRET": secret, "Plaid-Version": "2020-09-14"}
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("%s: answer is not a JSON object: %v", path, err)
	}
	return resp.StatusCode, m
}

// kind names a decoded JSON value's type.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "?"
}

// assertShape checks that m has exactly the keys of want (for strict) or at
// least them, each of one of the listed kinds ("string|null").
func assertShape(t *testing.T, what string, m map[string]any, want map[string]string, strict bool) {
	t.Helper()
	for k, kinds := range want {
		v, ok := m[k]
		if !ok {
			t.Errorf("%s: no %q", what, k)
			continue
		}
		if !strings.Contains("|"+kinds+"|", "|"+kind(v)+"|") {
			t.Errorf("%s: %q is %s (%v), want %s", what, k, kind(v), v, kinds)
		}
	}
	if strict {
		for k := range m {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: unexpected key %q", what, k)
			}
		}
	}
}

func assertRFC3339(t *testing.T, what string, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Errorf("%s: %q is not RFC 3339", what, s)
	}
	return ts
}

// errorShape is a Plaid error object as a call's body (PLAID.md §5.1).
var errorShape = map[string]string{
	"error_type": "string", "error_code": "string", "error_code_reason": "string|null",
	"error_message": "string", "display_message": "string|null", "request_id": "string",
}

func assertPlaidError(t *testing.T, what string, status int, m map[string]any, wantStatus int, wantType, wantCode string) {
	t.Helper()
	assertShape(t, what, m, errorShape, false)
	if status != wantStatus || m["error_type"] != wantType || m["error_code"] != wantCode {
		t.Errorf("%s: %d %v/%v (%v), want %d %s/%s", what, status, m["error_type"], m["error_code"], m["error_message"], wantStatus, wantType, wantCode)
	}
}

func TestPlaidItemGetShape(t *testing.T) {
	t.Parallel()
	p := startPlaid(t, sandbox.PlaidOptions{WebhookURL: "http://127.0.0.1:1/hook"})
	consent := time.Date(2026, 3, 16, 15, 53, 0, 0, time.UTC)
	healthy, _ := p.AddConnection(sandbox.Connection{Institution: "First Platypus Bank", ConsentExpiration: &consent})
	broken, _ := p.AddConnection(sandbox.Connection{Code: "ITEM_LOGIN_REQUIRED", Reason: "OAUTH_INVALID_TOKEN", Message: "Please reconnect."})

	status, m := call(t, p, "/item/get", map[string]any{"access_token": healthy.AccessToken}, nil)
	if status != 200 {
		t.Fatalf("status %d: %v", status, m)
	}
	assertShape(t, "response", m, map[string]string{"item": "object", "status": "object|null", "request_id": "string"}, true)
	item := m["item"].(map[string]any)
	assertShape(t, "item", item, map[string]string{
		"item_id": "string", "institution_id": "string|null", "institution_name": "string|null",
		"webhook": "string|null", "auth_method": "string|null", "error": "object|null",
		"available_products": "array", "billed_products": "array", "products": "array",
		"consented_products": "array", "consented_data_scopes": "array", "consented_use_cases": "array",
		"consent_expiration_time": "string|null", "update_type": "string", "created_at": "string",
	}, true)
	if item["item_id"] != healthy.ID || item["institution_name"] != "First Platypus Bank" || item["error"] != nil ||
		item["webhook"] != "http://127.0.0.1:1/hook" || item["update_type"] != "background" {
		t.Errorf("item = %v", item)
	}
	if got := assertRFC3339(t, "consent_expiration_time", item["consent_expiration_time"]); !got.Equal(consent) {
		t.Errorf("consent_expiration_time %v, want %v", got, consent)
	}
	assertRFC3339(t, "created_at", item["created_at"])
	st := m["status"].(map[string]any)
	assertShape(t, "status", st, map[string]string{"transactions": "object", "investments": "object", "last_webhook": "object|null"}, true)
	assertShape(t, "status.transactions", st["transactions"].(map[string]any),
		map[string]string{"last_successful_update": "string|null", "last_failed_update": "string|null"}, true)

	_, m = call(t, p, "/item/get", map[string]any{"access_token": broken.AccessToken}, nil)
	item = m["item"].(map[string]any)
	if item["institution_name"] != nil || item["consent_expiration_time"] != nil {
		t.Errorf("unset fields should be null: %v", item)
	}
	e, _ := item["error"].(map[string]any)
	assertShape(t, "item.error", e, errorShape, false)
	if e["error_type"] != "ITEM_ERROR" || e["error_code"] != "ITEM_LOGIN_REQUIRED" ||
		e["error_code_reason"] != "OAUTH_INVALID_TOKEN" || e["display_message"] != "Please reconnect." {
		t.Errorf("item.error = %v", e)
	}
	if _, ok := e["status"]; ok {
		t.Errorf("item.error has a status; only webhook errors do")
	}
}

func TestPlaidAuthAndRequestErrors(t *testing.T) {
	t.Parallel()
	p := startPlaid(t, sandbox.PlaidOptions{ClientID: "client-1", Secret: "secret-1"})
	it, _ := p.AddConnection(sandbox.Connection{})
	tok := map[string]any{"access_token": it.AccessToken}

	// Keys in the body work as well as in headers.
	status, m := call(t, p, "/item/get", map[string]any{"client_id": "client-1", "secret": "secret-1", "access_token": it.AccessToken},
		map[string]string{})
	if status != 200 {
		t.Errorf("body credentials: %d %v", status, m)
	}
	status, m = call(t, p, "/item/get", tok, map[string]string{"PLAID-CLIENT-ID": "client-1", "PLAID-SECRET": "nope"})
	assertPlaidError(t, "bad secret", status, m, 400, "INVALID_INPUT", "INVALID_API_KEYS")
	if strings.Contains(m["error_message"].(string), "secret-1") {
		t.Errorf("the emulator echoes the secret")
	}
	status, m = call(t, p, "/item/get", tok, map[string]string{})
	assertPlaidError(t, "no keys", status, m, 400, "INVALID_REQUEST", "MISSING_FIELDS")
	status, m = call(t, p, "/item/get", map[string]any{}, nil)
	assertPlaidError(t, "no access_token", status, m, 400, "INVALID_REQUEST", "MISSING_FIELDS")
	status, m = call(t, p, "/item/get", map[string]any{"access_token": "access-sandbox-unknown"}, nil)
	assertPlaidError(t, "unknown token", status, m, 400, "INVALID_INPUT", "INVALID_ACCESS_TOKEN")
	status, m = call(t, p, "/item/get", map[string]any{"access_token": it.AccessToken, "acces_token": "typo"}, nil)
	assertPlaidError(t, "unknown field", status, m, 400, "INVALID_REQUEST", "UNKNOWN_FIELDS")
	status, m = call(t, p, "/item/get", tok, map[string]string{"PLAID-CLIENT-ID": "client-1", "PLAID-SECRET": "secret-1", "Plaid-Version": "2018-05-22"})
	assertPlaidError(t, "old API version", status, m, 400, "INVALID_REQUEST", "INCOMPATIBLE_API_VERSION")
	status, m = call(t, p, "/no/such/endpoint", tok, nil)
	assertPlaidError(t, "unknown path", status, m, 404, "INVALID_REQUEST", "NOT_FOUND")

	req, _ := http.NewRequest(http.MethodPost, p.URL()+"/item/get", strings.NewReader("{not json"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	assertPlaidError(t, "bad JSON", resp.StatusCode, m, 400, "INVALID_REQUEST", "INVALID_BODY")
}

func TestPlaidLinkTokenCreate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	p := startPlaid(t, sandbox.PlaidOptions{Now: func() time.Time { return now }})
	it, _ := p.AddConnection(sandbox.Connection{})
	base := func() map[string]any {
		return map[string]any{"client_name": "Acme Money", "language": "en", "country_codes": []string{"US"},
			"user": map[string]any{"client_user_id": "user-8841"}, "access_token": it.AccessToken}
	}

	status, m := call(t, p, "/link/token/create", base(), nil)
	assertShape(t, "update mode", m, map[string]string{"link_token": "string", "expiration": "string", "request_id": "string"}, true)
	if status != 200 || !strings.HasPrefix(m["link_token"].(string), "link-sandbox-") {
		t.Errorf("update mode: %d %v", status, m)
	}
	if exp := assertRFC3339(t, "expiration", m["expiration"]); !exp.Equal(now.Add(30 * time.Minute)) {
		t.Errorf("update-mode expiration %v, want 30 minutes", exp)
	}

	req := base()
	req["hosted_link"] = map[string]any{"url_lifetime_seconds": 604800}
	status, m = call(t, p, "/link/token/create", req, nil)
	assertShape(t, "hosted", m, map[string]string{"link_token": "string", "expiration": "string", "hosted_link_url": "string", "request_id": "string"}, true)
	if status != 200 || m["hosted_link_url"] != p.URL()+"/hosted/"+m["link_token"].(string) {
		t.Errorf("hosted: %d %v", status, m)
	}
	if exp := assertRFC3339(t, "expiration", m["expiration"]); !exp.Equal(now.Add(7 * 24 * time.Hour)) {
		t.Errorf("hosted expiration %v, want 7 days", exp)
	}

	status, m = call(t, p, "/link/token/get", map[string]any{"link_token": m["link_token"]}, nil)
	assertShape(t, "link/token/get", m, map[string]string{"link_token": "string", "created_at": "string", "expiration": "string",
		"metadata": "object", "link_sessions": "array", "request_id": "string"}, true)
	if status != 200 {
		t.Errorf("link/token/get: %d %v", status, m)
	}

	for _, tc := range []struct {
		name       string
		edit       func(map[string]any)
		typ, code  string
		messageHas string
	}{
		{"no client_name", func(r map[string]any) { delete(r, "client_name") }, "INVALID_REQUEST", "MISSING_FIELDS", "client_name"},
		{"no language", func(r map[string]any) { delete(r, "language") }, "INVALID_REQUEST", "MISSING_FIELDS", "language"},
		{"no country_codes", func(r map[string]any) { r["country_codes"] = []string{} }, "INVALID_REQUEST", "MISSING_FIELDS", "country_codes"},
		{"no user", func(r map[string]any) { delete(r, "user") }, "INVALID_REQUEST", "MISSING_FIELDS", "client_user_id"},
		{"new Item without products", func(r map[string]any) { delete(r, "access_token") }, "INVALID_REQUEST", "MISSING_FIELDS", "products"},
		{"bad language", func(r map[string]any) { r["language"] = "xx" }, "INVALID_REQUEST", "INVALID_FIELD", "language"},
		{"bad country", func(r map[string]any) { r["country_codes"] = []string{"ZZ"} }, "INVALID_REQUEST", "INVALID_FIELD", "ZZ"},
		{"lifetime 0", func(r map[string]any) { r["hosted_link"] = map[string]any{"url_lifetime_seconds": 0} }, "INVALID_REQUEST", "INVALID_FIELD", "url_lifetime_seconds"},
		{"lifetime > 21 days", func(r map[string]any) { r["hosted_link"] = map[string]any{"url_lifetime_seconds": 21*86400 + 1} }, "INVALID_REQUEST", "INVALID_FIELD", "url_lifetime_seconds"},
		{"unknown access token", func(r map[string]any) { r["access_token"] = "access-sandbox-nope" }, "INVALID_INPUT", "INVALID_ACCESS_TOKEN", ""},
	} {
		r := base()
		tc.edit(r)
		status, m := call(t, p, "/link/token/create", r, nil)
		assertPlaidError(t, tc.name, status, m, 400, tc.typ, tc.code)
		if msg, _ := m["error_message"].(string); !strings.Contains(msg, tc.messageHas) {
			t.Errorf("%s: message %q does not name %q", tc.name, msg, tc.messageHas)
		}
	}
}

func TestPlaidErrorStates(t *testing.T) {
	t.Parallel()
	p := startPlaid(t, sandbox.PlaidOptions{})
	for _, tc := range []struct {
		code, typ string
		status    int
		asCall    bool
	}{
		{"ITEM_LOCKED", "ITEM_ERROR", 200, false},
		{"ITEM_NOT_FOUND", "ITEM_ERROR", 400, true},
		{"INSTITUTION_DOWN", "INSTITUTION_ERROR", 400, true},
		{"ITEM_GET_LIMIT", "RATE_LIMIT_EXCEEDED", 429, true},
		{"INTERNAL_SERVER_ERROR", "API_ERROR", 500, true},
		{"PLANNED_MAINTENANCE", "API_ERROR", 503, true},
		{"UNAUTHORIZED_ENVIRONMENT", "INVALID_INPUT", 400, true},
	} {
		it, _ := p.AddConnection(sandbox.Connection{Code: tc.code})
		status, m := call(t, p, "/item/get", map[string]any{"access_token": it.AccessToken}, nil)
		e := m
		if !tc.asCall {
			e, _ = m["item"].(map[string]any)["error"].(map[string]any)
		}
		assertPlaidError(t, tc.code, status, e, tc.status, tc.typ, tc.code)
	}
}

func TestPlaidItemGetRateLimit(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	p := startPlaid(t, sandbox.PlaidOptions{PerItemPerMinute: 3, Now: clock})
	a, _ := p.AddConnection(sandbox.Connection{})
	b, _ := p.AddConnection(sandbox.Connection{})
	for i := range 3 {
		if status, m := call(t, p, "/item/get", map[string]any{"access_token": a.AccessToken}, nil); status != 200 {
			t.Fatalf("call %d: %d %v", i, status, m)
		}
	}
	status, m := call(t, p, "/item/get", map[string]any{"access_token": a.AccessToken}, nil)
	assertPlaidError(t, "4th call", status, m, 429, "RATE_LIMIT_EXCEEDED", "ITEM_GET_LIMIT")
	if status, _ := call(t, p, "/item/get", map[string]any{"access_token": b.AccessToken}, nil); status != 200 {
		t.Errorf("another item is limited too: %d", status)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if status, _ := call(t, p, "/item/get", map[string]any{"access_token": a.AccessToken}, nil); status != 200 {
		t.Errorf("next minute: %d", status)
	}
}

func TestPlaidFaultBodies(t *testing.T) {
	t.Parallel()
	p := startPlaid(t, sandbox.PlaidOptions{})
	it, _ := p.AddConnection(sandbox.Connection{})
	p.Faults.TooManyRequests(1, 2*time.Second)
	status, m := call(t, p, "/item/get", map[string]any{"access_token": it.AccessToken}, nil)
	assertPlaidError(t, "429 fault", status, m, 429, "RATE_LIMIT_EXCEEDED", "RATE_LIMIT")
	p.Faults.ServerErrors(1)
	status, m = call(t, p, "/item/get", map[string]any{"access_token": it.AccessToken}, nil)
	assertPlaidError(t, "500 fault", status, m, 500, "API_ERROR", "INTERNAL_SERVER_ERROR")
}

// TestPlaidVerificationKey checks the JWK and that SignWebhook's JWT
// verifies with it using nothing but the standard library and go-jose.
func TestPlaidVerificationKey(t *testing.T) {
	t.Parallel()
	now := time.Now().Truncate(time.Second)
	p := startPlaid(t, sandbox.PlaidOptions{Now: func() time.Time { return now }})
	body := []byte(`{"webhook_type":"ITEM","webhook_code":"LOGIN_REPAIRED","item_id":"x","environment":"sandbox"}`)
	header, err := p.SignWebhook(body)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSignedCompact(header, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	kid := jws.Signatures[0].Header.KeyID
	status, m := call(t, p, "/webhook_verification_key/get", map[string]any{"key_id": kid}, nil)
	if status != 200 {
		t.Fatalf("%d %v", status, m)
	}
	key := m["key"].(map[string]any)
	assertShape(t, "key", key, map[string]string{"alg": "string", "crv": "string", "kty": "string", "use": "string",
		"kid": "string", "x": "string", "y": "string", "created_at": "number", "expired_at": "number|null"}, true)
	if key["alg"] != "ES256" || key["crv"] != "P-256" || key["kty"] != "EC" || key["kid"] != kid || key["expired_at"] != nil {
		t.Errorf("key = %v", key)
	}
	x, _ := base64.RawURLEncoding.DecodeString(key["x"].(string))
	y, _ := base64.RawURLEncoding.DecodeString(key["y"].(string))
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatalf("x, y are not a P-256 point: %v", err)
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		t.Fatalf("signature does not verify with the published key: %v", err)
	}
	var claims struct {
		IAT  int64  `json:"iat"`
		Hash string `json:"request_body_sha256"`
	}
	json.Unmarshal(payload, &claims)
	sum := sha256.Sum256(body)
	if claims.IAT != now.Unix() || claims.Hash != hex.EncodeToString(sum[:]) {
		t.Errorf("claims %+v", claims)
	}

	if err := p.ExpireKey(kid, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, m = call(t, p, "/webhook_verification_key/get", map[string]any{"key_id": kid}, nil)
	if m["key"].(map[string]any)["expired_at"] != float64(now.Add(time.Hour).Unix()) {
		t.Errorf("expired_at after ExpireKey: %v", m["key"])
	}
	status, m = call(t, p, "/webhook_verification_key/get", map[string]any{"key_id": "nope"}, nil)
	assertPlaidError(t, "unknown kid", status, m, 400, "INVALID_INPUT", "INVALID_WEBHOOK_VERIFICATION_KEY_ID")
}

func TestPlaidWebhookDelivery(t *testing.T) {
	t.Parallel()
	var calls, fails atomic.Int32
	var mu sync.Mutex
	var bodies [][]byte
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if calls.Add(1) <= fails.Load() || r.Header.Get("Plaid-Verification") == "" {
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
	}))
	defer recv.Close()
	wait := func(p *sandbox.Plaid) sandbox.PlaidWebhookStats {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.WaitWebhooks(ctx); err != nil {
			t.Fatal(err)
		}
		return p.WebhookStats()
	}

	p := startPlaid(t, sandbox.PlaidOptions{})
	it, _ := p.AddConnection(sandbox.Connection{})
	if err := p.Break(it.ID, "ITEM_LOGIN_REQUIRED", ""); err != nil { // no URL yet: dropped
		t.Fatal(err)
	}
	p.SetWebhookURL(recv.URL)
	fails.Store(2) // two refusals, then accepted: retried
	if err := p.Repair(it.ID); err != nil {
		t.Fatal(err)
	}
	if st := wait(p); st != (sandbox.PlaidWebhookStats{Delivered: 1, Dropped: 1}) {
		t.Errorf("stats %+v, want 1 delivered after retries, 1 dropped", st)
	}
	if calls.Load() != 3 {
		t.Errorf("%d attempts, want 3", calls.Load())
	}
	var body map[string]any
	json.Unmarshal(bodies[0], &body)
	want := map[string]any{"webhook_type": "ITEM", "webhook_code": "LOGIN_REPAIRED", "item_id": it.ID, "environment": "sandbox"}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("body %v, want %s = %v", body, k, v)
		}
	}

	calls.Store(0)
	fails.Store(100) // never accepted: gives up
	if err := p.Break(it.ID, "ITEM_LOCKED", ""); err != nil {
		t.Fatal(err)
	}
	if st := wait(p); st.Failed != 1 || st.Pending != 0 {
		t.Errorf("stats %+v, want 1 failed", st)
	}
	if n := calls.Load(); n < 2 || n > 10 {
		t.Errorf("%d attempts before giving up, want a few", n)
	}
	if err := p.Break("no-such-item", "ITEM_LOCKED", ""); err == nil {
		t.Error("Break of an unknown item succeeded")
	}
	if err := p.FireWebhook(it.ID, "PENDING_EXPIRATION"); err == nil {
		t.Error("FireWebhook accepted a code it does not send")
	}
}

// TestPlaidManyItems: 10,000 Items are cheap to add and to read, from many
// goroutines at once (run with -race).
func TestPlaidManyItems(t *testing.T) {
	t.Parallel()
	p := startPlaid(t, sandbox.PlaidOptions{PerItemPerMinute: -1})
	const n = 10_000
	tokens := make([]string, n)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				c, err := p.AddConnection(sandbox.Connection{Institution: "Bank"})
				if err != nil {
					t.Error(err)
					return
				}
				tokens[i] = c.AccessToken
			}
		})
	}
	wg.Wait()
	if _, err := p.AddConnection(sandbox.Connection{ID: mustConn(t, p, tokens[0])}); err == nil {
		t.Error("a duplicate item id was accepted")
	}
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < 200; i += 4 {
				if status, m := call(t, p, "/item/get", map[string]any{"access_token": tokens[i*37%n]}, nil); status != 200 {
					t.Errorf("item %d: %d %v", i, status, m)
				}
			}
		})
	}
	wg.Wait()
}

func mustConn(t *testing.T, p *sandbox.Plaid, token string) string {
	_, m := call(t, p, "/item/get", map[string]any{"access_token": token}, nil)
	id := m["item"].(map[string]any)["item_id"].(string)
	if c, ok := p.Connection(id); !ok || c.AccessToken != token {
		t.Fatalf("Connection(%s) = %+v", id, c)
	}
	return id
}

// TestPlaidHostedSessionWebhooks: an update-mode Hosted Link session sends
// no webhook, though the request names one and the Items have a webhook
// URL: the link token's webhook "will not have an effect" in update mode,
// and ITEM LOGIN_REPAIRED is only for repairs made outside the update mode
// flow (2020-09-14.yml). A session for a new Item sends LINK
// SESSION_FINISHED to the webhook its link token named.
func TestPlaidHostedSessionWebhooks(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	got := map[string][]string{} // path → webhook codes
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			WebhookCode string `json:"webhook_code"`
		}
		json.NewDecoder(r.Body).Decode(&b)
		mu.Lock()
		got[r.URL.Path] = append(got[r.URL.Path], b.WebhookCode)
		mu.Unlock()
	}))
	defer recv.Close()
	p := startPlaid(t, sandbox.PlaidOptions{WebhookURL: recv.URL + "/items"})
	it, err := p.AddConnection(sandbox.Connection{Code: "ITEM_LOGIN_REQUIRED"})
	if err != nil {
		t.Fatal(err)
	}
	session := func(req map[string]any) {
		t.Helper()
		req["client_name"], req["language"], req["country_codes"] = "Acme", "en", []string{"US"}
		req["user"], req["hosted_link"], req["webhook"] = map[string]any{"client_user_id": "u1"}, map[string]any{}, recv.URL+"/session"
		status, m := call(t, p, "/link/token/create", req, nil)
		if status != 200 {
			t.Fatalf("link token: %d %v", status, m)
		}
		resp, err := http.Post(m["hosted_link_url"].(string), "application/x-www-form-urlencoded", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.WaitWebhooks(ctx); err != nil {
			t.Fatal(err)
		}
	}

	session(map[string]any{"access_token": it.AccessToken})
	if c, _ := p.Connection(it.ID); c.Code != "" {
		t.Fatalf("the session did not repair the Item: %+v", c)
	}
	mu.Lock()
	if len(got) != 0 {
		t.Errorf("webhooks after an update-mode session: %v, want none", got)
	}
	mu.Unlock()

	session(map[string]any{"products": []string{"transactions"}})
	mu.Lock()
	defer mu.Unlock()
	if len(got["/items"]) != 0 || len(got["/session"]) != 1 || got["/session"][0] != "SESSION_FINISHED" {
		t.Errorf("webhooks after a new Item's session: %v, want one SESSION_FINISHED at the link token's webhook", got)
	}
}
