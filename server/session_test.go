package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider/sandbox"
	"github.com/relink/relink/store"
)

// Plaid sends no LOGIN_REPAIRED after our own update-mode flow, only
// LINK/SESSION_FINISHED naming the link_token. A token relink minted is found
// again by its hash, the event is stored on its connection, and the recheck
// (/item/get) marks the connection healthy.
func TestPlaidSessionFinishedRepairsTheConnectionItsTokenWasMintedFor(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	conn, err := e.plaid.AddConnection(sandbox.Connection{Code: "ITEM_LOGIN_REQUIRED", Institution: "Tartan Bank"})
	if err != nil {
		t.Fatal(err)
	}
	e.register(store.Registration{Provider: "plaid", ProviderID: conn.ID, AccessToken: conn.AccessToken, UserRef: "u1"})
	if err := e.desk.Check(ctx, "plaid:"+conn.ID); err != nil {
		t.Fatal(err)
	}
	if got := e.category("plaid", conn.ID); got != health.LoginRequired {
		t.Fatalf("before: %s", got)
	}
	link, err := e.desk.DirectLink(ctx, "plaid:"+conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	token := link.URL[strings.LastIndex(link.URL, "/")+1:]

	// The user fixes it at Plaid; Plaid's item is healthy, and the only
	// webhook we get is the session's.
	e.plaid.SetWebhookURL("")
	if err := e.plaid.Repair(conn.ID); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"webhook_type": "LINK", "webhook_code": "SESSION_FINISHED", "status": "SUCCESS",
		"link_session_id": "s-1", "link_token": token, "public_tokens": []string{"public-sandbox-x"}, "environment": "sandbox"})
	status, answer := e.post("/webhooks/plaid", body, e.plaidHeader(body))
	if status != http.StatusOK {
		t.Fatalf("SESSION_FINISHED: %d %s", status, answer)
	}
	e.eventually("the session's recheck marks the connection healthy", func() bool {
		return e.category("plaid", conn.ID) == health.Healthy
	})
	c := e.connection("plaid", conn.ID)
	hist, _ := e.st.History(ctx, c.ID, 20)
	found := false
	for _, h := range hist {
		found = found || (h.Kind == "webhook" && h.ProviderCode == "SESSION_FINISHED")
	}
	if !found {
		t.Fatalf("the session webhook is not in the connection's history: %+v", hist)
	}
	// A session for a token relink never minted is acknowledged, not stored.
	other, _ := json.Marshal(map[string]any{"webhook_type": "LINK", "webhook_code": "SESSION_FINISHED", "status": "SUCCESS",
		"link_token": "link-sandbox-unknown", "environment": "sandbox"})
	before := e.events()
	if status, _ := e.post("/webhooks/plaid", other, e.plaidHeader(other)); status != http.StatusOK || e.events() != before {
		t.Fatalf("unknown token: %d, events %d → %d", status, before, e.events())
	}
}
