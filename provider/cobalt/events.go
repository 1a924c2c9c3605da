package cobalt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
)

// ErrUnreadableEvent marks an event relink cannot read: not a JSON object,
// no id or type, an account event whose created time is not ISO-8601 or
// whose data is not an object, or (in a webhook) one that names no
// access_token_reference_id. Match it with errors.Is. Such an event is never
// a reason to stop: a sync skips it, counts it and reports why (as an
// Observation whose Skipped error matches), and a webhook receiver that
// verified the signature acknowledges it (2xx) and logs it, because Cobalt
// does not retry a 4xx and a refusal loses the event for good
// ("Retry Behavior" of Receiving Webhooks, in the newer copy of Cobalt's
// docs at https://cobalt-cd7844c1.mintlify.app/docs/webhooks/receiving).
var ErrUnreadableEvent = errors.New("cobalt: unreadable event")

// unreadable is one event relink cannot read: its id (when readable) and why.
type unreadable struct {
	id    string
	cause error
}

func (u *unreadable) Error() string {
	if u.id == "" {
		return "an event without a readable id: " + u.cause.Error()
	}
	return "event " + quote(u.id) + ": " + u.cause.Error()
}

func (u *unreadable) Is(target error) bool { return target == ErrUnreadableEvent }
func (u *unreadable) Unwrap() error        { return u.cause }

// quote shows a value Cobalt sent in a message: clipped, in ASCII, so no
// control or bidirectional character reaches a terminal.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.QuoteToASCII(s)
}

// event is one Cobalt event, from a webhook or the history, in either of
// the shapes of COBALT.md §4.5 / §6.1.
type event struct {
	ID, Type, Ref string
	Created       time.Time // zero when an operation or sync event's time is unreadable
	Data          eventData
	Raw           []byte // compact JSON as received
}

// eventData is the data of the account events (COBALT.md §6.2).
type eventData struct {
	Ref       string `json:"access_token_reference_id"`
	Domain    string `json:"emr_instance_domain"`
	Message   string `json:"message"`
	ErrorType string `json:"error_type"`
}

type wireEvent struct {
	ID        *string         `json:"id"`
	EventID   *string         `json:"event_id"`
	Type      *string         `json:"type"`
	EventType *string         `json:"event_type"`
	Created   *string         `json:"created"`
	CreatedAt *string         `json:"created_at"`
	Ref       *string         `json:"access_token_reference_id"`
	Data      json.RawMessage `json:"data"`
}

// isAccount reports whether an event type concerns connection health.
func isAccount(typ string) bool { return strings.HasPrefix(typ, "access_token.") }

// decodeEvent reads one event. An error (an *unreadable, matching
// ErrUnreadableEvent) says why it cannot be read; the event returned with
// it carries whatever was readable, its Type above all, so a caller can
// tell an unreadable account event from an operation or sync event it
// would have passed over anyway. id and type are required. An account event
// needs an ISO-8601 created time and, if it has data, a well-typed object;
// for other events an unreadable created time leaves Created zero and bad
// data is ignored. The access_token_reference_id is taken from the top
// level or from data; whether one is required is the caller's rule.
func decodeEvent(raw []byte) (event, error) {
	var w wireEvent
	jerr := json.Unmarshal(raw, &w)
	var typeErr *json.UnmarshalTypeError
	if jerr != nil && (!errors.As(jerr, &typeErr) || typeErr.Field == "") {
		return event{}, &unreadable{cause: errors.New("not a JSON object")}
	}
	first := func(vs ...*string) string {
		for _, v := range vs {
			if v != nil && *v != "" {
				return *v
			}
		}
		return ""
	}
	ev := event{ID: first(w.ID, w.EventID), Type: first(w.Type, w.EventType), Ref: first(w.Ref)}
	switch {
	case typeErr != nil:
		return ev, &unreadable{id: ev.ID, cause: fmt.Errorf("field %s is not a string", quote(typeErr.Field))}
	case ev.Type == "":
		return ev, &unreadable{id: ev.ID, cause: errors.New("no type")}
	case ev.ID == "":
		return ev, &unreadable{cause: fmt.Errorf("a %s event with no id", quote(ev.Type))}
	}
	account := isAccount(ev.Type)
	created := first(w.Created, w.CreatedAt)
	if t, err := parseTime(created); err == nil {
		ev.Created = t
	} else if account {
		return ev, &unreadable{id: ev.ID, cause: fmt.Errorf("created %s: %w", quote(created), err)}
	}
	if len(w.Data) > 0 && !bytes.Equal(w.Data, []byte("null")) {
		if err := json.Unmarshal(w.Data, &ev.Data); err != nil && account {
			return ev, &unreadable{id: ev.ID, cause: errors.New("data is not an object of text fields")}
		}
	}
	if ev.Ref == "" {
		ev.Ref = ev.Data.Ref
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return ev, &unreadable{id: ev.ID, cause: errors.New("not a JSON object")}
	}
	ev.Raw = b.Bytes()
	return ev, nil
}

// isoTime is the ISO-8601 date-time forms Cobalt writes
// (https://docs.usecobalt.com/docs/webhooks/events has
// "2024-04-05T08:00:00.000-7:00", an offset without padding;
// https://docs.usecobalt.com/docs/webhooks/sync-events
// "2025-07-28T08:50:42.491-07:00"; the account events and the history
// "2025-10-21T14:30:00.000Z" and "2023-11-07T05:31:56Z"), and their close
// kin: "T" or a space between date and time, seconds and fraction optional
// (a comma for the decimal point too), and a zone of Z, ±H, ±HH, ±H:MM,
// ±HH:MM or ±HHMM, or none at all (taken as UTC).
var isoTime = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{1,2})(?::?(\d{2}))?)?$`)

// parseTime reads an ISO-8601 time as Cobalt writes it (isoTime).
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("no time")
	}
	m := isoTime.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return time.Time{}, errors.New("not an ISO-8601 time")
	}
	num := func(v string) int { n, _ := strconv.Atoi(v); return n }
	year, month, day, hour, minute, sec := num(m[1]), num(m[2]), num(m[3]), num(m[4]), num(m[5]), num(m[6])
	nsec := 0
	if f := m[7]; f != "" {
		nsec = num((f + "000000000")[:9])
	}
	loc := time.UTC
	if m[9] != "" {
		oh, om := num(m[10]), num(m[11])
		if oh > 18 || om > 59 {
			return time.Time{}, errors.New("not an ISO-8601 time (offset out of range)")
		}
		off := oh*3600 + om*60
		if m[9] == "-" {
			off = -off
		}
		loc = time.FixedZone("", off)
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc)
	if t.Year() != year || int(t.Month()) != month || t.Day() != day || t.Hour() != hour || t.Minute() != minute || t.Second() != sec {
		return time.Time{}, errors.New("not an ISO-8601 time (no such date or time of day)")
	}
	return t, nil
}

// maxSkew is how far in the future an event's time may be before it is
// taken as received instead: a future-dated signal would make every later
// poll look older than it.
const maxSkew = 5 * time.Minute

// observation maps an event. Operation and sync events map to NoChange.
func (ev event) observation(kind string, receivedAt time.Time) provider.Observation {
	at := ev.Created
	if at.IsZero() || at.After(receivedAt.Add(maxSkew)) {
		at = receivedAt
	}
	sig := health.CobaltEventSignal(health.CobaltEvent{Type: ev.Type, ErrorType: ev.Data.ErrorType,
		Message: ev.Data.Message}, at)
	return provider.Observation{ProviderID: ev.Ref, Institution: ev.Data.Domain, EventID: ev.ID,
		Kind: kind, Signal: sig, Raw: ev.Raw}
}

// Sync reads the event history of every connection in conns that has an
// access token (GET /v1/webhook-events is per access token), oldest first,
// and emits an "event" observation for each account event (access_token.*)
// created at or after cursor; operation and sync events are passed over.
// An event it cannot read (ErrUnreadableEvent) is emitted as a "skipped"
// observation that says why, and the sync goes on. A connection whose
// history read cleanly, without such an event, then gets a "poll"
// observation of health.CobaltQuiet: no problem reported as of the read,
// which makes an unchecked connection healthy but never clears a recorded
// login_required (account events fire whenever Cobalt's authentication
// layer meets a credential problem, https://docs.usecobalt.com/docs/webhooks/account-events).
// The cursor is the RFC 3339 time of the newest event read; events at
// exactly the cursor are emitted again, so callers dedupe on EventID. A
// connection whose history Cobalt refuses (403, 404, other 4xx) is emitted as
// an "api_error" observation and skipped; bad client keys, throttling that
// outlasts the retries, 5xx, an answer that is not JSON and transport
// failures stop the sync, which then returns the old cursor.
func (c *Client) Sync(ctx context.Context, conns iter.Seq[provider.Conn], cursor string, emit func(provider.Observation) error) (string, error) {
	var since time.Time
	if cursor != "" {
		t, err := time.Parse(time.RFC3339Nano, cursor)
		if err != nil {
			return cursor, fmt.Errorf("cobalt: sync cursor %q is not an RFC 3339 time: %w", cursor, err)
		}
		since = t
	}
	newest := since
	for conn := range conns {
		if conn.AccessToken == "" {
			continue
		}
		latest, err := c.syncConn(ctx, conn, since, emit)
		var pe *provider.Error
		if errors.As(err, &pe) && perConnection(pe) {
			if pe.Signal == nil {
				continue
			}
			if err := emit(provider.Observation{ProviderID: conn.ProviderID, Kind: "api_error", Signal: *pe.Signal}); err != nil {
				return cursor, fmt.Errorf("cobalt: recording the failure of %s: %w", conn.ProviderID, err)
			}
			continue
		}
		if err != nil {
			return cursor, err
		}
		if latest.After(newest) {
			newest = latest
		}
	}
	if newest.IsZero() {
		return cursor, nil
	}
	return newest.UTC().Format(time.RFC3339Nano), nil
}

// perConnection reports whether a failure concerns one access token only.
func perConnection(pe *provider.Error) bool {
	return pe.Status >= 400 && pe.Status < 500 && pe.Status != http.StatusUnauthorized &&
		pe.Status != http.StatusTooManyRequests
}

// skipped is the observation of an event in conn's history that cannot be read.
func skipped(conn provider.Conn, ev event, err error) provider.Observation {
	return provider.Observation{ProviderID: conn.ProviderID, EventID: ev.ID, Kind: "skipped", Skipped: err}
}

// syncConn reads one connection's history from since and returns the time
// of the newest event read.
func (c *Client) syncConn(ctx context.Context, conn provider.Conn, since time.Time, emit func(provider.Observation) error) (time.Time, error) {
	var newest time.Time
	clean := true
	err := c.history(ctx, conn, since, func(ev event, derr error, receivedAt time.Time) error {
		if derr != nil {
			if ev.Type != "" && !isAccount(ev.Type) {
				return nil // an operation or sync event: passed over either way
			}
			clean = false
			return emit(skipped(conn, ev, derr))
		}
		if ev.Created.After(newest) {
			newest = ev.Created
		}
		if !isAccount(ev.Type) || ev.Created.Before(since) {
			return nil
		}
		if ev.Ref == "" {
			ev.Ref = conn.ProviderID
		}
		if err := emit(ev.observation("event", receivedAt)); err != nil {
			return fmt.Errorf("cobalt: recording event %s: %w", ev.ID, err)
		}
		return nil
	})
	if err != nil {
		return newest, err
	}
	if clean {
		if err := emit(quiet(conn, c.now())); err != nil {
			return newest, fmt.Errorf("cobalt: recording the read of %s: %w", conn.ProviderID, err)
		}
	}
	return newest, nil
}

// quiet is the observation of a clean read of conn's history.
func quiet(conn provider.Conn, at time.Time) provider.Observation {
	return provider.Observation{ProviderID: conn.ProviderID, Kind: "poll", Signal: health.CobaltQuiet(at)}
}

const eventsCall = "GET /v1/webhook-events"

// eventsPage is one answer of GET /v1/webhook-events.
type eventsPage struct {
	WebhookEvents []json.RawMessage `json:"webhook_events"`
	Data          json.RawMessage   `json:"data"`
	Pagination    *struct {
		CurrentPage int `json:"current_page"`
		TotalPages  int `json:"total_pages"`
	} `json:"pagination"`
}

// history pages through one connection's event history (from since, or
// all of it), oldest first, and calls fn with each event as decodeEvent
// read it and the time its page arrived. An error of fn stops the walk and
// is returned as it is; a failed page is a *provider.Error.
func (c *Client) history(ctx context.Context, conn provider.Conn, since time.Time, fn func(event, error, time.Time) error) error {
	q := url.Values{"page_size": {"100"}, "sort": {"created_at"}}
	if !since.IsZero() {
		// Day granularity in an unstated zone: start a day early, filter later.
		q.Set("start_date", since.UTC().AddDate(0, 0, -1).Format("2006-01-02"))
	}
	for n := 1; ; n++ {
		q.Set("page", strconv.Itoa(n))
		r, err := c.send(ctx, http.MethodGet, c.endpoint("/v1/webhook-events", q), conn.AccessToken, nil)
		if err != nil {
			return c.transportFailure(eventsCall, err)
		}
		if r.Status != http.StatusOK {
			return c.apiFailure(eventsCall, r, conn.AccessToken)
		}
		var p eventsPage
		if err := json.Unmarshal(r.Body, &p); err != nil {
			return c.malformed(eventsCall, r.Status, fmt.Errorf("decoding the history: %w", err))
		}
		events := p.WebhookEvents
		if events == nil && json.Unmarshal(p.Data, &events) != nil {
			return c.malformed(eventsCall, r.Status, errors.New("no webhook_events in the answer"))
		}
		at := c.now()
		for _, raw := range events {
			ev, err := decodeEvent(raw)
			if err := fn(ev, err, at); err != nil {
				return err
			}
		}
		if p.Pagination == nil || len(events) == 0 || p.Pagination.CurrentPage >= p.Pagination.TotalPages {
			return nil
		}
	}
}
