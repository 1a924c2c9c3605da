package plaid_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/provider/sandbox"
)

// These tests are about made-up kids (issue 10): JWTs anyone can write,
// with a well-formed ES256 header, fresh iat and the right body hash, but
// a kid Plaid never issued.

// randomKid is a UUIDv4, like Plaid's kids.
func randomKid() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// forgedHeader is a Plaid-Verification header for body with kid and iat
// and 64 random signature bytes: it passes every check made before the key
// is known.
func forgedHeader(kid string, iat time.Time, body []byte) string {
	h, _ := json.Marshal(map[string]any{"alg": "ES256", "kid": kid, "typ": "JWT"})
	sum := sha256.Sum256(body)
	c, _ := json.Marshal(map[string]any{"iat": iat.Unix(), "request_body_sha256": hex.EncodeToString(sum[:])})
	sig := make([]byte, 64)
	rand.Read(sig)
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(c) + "." + enc(sig)
}

// keyLookups is a proxy in front of the emulator that counts the
// /webhook_verification_key/get requests by key_id.
type keyLookups struct {
	srv *httptest.Server

	mu    sync.Mutex
	byKid map[string]int
	total int
}

func newKeyLookups(t testing.TB, emu *sandbox.Plaid) *keyLookups {
	t.Helper()
	target, err := url.Parse(emu.URL())
	if err != nil {
		t.Fatal(err)
	}
	kl := &keyLookups{byKid: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(target)
	kl.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/webhook_verification_key/get" {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var req struct {
				KeyID string `json:"key_id"`
			}
			json.Unmarshal(body, &req)
			kl.mu.Lock()
			kl.byKid[req.KeyID]++
			kl.total++
			kl.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(kl.srv.Close)
	return kl
}

func (kl *keyLookups) of(kid string) int { kl.mu.Lock(); defer kl.mu.Unlock(); return kl.byKid[kid] }

func (kl *keyLookups) all() int { kl.mu.Lock(); defer kl.mu.Unlock(); return kl.total }

// client is a client of the emulator through the proxy.
func (kl *keyLookups) client(t testing.TB, emu *sandbox.Plaid) *plaid.Client {
	return newClient(t, emu, func(cfg *plaid.Config) { cfg.BaseURL = kl.srv.URL })
}

// Many webhooks signed with a key the verifier has not seen arrive at once
// (a rotation): Plaid is asked about the kid once, and all of them verify.
func TestVerifyConcurrentLookupsOfOneKidAskPlaidOnce(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, sandbox.PlaidOptions{})
	kl := newKeyLookups(t, emu)
	v := plaid.NewVerifier(kl.client(t, emu))
	body := []byte(webhookBody)
	old, _ := emu.SignWebhook(body)
	if err := v.Verify(context.Background(), old, body); err != nil {
		t.Fatal(err)
	}
	kid, err := emu.RotateKey()
	if err != nil {
		t.Fatal(err)
	}
	header, _ := emu.SignWebhook(body)
	emu.Faults.SetLatency(50 * time.Millisecond) // so the requests overlap the lookup
	const n = 50
	start := make(chan struct{})
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			<-start
			errs <- v.Verify(context.Background(), header, body)
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
	if got := kl.of(kid); got != 1 {
		t.Errorf("Plaid was asked about the new kid %d times, want 1", got)
	}
}

// Plaid's "no such key" is remembered: a made-up kid sent again costs no
// question until the answer expires (NegativeTTL), and a kid Plaid said no
// to twice is believed ten times longer.
func TestVerifyRemembersUnknownKids(t *testing.T) {
	t.Parallel()
	clk := newClock()
	emu := newEmulator(t, sandbox.PlaidOptions{Now: clk.Now})
	kl := newKeyLookups(t, emu)
	v := plaid.NewVerifier(kl.client(t, emu)) // plaid.DefaultNegativeTTL is a minute
	v.Now = clk.Now
	body := []byte(webhookBody)
	kid := randomKid()
	verify := func(want int, what string) {
		t.Helper()
		if err := v.Verify(context.Background(), forgedHeader(kid, clk.Now(), body), body); !errors.Is(err, plaid.ErrUnknownKey) {
			t.Fatalf("%s: Verify = %v, want ErrUnknownKey", what, err)
		}
		if got := kl.of(kid); got != want {
			t.Fatalf("%s: Plaid asked %d times, want %d", what, got, want)
		}
	}
	verify(1, "first sight")
	for range 20 {
		verify(1, "again within the minute")
	}
	clk.Add(time.Minute + time.Second)
	verify(2, "after the minute")
	clk.Add(5 * time.Minute)
	verify(2, "5 minutes after the second no")
	clk.Add(5*time.Minute + time.Second)
	verify(3, "10 minutes after the second no")
}

// Nothing Plaid would have to be asked about is asked when the header
// fails a check that needs no key.
func TestVerifyChecksBeforeAskingPlaid(t *testing.T) {
	t.Parallel()
	clk := newClock()
	emu := newEmulator(t, sandbox.PlaidOptions{Now: clk.Now})
	kl := newKeyLookups(t, emu)
	v := plaid.NewVerifier(kl.client(t, emu))
	v.Now = clk.Now
	body := []byte(webhookBody)
	good := forgedHeader(randomKid(), clk.Now(), body)
	parts := strings.Split(good, ".")
	for _, tc := range []struct {
		name, header string
		body         []byte
		want         error
	}{
		{"iat an hour old", forgedHeader(randomKid(), clk.Now().Add(-time.Hour), body), body, plaid.ErrStale},
		{"iat ahead", forgedHeader(randomKid(), clk.Now().Add(time.Hour), body), body, plaid.ErrStale},
		{"hash of another body", forgedHeader(randomKid(), clk.Now(), []byte("{}")), body, plaid.ErrBodyMismatch},
		{"kid with a space", forgedHeader("a kid", clk.Now(), body), body, plaid.ErrUnknownKey},
		{"kid of 200 bytes", forgedHeader(strings.Repeat("k", 200), clk.Now(), body), body, plaid.ErrUnknownKey},
		{"signature of 8 bytes", parts[0] + "." + parts[1] + ".AAAAAAAAAAA", body, plaid.ErrMalformedJWT},
		{"no claims", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{}`)) + "." + parts[2], body, plaid.ErrMalformedJWT},
	} {
		if err := v.Verify(context.Background(), tc.header, tc.body); !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
	}
	if got := kl.all(); got != 0 {
		t.Errorf("Plaid was asked %d times, want 0", got)
	}
}

// However many distinct kids arrive, the caches hold at most their caps:
// NegativeEntries "no" answers and Keys real keys (the newest kept).
func TestVerifyCachesStayBounded(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, sandbox.PlaidOptions{})
	const negCap, keyCap = 100, 3
	v := plaid.NewVerifierWithLimits(newClient(t, emu, nil), plaid.VerifierLimits{
		NewPerSecond: 1e9, NewBurst: 1 << 30, // ask Plaid about every kid
		NegativeEntries: negCap, Keys: keyCap, SightingSlots: 1 << 10})
	body := []byte(webhookBody)
	for i := range 1000 {
		if err := v.Verify(context.Background(), forgedHeader(randomKid(), time.Now(), body), body); !errors.Is(err, plaid.ErrUnknownKey) {
			t.Fatalf("kid %d: Verify = %v, want ErrUnknownKey", i, err)
		}
		if _, neg := v.CacheSizes(); neg > negCap {
			t.Fatalf("after %d kids the negative cache holds %d answers, over its cap of %d", i+1, neg, negCap)
		}
	}
	if _, neg := v.CacheSizes(); neg != negCap {
		t.Errorf("negative cache holds %d answers after 1000 kids, want %d (full)", neg, negCap)
	}
	for i := range 2 * keyCap {
		if _, err := emu.RotateKey(); err != nil {
			t.Fatal(err)
		}
		h, _ := emu.SignWebhook(body)
		if err := v.Verify(context.Background(), h, body); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
		if keys, _ := v.CacheSizes(); keys > keyCap {
			t.Fatalf("after %d keys the key cache holds %d, over its cap of %d", i+2, keys, keyCap)
		}
	}
}

// With the lookup budget spent on made-up kids, an unknown kid is "not now"
// (ErrLookupBudget), not "refused"; and a kid Plaid has just rotated in is
// looked up at its second sighting from the budget kept for kids seen
// again, which single-use kids never touch.
func TestVerifyLookupBudgetSpentByMadeUpKids(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, sandbox.PlaidOptions{})
	// A larger sighting table than the default, so that no made-up kid of
	// this flood lands in the new kid's slot between its two sightings
	// (1 in 2^20 per kid instead of 1 in 2^16).
	v := plaid.NewVerifierWithLimits(newClient(t, emu, nil), plaid.VerifierLimits{SightingSlots: 1 << 20})
	body := []byte(webhookBody)
	spent := false
	for i := 0; i < 1000 && !spent; i++ {
		err := v.Verify(context.Background(), forgedHeader(randomKid(), time.Now(), body), body)
		switch {
		case errors.Is(err, plaid.ErrLookupBudget):
			spent = true
			if errors.Is(err, plaid.ErrUnknownKey) {
				t.Errorf("budget error %v is also ErrUnknownKey (a refusal)", err)
			}
		case !errors.Is(err, plaid.ErrUnknownKey):
			t.Fatalf("made-up kid %d: Verify = %v", i, err)
		}
	}
	if !spent {
		t.Fatal("1000 made-up kids did not spend the lookup budget")
	}

	// The flood goes on while Plaid rotates its key.
	stop := make(chan struct{})
	var flood sync.WaitGroup
	for range 4 {
		flood.Go(func() {
			for i := 0; i < 2000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				v.Verify(context.Background(), forgedHeader(randomKid(), time.Now(), body), body)
			}
		})
	}
	defer func() { close(stop); flood.Wait() }()
	if _, err := emu.RotateKey(); err != nil {
		t.Fatal(err)
	}
	real, _ := emu.SignWebhook(body)
	first := v.Verify(context.Background(), real, body)
	if first != nil && !errors.Is(first, plaid.ErrLookupBudget) {
		t.Fatalf("first webhook with the new key: %v, want nil or ErrLookupBudget", first)
	}
	if err := v.Verify(context.Background(), real, body); err != nil {
		t.Fatalf("second webhook with the new key (first: %v): %v", first, err)
	}
	for i := range 10 {
		if err := v.Verify(context.Background(), real, body); err != nil {
			t.Fatalf("webhook %d with the now known key: %v", i+3, err)
		}
	}
}
