package remind

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestWebhookIsSignedAndCarriesTheKey(t *testing.T) {
	secret := "whsec-0123456789abcdef"
	var got WebhookPayload
	var keys []string
	var verr error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if verr = VerifySignature([]byte(secret), r.Header.Get(SignatureHeader), body, time.Now(), 5*time.Minute); verr != nil {
			http.Error(w, `{"error":"bad signature"}`, http.StatusUnauthorized)
			return
		}
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		json.Unmarshal(body, &got)
		if got.User.Ref == "boom" {
			http.Error(w, "upstream down", http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	ch, err := NewWebhook(WebhookOptions{URL: srv.URL + "/hooks/relink?token=QUERY-SECRET", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m := sampleMessage(t, Webhook, "u-1")
	if err := ch.Send(ctx, m); err != nil {
		t.Fatalf("%v (receiver: %v)", err, verr)
	}
	if got.ID != m.Key || keys[0] != m.Key || got.Type != "relink.reminder" || got.User.Email != "ana@example.com" ||
		len(got.Items) != 2 || got.Items[0].Link != m.Items[0].Link || got.Items[0].Category != "account_locked" || got.Text != m.Text {
		t.Fatalf("payload %+v keys %v", got, keys)
	}

	wrong, _ := NewWebhook(WebhookOptions{URL: srv.URL, Secret: "another-secret-0123"})
	err = wrong.Send(ctx, m)
	if verr == nil || KindOf(err) != KindUnavailable {
		t.Errorf("a wrong secret: receiver %v, sender %v", verr, err)
	}
	m.User.Ref = "boom"
	err = ch.Send(ctx, m)
	if KindOf(err) != KindTransient || strings.Contains(err.Error(), "QUERY-SECRET") || !strings.Contains(err.Error(), "/hooks/relink") {
		t.Errorf("502: %v", err)
	}

	body := []byte(`{"id":"x"}`)
	old := time.Now().Add(-10 * time.Minute)
	if err := VerifySignature([]byte(secret), Sign([]byte(secret), old, body), body, time.Now(), 5*time.Minute); err == nil {
		t.Error("a stale signature passes")
	}
	h := Sign([]byte(secret), time.Now(), body)
	if err := VerifySignature([]byte(secret), h, []byte(`{"id":"y"}`), time.Now(), time.Minute); err == nil {
		t.Error("a changed body passes")
	}
	for _, bad := range []string{"", "t=abc,v1=00", "v1=00"} {
		if VerifySignature([]byte(secret), bad, body, time.Now(), time.Minute) == nil {
			t.Errorf("header %q passes", bad)
		}
	}
	if _, err := NewWebhook(WebhookOptions{URL: srv.URL, Secret: "short"}); err == nil {
		t.Error("a short secret is accepted")
	}
}
