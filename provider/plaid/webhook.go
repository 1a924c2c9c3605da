package plaid

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
)

// ParseWebhook maps a verified webhook body (PLAID.md §6.2) to an
// observation. Plaid webhooks carry neither a timestamp nor an id: ObservedAt
// is receivedAt and EventID is the body's SHA-256 qualified by the hour it
// arrived (see eventID), so Plaid's retries of one delivery share it. LINK/SESSION_FINISHED with status
// SUCCESS asks for a recheck; LINK webhooks carry no item_id, only the
// link_token (see SessionLinkToken). Raw is the body without public tokens.
func ParseWebhook(body []byte, receivedAt time.Time) (provider.Observation, error) {
	var w webhookBody
	if err := json.Unmarshal(body, &w); err != nil {
		return provider.Observation{}, fmt.Errorf("plaid webhook: reading the body: %w", err)
	}
	switch {
	case w.WebhookType == "" || w.WebhookCode == "":
		return provider.Observation{}, errors.New("plaid webhook: the body has no webhook_type or webhook_code")
	case w.WebhookType == "LINK" && w.LinkToken == "" && w.ItemID == "":
		return provider.Observation{}, errors.New("plaid webhook: a LINK webhook without link_token")
	case w.WebhookType != "LINK" && w.ItemID == "":
		return provider.Observation{}, fmt.Errorf("plaid webhook: %s/%s has no item_id", w.WebhookType, w.WebhookCode)
	}
	hw := health.PlaidWebhook{Type: w.WebhookType, Code: w.WebhookCode, Reason: w.Reason,
		ConsentExpirationTime: w.ConsentExpirationTime, DisconnectTime: w.DisconnectTime, Status: w.Status}
	if w.Error != nil {
		e := w.Error.health()
		hw.Error = &e
	}
	raw, err := withoutPublicTokens(body)
	if err != nil {
		return provider.Observation{}, err
	}
	sum := sha256.Sum256(body)
	return provider.Observation{
		ProviderID: w.ItemID,
		EventID:    eventID(sum, receivedAt),
		Kind:       "webhook",
		Signal:     health.PlaidWebhookSignal(hw, receivedAt),
		Recheck:    w.WebhookType == "LINK" && w.WebhookCode == "SESSION_FINISHED" && w.Status == "SUCCESS",
		Raw:        raw,
	}, nil
}

// eventID names a Plaid delivery for deduplication. Plaid sends no id, and
// the same break weeks apart has a byte-identical body, so the body's hash
// is qualified by the UTC hour it arrived in: a retry of one delivery within
// the hour is stored once, a later identical event is a new one (and a retry
// past the hour re-applies an idempotent signal).
func eventID(sum [sha256.Size]byte, receivedAt time.Time) string {
	return hex.EncodeToString(sum[:16]) + "@" + receivedAt.UTC().Format("2006010215")
}

// SessionLinkToken returns the link_token of a LINK webhook body (an
// Observation's Raw), which is how a SESSION_FINISHED is tied to the
// connection its token was minted for; "" if there is none.
func SessionLinkToken(raw []byte) string {
	var w webhookBody
	if json.Unmarshal(raw, &w) != nil || w.WebhookType != "LINK" {
		return ""
	}
	return w.LinkToken
}

// withoutPublicTokens drops public_token(s), which can be exchanged for
// access tokens, from a body kept in the history.
func withoutPublicTokens(body []byte) ([]byte, error) {
	if !bytes.Contains(body, []byte(`"public_token`)) {
		return body, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("plaid webhook: reading the body: %w", err)
	}
	delete(m, "public_token")
	delete(m, "public_tokens")
	out, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("plaid webhook: re-encoding the body without public tokens: %w", err)
	}
	return out, nil
}
