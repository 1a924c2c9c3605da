package belvo

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
)

// VerifyWebhook checks a webhook's Authorization header against the
// configured belvo.webhook_authorization in constant time (BELVO.md §6.1:
// Belvo signs nothing). Neither value appears in the error.
func VerifyWebhook(authorization, expected string) error {
	if expected == "" {
		return errors.New("belvo.webhook_authorization is not set")
	}
	if authorization == "" {
		return errors.New("belvo webhook: no Authorization header")
	}
	a, e := sha256.Sum256([]byte(authorization)), sha256.Sum256([]byte(expected))
	if subtle.ConstantTimeCompare(a[:], e[:]) != 1 {
		return errors.New("belvo webhook: Authorization header does not match belvo.webhook_authorization")
	}
	return nil
}

// envelope is a Belvo webhook (BELVO.md §6.2).
type envelope struct {
	WebhookID   *string         `json:"webhook_id"`
	WebhookType *string         `json:"webhook_type"`
	WebhookCode *string         `json:"webhook_code"`
	ProcessType *string         `json:"process_type"`
	LinkID      *string         `json:"link_id"`
	Data        json.RawMessage `json:"data"`
}

// linkData is the data of LINK invalid_credentials / token_required.
type linkData struct {
	ErrorCode    string `json:"error_code"`
	ErrorMessage string `json:"error_message"`
}

// ParseWebhook maps a webhook body to an observation: EventID is the
// webhook_id (the dedupe key), ObservedAt is receivedAt (Belvo sends no
// time). A historical_update (as process_type or webhook_code) asks for a
// Recheck: Belvo has no "valid again" webhook, so the link must be re-read.
// A body missing webhook_id, webhook_type, webhook_code or link_id, or with
// fields of the wrong type, is an error.
func (c *Client) ParseWebhook(body []byte, receivedAt time.Time) (provider.Observation, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return provider.Observation{}, fmt.Errorf("belvo webhook: malformed body: %w", err)
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"webhook_id", env.WebhookID}, {"webhook_type", env.WebhookType},
		{"webhook_code", env.WebhookCode}, {"link_id", env.LinkID}} {
		if f.v == nil || *f.v == "" {
			return provider.Observation{}, fmt.Errorf("belvo webhook: no %s", f.name)
		}
	}
	w := health.BelvoWebhook{Type: *env.WebhookType, Code: *env.WebhookCode}
	if env.ProcessType != nil {
		w.ProcessType = *env.ProcessType
	}
	if len(env.Data) > 0 && !bytes.Equal(env.Data, []byte("null")) {
		var d linkData
		if err := json.Unmarshal(env.Data, &d); err != nil && w.Type == "LINK" {
			return provider.Observation{}, fmt.Errorf("belvo webhook %s: malformed data: %w", *env.WebhookID, err)
		}
		w.ErrorCode, w.ErrorMessage = d.ErrorCode, c.redact(d.ErrorMessage)
	}
	raw := new(bytes.Buffer)
	if err := json.Compact(raw, body); err != nil {
		return provider.Observation{}, fmt.Errorf("belvo webhook: compacting the body: %w", err)
	}
	return provider.Observation{
		ProviderID: *env.LinkID,
		EventID:    *env.WebhookID,
		Kind:       "webhook",
		Signal:     health.BelvoWebhookSignal(w, c.cfg.LoginRules, receivedAt),
		Recheck:    w.ProcessType == "historical_update" || w.Code == "historical_update",
		Raw:        raw.Bytes(),
	}, nil
}
