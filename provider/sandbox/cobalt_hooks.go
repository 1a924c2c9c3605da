package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// SignWebhook returns the Cobalt-Verification header for body: the
// lowercase hex HMAC-SHA256 of body keyed with the webhook secret. It sends
// nothing and never fails.
func (c *Cobalt) SignWebhook(body []byte) (string, error) {
	m := hmac.New(sha256.New, []byte(c.opts.WebhookSecret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil)), nil
}

// signedHeader is the header set of a delivery of body.
func (c *Cobalt) signedHeader(body []byte) http.Header {
	sig, _ := c.SignWebhook(body)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Cobalt-Verification", sig)
	return h
}

// recordLocked adds an event to cc's history, pending delivery.
func (c *Cobalt) recordLocked(cc *cobaltConn, typ string, data map[string]any) *cobaltEvent {
	c.seq++
	ev := &cobaltEvent{seq: c.seq, id: belvoUUID(), ref: cc.ref, created: c.opts.Now().UTC(), typ: typ,
		data: data, status: "pending"}
	if !strings.HasPrefix(typ, "access_token.") {
		ev.jobID = strconv.Itoa(100000 + c.seq)
	}
	cc.events = append(cc.events, ev)
	return ev
}

// payload is the webhook body of ev (COBALT.md §6.1).
func (ev *cobaltEvent) payload() map[string]any {
	m := map[string]any{"id": ev.id, "access_token_reference_id": ev.ref, "object": "event",
		"created": ev.created.Format(cobaltTimeLayout), "type": ev.typ, "data": ev.data}
	if ev.jobID != "" {
		m["job_id"] = ev.jobID
	}
	return m
}

// deliver POSTs ev to the webhook URL and records the outcome.
func (c *Cobalt) deliver(ev *cobaltEvent) error {
	c.mu.Lock()
	target := c.webhookURL
	c.mu.Unlock()
	if target == "" {
		return nil
	}
	body, err := json.Marshal(ev.payload())
	if err != nil {
		return fmt.Errorf("encoding the event: %w", err)
	}
	h := c.signedHeader(body)
	h.Set("webhook-id", ev.id)
	h.Set("webhook-timestamp", ev.created.Format(cobaltTimeLayout))
	attempts, status, err := hookDeliver(c.opts.Client, target, body, h)
	now := c.opts.Now().UTC()
	c.mu.Lock()
	ev.attempts, ev.respStatus, ev.lastAttempt = attempts, status, &now
	ev.status = "success"
	if err != nil {
		ev.status = "failed"
	}
	c.mu.Unlock()
	return err
}
