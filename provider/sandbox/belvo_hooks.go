package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// SignWebhook returns the Authorization header Belvo sends with a webhook
// body: Belvo signs nothing, it repeats the configured value. It sends
// nothing and never fails.
func (b *Belvo) SignWebhook(body []byte) (string, error) {
	return b.opts.WebhookAuthorization, nil
}

// sendWebhook POSTs one webhook (BELVO.md §6.2) and retries once on a 5xx
// or a transport failure.
func (b *Belvo) sendWebhook(typ, process, code, linkID, externalID string, data map[string]any) error {
	b.mu.Lock()
	target := b.webhookURL
	b.mu.Unlock()
	if target == "" {
		return nil
	}
	var ext any
	if externalID != "" {
		ext = externalID
	}
	body, err := json.Marshal(map[string]any{"webhook_id": belvoHex(16), "webhook_type": typ,
		"process_type": process, "webhook_code": code, "link_id": linkID, "request_id": belvoUUID(),
		"external_id": ext, "data": data})
	if err != nil {
		return fmt.Errorf("encoding the webhook: %w", err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Authorization", b.opts.WebhookAuthorization)
	_, _, err = hookDeliver(b.opts.Client, target, body, h)
	return err
}

// hookDeliver POSTs a webhook body with headers, retrying once after a
// second on a 429, a 5xx or a transport failure (Cobalt's documented policy;
// Belvo documents more retries, which a loopback demo does not need). It
// reports the attempts made and the last HTTP status (0 when none).
func hookDeliver(client *http.Client, target string, body []byte, h http.Header) (attempts, status int, err error) {
	var last error
	for attempt := 1; attempt <= 2; attempt++ {
		attempts = attempt
		if attempt > 1 {
			time.Sleep(time.Second)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			cancel()
			return attempts, 0, fmt.Errorf("building the webhook request: %w", err)
		}
		for k, vs := range h {
			req.Header[k] = vs
		}
		req.Header.Set("webhook-attempt", strconv.Itoa(attempt))
		resp, err := client.Do(req)
		if err == nil {
			status = resp.StatusCode
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
		}
		cancel()
		switch {
		case err != nil:
			last = fmt.Errorf("posting the webhook to %s: %w", target, err)
		case status >= 200 && status < 300:
			return attempts, status, nil
		case status == http.StatusTooManyRequests || status >= 500:
			last = fmt.Errorf("posting the webhook to %s: HTTP %d", target, status)
		default:
			return attempts, status, fmt.Errorf("posting the webhook to %s: HTTP %d", target, status)
		}
	}
	return attempts, status, last
}

// belvoHex is n random bytes in hex.
func belvoHex(n int) string {
	p := make([]byte, n)
	rand.Read(p)
	return hex.EncodeToString(p)
}

// belvoUUID is a random (version 4) UUID.
func belvoUUID() string {
	var p [16]byte
	rand.Read(p[:])
	p[6] = p[6]&0x0f | 0x40
	p[8] = p[8]&0x3f | 0x80
	h := hex.EncodeToString(p[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
