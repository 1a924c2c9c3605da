package cobalt_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/cobalt"
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

			all, cursor := e.sync(t, "", conns...)
			if q := only("poll", all); len(q) != len(conns) || q[len(q)-1].ProviderID != "ops" || q[0].Signal.Source != health.SourceHistory {
				t.Errorf("every clean read ends with no problem reported: %+v", q)
			}
			obs := only("event", all)
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
	if obs = only("event", obs); len(obs) != 1 || cursor == "" {
		t.Fatalf("first sync: %+v %q", obs, cursor)
	}
	// Nothing new: only the event at exactly the cursor comes again.
	obs, again := e.sync(t, cursor, a, b)
	if obs = only("event", obs); again != cursor || len(obs) != 1 || obs[0].ProviderID != "a" {
		t.Errorf("idle sync: %+v, cursor %q→%q", obs, cursor, again)
	}
	e.emu.Break("b", "account_locked", "")
	obs, next := e.sync(t, cursor, a, b)
	if obs = only("event", obs); next <= cursor || len(obs) != 2 || obs[1].ProviderID != "b" || obs[1].Signal.Category != health.AccountLocked {
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
	if obs = only("event", obs); len(obs) != 1 || obs[0].Signal.Category != health.LoginRequired {
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
	if len(obs) != 3 || cursor == "" || obs[2].Kind != "poll" || obs[2].ProviderID != "good" {
		t.Fatalf("%+v", obs)
	}
	if obs[0].ProviderID != "gone" || obs[0].Kind != "api_error" || obs[0].Signal.Category != health.IntegrationError {
		t.Errorf("refused connection: %+v", obs[0])
	}
	if obs[1].ProviderID != "good" || obs[1].Signal.Category != health.LoginRequired {
		t.Errorf("good connection: %+v", obs[1])
	}
}

// Issue 14, point 1: Cobalt writes offsets without padding
// ("2024-04-05T08:00:00.000-7:00", docs.usecobalt.com/docs/webhooks/events).
// Today's parseTime refused them and the whole sync stopped.
func TestSyncReadsCobaltsUnpaddedOffsets(t *testing.T) {
	pdt := time.FixedZone("PDT", -7*3600)
	e := newEnvWith(t, func(o *sandbox.CobaltOptions) { o.Zone, o.UnpaddedOffset = pdt, true }, nil)
	a := e.add(t, sandbox.Connection{ID: "a"})
	b := e.add(t, sandbox.Connection{ID: "b"})
	if err := e.emu.Break("a", "password_expired", ""); err != nil {
		t.Fatal(err)
	}
	hook := <-e.hooks // the webhook of the same event reads too
	obs, cursor := e.sync(t, "", a, b)
	ev := only("event", obs)
	if len(ev) != 1 || ev[0].Signal.Category != health.PasswordExpired || !ev[0].Signal.ObservedAt.Equal(hook.Signal.ObservedAt) ||
		hook.Signal.ObservedAt.IsZero() {
		t.Fatalf("events %+v (webhook at %v)", ev, hook.Signal.ObservedAt)
	}
	if _, off := ev[0].Signal.ObservedAt.Zone(); off != -7*3600 {
		t.Errorf("offset %d s, want -7 h", off)
	}
	if q := only("poll", obs); len(q) != 2 {
		t.Errorf("clean reads: %+v", q)
	}
	if c, err := time.Parse(time.RFC3339Nano, cursor); err != nil || !c.Equal(ev[0].Signal.ObservedAt) {
		t.Errorf("cursor %q, want the event's time", cursor)
	}
}

// Issue 14, point 1: an event relink cannot read is skipped, counted and
// reported; the other events of that history and every other connection
// are still read, and the cursor advances. Today one such event stopped the
// whole Cobalt sync.
func TestSyncSkipsAnUnreadableEvent(t *testing.T) {
	e := newEnv(t, false, nil)
	first := e.add(t, sandbox.Connection{ID: "first", Code: "login_required"})
	odd := e.add(t, sandbox.Connection{ID: "odd"})
	after := e.add(t, sandbox.Connection{ID: "after", Code: "login_required", Reason: "account_locked"})
	calm := e.add(t, sandbox.Connection{ID: "calm"})
	raws := []string{
		`{"id":"evt_time","object":"event","type":"access_token.login_required","created":"yesterday","access_token_reference_id":"odd","data":{}}`,
		`{"id":"evt_data","object":"event","type":"access_token.login_required","created":"2025-10-21T14:30:00Z","data":"text"}`,
		`{"id":7,"object":"event","type":"access_token.login_required","created":"2025-10-21T14:30:00Z"}`,
		`{"id":"evt_notype","object":"event","created":"2025-10-21T14:30:00Z"}`,
		`"not an event"`,
		// An operation event with a time nobody can read changes no health: passed over, not counted.
		`{"id":"evt_op","object":"event","type":"appointment.created","created":"someday","data":{}}`,
	}
	for _, r := range raws {
		if err := e.emu.SendRawEvent("odd", []byte(r)); err != nil {
			t.Fatal(err)
		}
		<-e.hooks
	}
	if err := e.emu.Break("odd", "password_expired", ""); err != nil {
		t.Fatal(err)
	}
	<-e.hooks

	obs, cursor := e.sync(t, "", first, odd, after, calm)
	got := map[string][]string{}
	var skippedWhy []string
	for _, o := range obs {
		got[o.ProviderID] = append(got[o.ProviderID], o.Kind+":"+string(o.Signal.Category))
		if o.Kind == "skipped" {
			if !errors.Is(o.Skipped, cobalt.ErrUnreadableEvent) || o.Signal.Category != "" {
				t.Errorf("skipped %+v", o)
			}
			skippedWhy = append(skippedWhy, o.Skipped.Error())
		}
	}
	want := map[string][]string{
		"first": {"event:login_required", "poll:healthy"},
		"odd":   {"skipped:", "skipped:", "skipped:", "skipped:", "skipped:", "event:password_expired"},
		"after": {"event:account_locked", "poll:healthy"},
		"calm":  {"poll:healthy"},
	}
	for id, w := range want {
		if strings.Join(got[id], " ") != strings.Join(w, " ") {
			t.Errorf("%s: %v, want %v", id, got[id], w)
		}
	}
	for i, w := range []string{`event "evt_time": created "yesterday": not an ISO-8601 time`, `event "evt_data": data is not an object`,
		`field "id" is not a string`, `event "evt_notype": no type`, `not a JSON object`} {
		if i >= len(skippedWhy) || !strings.Contains(skippedWhy[i], w) {
			t.Errorf("reason %d: %q, want it to say %q", i, skippedWhy, w)
		}
	}
	if cursor == "" {
		t.Error("the cursor did not advance")
	}
	// Quiet reads stay quiet only where nothing was skipped: "odd" may hide
	// a login_required in what could not be read.
	if q := only("poll", obs); len(q) != 3 {
		t.Errorf("clean reads %+v", q)
	}
}
