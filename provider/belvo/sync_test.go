package belvo_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/belvo"
	"github.com/relink/relink/provider/sandbox"
)

func TestSyncStatusesOverSeveralPages(t *testing.T) {
	e := newEnv(t, func(c *belvo.Config) { c.PageSize = 3 })
	base := time.Date(2024, 2, 2, 12, 0, 0, 0, time.UTC)
	want := map[string]health.Category{}
	statuses := []struct {
		code string
		cat  health.Category
	}{
		{"", health.Healthy}, {"valid", health.Healthy}, {"invalid", health.LoginRequired},
		{"token_required", health.MFARequired}, {"unconfirmed", health.Incomplete},
	}
	var order []string
	for i := range 10 {
		s := statuses[i%len(statuses)]
		id := fmt.Sprintf("link-%02d", i)
		e.add(t, sandbox.Connection{ID: id, Code: s.code, Institution: "inst_" + s.code,
			Message: "Your account is locked", CreatedAt: base.Add(time.Duration(i) * time.Minute)})
		want[id] = s.cat
		order = append(order, id)
	}
	obs, err := e.sync(t)
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 10 {
		t.Fatalf("%d observations, want 10", len(obs))
	}
	if n := e.emu.Requests(); n != 4 {
		t.Errorf("%d requests for 10 links at page_size 3, want 4", n)
	}
	for i, o := range obs {
		if o.ProviderID != order[i] {
			t.Errorf("observation %d is %s, want %s (stable order)", i, o.ProviderID, order[i])
		}
		// The API exposes no last error message: invalid stays login_required.
		if o.Signal.Category != want[o.ProviderID] || o.Signal.Effect != health.SetPrimary ||
			o.Signal.Source != health.SourcePoll || o.Kind != "poll" || o.EventID != "" {
			t.Errorf("%s: %+v, want %s", o.ProviderID, o, want[o.ProviderID])
		}
		if !strings.HasPrefix(o.Institution, "inst_") {
			t.Errorf("%s: institution %q", o.ProviderID, o.Institution)
		}
	}
	if obs[2].Signal.ProviderCode != "invalid" {
		t.Errorf("provider code %q, want the raw status", obs[2].Signal.ProviderCode)
	}
}

func TestSyncEmpty(t *testing.T) {
	e := newEnv(t, nil)
	obs, err := e.sync(t)
	if err != nil || len(obs) != 0 {
		t.Errorf("empty account: %v %v", obs, err)
	}
}

func TestSyncWrongCredentials(t *testing.T) {
	const secret = "S3cret-Belvo-Password"
	e := newEnv(t, func(c *belvo.Config) { c.SecretPassword = secret })
	e.add(t, sandbox.Connection{})
	_, err := e.sync(t)
	pe := providerError(t, err, secret)
	if pe.Status != 401 || pe.Code != "authentication_failed" || !strings.Contains(pe.Hint, "BELVO_SECRET_ID") {
		t.Errorf("error %+v", pe)
	}
	wantSignal(t, pe.Signal, health.IntegrationError)
	if !strings.Contains(pe.Hint, "request_id") {
		t.Errorf("hint %q does not carry Belvo's request id", pe.Hint)
	}
}

func TestSyncRetriesThrottlingAndServerErrors(t *testing.T) {
	e := newEnv(t, func(c *belvo.Config) { c.PageSize = 2 })
	for range 3 {
		e.add(t, sandbox.Connection{})
	}
	e.emu.Faults.TooManyRequests(1, time.Second) // Retry-After: 1
	obs, err := e.sync(t)
	if err != nil || len(obs) != 3 {
		t.Fatalf("after a 429: %d observations, %v", len(obs), err)
	}
	e.emu.Faults.ServerErrors(2)
	if obs, err = e.sync(t); err != nil || len(obs) != 3 {
		t.Fatalf("after two 500s: %d observations, %v", len(obs), err)
	}
}

func TestSyncPersistentFailures(t *testing.T) {
	e := newEnv(t, nil)
	e.add(t, sandbox.Connection{})

	e.emu.Faults.ServerErrors(100)
	_, err := e.sync(t)
	pe := providerError(t, err)
	if pe.Status != 500 || pe.Code != "unexpected_error" {
		t.Errorf("persistent 500: %+v", pe)
	}
	wantSignal(t, pe.Signal, health.ProviderError)

	e.emu.Faults.Reset()
	e.emu.Faults.TooManyRequests(100, 0)
	_, err = e.sync(t)
	pe = providerError(t, err)
	if pe.Status != 429 {
		t.Errorf("persistent 429: %+v", pe)
	}
	wantSignal(t, pe.Signal, health.RateLimited)

	e.emu.Faults.Reset()
	e.emu.Faults.Hang(100)
	_, err = e.withTimeout(t, 150*time.Millisecond).sync(t)
	pe = providerError(t, err)
	var ne net.Error
	if pe.Status != 0 || !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("hang: %v, want a timeout", err)
	}
	wantSignal(t, pe.Signal, health.ProviderError)

	e.emu.Faults.Reset()
	e.emu.Faults.Malformed(1)
	_, err = e.sync(t)
	pe = providerError(t, err)
	if !strings.Contains(err.Error(), "malformed response") {
		t.Errorf("malformed: %v", err)
	}
	wantSignal(t, pe.Signal, health.ProviderError)
}

// A `next` that leaves belvo.base_url, or loops, stops the sync: the keys
// travel with every request.
func TestSyncRefusesForeignOrLoopingNext(t *testing.T) {
	for name, tc := range map[string]struct{ next, want string }{
		"foreign host": {`"https://elsewhere.example/api/links/?page=2"`, "refusing to send the keys"},
		"loop":         {`"/api/links/?page_size=1000"`, "repeats"},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `{"count":2,"next":%s,"previous":null,"results":[{"id":"l1","institution":"x","status":"valid"}]}`, tc.next)
			}))
			defer srv.Close()
			c, err := belvo.New(belvo.Config{BaseURL: srv.URL, SecretID: "id", SecretPassword: "pw"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Sync(t.Context(), nil, "", func(provider.Observation) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
