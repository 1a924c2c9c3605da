package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/provider/sandbox"
)

// Issue 10, point 2: JWTs with made-up kids need no secret to write, and
// each costs the verifier a question to Plaid, which it must budget. Those
// tests and BenchmarkPlaidFlood check that such a flood cannot lock out
// webhooks signed with a key Plaid has just rotated in.

// madeUpKid is a UUIDv4, like Plaid's kids.
func madeUpKid() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// forgedPlaidHeader signs nothing: a well-formed ES256 JWT for body with a
// made-up kid, a fresh iat, the body's hash and 64 random signature bytes,
// which passes every check the server can make before it knows the key.
func forgedPlaidHeader(body []byte) http.Header {
	h, _ := json.Marshal(map[string]any{"alg": "ES256", "kid": madeUpKid(), "typ": "JWT"})
	sum := sha256.Sum256(body)
	c, _ := json.Marshal(map[string]any{"iat": time.Now().Unix(), "request_body_sha256": hex.EncodeToString(sum[:])})
	sig := make([]byte, 64)
	rand.Read(sig)
	enc := base64.RawURLEncoding.EncodeToString
	return http.Header{"Plaid-Verification": {enc(h) + "." + enc(c) + "." + enc(sig)}, "Content-Type": {"application/json"}}
}

// plaidFlood posts forged webhooks with made-up kids to e from senders
// goroutines until stop is called or max have been sent, and counts the
// answers by status.
type plaidFlood struct {
	stopped chan struct{}
	wg      sync.WaitGroup
	sent    atomic.Int64

	mu       sync.Mutex
	byStatus map[int]int
	errs     int
}

func startPlaidFlood(e *env, senders int, max int64) *plaidFlood {
	f := &plaidFlood{stopped: make(chan struct{}), byStatus: map[int]int{}}
	body := plaidError("item_forged", "ITEM_LOCKED")
	for range senders {
		f.wg.Go(func() {
			for {
				select {
				case <-f.stopped:
					return
				default:
				}
				if f.sent.Add(1) > max {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, e.base+"/webhooks/plaid", bytes.NewReader(body))
				req.Header = forgedPlaidHeader(body)
				resp, err := e.client.Do(req)
				f.mu.Lock()
				if err != nil {
					f.errs++
				} else {
					f.byStatus[resp.StatusCode]++
				}
				f.mu.Unlock()
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		})
	}
	return f
}

// answered is how many forged webhooks got an answer so far.
func (f *plaidFlood) answered() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.errs
	for _, c := range f.byStatus {
		n += c
	}
	return n
}

// stop ends the flood and returns its answers by status.
func (f *plaidFlood) stop() (map[int]int, int) {
	select {
	case <-f.stopped:
	default:
		close(f.stopped)
	}
	f.wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byStatus, f.errs
}

// While a flood of made-up kids runs, Plaid rotates its key and sends a
// webhook for each of 15 Items, signed with the new key: the emulator
// retries a 503 as Plaid does (compressed to 25 ms, 100 ms, 400 ms), and
// every one of them must be accepted; none of the forged ones may be.
func TestPlaidFloodOfMadeUpKidsDoesNotLockOutARotatedKey(t *testing.T) {
	e, lookups := newEnvCountingKeyLookups(t)
	var items []sandbox.Connection
	for range 15 {
		items = append(items, e.addPlaid())
	}
	flood := startPlaidFlood(e, 4, 20000)
	defer flood.stop()
	e.eventually("the flood under way", func() bool { return flood.answered() >= 1000 })

	if _, err := e.plaid.RotateKey(); err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if err := e.plaid.Break(it.ID, "ITEM_LOGIN_REQUIRED", ""); err != nil {
			t.Fatal(err)
		}
	}
	e.waitPlaid() // fails on any webhook the emulator gave up on
	answers, errs := flood.stop()
	t.Logf("flood: %d forged webhooks, answers %v, %d transport errors; %d key lookups", flood.answered(), answers, errs, lookups.Load())
	if st := e.plaid.WebhookStats(); st.Delivered != len(items) || st.Failed != 0 {
		t.Errorf("webhooks with the rotated key: %+v, want all %d delivered", st, len(items))
	}
	for _, it := range items {
		if got := e.category("plaid", it.ID); got != health.LoginRequired {
			t.Errorf("%s: category %q, want %q", it.ID, got, health.LoginRequired)
		}
	}
	if answers[http.StatusOK] != 0 {
		t.Errorf("%d forged webhooks were accepted", answers[http.StatusOK])
	}
	if answers[http.StatusServiceUnavailable] == 0 {
		t.Errorf("the flood never spent the lookup budget (answers %v): the test proves nothing", answers)
	}
}

// Unknown kids beyond the lookup budget get 503 (Plaid retries), with one
// plain line that names no internal address; a kid Plaid said it does not
// know gets 401. The log has the detail.
func TestPlaidLookupBudgetSpentIs503(t *testing.T) {
	e := newEnv(t)
	body := plaidError("item_forged", "ITEM_LOCKED")
	var status int
	var answer string
	refused := 0
	for i := 0; i < 200; i++ {
		status, answer = e.post("/webhooks/plaid", body, forgedPlaidHeader(body))
		if status != http.StatusUnauthorized {
			break
		}
		refused++
	}
	checkRefusal(t, status, answer, http.StatusServiceUnavailable)
	if refused == 0 {
		t.Errorf("no made-up kid was refused (401) before the budget was spent")
	}
	for _, leak := range []string{"http", "127.0.0.1", "dial", "webhook_verification_key"} {
		if strings.Contains(answer, leak) {
			t.Errorf("the answer %q holds %q", answer, leak)
		}
	}
	if e.logs.lines("too many unknown signing keys") == 0 || e.logs.lines(`"status":503`) == 0 {
		t.Errorf("the log does not say why:\n%s", e.logs)
	}
	if got := e.events(); got != 0 {
		t.Errorf("%d events stored", got)
	}
}

// BenchmarkPlaidFlood measures webhooks signed by Plaid's current key
// while made-up kids flood the receiver: 8 goroutines post forged webhooks
// without pause (none in forgers=0, for comparison), and 4 others post b.N
// genuine ones, the emulator rotating its key every 200 of them, so that
// each rotation's first webhooks meet an unknown kid with the lookup budget
// spent. A 503 is retried after 25 ms, 100 ms, 400 ms (the emulator's
// compression of Plaid's schedule), at most 4 attempts. It reports the
// share of genuine webhooks accepted in the end and at the first attempt,
// the latency from the first attempt to the 200 (p50, p99, max), the
// flood's rate and share answered 503, and the key lookups Plaid got per
// second. Run it as
//
//	go test -run '^$' -bench PlaidFlood -benchtime 2000x ./server
func BenchmarkPlaidFlood(b *testing.B) {
	for _, senders := range []int{0, 8} {
		b.Run(fmt.Sprintf("forgers=%d", senders), func(b *testing.B) { benchPlaidFlood(b, senders) })
	}
}

func benchPlaidFlood(b *testing.B, floodSenders int) {
	const (
		realSenders = 4
		rotateEvery = 200
		attempts    = 4
	)
	e, lookups := newEnvCountingKeyLookups(b)
	body := func(i int) []byte { return plaidError(fmt.Sprintf("item_bench_%d", i), "ITEM_LOGIN_REQUIRED") }
	if st, ans := e.post("/webhooks/plaid", body(-1), e.plaidHeader(body(-1))); st != 200 {
		b.Fatalf("warm-up webhook: %d %s", st, ans) // the first key is known before the clock starts
	}
	flood := startPlaidFlood(e, floodSenders, 1<<40)
	if floodSenders > 0 {
		e.eventually("the flood under way", func() bool { return flood.answered() >= 300 })
	}

	var (
		next              atomic.Int64
		mu                sync.Mutex
		latencies         []time.Duration
		firstOK, accepted int
		final             = map[int]int{}
		floodBefore       = flood.answered()
		lookupsBefore     = lookups.Load()
		start             = time.Now()
		wg                sync.WaitGroup
	)
	b.ResetTimer()
	for range realSenders {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if i%rotateEvery == 0 {
					if _, err := e.plaid.RotateKey(); err != nil {
						b.Error(err)
						return
					}
				}
				bd := body(i)
				t0 := time.Now()
				status, first := 0, 0
				for a := range attempts {
					if a > 0 {
						time.Sleep(25 * time.Millisecond << (2 * (a - 1)))
					}
					req, _ := http.NewRequest(http.MethodPost, e.base+"/webhooks/plaid", bytes.NewReader(bd))
					req.Header = e.plaidHeader(bd)
					resp, err := e.client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
					if a == 0 {
						first = status
					}
					if status != http.StatusServiceUnavailable {
						break
					}
				}
				d := time.Since(t0)
				mu.Lock()
				final[status]++
				if first == http.StatusOK {
					firstOK++
				}
				if status == http.StatusOK {
					accepted++
					latencies = append(latencies, d)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	elapsed := time.Since(start)
	floodN := flood.answered() - floodBefore
	answers, _ := flood.stop()
	if answers[http.StatusOK] != 0 {
		b.Errorf("%d forged webhooks accepted", answers[http.StatusOK])
	}
	if accepted != b.N {
		b.Errorf("%d of %d genuine webhooks accepted (final answers %v)", accepted, b.N, final)
	}
	slices.Sort(latencies)
	ms := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return float64(latencies[min(len(latencies)-1, int(p*float64(len(latencies))))].Microseconds()) / 1000
	}
	b.ReportMetric(100*float64(accepted)/float64(b.N), "%accepted")
	b.ReportMetric(100*float64(firstOK)/float64(b.N), "%first-try")
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
	b.ReportMetric(ms(1), "max-ms")
	b.ReportMetric(float64(floodN)/elapsed.Seconds(), "forged/s")
	b.ReportMetric(100*float64(answers[http.StatusServiceUnavailable])/float64(max(1, answers[http.StatusServiceUnavailable]+answers[http.StatusUnauthorized])), "%forged-503")
	b.ReportMetric(float64(lookups.Load()-lookupsBefore)/elapsed.Seconds(), "lookups/s")
	b.ReportMetric(float64((b.N+rotateEvery-1)/rotateEvery), "rotations")
}

// newEnvCountingKeyLookups is newEnv whose Plaid verifier reaches the
// emulator through a proxy that counts /webhook_verification_key/get.
func newEnvCountingKeyLookups(t testing.TB) (*env, *atomic.Int64) {
	t.Helper()
	lv := &lateVerifier{}
	e := newEnv(t, func(c *Config) { c.PlaidVerifier = lv })
	target, err := url.Parse(e.plaid.URL())
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/webhook_verification_key/get" {
			n.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	id, secret := e.plaid.Credentials()
	c, err := plaid.New(plaid.Config{BaseURL: srv.URL, ClientID: id, Secret: secret, ClientName: "Acme", HostedLink: true,
		PerItemPerMinute: 6000, PerClientPerMinute: 600000, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	lv.v.Store(plaid.NewVerifier(c))
	return e, &n
}

// lateVerifier is a PlaidVerifier set after the server starts.
type lateVerifier struct {
	v atomic.Pointer[plaid.Verifier]
}

func (l *lateVerifier) Verify(ctx context.Context, header string, body []byte) error {
	return l.v.Load().Verify(ctx, header, body)
}
