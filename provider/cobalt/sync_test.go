package cobalt_test

import (
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/sandbox"
)

func seq(conns ...provider.Conn) iter.Seq[provider.Conn] { return slices.Values(conns) }

func (e *env) sync(t *testing.T, cursor string, conns ...provider.Conn) ([]provider.Observation, string) {
	t.Helper()
	var out []provider.Observation
	cur, err := e.client.Sync(t.Context(), seq(conns...), cursor, func(o provider.Observation) error {
		out = append(out, o)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, cur
}

func TestSyncEventTypes(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("legacy=%v", legacy), func(t *testing.T) {
			e := newEnv(t, legacy, nil)
			var conns []provider.Conn
			want := map[string]struct {
				cat    health.Category
				effect health.Effect
				reason string
			}{}
			for _, tc := range []struct {
				id, code string
				cat      health.Category
				effect   health.Effect
				reason   string
			}{
				{"plain", "login_required", health.LoginRequired, health.SetPrimary, ""},
				{"expired", "password_expired", health.PasswordExpired, health.SetPrimary, "password_expired"},
				{"locked", "account_locked", health.AccountLocked, health.SetPrimary, "account_locked"},
				{"unknown", "mfa_device_changed", health.LoginRequired, health.SetPrimary, "mfa_device_changed"},
				{"warned", "password_change_warning", "", health.SetWarning, ""},
			} {
				conn := e.add(t, sandbox.Connection{ID: tc.id, Institution: "https://" + tc.id + ".ehr.test"})
				conns = append(conns, conn)
				if err := e.emu.Break(tc.id, tc.code, "message for "+tc.id); err != nil {
					t.Fatal(err)
				}
				want[tc.id] = struct {
					cat    health.Category
					effect health.Effect
					reason string
				}{tc.cat, tc.effect, tc.reason}
			}
			ops := e.add(t, sandbox.Connection{ID: "ops"})
			conns = append(conns, ops)
			e.emu.SendEvent("ops", "appointment.created", map[string]any{"appointment_id": "a1"})
			e.emu.SendEvent("ops", "patient.failed", map[string]any{"failure_reason": "dup",
				"reasons": []any{map[string]any{"code": "DUPLICATE", "description": "exists"}}})

			obs, cursor := e.sync(t, "", conns...)
			if len(obs) != 5 {
				t.Fatalf("%d observations, want 5 (operation events are skipped): %+v", len(obs), obs)
			}
			for _, o := range obs {
				w := want[o.ProviderID]
				s := o.Signal
				if s.Category != w.cat || s.Effect != w.effect || s.ProviderReason != w.reason ||
					s.UserMessage != "message for "+o.ProviderID || s.Source != health.SourceWebhook {
					t.Errorf("%s: %+v", o.ProviderID, s)
				}
				if o.Kind != "event" || o.EventID == "" || o.Institution != "https://"+o.ProviderID+".ehr.test" {
					t.Errorf("%s: %+v", o.ProviderID, o)
				}
				var raw map[string]any
				if json.Unmarshal(o.Raw, &raw) != nil || (raw["id"] != o.EventID && raw["event_id"] != o.EventID) {
					t.Errorf("%s: raw %s", o.ProviderID, o.Raw)
				}
			}
			if w := obs[4]; w.Signal.Warning != health.PasswordChangeWarning {
				t.Errorf("warning %+v", w.Signal)
			}
			last, err := time.Parse(time.RFC3339Nano, cursor)
			if err != nil || !last.After(obs[4].Signal.ObservedAt) { // the operation events came later
				t.Errorf("cursor %q (%v)", cursor, err)
			}
		})
	}
}

func TestSyncCursor(t *testing.T) {
	e := newEnv(t, false, nil)
	a := e.add(t, sandbox.Connection{ID: "a"})
	b := e.add(t, sandbox.Connection{ID: "b"})
	e.emu.Break("a", "login_required", "")
	obs, cursor := e.sync(t, "", a, b)
	if len(obs) != 1 || cursor == "" {
		t.Fatalf("first sync: %+v %q", obs, cursor)
	}
	// Nothing new: only the event at exactly the cursor comes again.
	obs, again := e.sync(t, cursor, a, b)
	if again != cursor || len(obs) != 1 || obs[0].ProviderID != "a" {
		t.Errorf("idle sync: %+v, cursor %q→%q", obs, cursor, again)
	}
	e.emu.Break("b", "account_locked", "")
	obs, next := e.sync(t, cursor, a, b)
	if next <= cursor || len(obs) != 2 || obs[1].ProviderID != "b" || obs[1].Signal.Category != health.AccountLocked {
		t.Errorf("second sync: %+v, cursor %q", obs, next)
	}
	if _, err := e.client.Sync(t.Context(), seq(a), "yesterday", func(provider.Observation) error { return nil }); err == nil {
		t.Error("a bad cursor was accepted")
	}
}

// More events than a page holds: the client pages until the last page.
func TestSyncPaging(t *testing.T) {
	e := newEnv(t, false, nil)
	conn := e.add(t, sandbox.Connection{ID: "busy"})
	for i := range 230 {
		e.emu.SendEvent("busy", "appointment.updated", map[string]any{"appointment_id": i})
	}
	for range 230 {
		<-e.hooks
	}
	e.emu.Break("busy", "login_required", "")
	obs, _ := e.sync(t, "", conn)
	if len(obs) != 1 || obs[0].Signal.Category != health.LoginRequired {
		t.Errorf("the login_required event on page 3 was not seen: %+v", obs)
	}
}

// A connection Cobalt refuses is reported as its own observation; the
// others are still read.
func TestSyncPerConnectionFailure(t *testing.T) {
	e := newEnv(t, false, nil)
	good := e.add(t, sandbox.Connection{ID: "good"})
	e.emu.Break("good", "login_required", "")
	bad := provider.Conn{ProviderID: "gone", AccessToken: "revoked"}
	skipped := provider.Conn{ProviderID: "no-token"}
	obs, cursor := e.sync(t, "", bad, skipped, good)
	if len(obs) != 2 || cursor == "" {
		t.Fatalf("%+v", obs)
	}
	if obs[0].ProviderID != "gone" || obs[0].Kind != "api_error" || obs[0].Signal.Category != health.IntegrationError {
		t.Errorf("refused connection: %+v", obs[0])
	}
	if obs[1].ProviderID != "good" || obs[1].Signal.Category != health.LoginRequired {
		t.Errorf("good connection: %+v", obs[1])
	}
}
