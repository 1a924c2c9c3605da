package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/sandbox"
	"github.com/relink/relink/store"
)

// addPlaid adds an Item to the emulator and the registry.
func (e *env) addPlaid() sandbox.Connection {
	e.t.Helper()
	it, err := e.plaid.AddConnection(sandbox.Connection{Institution: "Chase"})
	if err != nil {
		e.t.Fatal(err)
	}
	e.register(store.Registration{Provider: "plaid", ProviderID: it.ID, AccessToken: it.AccessToken})
	return it
}

func plaidBody(t testing.TB, fields map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func plaidError(itemID, code string) []byte {
	b, _ := json.Marshal(map[string]any{"webhook_type": "ITEM", "webhook_code": "ERROR", "item_id": itemID,
		"environment": "sandbox", "error": map[string]any{"error_type": "ITEM_ERROR", "error_code": code,
			"error_message": "the login details of this item have changed", "display_message": nil, "status": 400}})
	return b
}

func TestPlaidWebhooksFromTheEmulatorUpdateTheCache(t *testing.T) {
	e := newEnv(t)
	it := e.addPlaid()

	if err := e.plaid.Break(it.ID, "ITEM_LOGIN_REQUIRED", ""); err != nil {
		t.Fatal(err)
	}
	e.waitPlaid()
	if got := e.category("plaid", it.ID); got != health.LoginRequired {
		t.Fatalf("after ITEM/ERROR: %s", got)
	}
	var verified string
	if err := e.ro.QueryRow(`SELECT verified FROM events WHERE provider = 'plaid'`).Scan(&verified); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(verified, "es256 kid=") || len(verified) < len("es256 kid=")+8 {
		t.Errorf("verified %q", verified)
	}

	deadline := time.Now().Add(7 * 24 * time.Hour).UTC().Truncate(time.Second)
	if err := e.plaid.SetPendingDisconnect(it.ID, "INSTITUTION_TOKEN_EXPIRATION", deadline); err != nil {
		t.Fatal(err)
	}
	e.waitPlaid()
	if c := e.connection("plaid", it.ID); c.Health.Warning != health.ConsentExpiring || c.Health.Deadline == nil || !c.Health.Deadline.Equal(deadline) {
		t.Fatalf("after PENDING_DISCONNECT: %+v", c.Health)
	}

	// The user goes through update mode on the hosted page: Plaid sends no
	// webhook for it (the link token's webhook has no effect in update mode,
	// and LOGIN_REPAIRED is for repairs made elsewhere), so nothing changes
	// until the Item is read again, as serve's rechecks after a click do.
	lt, err := e.plaidClient.UpdateLink(context.Background(), provider.Conn{ProviderID: it.ID, AccessToken: it.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	events := e.events()
	resp, err := http.PostForm(lt.URL, url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	e.waitPlaid()
	if got := e.category("plaid", it.ID); got != health.LoginRequired || e.events() != events {
		t.Fatalf("after the hosted Link session: %s, %d new events; want no webhook and no change", got, e.events()-events)
	}
	if err := e.desk.Check(context.Background(), "plaid:"+it.ID); err != nil {
		t.Fatal(err)
	}
	if got := e.category("plaid", it.ID); got != health.Healthy {
		t.Fatalf("read after the session: %s, want healthy", got)
	}

	if err := e.plaid.Break(it.ID, "USER_PERMISSION_REVOKED", ""); err != nil {
		t.Fatal(err)
	}
	e.waitPlaid()
	if got := e.category("plaid", it.ID); got != health.PermissionRevoked {
		t.Fatalf("after USER_PERMISSION_REVOKED: %s", got)
	}
}

// jwt builds a compact JWT with the given header, unsigned.
func jwt(header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "." +
		base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{1}, 64))
}

func TestPlaidBadInputChangesNothing(t *testing.T) {
	e := newEnv(t)
	it := e.addPlaid()
	good := plaidError(it.ID, "ITEM_LOGIN_REQUIRED")
	if status, answer := e.post("/webhooks/plaid", good, e.plaidHeader(good)); status != 200 {
		t.Fatalf("a valid webhook: %d %q", status, answer)
	}
	other, err := sandbox.NewPlaid(sandbox.PlaidOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	body := plaidError(it.ID, "ITEM_LOCKED") // what a forged webhook would say
	signedAt := func(d time.Duration, b []byte) http.Header {
		e.plaidOffset.Store(int64(d))
		defer e.plaidOffset.Store(0)
		return e.plaidHeader(b)
	}
	signed := func(b []byte) (http.Header, []byte) { return e.plaidHeader(b), b }
	big := plaidBody(t, map[string]any{"webhook_type": "ITEM", "webhook_code": "ERROR", "item_id": it.ID, "pad": strings.Repeat("x", 70<<10)})

	cases := []struct {
		name    string
		prepare func() (http.Header, []byte)
		want    int
	}{
		{"no Plaid-Verification", func() (http.Header, []byte) { return nil, body }, 401},
		{"not a JWT", func() (http.Header, []byte) { return http.Header{"Plaid-Verification": {"abc.def"}}, body }, 401},
		{"HS256 instead of ES256", func() (http.Header, []byte) {
			return http.Header{"Plaid-Verification": {jwt(map[string]any{"alg": "HS256", "kid": "k", "typ": "JWT"}, map[string]any{"iat": time.Now().Unix()})}}, body
		}, 401},
		{"alg none", func() (http.Header, []byte) {
			return http.Header{"Plaid-Verification": {jwt(map[string]any{"alg": "none", "typ": "JWT"}, map[string]any{"iat": time.Now().Unix()})}}, body
		}, 401},
		{"forged signature with a known kid", func() (http.Header, []byte) {
			h := e.plaidHeader(body)
			parts := strings.Split(h.Get("Plaid-Verification"), ".")
			return http.Header{"Plaid-Verification": {parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 64))}}, body
		}, 401},
		{"signed for another body", func() (http.Header, []byte) { return e.plaidHeader(good), body }, 401},
		{"signed by a key Plaid does not know", func() (http.Header, []byte) {
			sig, err := other.SignWebhook(body)
			if err != nil {
				t.Fatal(err)
			}
			return http.Header{"Plaid-Verification": {sig}}, body
		}, 401},
		{"iat 10 minutes old", func() (http.Header, []byte) { return signedAt(-10*time.Minute, body), body }, 401},
		{"iat 10 minutes ahead", func() (http.Header, []byte) { return signedAt(10*time.Minute, body), body }, 401},
		{"signed by an expired key", func() (http.Header, []byte) {
			kid, err := e.plaid.RotateKey()
			if err != nil {
				t.Fatal(err)
			}
			e.plaid.ExpireKey(kid, time.Now().Add(-time.Hour))
			h := e.plaidHeader(body)
			if _, err := e.plaid.RotateKey(); err != nil { // later cases sign with a good key
				t.Fatal(err)
			}
			return h, body
		}, 401},
		{"malformed JSON", func() (http.Header, []byte) { return signed([]byte(`{"webhook_type": "ITEM",`)) }, 400},
		{"no webhook_code", func() (http.Header, []byte) {
			return signed(plaidBody(t, map[string]any{"webhook_type": "ITEM", "item_id": it.ID}))
		}, 400},
		{"ITEM webhook without item_id", func() (http.Header, []byte) {
			return signed(plaidBody(t, map[string]any{"webhook_type": "ITEM", "webhook_code": "ERROR"}))
		}, 400},
		{"body over the limit", func() (http.Header, []byte) { return signed(big) }, 413},
		{"Plaid's key endpoint fails", func() (http.Header, []byte) {
			if _, err := e.plaid.RotateKey(); err != nil { // a kid the verifier must fetch
				t.Fatal(err)
			}
			e.plaid.Faults.ServerErrors(10)
			return signed(body)
		}, 503},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, b := c.prepare()
			events, refused := e.events(), e.logs.lines("refused")
			status, answer := e.post("/webhooks/plaid", b, h)
			checkRefusal(t, status, answer, c.want)
			if got := e.events(); got != events {
				t.Errorf("events %d → %d", events, got)
			}
			if got := e.category("plaid", it.ID); got != health.LoginRequired {
				t.Errorf("category became %s", got)
			}
			if c.want < 500 && e.logs.lines("refused") != refused+1 {
				t.Errorf("no refusal log line")
			}
		})
	}
	e.plaid.Faults.Reset()
	_, secret := e.plaid.Credentials()
	if strings.Contains(e.logs.String(), secret) || strings.Contains(e.logs.String(), it.AccessToken) {
		t.Error("the log holds a secret")
	}
}

// A burst signed with a key the server has not seen (start-up, rotation)
// is verified with one key lookup, not refused beyond the verifier's
// lookup budget.
func TestPlaidBurstWithANewKeyIsAccepted(t *testing.T) {
	e := newEnv(t)
	for round := range 2 { // a cold cache, then a rotated key
		if round == 1 {
			if _, err := e.plaid.RotateKey(); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() {
				b := plaidError(fmt.Sprintf("item_%d_%d", round, i), "ITEM_LOGIN_REQUIRED")
				req, _ := http.NewRequest(http.MethodPost, e.base+"/webhooks/plaid", bytes.NewReader(b))
				req.Header = e.plaidHeader(b)
				resp, err := e.client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("round %d: status %d", round, resp.StatusCode)
				}
			})
		}
		wg.Wait()
	}
	if got := e.events(); got != 80 {
		t.Errorf("%d events stored, want 80", got)
	}
}
