package plaid

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
)

// ParseWebhook maps a verified webhook body (PLAID.md §6.2) to an
// observation. Plaid webhooks carry neither a timestamp nor an id: ObservedAt
// is receivedAt and EventID is the body's SHA-256 qualified by the hour it
// arrived (see eventID), so Plaid's retries of one delivery share it. LINK/SESSION_FINISHED with status
// SUCCESS asks for a recheck; LINK webhooks carry no item_id, only the
// link_token (see SessionLinkTokenHash). Raw is the body without its
// tokens: no public_token(s), and link_token replaced by link_token_sha256.
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
	raw, err := withoutTokens(body)
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

// SessionLinkTokenHash returns the provider.TokenHash of a LINK webhook's
// link_token, which is how a SESSION_FINISHED is tied to the connection its
// token was minted for (store.ConnectionByLinkToken). raw is an
// Observation's Raw (which keeps only link_token_sha256) or a body as
// received (link_token); "" if there is neither.
func SessionLinkTokenHash(raw []byte) string {
	var w struct {
		webhookBody
		LinkTokenSHA256 string `json:"link_token_sha256"`
	}
	if json.Unmarshal(raw, &w) != nil || w.WebhookType != "LINK" {
		return ""
	}
	if w.LinkToken != "" {
		return provider.TokenHash(w.LinkToken)
	}
	if b, err := hex.DecodeString(w.LinkTokenSHA256); err == nil && len(b) == sha256.Size && w.LinkTokenSHA256 == strings.ToLower(w.LinkTokenSHA256) {
		return w.LinkTokenSHA256
	}
	return ""
}

// SessionLinkToken returns the link_token of a LINK webhook body as
// received; "" if there is none.
//
// Deprecated: an Observation's Raw no longer holds the token, only its
// hash; use SessionLinkTokenHash, which reads either.
func SessionLinkToken(body []byte) string {
	var w webhookBody
	if json.Unmarshal(body, &w) != nil || w.WebhookType != "LINK" {
		return ""
	}
	return w.LinkToken
}

// withoutTokens makes the copy of a body kept in the history: without
// public_token(s), which can be exchanged for access tokens, and with
// link_token, which opens the user's Link session while it lives, replaced
// by link_token_sha256, its provider.TokenHash (the links table's
// token_hash), so support can still tell which minted link a session used.
// Keys are matched without case, as decoding does.
func withoutTokens(body []byte) ([]byte, error) {
	low := bytes.ToLower(body)
	if !bytes.Contains(low, []byte(`"public_token`)) && !bytes.Contains(low, []byte(`"link_token`)) && !bytes.Contains(body, []byte(`\u`)) {
		return body, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("plaid webhook: reading the body: %w", err)
	}
	var linkToken string
	for k, v := range m {
		switch strings.ToLower(k) {
		case "link_token":
			var s string
			if json.Unmarshal(v, &s) == nil && s != "" {
				linkToken = s
			}
			delete(m, k)
		case "public_token", "public_tokens", "link_token_sha256":
			delete(m, k)
		}
	}
	if linkToken != "" {
		m["link_token_sha256"] = json.RawMessage(`"` + provider.TokenHash(linkToken) + `"`)
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("plaid webhook: re-encoding the body without its tokens: %w", err)
	}
	return out, nil
}
