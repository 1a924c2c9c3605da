package remind

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/relink/relink/config"
)

// twilio emulates the Messages resource of a Twilio-style SMS API.
type twilio struct {
	sid, token string
	mu         sync.Mutex
	sent       []smsSent
	fail       map[string]int // To → HTTP status to answer with
}

type smsSent struct{ To, From, Body string }

func (tw *twilio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	writeErr := func(status, code int, msg string) {
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "status": status,
			"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code)})
	}
	if r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/"+tw.sid+"/Messages.json" {
		writeErr(404, 20404, "The requested resource was not found")
		return
	}
	if u, p, ok := r.BasicAuth(); !ok || u != tw.sid || p != tw.token {
		writeErr(401, 20003, "Authenticate")
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("To") == "" || r.PostForm.Get("Body") == "" {
		writeErr(400, 21604, "A 'To' phone number is required.")
		return
	}
	to := r.PostForm.Get("To")
	switch tw.fail[to] {
	case 400:
		writeErr(400, 21211, "The 'To' number "+to+" is not a valid phone number.")
		return
	case 429:
		writeErr(429, 20429, "Too Many Requests")
		return
	case 500:
		writeErr(500, 20500, "Internal Server Error")
		return
	}
	tw.mu.Lock()
	tw.sent = append(tw.sent, smsSent{to, r.PostForm.Get("From"), r.PostForm.Get("Body")})
	n := len(tw.sent)
	tw.mu.Unlock()
	w.WriteHeader(201)
	json.NewEncoder(w).Encode(map[string]any{"sid": fmt.Sprintf("SM%032d", n), "status": "queued", "to": to})
}

func TestSMSOverATwilioStyleAPI(t *testing.T) {
	tw := &twilio{sid: "AC0123456789", token: "tok-SECRET-sms", fail: map[string]int{
		"+15550000400": 400, "+15550000429": 429, "+15550000500": 500}}
	srv := httptest.NewServer(tw)
	defer srv.Close()
	cfg := config.SMS{BaseURL: srv.URL + "/", AccountSID: tw.sid, AuthToken: tw.token, From: "+15550001111"}
	ch, err := NewSMS(SMSOptions{SMS: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m := sampleMessage(t, SMS, "+15551234567")
	if err := ch.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	if len(tw.sent) != 1 || tw.sent[0].To != "+15551234567" || tw.sent[0].From != "+15550001111" || tw.sent[0].Body != m.Text {
		t.Fatalf("sent %+v", tw.sent)
	}
	for _, it := range m.Items {
		if !strings.Contains(tw.sent[0].Body, it.Link) {
			t.Errorf("SMS lacks the durable link %s: %q", it.Link, tw.sent[0].Body)
		}
	}
	check := func(to string, kind Kind, want string) {
		t.Helper()
		err := ch.Send(ctx, sampleMessage(t, SMS, to))
		if KindOf(err) != kind || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), tw.token) {
			t.Errorf("%s: %v (kind %d), want kind %d and %q, no token", to, err, KindOf(err), kind, want)
		}
	}
	check("+15550000400", KindPermanent, "not a valid phone number. (code 21211)")
	check("+15550000429", KindTransient, "HTTP 429")
	check("+15550000500", KindTransient, "HTTP 500")

	cfg.AuthToken = "wrong-SECRET"
	bad, _ := NewSMS(SMSOptions{SMS: cfg})
	err = bad.Send(ctx, m)
	if KindOf(err) != KindUnavailable || strings.Contains(err.Error(), "wrong-SECRET") || !strings.Contains(err.Error(), "credentials were refused") {
		t.Errorf("bad token: %v", err)
	}
	if _, err := NewSMS(SMSOptions{SMS: config.SMS{BaseURL: srv.URL}}); err == nil || !strings.Contains(err.Error(), "account_sid") {
		t.Errorf("unconfigured: %v", err)
	}
}
