// Package sandbox holds stateful emulators of the Plaid, Belvo and Cobalt
// APIs that run on loopback. They answer the documented endpoints with the
// documented JSON shapes and auth checks, hold connections in any health
// category, break and repair them, send signed webhooks, serve a hosted
// update-mode page whose button completes the repair, and inject faults.
// Mailbox is their counterpart for reminders: a loopback SMTP server that
// keeps what it receives. They are part of the product (relink --demo),
// not test-only code.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Connection is one connection an emulator holds, in provider-neutral terms
// so the demo seeding can fill all three emulators alike.
type Connection struct {
	ID          string // plaid item_id | belvo link id | cobalt access_token_reference_id
	AccessToken string // plaid and cobalt
	UserRef     string
	Institution string // plaid institution_name | belvo institution | cobalt emr_instance_domain
	// State in the provider's own words; all empty means healthy.
	//   plaid:  Code = error_code, Reason = error_code_reason, Type = error_type
	//   belvo:  Code = link status ("invalid", "token_required", "unconfirmed"), Message = last login error
	//   cobalt: Code = "login_required", Reason = data.error_type
	Code, Reason, Type, Message string
	ConsentExpiration           *time.Time // plaid consent_expiration_time
	CreatedAt                   time.Time
}

// Faults injects failures into an emulator's API answers. The zero value
// injects nothing. Counters are consumed one request at a time.
type Faults struct {
	mu         sync.Mutex
	latency    time.Duration
	tooMany    int           // answer this many requests with 429
	retryAfter time.Duration // Retry-After of those 429s
	serverErr  int           // answer this many requests with 500
	hang       int           // hold this many requests until the client gives up
	malformed  int           // answer this many requests with a broken JSON body
}

// SetLatency delays every API answer by d.
func (f *Faults) SetLatency(d time.Duration) { f.mu.Lock(); f.latency = d; f.mu.Unlock() }

// TooManyRequests makes the next n API requests answer 429 with Retry-After.
func (f *Faults) TooManyRequests(n int, retryAfter time.Duration) {
	f.mu.Lock()
	f.tooMany, f.retryAfter = n, retryAfter
	f.mu.Unlock()
}

// ServerErrors makes the next n API requests answer 500.
func (f *Faults) ServerErrors(n int) { f.mu.Lock(); f.serverErr = n; f.mu.Unlock() }

// Hang makes the next n API requests hang until the client disconnects.
func (f *Faults) Hang(n int) { f.mu.Lock(); f.hang = n; f.mu.Unlock() }

// Malformed makes the next n API requests answer 200 with a truncated body.
func (f *Faults) Malformed(n int) { f.mu.Lock(); f.malformed = n; f.mu.Unlock() }

// Reset clears every fault.
func (f *Faults) Reset() {
	f.mu.Lock()
	f.latency, f.tooMany, f.serverErr, f.hang, f.malformed = 0, 0, 0, 0, 0
	f.mu.Unlock()
}

type fault int

const (
	faultNone fault = iota
	faultTooMany
	faultServer
	faultHang
	faultMalformed
)

func (f *Faults) next() (fault, time.Duration, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.hang > 0:
		f.hang--
		return faultHang, f.latency, 0
	case f.tooMany > 0:
		f.tooMany--
		return faultTooMany, f.latency, f.retryAfter
	case f.serverErr > 0:
		f.serverErr--
		return faultServer, f.latency, 0
	case f.malformed > 0:
		f.malformed--
		return faultMalformed, f.latency, 0
	}
	return faultNone, f.latency, 0
}

// Wrap applies the faults to next. body429 and body500 are the provider's own
// error bodies for those statuses, so clients see realistic answers.
func (f *Faults) Wrap(next http.Handler, body429, body500 []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind, latency, retryAfter := f.next()
		if latency > 0 {
			select {
			case <-time.After(latency):
			case <-r.Context().Done():
				return
			}
		}
		switch kind {
		case faultHang:
			// Read the body first: until it is read, net/http does not
			// notice that the client hung up.
			io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
			return
		case faultTooMany:
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write(body429)
			return
		case faultServer:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			w.Write(body500)
			return
		case faultMalformed:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"truncated": [`))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Server is one emulator listening on 127.0.0.1 at a random port.
type Server struct {
	URL string // base URL, e.g. http://127.0.0.1:41234
	srv *http.Server
	ln  net.Listener
}

// Listen starts h on a random loopback port.
func Listen(h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sandbox: listening on loopback: %w", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), ln: ln,
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener is gone; Close reports nothing more useful
		}
	}()
	return s, nil
}

// Close stops the server, ending requests in flight after a short grace
// (connections a client kept from a cancelled request would otherwise hold
// Shutdown for seconds).
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		return s.srv.Close()
	}
	return nil
}
