package cobalt_test

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/cobalt"
	"github.com/relink/relink/provider/sandbox"
)

func TestCheck(t *testing.T) {
	e := newEnv(t, false, nil)
	conn := e.add(t, sandbox.Connection{ID: "clinic_1"})
	before := time.Now()
	obs, err := e.client.Check(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	s := obs.Signal
	if obs.ProviderID != "clinic_1" || obs.Kind != "poll" || s.Category != health.Healthy ||
		s.Effect != health.SetPrimary || s.Source != health.SourceHistory || s.ClearWarning || s.ObservedAt.Before(before) {
		t.Errorf("a quiet history: %+v", obs)
	}

	e.emu.Break("clinic_1", "password_expired", "Reset your EHR password.")
	hook := <-e.hooks
	obs, err = e.client.Check(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	if obs.Kind != "event" || obs.EventID != hook.EventID || obs.Signal.Category != health.PasswordExpired ||
		obs.ProviderID != "clinic_1" || obs.Signal.UserMessage != "Reset your EHR password." {
		t.Errorf("a broken login: %+v", obs)
	}
	e.emu.Break("clinic_1", "account_locked", "")
	<-e.hooks
	e.emu.Break("clinic_1", "password_change_warning", "")
	<-e.hooks
	if obs, _ := e.client.Check(t.Context(), conn); obs.Signal.Category != health.AccountLocked {
		t.Errorf("the newest login_required is not the answer: %+v", obs.Signal)
	}

	_, err = e.client.Check(t.Context(), provider.Conn{ProviderID: "clinic_x", AccessToken: "revoked-token"})
	pe := providerError(t, err, "revoked-token")
	if pe.Status != 403 || pe.Code != "invalid_access_token" {
		t.Errorf("unknown token: %+v", pe)
	}
	wantSignal(t, pe.Signal, health.IntegrationError)

	if _, err := e.client.Check(t.Context(), provider.Conn{ProviderID: "clinic_1"}); err == nil {
		t.Error("Check without an access token succeeded")
	}
}

// Issue 14, point 3: GET /v1/settings answers 200 for a token whose history
// holds login_required (it says nothing about the EHR login), so a recheck
// must not clear the recorded failure. Today's Check read the settings and
// returned a healthy poll, which wiped login_required and stopped reminders.
func TestRecheckKeepsLoginRequired(t *testing.T) {
	e := newEnv(t, false, nil)
	conn := e.add(t, sandbox.Connection{ID: "clinic_1", Code: "login_required"})
	quietConn := e.add(t, sandbox.Connection{ID: "clinic_ok"})

	// What the store records from the first sync.
	obs, _ := e.sync(t, "", conn, quietConn)
	state := map[string]health.Health{}
	apply := func(o provider.Observation) {
		h, ok := state[o.ProviderID]
		if !ok {
			h = health.Health{Category: health.Unknown}
		}
		state[o.ProviderID], _ = health.Apply(h, o.Signal)
	}
	for _, o := range obs {
		apply(o)
	}
	if state["clinic_1"].Category != health.LoginRequired || state["clinic_ok"].Category != health.Healthy ||
		state["clinic_ok"].Source != health.SourceHistory {
		t.Fatalf("after the sync: %+v", state)
	}

	// Cobalt's settings still answer 200 for the broken token.
	resp, err := e.settings(conn.AccessToken)
	if err != nil || resp != http.StatusOK {
		t.Fatalf("GET /v1/settings of a broken login: %d %v", resp, err)
	}
	for range 3 {
		for _, c := range []provider.Conn{conn, quietConn} {
			o, err := e.client.Check(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			apply(o)
		}
		later, _ := e.sync(t, "", conn, quietConn)
		for _, o := range later {
			apply(o)
		}
	}
	if h := state["clinic_1"]; h.Category != health.LoginRequired || h.FirstFailedAt == nil {
		t.Errorf("a recheck cleared login_required: %+v", h)
	}
	if h := state["clinic_ok"]; h.Category != health.Healthy || !h.ObservedAt.After(obs[len(obs)-1].Signal.ObservedAt) {
		t.Errorf("a quiet connection is not kept healthy and fresh: %+v", h)
	}
}

func TestWrongCredentials(t *testing.T) {
	const secret = "cs_live_T0pSecret"
	e := newEnv(t, false, func(c *cobalt.Config) { c.ClientSecret = secret })
	conn := e.add(t, sandbox.Connection{})
	for name, call := range map[string]func() error{
		"check":  func() error { _, err := e.client.Check(t.Context(), conn); return err },
		"update": func() error { _, err := e.client.UpdateLink(t.Context(), conn); return err },
		"sync": func() error {
			cur, err := e.client.Sync(t.Context(), seq(conn), "2025-01-01T00:00:00Z", func(provider.Observation) error { return nil })
			if cur != "2025-01-01T00:00:00Z" {
				t.Errorf("cursor moved to %q on failure", cur)
			}
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			pe := providerError(t, call(), secret, conn.AccessToken)
			if pe.Status != 401 || !strings.Contains(pe.Hint, "COBALT_CLIENT_ID") {
				t.Errorf("%+v", pe)
			}
			wantSignal(t, pe.Signal, health.IntegrationError)
		})
	}
}

func TestRetriesAndFaults(t *testing.T) {
	e := newEnv(t, false, nil)
	conn := e.add(t, sandbox.Connection{})
	check := func() (provider.Observation, error) { return e.client.Check(t.Context(), conn) }

	e.emu.Faults.TooManyRequests(1, time.Second)
	if obs, err := check(); err != nil || obs.Signal.Category != health.Healthy {
		t.Errorf("after a 429: %v", err)
	}
	e.emu.Faults.ServerErrors(2)
	if _, err := check(); err != nil {
		t.Errorf("after two 500s: %v", err)
	}

	e.emu.Faults.ServerErrors(100)
	_, err := check()
	pe := providerError(t, err)
	if pe.Status != 500 || pe.Code != "internal_error" {
		t.Errorf("persistent 500: %+v", pe)
	}
	wantSignal(t, pe.Signal, health.ProviderError)

	e.emu.Faults.Reset()
	e.emu.Faults.TooManyRequests(100, 0)
	_, err = check()
	wantSignal(t, providerError(t, err).Signal, health.RateLimited)

	e.emu.Faults.Reset()
	e.emu.Faults.Hang(100)
	_, err = e.withTimeout(t, 150*time.Millisecond).Check(t.Context(), conn)
	pe = providerError(t, err)
	var ne net.Error
	if pe.Status != 0 || !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("hang: %v, want a timeout", err)
	}
	wantSignal(t, pe.Signal, health.ProviderError)

	e.emu.Faults.Reset()
	e.emu.Faults.Malformed(1)
	_, err = check()
	if providerError(t, err); !strings.Contains(err.Error(), "malformed response") {
		t.Errorf("malformed: %v", err)
	}
	e.emu.Faults.Malformed(1)
	_, err = e.client.Sync(t.Context(), seq(conn), "", func(provider.Observation) error { return nil })
	if providerError(t, err); !strings.Contains(err.Error(), "malformed response") {
		t.Errorf("malformed history: %v", err)
	}
}
