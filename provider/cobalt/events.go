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
	"strconv"
	"strings"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
)

// event is one Cobalt event, from a webhook or the history, in either of
// the shapes of COBALT.md §4.5 / §6.1.
type event struct {
	ID, Type, Ref string
	Created       time.Time
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

// decodeEvent reads one event. id, type and created are required; an
// account event also needs its access_token_reference_id (top level or in
// data) and a well-typed data object.
func decodeEvent(raw []byte) (event, error) {
	var w wireEvent
	if err := json.Unmarshal(raw, &w); err != nil {
		return event{}, fmt.Errorf("malformed event: %w", err)
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
	case ev.ID == "":
		return event{}, errors.New("event has no id")
	case ev.Type == "":
		return event{}, fmt.Errorf("event %s has no type", ev.ID)
	}
	created := first(w.Created, w.CreatedAt)
	t, err := parseTime(created)
	if err != nil {
		return event{}, fmt.Errorf("event %s: created %q: %w", ev.ID, created, err)
	}
	ev.Created = t
	if len(w.Data) > 0 && !bytes.Equal(w.Data, []byte("null")) {
		if err := json.Unmarshal(w.Data, &ev.Data); err != nil && isAccount(ev.Type) {
			return event{}, fmt.Errorf("event %s: malformed data: %w", ev.ID, err)
		}
	}
	if ev.Ref == "" {
		ev.Ref = ev.Data.Ref
	}
	if ev.Ref == "" && isAccount(ev.Type) {
		return event{}, fmt.Errorf("event %s has no access_token_reference_id", ev.ID)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return event{}, fmt.Errorf("event %s: %w", ev.ID, err)
	}
	ev.Raw = b.Bytes()
	return ev, nil
}

// parseTime reads an ISO-8601 time with an offset (Z, -07:00); one without
// an offset is taken as UTC.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("no time")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02T15:04:05.999999999", s)
	if err != nil {
		return time.Time{}, errors.New("not an ISO-8601 time")
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
	if at.After(receivedAt.Add(maxSkew)) {
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
// created at or after cursor; operation and sync events are skipped. The
// cursor is the RFC 3339 time of the newest event seen; events at exactly
// the cursor are emitted again, so callers dedupe on EventID. A connection
// whose history Cobalt refuses (403, 404, other 4xx) is emitted as an
// "api_error" observation and skipped; bad client keys, throttling that
// outlasts the retries, 5xx and transport failures stop the sync, which then
// returns the old cursor.
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

// syncConn pages through one connection's history and returns the time of
// the newest event seen.
func (c *Client) syncConn(ctx context.Context, conn provider.Conn, since time.Time, emit func(provider.Observation) error) (time.Time, error) {
	q := url.Values{"page_size": {"100"}, "sort": {"created_at"}}
	if !since.IsZero() {
		// Day granularity in an unstated zone: start a day early, filter here.
		q.Set("start_date", since.UTC().AddDate(0, 0, -1).Format("2006-01-02"))
	}
	var newest time.Time
	for n := 1; ; n++ {
		q.Set("page", strconv.Itoa(n))
		r, err := c.send(ctx, http.MethodGet, c.endpoint("/v1/webhook-events", q), conn.AccessToken, nil)
		if err != nil {
			return newest, c.transportFailure(eventsCall, err)
		}
		if r.Status != http.StatusOK {
			return newest, c.apiFailure(eventsCall, r, conn.AccessToken)
		}
		var p eventsPage
		if err := json.Unmarshal(r.Body, &p); err != nil {
			return newest, c.malformed(eventsCall, r.Status, fmt.Errorf("decoding the history: %w", err))
		}
		events := p.WebhookEvents
		if events == nil && json.Unmarshal(p.Data, &events) != nil {
			return newest, c.malformed(eventsCall, r.Status, errors.New("no webhook_events in the answer"))
		}
		at := c.now()
		for _, raw := range events {
			ev, err := decodeEvent(raw)
			if err != nil {
				return newest, c.malformed(eventsCall, r.Status, err)
			}
			if ev.Created.After(newest) {
				newest = ev.Created
			}
			if !isAccount(ev.Type) || ev.Created.Before(since) {
				continue
			}
			if ev.Ref == "" {
				ev.Ref = conn.ProviderID
			}
			if err := emit(ev.observation("event", at)); err != nil {
				return newest, fmt.Errorf("cobalt: recording event %s: %w", ev.ID, err)
			}
		}
		if p.Pagination == nil || len(events) == 0 || p.Pagination.CurrentPage >= p.Pagination.TotalPages {
			return newest, nil
		}
	}
}
