package cobalt_test

import (
	"errors"
	"net"
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
	obs, err := e.client.Check(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	s := obs.Signal
	if obs.ProviderID != "clinic_1" || obs.Kind != "poll" || s.Category != health.Healthy ||
		s.Effect != health.SetPrimary || s.Source != health.SourcePoll || s.ClearWarning {
		t.Errorf("healthy: %+v", obs)
	}

	e.emu.Break("clinic_1", "password_expired", "")
	<-e.hooks
	obs, err = e.client.Check(t.Context(), conn)
	pe := providerError(t, err, conn.AccessToken)
	if pe.Status != 403 || pe.Code != "login_required" || !strings.Contains(pe.Hint, "update mode") {
		t.Errorf("login_required: %+v", pe)
	}
	wantSignal(t, pe.Signal, health.LoginRequired)
	if obs.Kind != "api_error" || obs.Signal.Category != health.LoginRequired || obs.ProviderID != "clinic_1" ||
		obs.Signal.UserMessage == "" {
		t.Errorf("observation %+v", obs)
	}

	_, err = e.client.Check(t.Context(), provider.Conn{ProviderID: "clinic_x", AccessToken: "revoked-token"})
	pe = providerError(t, err, "revoked-token")
	if pe.Status != 403 || pe.Code != "invalid_access_token" {
		t.Errorf("unknown token: %+v", pe)
	}
	wantSignal(t, pe.Signal, health.IntegrationError)

	if _, err := e.client.Check(t.Context(), provider.Conn{ProviderID: "clinic_1"}); err == nil {
		t.Error("Check without an access token succeeded")
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
