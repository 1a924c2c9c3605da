package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider/sandbox"
)

// Verified webhooks relink has no use for are acknowledged, counted as
// ignored (or, for Cobalt, unreadable) and change nothing: Plaid retries
// any non-2xx for a day, and Cobalt never retries a 4xx, so a refusal
// would cost a day of retries or lose the event for good. Only the
// unverified get a 4xx.
func TestVerifiedWebhooksRelinkDoesNotUseAreAcknowledged(t *testing.T) {
	e := newEnv(t)
	it := e.addPlaid()
	broken := plaidError(it.ID, "ITEM_LOGIN_REQUIRED")
	if status, answer := e.post("/webhooks/plaid", broken, e.plaidHeader(broken)); status != 200 {
		t.Fatalf("a valid Plaid webhook: %d %q", status, answer)
	}
	link, err := e.belvo.AddConnection(sandbox.Connection{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.belvo.Break(link.ID, "invalid", ""); err != nil {
		t.Fatal(err)
	}
	e.addCobalt("clinic_1")
	now := time.Now()
	brokenCobalt := cobaltBody(t, "evt_valid", "clinic_1", "access_token.login_required", now, loginRequired("clinic_1"))
	if status, answer := e.post("/webhooks/cobalt", brokenCobalt, e.cobaltHeader(brokenCobalt)); status != 200 {
		t.Fatalf("a valid Cobalt event: %d %q", status, answer)
	}
	belvoAuth := http.Header{"Authorization": {e.belvo.WebhookAuthorization()}}
	badTime := []byte(`{"id":"evt_t","type":"access_token.login_required","created":"yesterday","data":{"access_token_reference_id":"clinic_1"}}`)

	cases := []struct {
		name, path string
		body       []byte
		header     func([]byte) http.Header
		res        result
		route      route
	}{
		{"Plaid LINK_DELIVERY, no item_id", "/webhooks/plaid",
			plaidBody(t, map[string]any{"webhook_type": "LINK_DELIVERY", "webhook_code": "SESSION_FINISHED", "link_delivery_session_id": "lds-1"}),
			e.plaidHeader, resIgnored, routePlaid},
		{"Plaid, a type nobody has mapped", "/webhooks/plaid",
			plaidBody(t, map[string]any{"webhook_type": "LOTTERY", "webhook_code": "WON", "item_id": it.ID}), e.plaidHeader, resIgnored, routePlaid},
		{"Belvo, a type nobody has mapped", "/webhooks/belvo",
			belvoBody(t, "wh_2", "PIZZA", "delivered", link.ID, nil), func([]byte) http.Header { return belvoAuth }, resIgnored, routeBelvo},
		{"Cobalt task.created", "/webhooks/cobalt",
			cobaltBody(t, "evt_task", "clinic_1", "task.created", now, map[string]any{"task_id": "t1"}), e.cobaltHeader, resIgnored, routeCobalt},
		{"Cobalt, malformed JSON", "/webhooks/cobalt", []byte(`{"id": "evt_1", "type":`), e.cobaltHeader, resUnreadable, routeCobalt},
		{"Cobalt, not an object", "/webhooks/cobalt", []byte(`["evt_1"]`), e.cobaltHeader, resUnreadable, routeCobalt},
		{"Cobalt, no event id", "/webhooks/cobalt",
			cobaltBody(t, "", "clinic_1", "access_token.login_required", now, loginRequired("clinic_1")), e.cobaltHeader, resUnreadable, routeCobalt},
		{"Cobalt account event without reference", "/webhooks/cobalt",
			cobaltBody(t, "evt_3", "", "access_token.login_required", now, map[string]any{"message": "m"}), e.cobaltHeader, resUnreadable, routeCobalt},
		{"Cobalt, a time that is not ISO 8601", "/webhooks/cobalt", badTime, e.cobaltHeader, resUnreadable, routeCobalt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			events, counted := e.events(), e.srv.m.requests[c.route][c.res].Load()
			status, answer := e.post(c.path, c.body, c.header(c.body))
			if status != http.StatusOK || !strings.HasPrefix(answer, "acknowledged, not stored: ") || strings.Count(answer, "\n") != 1 {
				t.Fatalf("status %d %q, want 200 and a one-line acknowledgement", status, answer)
			}
			if got := e.events(); got != events {
				t.Errorf("events %d → %d", events, got)
			}
			if got := e.srv.m.requests[c.route][c.res].Load(); got != counted+1 {
				t.Errorf("/metrics counts %d %s, want %d", got, c.res, counted+1)
			}
		})
	}
	for prov, id := range map[string]string{"plaid": it.ID, "cobalt": "clinic_1"} {
		if got := e.category(prov, id); got != health.LoginRequired {
			t.Errorf("%s:%s became %s", prov, id, got)
		}
	}
	// Unverified, they are still refused.
	task := cobaltBody(t, "evt_task2", "clinic_1", "task.created", now, nil)
	status, answer := e.post("/webhooks/cobalt", task, http.Header{})
	checkRefusal(t, status, answer, http.StatusUnauthorized)
}
