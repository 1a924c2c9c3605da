package server

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/provider/cobalt"
	"github.com/relink/relink/provider/plaid"
)

// The fuzz targets drive the real handler with arbitrary bodies and
// headers. Properties: no panic; every answer is one line; an answer of
// 4xx/5xx stores nothing and changes no health; a 2xx only follows a
// verification that an independent check also accepts.

// fuzzState is what a fuzz input could change: the events stored and the
// registered connections' health.
func fuzzState(t *testing.T, ro *sql.DB) string {
	t.Helper()
	var n int
	var health sql.NullString
	if err := ro.QueryRow(`SELECT (SELECT COUNT(*) FROM events),
		(SELECT group_concat(category || warning || COALESCE(observed_at, ''), ',') FROM connections)`).Scan(&n, &health); err != nil {
		t.Fatalf("reading the cache: %v", err)
	}
	return fmt.Sprintf("%d events|%s", n, health.String)
}

// serve runs one request through h.
func serve(h http.Handler, path string, body []byte, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header = header
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func checkFuzzAnswer(t *testing.T, rec *httptest.ResponseRecorder, before, after string, verified bool) {
	t.Helper()
	answer := rec.Body.String()
	if !strings.HasSuffix(answer, "\n") || strings.Count(answer, "\n") != 1 {
		t.Fatalf("answer %q is not one line", answer)
	}
	if rec.Code >= 400 && before != after {
		t.Fatalf("a refused request (%d %q) changed the cache", rec.Code, answer)
	}
	if rec.Code < 400 && !verified {
		t.Fatalf("accepted (%d %q) without a valid signature", rec.Code, answer)
	}
}

func FuzzCobaltWebhook(f *testing.F) {
	e := newEnv(f)
	e.addCobalt("clinic_1")
	secret := e.cobalt.WebhookSecret()
	valid := cobaltBody(f, "evt_seed", "clinic_1", "access_token.login_required", time.Now(), loginRequired("clinic_1"))
	op := cobaltBody(f, "evt_op", "clinic_1", "appointment.created", time.Now(), map[string]any{"id": 1})
	for _, seed := range []struct {
		body     []byte
		sig      string
		callback bool
	}{
		{valid, hmacHex(secret, valid), false},
		{op, hmacHex(secret, op), false},
		{valid, hmacHex("other", valid), false},
		{[]byte(`{"access_token_reference_id":"clinic_1"}`), hmacHex(secret, []byte(`{"access_token_reference_id":"clinic_1"}`)), true},
		{[]byte(`{"id":"x","type":"access_token.login_required","created":"2025-10-21T14:30:00Z"}`), "", false},
		{[]byte(`[]`), hmacHex(secret, []byte(`[]`)), false},
	} {
		f.Add(seed.body, seed.sig, seed.callback)
	}
	h := e.srv.Handler()
	f.Fuzz(func(t *testing.T, body []byte, sig string, callback bool) {
		path := "/webhooks/cobalt"
		if callback {
			path = "/callbacks/cobalt"
		}
		header := http.Header{}
		if sig != "" {
			header.Set(cobalt.SignatureHeader, sig)
		}
		before := fuzzState(t, e.ro)
		rec := serve(h, path, body, header)
		checkFuzzAnswer(t, rec, before, fuzzState(t, e.ro), cobalt.VerifyWebhook(sig, body, secret) == nil)
	})
}

func FuzzBelvoWebhook(f *testing.F) {
	e := newEnv(f)
	auth := e.belvo.WebhookAuthorization()
	link := "16f68516-bcbc-4cf7-b815-c500d4204e28"
	f.Add(belvoBody(f, "wh_seed", "LINK", "invalid_credentials", link, map[string]any{"error_code": "login_error",
		"error_message": "Invalid credentials provided to login to the institution"}), auth)
	f.Add(belvoBody(f, "wh_hist", "ACCOUNTS", "historical_update", link, map[string]any{"total_accounts": 2}), auth)
	f.Add(belvoBody(f, "wh_forged", "LINK", "token_required", link, nil), "Bearer guess")
	f.Add([]byte(`{"webhook_id":null}`), auth)
	f.Add([]byte(`{`), "")
	h := e.srv.Handler()
	f.Fuzz(func(t *testing.T, body []byte, authorization string) {
		header := http.Header{}
		if authorization != "" {
			header.Set("Authorization", authorization)
		}
		before := fuzzState(t, e.ro)
		rec := serve(h, "/webhooks/belvo", body, header)
		checkFuzzAnswer(t, rec, before, fuzzState(t, e.ro), authorization == auth)
	})
}

func FuzzPlaidWebhook(f *testing.F) {
	e := newEnv(f)
	it := e.addPlaid()
	valid := plaidError(it.ID, "ITEM_LOGIN_REQUIRED")
	sig, err := e.plaid.SignWebhook(valid)
	if err != nil {
		f.Fatal(err)
	}
	repaired := []byte(`{"webhook_type":"ITEM","webhook_code":"LOGIN_REPAIRED","item_id":"` + it.ID + `","environment":"sandbox"}`)
	sig2, _ := e.plaid.SignWebhook(repaired)
	link := []byte(`{"webhook_type":"LINK","webhook_code":"SESSION_FINISHED","status":"SUCCESS","link_token":"link-sandbox-1","public_tokens":["public-sandbox-1"]}`)
	sig3, _ := e.plaid.SignWebhook(link)
	f.Add(valid, sig)
	f.Add(repaired, sig2)
	f.Add(link, sig3)
	f.Add(repaired, sig) // signed for another body
	f.Add(valid, jwt(map[string]any{"alg": "HS256", "kid": "k"}, map[string]any{"iat": 0}))
	f.Add([]byte(`{}`), "")
	// The oracle: an independent verifier of the same keys.
	oracle := plaid.NewVerifier(e.plaidClient)
	h := e.srv.Handler()
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		hdr := http.Header{}
		if header != "" {
			hdr.Set("Plaid-Verification", header)
		}
		before := fuzzState(t, e.ro)
		rec := serve(h, "/webhooks/plaid", body, hdr)
		verified := true
		if rec.Code < 400 {
			verified = oracle.Verify(context.Background(), header, body) == nil
		}
		checkFuzzAnswer(t, rec, before, fuzzState(t, e.ro), verified)
	})
}
