package cobalt

import (
	"bytes"
	"crypto/hmac"
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

// SignatureHeader carries a webhook's HMAC (COBALT.md §6.4).
const SignatureHeader = "Cobalt-Verification"

// VerifyWebhook checks the Cobalt-Verification header: lowercase hex
// HMAC-SHA256 of the body keyed with secret (cobalt.webhook_secret). The
// raw body is tried first, then its compact JSON form (what Cobalt's
// JSON.stringify of the parsed body produces); both compare in constant time.
func VerifyWebhook(header string, body []byte, secret string) error {
	if secret == "" {
		return errors.New("cobalt.webhook_secret is not set")
	}
	header = strings.ToLower(strings.TrimSpace(header))
	if header == "" {
		return errors.New("cobalt webhook: no " + SignatureHeader + " header")
	}
	if hmac.Equal([]byte(header), []byte(sign(body, secret))) {
		return nil
	}
	var compact bytes.Buffer
	if json.Compact(&compact, body) == nil && hmac.Equal([]byte(header), []byte(sign(compact.Bytes(), secret))) {
		return nil
	}
	return errors.New("cobalt webhook: " + SignatureHeader + " does not match the body signed with cobalt.webhook_secret")
}

func sign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// ParseWebhook maps a webhook body (COBALT.md §6.1) to an observation:
// EventID is the event id (the dedupe key), ObservedAt the event's created
// time (any ISO-8601 offset, padded or not; a time more than 5 minutes after
// receivedAt, or an operation event's unreadable one, is taken as
// receivedAt). Account events map by health.CobaltEventSignal; operation and
// sync events become NoChange observations, so the receiver can acknowledge
// and dedupe them alike.
//
// A body it cannot read (not JSON, no id or type, an account event without a
// readable created time or access_token_reference_id) is an error matching
// ErrUnreadableEvent. A receiver that has verified the signature must
// acknowledge such an event (2xx) and log it, not refuse it: Cobalt retries
// only 5xx, 429 and network errors, never another 4xx
// (https://cobalt-cd7844c1.mintlify.app/docs/webhooks/receiving, the newer
// copy of docs.usecobalt.com/docs/webhooks/receiving), so a refusal loses
// the event for good.
func ParseWebhook(body []byte, receivedAt time.Time) (provider.Observation, error) {
	ev, err := decodeEvent(body)
	if err == nil && ev.Ref == "" && isAccount(ev.Type) {
		err = &unreadable{id: ev.ID, cause: errors.New("no access_token_reference_id")}
	}
	if err != nil {
		return provider.Observation{}, fmt.Errorf("cobalt webhook: %w", err)
	}
	return ev.observation("webhook", receivedAt), nil
}

// LinkResultMaxAge is how far a link result's completed_at may be from now.
const LinkResultMaxAge = 5 * time.Minute

// ParseLinkResult maps the callback our Link page (or the sandbox's
// OnRepairedURL) sends when a user completed Link in update mode:
// {"access_token_reference_id": "…"}. It is Cobalt's only clearing signal
// besides a successful call (COBALT.md §6.2), and also ends a
// password_change_warning.
func ParseLinkResult(body []byte, receivedAt time.Time) (provider.Observation, error) {
	var r struct {
		Ref         *string    `json:"access_token_reference_id"`
		CompletedAt *time.Time `json:"completed_at"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return provider.Observation{}, fmt.Errorf("cobalt link result: malformed body: %w", err)
	}
	if r.Ref == nil || *r.Ref == "" {
		return provider.Observation{}, errors.New("cobalt link result: no access_token_reference_id")
	}
	// The signed completed_at bounds a replay of a captured callback to
	// LinkResultMaxAge; within it, the EventID stores it once.
	if r.CompletedAt == nil {
		return provider.Observation{}, errors.New("cobalt link result: no completed_at")
	}
	if age := receivedAt.Sub(*r.CompletedAt); age > LinkResultMaxAge || age < -LinkResultMaxAge {
		return provider.Observation{}, fmt.Errorf("cobalt link result: completed_at is %s from now, more than %s", age.Round(time.Second), LinkResultMaxAge)
	}
	at := r.CompletedAt.UTC()
	return provider.Observation{ProviderID: *r.Ref, Kind: "link_result",
		EventID: "link-result:" + *r.Ref + "@" + at.Format(time.RFC3339Nano),
		Signal:  okSignal(health.SourceLinkResult, at), Raw: body}, nil
}
