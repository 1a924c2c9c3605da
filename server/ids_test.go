package server

import (
	"net/http"
	"testing"
)

// A Belvo webhook registers the link it names; a link id that could not
// come from the registry (NUL, escape bytes, a colon) must not become a
// connection that then reaches a terminal or a CONN argument.
func TestWebhookConnectionIDsAreHeldToTheRegistrysRule(t *testing.T) {
	e := newEnv(t)
	webhook := func(id string) []byte {
		return belvoBody(t, "wh-"+id, "LINK", "token_required", id, map[string]any{"error_code": "token_required"})
	}
	// The same webhook with a usable id is stored: the refusals below are the ids'.
	if status, answer := e.post("/webhooks/belvo", webhook("a87ea7b8-5a89-4f2b-9c4e-2f1b0b3c9d11"), e.belvoHeader()); status != http.StatusOK {
		t.Fatalf("a webhook with a good id: %d %s", status, answer)
	}
	before := e.events()
	for _, id := range []string{"link\x00nul", "link\x1b]52;c;aGk=\x07", "link:with-colon", "link with space"} {
		body := webhook(id)
		status, answer := e.post("/webhooks/belvo", body, e.belvoHeader())
		checkRefusal(t, status, answer, http.StatusBadRequest)
		if _, err := e.st.Connection(t.Context(), "belvo", id); err == nil {
			t.Errorf("the link id %q became a connection", id)
		}
	}
	if got := e.events(); got != before {
		t.Errorf("%d events stored from webhooks with unusable ids", got-before)
	}
}
