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
	"time"
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

// payload is the webhook body of ev (COBALT.md §6.1), or the raw body of
// one SendRawEvent recorded.
func (c *Cobalt) payload(ev *cobaltEvent) ([]byte, error) {
	if ev.raw != nil {
		return ev.raw, nil
	}
	m := map[string]any{"id": ev.id, "access_token_reference_id": ev.ref, "object": "event",
		"created": c.timeText(ev.created), "type": ev.typ, "data": ev.data}
	if ev.jobID != "" {
		m["job_id"] = ev.jobID
	}
	return json.Marshal(m)
}

// timeText writes an event time as the emulator is configured to: UTC with
// "Z" by default, else in Zone with its offset, unpadded when asked
// ("…T08:00:00.000-7:00").
func (c *Cobalt) timeText(t time.Time) string {
	if c.opts.Zone == nil {
		return t.UTC().Format(cobaltTimeLayout)
	}
	t = t.In(c.opts.Zone)
	if !c.opts.UnpaddedOffset {
		return t.Format("2006-01-02T15:04:05.000-07:00")
	}
	_, off := t.Zone()
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	return t.Format("2006-01-02T15:04:05.000") + fmt.Sprintf("%s%d:%02d", sign, off/3600, off%3600/60)
}

// deliver POSTs ev to the webhook URL and records the outcome.
func (c *Cobalt) deliver(ev *cobaltEvent) error {
	c.mu.Lock()
	target := c.webhookURL
	c.mu.Unlock()
	if target == "" {
		return nil
	}
	body, err := c.payload(ev)
	if err != nil {
		return fmt.Errorf("encoding the event: %w", err)
	}
	h := c.signedHeader(body)
	h.Set("webhook-id", ev.id)
	h.Set("webhook-timestamp", c.timeText(ev.created))
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
