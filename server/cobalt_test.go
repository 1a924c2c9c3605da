package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider/cobalt"
	"github.com/relink/relink/provider/sandbox"
	"github.com/relink/relink/store"
)

// cobaltBody is a Cobalt event as COBALT.md §6.1 shows it.
func cobaltBody(t testing.TB, id, ref, typ string, created time.Time, data map[string]any) []byte {
	t.Helper()
	ev := map[string]any{"id": id, "object": "event", "type": typ, "created": created.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
	if ref != "" {
		ev["access_token_reference_id"] = ref
	}
	if data != nil {
		ev["data"] = data
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loginRequired(ref string) map[string]any {
	return map[string]any{"access_token_reference_id": ref, "emr_instance_domain": "https://ehr.example.com",
		"message": "Please reconnect."}
}

func hmacHex(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func (e *env) cobaltHeader(body []byte) http.Header {
	return http.Header{cobalt.SignatureHeader: {hmacHex(e.cobalt.WebhookSecret(), body)}}
}

// addCobalt adds a connection to the emulator and the registry.
func (e *env) addCobalt(ref string) {
	e.t.Helper()
	c, err := e.cobalt.AddConnection(sandbox.Connection{ID: ref})
	if err != nil {
		e.t.Fatal(err)
	}
	e.register(store.Registration{Provider: "cobalt", ProviderID: ref, AccessToken: c.AccessToken})
}

func TestCobaltWebhooksFromTheEmulatorUpdateTheCache(t *testing.T) {
	// The emulator stamps its events and the server its receipts with one
	// clock that moves a second before each step: every event has a time
	// of its own (in the past, as a real one would be).
	clock := newTestClock(time.Now().Add(-time.Hour))
	e := newEnv(t, func(c *Config) { c.Now = clock.Now })
	e.cobaltClock.Store(clock)
	e.addCobalt("clinic_1")

	steps := []struct {
		name        string
		act         func() error
		wantCat     health.Category
		wantWarning health.Warning
	}{
		{"login required", func() error { return e.cobalt.Break("clinic_1", "login_required", "") }, health.LoginRequired, ""},
		{"password expired", func() error { return e.cobalt.Break("clinic_1", "password_expired", "") }, health.PasswordExpired, ""},
		{"password change warning", func() error { return e.cobalt.Break("clinic_1", "password_change_warning", "") }, health.PasswordExpired, health.PasswordChangeWarning},
		{"repaired through Link (the callback)", func() error { return e.cobalt.Repair("clinic_1") }, health.Healthy, ""},
		{"an operation event changes nothing", func() error {
			return e.cobalt.SendEvent("clinic_1", "appointment.created", map[string]any{"appointment_id": "a1"})
		}, health.Healthy, ""},
	}
	for _, s := range steps {
		clock.Advance(time.Second) // distinct event times
		if err := s.act(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		c := e.connection("cobalt", "clinic_1")
		if c.Health.Category != s.wantCat || c.Health.Warning != s.wantWarning {
			t.Fatalf("%s: health %s/%q, want %s/%q", s.name, c.Health.Category, c.Health.Warning, s.wantCat, s.wantWarning)
		}
	}
	rows, err := e.ro.Query(`SELECT kind, verified FROM events WHERE provider = 'cobalt' AND event_id IS NOT NULL AND kind != 'link_result'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var kind, verified string
		if err := rows.Scan(&kind, &verified); err != nil {
			t.Fatal(err)
		}
		if kind != "webhook" || verified != "hmac-sha256" {
			t.Errorf("event stored as kind %q verified %q", kind, verified)
		}
		n++
	}
	if n != 4 {
		t.Errorf("%d webhook events stored, want 4", n)
	}
	if got := e.srv.m.requests[routeCobalt][resAccepted].Load(); got != 4 {
		t.Errorf("accepted cobalt webhooks counted %d, want 4", got)
	}
	if got := e.srv.m.requests[routeCobaltLink][resAccepted].Load(); got != 1 {
		t.Errorf("accepted link callbacks counted %d, want 1", got)
	}
}

func TestCobaltAcceptsTheSignatureOfTheCompactBody(t *testing.T) {
	e := newEnv(t)
	e.addCobalt("clinic_1")
	compact := cobaltBody(t, "evt_compact", "clinic_1", "access_token.login_required", time.Now(), loginRequired("clinic_1"))
	var pretty strings.Builder
	var v any
	json.Unmarshal(compact, &v)
	enc := json.NewEncoder(&pretty)
	enc.SetIndent("", "  ")
	enc.Encode(v)
	// Cobalt signs JSON.stringify(parsed body): the compact form (COBALT.md §6.4).
	status, answer := e.post("/webhooks/cobalt", []byte(pretty.String()), e.cobaltHeader(compact))
	if status != http.StatusOK {
		t.Fatalf("status %d %q", status, answer)
	}
	if got := e.category("cobalt", "clinic_1"); got != health.LoginRequired {
		t.Fatalf("category %s", got)
	}
}

func TestCobaltBadInputChangesNothing(t *testing.T) {
	e := newEnv(t)
	e.addCobalt("clinic_1")
	secret := e.cobalt.WebhookSecret()
	now := time.Now()
	valid := cobaltBody(t, "evt_valid", "clinic_1", "access_token.login_required", now, loginRequired("clinic_1"))
	signed := func(b []byte) http.Header { return http.Header{cobalt.SignatureHeader: {hmacHex(secret, b)}} }
	big := cobaltBody(t, "evt_big", "clinic_1", "access_token.login_required", now,
		map[string]any{"access_token_reference_id": "clinic_1", "message": strings.Repeat("x", 70<<10)})

	cases := []struct {
		name   string
		path   string
		body   []byte
		header http.Header
		want   int
	}{
		{"no signature", "/webhooks/cobalt", valid, nil, 401},
		{"signature not hex", "/webhooks/cobalt", valid, http.Header{cobalt.SignatureHeader: {"not a signature"}}, 401},
		{"signed with another secret", "/webhooks/cobalt", valid, http.Header{cobalt.SignatureHeader: {hmacHex("whsec_other", valid)}}, 401},
		{"signature of another body", "/webhooks/cobalt", valid, signed(cobaltBody(t, "evt_other", "clinic_1", "access_token.login_required", now, nil)), 401},
		{"signature in the wrong header", "/webhooks/cobalt", valid, http.Header{"X-Signature": {hmacHex(secret, valid)}}, 401},
		{"empty body", "/webhooks/cobalt", nil, signed(nil), 400},
		{"body over the limit", "/webhooks/cobalt", big, signed(big), 413},
		{"callback without signature", "/callbacks/cobalt", []byte(`{"access_token_reference_id":"clinic_1"}`), nil, 401},
		{"callback with a wrong signature", "/callbacks/cobalt", []byte(`{"access_token_reference_id":"clinic_1"}`), signed([]byte(`{}`)), 401},
		{"callback without reference", "/callbacks/cobalt", []byte(`{}`), signed([]byte(`{}`)), 400},
		{"callback malformed", "/callbacks/cobalt", []byte(`{"access_token_reference_id":`), signed([]byte(`{"access_token_reference_id":`)), 400},
		{"callback for a connection not registered", "/callbacks/cobalt", linkResult("nobody", now),
			signed(linkResult("nobody", now)), 404},
		{"callback replayed after five minutes", "/callbacks/cobalt", linkResult("clinic_1", now.Add(-10*time.Minute)),
			signed(linkResult("clinic_1", now.Add(-10*time.Minute))), 400},
	}
	// A failing connection, so a wrongly accepted callback would show.
	if status, answer := e.post("/webhooks/cobalt", valid, signed(valid)); status != 200 {
		t.Fatalf("the valid event: %d %q", status, answer)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			events, refused := e.events(), e.logs.lines(`"level":"WARN"`, "refused")
			status, answer := e.post(c.path, c.body, c.header)
			checkRefusal(t, status, answer, c.want)
			if got := e.events(); got != events {
				t.Errorf("events %d → %d", events, got)
			}
			if got := e.category("cobalt", "clinic_1"); got != health.LoginRequired {
				t.Errorf("category became %s", got)
			}
			if got := e.logs.lines(`"level":"WARN"`, "refused"); got != refused+1 {
				t.Errorf("%d refusal log lines, want one more than %d", got, refused)
			}
		})
	}
	if got := e.srv.m.requests[routeCobalt][resRejected].Load() + e.srv.m.requests[routeCobaltLink][resRejected].Load(); got != int64(len(cases)) {
		t.Errorf("rejections counted %d, want %d", got, len(cases))
	}
	if strings.Contains(e.logs.String(), secret) || strings.Contains(e.logs.String(), "Please reconnect") {
		t.Error("the log holds the secret or a body")
	}
}
