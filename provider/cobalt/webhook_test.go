package cobalt_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider/cobalt"
)

func hmacHex(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func TestVerifyWebhook(t *testing.T) {
	const secret = "whsec_abc123"
	compact := []byte(`{"id":"e1","type":"access_token.login_required","data":{"message":"hi"}}`)
	var indented bytes.Buffer
	json.Indent(&indented, compact, "", "  ")

	for name, tc := range map[string]struct {
		header string
		body   []byte
		ok     bool
	}{
		"raw body":                {hmacHex(secret, compact), compact, true},
		"upper-case hex":          {strings.ToUpper(hmacHex(secret, compact)), compact, true},
		"compact-form fallback":   {hmacHex(secret, compact), indented.Bytes(), true},
		"signature of the indent": {hmacHex(secret, indented.Bytes()), indented.Bytes(), true},
		"wrong secret":            {hmacHex("whsec_other", compact), compact, false},
		"tampered body":           {hmacHex(secret, compact), bytes.Replace(compact, []byte("hi"), []byte("ho"), 1), false},
		"missing":                 {"", compact, false},
		"not json, wrong sig":     {hmacHex(secret, compact), []byte("not json"), false},
	} {
		err := cobalt.VerifyWebhook(tc.header, tc.body, secret)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", name, err)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error shows the secret", name)
		}
	}
	if err := cobalt.VerifyWebhook(hmacHex("", compact), compact, ""); err == nil || err.Error() != "cobalt.webhook_secret is not set" {
		t.Errorf("unset secret: %v", err)
	}
}

func TestParseWebhook(t *testing.T) {
	received := time.Date(2025, 10, 21, 15, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		body    string
		cat     health.Category
		warning health.Warning
		effect  health.Effect
		at      time.Time
		ref     string
	}{
		"login_required": {`{"id":"550e8400-e29b-41d4-a716-446655440030","access_token_reference_id":"clinic_1","object":"event",
			"created":"2025-10-21T14:30:00.000Z","type":"access_token.login_required",
			"data":{"access_token_reference_id":"clinic_1","emr_instance_domain":"https://ehr.test","message":"Reconnect please"}}`,
			health.LoginRequired, "", health.SetPrimary, time.Date(2025, 10, 21, 14, 30, 0, 0, time.UTC), "clinic_1"},
		"password_expired, offset time": {`{"id":"e2","access_token_reference_id":"clinic_1","object":"event",
			"created":"2025-10-21T07:30:00-07:00","type":"access_token.login_required",
			"data":{"access_token_reference_id":"clinic_1","emr_instance_domain":"https://ehr.test","message":"m","error_type":"password_expired"}}`,
			health.PasswordExpired, "", health.SetPrimary, time.Date(2025, 10, 21, 14, 30, 0, 0, time.UTC), "clinic_1"},
		"account_locked": {`{"id":"e3","object":"event","created":"2025-10-21T14:30:00Z","type":"access_token.login_required",
			"data":{"access_token_reference_id":"clinic_2","emr_instance_domain":"d","message":"m","error_type":"account_locked"}}`,
			health.AccountLocked, "", health.SetPrimary, time.Date(2025, 10, 21, 14, 30, 0, 0, time.UTC), "clinic_2"},
		"unknown error_type": {`{"id":"e4","access_token_reference_id":"c","object":"event","created":"2025-10-21T14:30:00Z",
			"type":"access_token.login_required","data":{"message":"m","error_type":"sso_migrated"}}`,
			health.LoginRequired, "", health.SetPrimary, time.Date(2025, 10, 21, 14, 30, 0, 0, time.UTC), "c"},
		"password_change_warning": {`{"id":"e5","access_token_reference_id":"c","object":"event","created":"2025-10-21T14:30:00Z",
			"type":"access_token.password_change_warning","data":{"access_token_reference_id":"c","emr_instance_domain":"d","message":"Change it soon"}}`,
			"", health.PasswordChangeWarning, health.SetWarning, time.Date(2025, 10, 21, 14, 30, 0, 0, time.UTC), "c"},
		"operation event": {`{"id":"e6","access_token_reference_id":"c","object":"event","created":"2025-10-21T14:30:00Z",
			"type":"appointment.failed","job_id":"12345","data":{"failure_reason":"x","reasons":[{"code":"SLOT","description":"taken"}]}}`,
			"", "", health.NoChange, time.Date(2025, 10, 21, 14, 30, 0, 0, time.UTC), "c"},
		"older shape": {`{"event_id":"e7","event_type":"access_token.login_required","created_at":"2025-10-21T14:30:00Z",
			"access_token_reference_id":"c","data":{"message":"m"}}`,
			health.LoginRequired, "", health.SetPrimary, time.Date(2025, 10, 21, 14, 30, 0, 0, time.UTC), "c"},
		"Cobalt's unpadded offset": {`{"id":"e9","access_token_reference_id":"c","object":"event","created":"2025-10-21T07:30:00.000-7:00",
			"type":"access_token.login_required","data":{}}`,
			health.LoginRequired, "", health.SetPrimary, time.Date(2025, 10, 21, 14, 30, 0, 0, time.UTC), "c"},
		"operation event, unreadable time": {`{"id":"e10","access_token_reference_id":"c","object":"event","created":"someday",
			"type":"appointment.cancelled","data":{"id":"s13"}}`,
			"", "", health.NoChange, received, "c"},
		"created in the future": {`{"id":"e8","access_token_reference_id":"c","object":"event","created":"2030-01-01T00:00:00Z",
			"type":"access_token.login_required","data":{}}`,
			health.LoginRequired, "", health.SetPrimary, received, "c"},
	} {
		t.Run(name, func(t *testing.T) {
			obs, err := cobalt.ParseWebhook([]byte(tc.body), received)
			if err != nil {
				t.Fatal(err)
			}
			s := obs.Signal
			if s.Category != tc.cat || s.Warning != tc.warning || s.Effect != tc.effect ||
				!s.ObservedAt.Equal(tc.at) || obs.ProviderID != tc.ref || obs.EventID == "" ||
				obs.Kind != "webhook" || len(obs.Raw) == 0 {
				t.Errorf("%+v", obs)
			}
		})
	}
}

func TestParseWebhookRejects(t *testing.T) {
	for name, body := range map[string]string{
		"not json":        `{"id":`,
		"no id":           `{"type":"access_token.login_required","created":"2025-10-21T14:30:00Z","access_token_reference_id":"c"}`,
		"no type":         `{"id":"e","created":"2025-10-21T14:30:00Z","access_token_reference_id":"c"}`,
		"no created":      `{"id":"e","type":"access_token.login_required","access_token_reference_id":"c"}`,
		"bad created":     `{"id":"e","type":"access_token.login_required","created":"yesterday","access_token_reference_id":"c"}`,
		"no reference id": `{"id":"e","type":"access_token.login_required","created":"2025-10-21T14:30:00Z","data":{}}`,
		"id is a number":  `{"id":5,"type":"access_token.login_required","created":"2025-10-21T14:30:00Z","access_token_reference_id":"c"}`,
		"data is text":    `{"id":"e","type":"access_token.login_required","created":"2025-10-21T14:30:00Z","access_token_reference_id":"c","data":"x"}`,
		"array":           `[1,2]`,
		"empty":           ``,
	} {
		_, err := cobalt.ParseWebhook([]byte(body), time.Now())
		if !errors.Is(err, cobalt.ErrUnreadableEvent) {
			t.Errorf("%s: %v, want an error matching ErrUnreadableEvent", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: a multi-line error %q", name, err)
		}
	}
}

// Every ISO-8601 form Cobalt writes (and its close kin) reads, as the same
// instant; what is not a time is still refused.
func TestParseWebhookTimeForms(t *testing.T) {
	want := time.Date(2024, 4, 5, 15, 0, 0, 0, time.UTC)
	for _, created := range []string{
		"2024-04-05T08:00:00.000-7:00", // docs.usecobalt.com/docs/webhooks/events
		"2024-04-05T08:00:00.000-07:00",
		"2024-04-05T08:00:00-0700",
		"2024-04-05T08:00:00-07",
		"2024-04-05T08:00:00-7",
		"2024-04-05T15:00:00.000Z",
		"2024-04-05T15:00:00Z",
		"2024-04-05T15:00:00z",
		"2024-04-05T15:00Z",
		"2024-04-05 15:00:00Z",
		"2024-04-05T15:00:00,000Z",
		"2024-04-05T15:00:00.000000000Z",
		"2024-04-05T15:00:00.000", // no zone: UTC
		"2024-04-05T20:30:00+5:30",
		"2024-04-05T20:30:00.000+05:30",
	} {
		body := `{"id":"e","type":"access_token.login_required","access_token_reference_id":"c","created":"` + created + `"}`
		obs, err := cobalt.ParseWebhook([]byte(body), want.Add(time.Hour))
		if err != nil || !obs.Signal.ObservedAt.Equal(want) {
			t.Errorf("%s: %v %v", created, obs.Signal.ObservedAt, err)
		}
	}
	for _, created := range []string{"2024-04-05", "2024-13-05T08:00:00Z", "2024-04-05T25:00:00Z", "2024-04-05T08:00:00-7:60",
		"2024-04-05T08:00:00+19:00", "08:00:00", "2024-04-05T08:00:00 PDT", "1712329200"} {
		body := `{"id":"e","type":"access_token.login_required","access_token_reference_id":"c","created":"` + created + `"}`
		if _, err := cobalt.ParseWebhook([]byte(body), want); !errors.Is(err, cobalt.ErrUnreadableEvent) {
			t.Errorf("%s: %v, want unreadable", created, err)
		}
	}
}

func TestParseLinkResult(t *testing.T) {
	at := time.Now().UTC().Truncate(time.Second)
	body := func(completed time.Time) []byte {
		return []byte(`{"access_token_reference_id":"clinic_1","completed_at":"` + completed.Format(time.RFC3339) + `"}`)
	}
	done := at.Add(-time.Minute)
	obs, err := cobalt.ParseLinkResult(body(done), at)
	if err != nil || obs.ProviderID != "clinic_1" || obs.Signal.Category != health.Healthy ||
		!obs.Signal.ClearWarning || !obs.Signal.ObservedAt.Equal(done) || obs.EventID == "" {
		t.Errorf("%+v %v", obs, err)
	}
	// The same callback again within the window has the same event id, so
	// the store keeps it once; a replay after the window is refused.
	again, _ := cobalt.ParseLinkResult(body(done), at.Add(2*time.Minute))
	if again.EventID != obs.EventID {
		t.Errorf("a replay within the window has another event id: %q vs %q", again.EventID, obs.EventID)
	}
	for name, b := range map[string][]byte{
		"empty": []byte(`{}`), "no reference": []byte(`{"access_token_reference_id":""}`), "not json": []byte(`nope`),
		"no completed_at": []byte(`{"access_token_reference_id":"clinic_1"}`),
		"replayed later":  body(at.Add(-6 * time.Minute)), "from the future": body(at.Add(6 * time.Minute)),
	} {
		if _, err := cobalt.ParseLinkResult(b, at); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
