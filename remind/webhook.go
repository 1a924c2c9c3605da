package remind

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries a webhook's signature:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of secret over "<t>.<body>">".
const SignatureHeader = "Relink-Signature"

// WebhookOptions configure the webhook channel.
type WebhookOptions struct {
	URL    string
	Secret string // the HMAC key the receiver shares
	Client *http.Client
	Now    func() time.Time
}

// WebhookChannel posts each reminder as JSON to a team's own sender,
// signed with HMAC-SHA256 and carrying the idempotency key in
// Idempotency-Key, so a receiver can drop a re-sent message.
type WebhookChannel struct {
	url    string
	secret []byte
	hc     *http.Client
	now    func() time.Time
}

// WebhookPayload is the body of a webhook reminder.
type WebhookPayload struct {
	ID      string `json:"id"` // the idempotency key
	Type    string `json:"type"`
	User    User   `json:"user"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html,omitempty"`
	Items   []Item `json:"connections"`
}

// NewWebhook checks the settings and returns the channel.
func NewWebhook(o WebhookOptions) (*WebhookChannel, error) {
	u, err := url.Parse(o.URL)
	if o.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("webhook reminders need an http(s) URL (reminders.webhook.url)")
	}
	if len(o.Secret) < 16 {
		return nil, errors.New("webhook reminders need a signing secret of at least 16 characters (reminders.webhook.secret)")
	}
	hc := o.Client
	if hc == nil {
		hc = defaultHTTPClient()
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &WebhookChannel{url: o.URL, secret: []byte(o.Secret), hc: hc, now: now}, nil
}

// Name is "webhook".
func (w *WebhookChannel) Name() string { return Webhook }

// Send posts m as a WebhookPayload.
func (w *WebhookChannel) Send(ctx context.Context, m Message) error {
	body, err := json.Marshal(WebhookPayload{ID: m.Key, Type: "relink.reminder", User: m.User,
		Subject: m.Subject, Text: m.Text, HTML: m.HTML, Items: m.Items})
	if err != nil {
		return Permanent(fmt.Errorf("encoding the webhook body: %w", err))
	}
	req, err := http.NewRequest(http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return Unavailable(fmt.Errorf("webhook URL: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", m.Key)
	req.Header.Set(SignatureHeader, Sign(w.secret, w.now(), body))
	return do(ctx, w.hc, req, "webhook", jsonMessage)
}

// Close releases nothing.
func (w *WebhookChannel) Close() error { return nil }

// Sign returns the signature header value for body at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte("."))
	h.Write(body)
	return h.Sum(nil)
}

// VerifySignature checks a webhook's signature header against body, and
// that it was made within tolerance of now (replays are refused). It is
// what a receiver runs.
func VerifySignature(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errors.New("malformed signature header")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("signature made %s from now, outside the %s tolerance", d.Round(time.Second), tolerance)
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if subtle.ConstantTimeCompare(s, want) == 1 {
			return nil
		}
	}
	return errors.New("signature does not match")
}
