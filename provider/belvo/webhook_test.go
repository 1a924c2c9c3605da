package belvo_test

import (
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider/belvo"
	"github.com/relink/relink/provider/sandbox"
)

func TestVerifyWebhook(t *testing.T) {
	const want = "Bearer 9f8e7d6c5b4a"
	if err := belvo.VerifyWebhook(want, want); err != nil {
		t.Errorf("valid: %v", err)
	}
	for name, got := range map[string]string{"wrong": "Bearer 000000000000", "prefix": "Bearer 9f8e", "missing": ""} {
		err := belvo.VerifyWebhook(got, want)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "9f8e") || (got != "" && strings.Contains(err.Error(), got)) {
			t.Errorf("%s: error %q shows a value", name, err)
		}
	}
	if err := belvo.VerifyWebhook(want, ""); err == nil || err.Error() != "belvo.webhook_authorization is not set" {
		t.Errorf("unset: %v", err)
	}
}

func TestParseWebhook(t *testing.T) {
	c := newEnv(t, nil).client
	at := time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		body    string
		cat     health.Category
		effect  health.Effect
		recheck bool
		reason  string
	}{
		"invalid_credentials": {`{"webhook_id":"aadf41a1fc8e4f79a49f7f04027ac999","webhook_type":"LINK","process_type":"recurrent_update",
			"webhook_code":"invalid_credentials","link_id":"16f68516-bcbc-4cf7-b815-c500d4204e28","request_id":"4363b08b",
			"external_id":"user-8841","data":{"error_code":"login_error","error_message":"Invalid credentials provided to login to the institution","status":400}}`,
			health.LoginRequired, health.SetPrimary, false, "login_error"},
		"invalid_credentials refined": {`{"webhook_id":"w2","webhook_type":"LINK","webhook_code":"invalid_credentials",
			"link_id":"l1","data":{"error_code":"login_error","error_message":"Usuario bloqueado","status":400}}`,
			health.AccountLocked, health.SetPrimary, false, "login_error"},
		"token_required": {`{"webhook_id":"w3","webhook_type":"LINK","process_type":"recurrent_update","webhook_code":"token_required",
			"link_id":"l1","external_id":null,"data":{"error_code":"token_required","error_message":"A MFA token is required","status":428}}`,
			health.MFARequired, health.SetPrimary, false, "token_required"},
		"ACCOUNTS historical_update": {`{"webhook_id":"w4","webhook_type":"ACCOUNTS","process_type":"historical_update",
			"webhook_code":"historical_update","link_id":"l1","data":{"total_accounts":3}}`,
			"", health.NoChange, true, ""},
		"LINK historical_update, older shape": {`{"webhook_id":"w5","webhook_type":"LINK","webhook_code":"historical_update","link_id":"l1","data":{}}`,
			"", health.NoChange, true, ""},
		"TRANSACTIONS by process_type": {`{"webhook_id":"w6","webhook_type":"TRANSACTIONS","process_type":"historical_update",
			"webhook_code":"new_transactions_available","link_id":"l1","data":{"count":12}}`,
			"", health.NoChange, true, ""},
		"new_accounts_available": {`{"webhook_id":"w7","webhook_type":"ACCOUNTS","process_type":"recurrent_update",
			"webhook_code":"new_accounts_available","link_id":"l1","data":{"new_accounts":2}}`,
			"", health.NoChange, false, ""},
	} {
		t.Run(name, func(t *testing.T) {
			obs, err := c.ParseWebhook([]byte(tc.body), at)
			if err != nil {
				t.Fatal(err)
			}
			if obs.EventID == "" || obs.ProviderID == "" || obs.Kind != "webhook" || len(obs.Raw) == 0 {
				t.Errorf("observation %+v", obs)
			}
			s := obs.Signal
			if s.Category != tc.cat || s.Effect != tc.effect || obs.Recheck != tc.recheck ||
				s.ProviderReason != tc.reason || !s.ObservedAt.Equal(at) || s.Source != health.SourceWebhook {
				t.Errorf("signal %+v recheck %v", s, obs.Recheck)
			}
		})
	}
}

func TestParseWebhookRejects(t *testing.T) {
	c := newEnv(t, nil).client
	for name, body := range map[string]string{
		"not json":          `{"webhook_id":`,
		"array":             `[]`,
		"no webhook_id":     `{"webhook_type":"LINK","webhook_code":"invalid_credentials","link_id":"l1"}`,
		"empty webhook_id":  `{"webhook_id":"","webhook_type":"LINK","webhook_code":"invalid_credentials","link_id":"l1"}`,
		"numeric id":        `{"webhook_id":7,"webhook_type":"LINK","webhook_code":"invalid_credentials","link_id":"l1"}`,
		"no link_id":        `{"webhook_id":"w","webhook_type":"LINK","webhook_code":"invalid_credentials"}`,
		"no webhook_code":   `{"webhook_id":"w","webhook_type":"LINK","link_id":"l1"}`,
		"no webhook_type":   `{"webhook_id":"w","webhook_code":"invalid_credentials","link_id":"l1"}`,
		"LINK data is text": `{"webhook_id":"w","webhook_type":"LINK","webhook_code":"invalid_credentials","link_id":"l1","data":"x"}`,
		"error_message int": `{"webhook_id":"w","webhook_type":"LINK","webhook_code":"invalid_credentials","link_id":"l1","data":{"error_message":5}}`,
	} {
		if _, err := c.ParseWebhook([]byte(body), time.Now()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The emulator's token_required webhook reaches a receiver that verifies
// the Authorization header and parses it.
func TestWebhookDelivery(t *testing.T) {
	e := newEnv(t, nil)
	id := e.add(t, sandbox.Connection{})
	if err := e.emu.Break(id, "token_required", ""); err != nil {
		t.Fatal(err)
	}
	if obs := <-e.hooks; obs.ProviderID != id || obs.Signal.Category != health.MFARequired {
		t.Errorf("%+v", obs)
	}
}
