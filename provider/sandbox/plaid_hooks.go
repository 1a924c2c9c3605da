package sandbox

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// ---- keys and signatures ----

// RotateKey makes a new webhook signing key the current one and returns its
// kid. Older keys stay valid (expired_at null) until ExpireKey.
func (p *Plaid) RotateKey() (string, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", fmt.Errorf("sandbox plaid: generating a signing key: %w", err)
	}
	kid := plaidUUID()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("sandbox plaid: making a signer: %w", err)
	}
	p.keyMu.Lock()
	p.keys[kid] = &plaidKey{priv: priv, signer: signer, created: p.now()}
	p.kid = kid
	p.keyMu.Unlock()
	return kid, nil
}

// ExpireKey sets a key's expired_at.
func (p *Plaid) ExpireKey(kid string, at time.Time) error {
	p.keyMu.Lock()
	defer p.keyMu.Unlock()
	k, ok := p.keys[kid]
	if !ok {
		return fmt.Errorf("sandbox plaid: no key %q", kid)
	}
	t := at
	k.expiredAt = &t
	return nil
}

// SignWebhook returns the Plaid-Verification header for body, signed now
// with the current key: an ES256 JWT {iat, request_body_sha256} with the kid
// in its header. It sends nothing.
func (p *Plaid) SignWebhook(body []byte) (string, error) {
	p.keyMu.RLock()
	k := p.keys[p.kid]
	p.keyMu.RUnlock()
	sum := sha256.Sum256(body)
	claims, err := json.Marshal(map[string]any{"iat": p.now().Unix(), "request_body_sha256": hex.EncodeToString(sum[:])})
	if err != nil {
		return "", fmt.Errorf("sandbox plaid: encoding claims: %w", err)
	}
	jws, err := k.signer.Sign(claims)
	if err != nil {
		return "", fmt.Errorf("sandbox plaid: signing a webhook: %w", err)
	}
	return jws.CompactSerialize()
}

// ---- webhooks ----

type plaidDelivery struct {
	url  string
	body []byte
}

// plaidHooks sends webhooks from a few goroutines; each Item's webhooks go
// through one of them, so they arrive in order.
type plaidHooks struct {
	client *http.Client
	ctx    context.Context
	cancel context.CancelFunc
	shards []chan plaidDelivery
	wg     sync.WaitGroup

	mu    sync.Mutex
	stats PlaidWebhookStats
	idle  chan struct{} // closed while nothing is pending
}

const (
	plaidHookShards   = 4
	plaidHookAttempts = 4
)

func (p *Plaid) startHooks() {
	h := &p.hooks
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = plaidHookShards
	h.client = &http.Client{Transport: tr, Timeout: 10 * time.Second} // Plaid waits 10 s for an answer
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.idle = make(chan struct{})
	close(h.idle)
	for range plaidHookShards {
		ch := make(chan plaidDelivery, 1024)
		h.shards = append(h.shards, ch)
		h.wg.Go(func() {
			for {
				select {
				case <-h.ctx.Done():
					return
				case d := <-ch:
					ok := p.deliver(d)
					h.finish(ok)
				}
			}
		})
	}
}

func (p *Plaid) stopHooks() {
	h := &p.hooks
	h.cancel()
	h.wg.Wait()
	h.mu.Lock()
	h.stats.Failed += h.stats.Pending
	h.stats.Pending = 0
	h.markIdle()
	h.mu.Unlock()
}

// fire queues an ITEM or LINK webhook to the Items' webhook URL; extra
// holds the code's own fields.
func (p *Plaid) fire(itemID, typ, code string, extra map[string]any) {
	p.fireTo("", itemID, typ, code, extra)
}

// fireTo is fire to target ("": the Items' webhook URL).
func (p *Plaid) fireTo(target, itemID, typ, code string, extra map[string]any) {
	body := map[string]any{"webhook_type": typ, "webhook_code": code, "environment": "sandbox"}
	if typ != "LINK" {
		body["item_id"] = itemID
	}
	for k, v := range extra {
		body[k] = v
	}
	raw, err := json.Marshal(body)
	p.mu.Lock()
	url := p.webhookURL
	if target != "" {
		url = target
	}
	if it := p.items[itemID]; it != nil && typ == "ITEM" {
		it.lastHook, it.lastHookAt = code, p.now()
	}
	p.mu.Unlock()
	h := &p.hooks
	h.mu.Lock()
	if url == "" || err != nil || h.ctx.Err() != nil {
		h.stats.Dropped++
		h.mu.Unlock()
		return
	}
	if h.stats.Pending == 0 {
		h.idle = make(chan struct{})
	}
	h.stats.Pending++
	h.mu.Unlock()
	f := fnv.New32a()
	f.Write([]byte(itemID))
	select {
	case h.shards[f.Sum32()%plaidHookShards] <- plaidDelivery{url: url, body: raw}:
	case <-h.ctx.Done():
		h.finish(false)
	}
}

// deliver POSTs one webhook, signed afresh at each attempt, retrying
// non-2xx answers and transport failures a few times with a short backoff
// (Plaid's own schedule of 30 s ×4 for 24 h is compressed for loopback).
func (p *Plaid) deliver(d plaidDelivery) bool {
	h := &p.hooks
	delay := 25 * time.Millisecond
	for attempt := range plaidHookAttempts {
		if attempt > 0 {
			select {
			case <-h.ctx.Done():
				return false
			case <-time.After(delay):
			}
			delay *= 4
		}
		header, err := p.SignWebhook(d.body)
		if err != nil {
			return false
		}
		req, err := http.NewRequestWithContext(h.ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
		if err != nil {
			return false
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Plaid-Verification", header)
		resp, err := h.client.Do(req)
		if err != nil {
			continue
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return true
		}
	}
	return false
}

func (h *plaidHooks) finish(ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stats.Pending == 0 {
		return // already written off by Close
	}
	h.stats.Pending--
	if ok {
		h.stats.Delivered++
	} else {
		h.stats.Failed++
	}
	if h.stats.Pending == 0 {
		h.markIdle()
	}
}

// markIdle closes idle once; h.mu is held.
func (h *plaidHooks) markIdle() {
	select {
	case <-h.idle:
	default:
		close(h.idle)
	}
}

// WebhookStats counts the webhooks sent so far.
func (p *Plaid) WebhookStats() PlaidWebhookStats {
	p.hooks.mu.Lock()
	defer p.hooks.mu.Unlock()
	return p.hooks.stats
}

// WaitWebhooks blocks until no webhook is pending (all delivered or given
// up) or ctx ends.
func (p *Plaid) WaitWebhooks(ctx context.Context) error {
	p.hooks.mu.Lock()
	idle := p.hooks.idle
	p.hooks.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sandbox plaid: waiting for webhooks: %w", ctx.Err())
	}
}
