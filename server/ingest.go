package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/cobalt"
	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/store"
)

// rejection is a refused request: its status and one-line reason.
type rejection struct {
	status int
	reason string
}

// webhook is the handler of one provider's receiver: read, verify, check
// the type, parse, store, acknowledge, then recheck if asked.
func (s *Server) webhook(ep *endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start, receivedAt, rt := time.Now(), s.now(), ep.route
		if ep.off != "" {
			s.refuse(w, r, rt, &rejection{http.StatusNotFound, ep.off})
			return
		}
		body, rej := s.readBody(w, r)
		if rej != nil {
			s.refuse(w, r, rt, rej)
			return
		}
		verified, rej := ep.verify(r.Context(), r.Header, body)
		if rej != nil {
			s.refuse(w, r, rt, rej)
			return
		}
		if err := ep.known(body); err != nil {
			// Verified, but of a type relink has no use for (Plaid
			// TRANSFER, Cobalt task.created, …): a 4xx would have Plaid
			// retry it for a day and Cobalt drop it; it changes nothing.
			s.acknowledge(w, rt, start, resIgnored, "acknowledged, not stored: "+err.Error())
			s.log.Info("webhook acknowledged, not stored: "+err.Error(), "provider", rt.provider(), "verified", verified)
			return
		}
		po, err := ep.parse(body, receivedAt)
		if rt == routeCobalt && errors.Is(err, cobalt.ErrUnreadableEvent) {
			// Cobalt never retries a 4xx: a refusal would lose the event
			// for good, and an acknowledgement loses nothing more. The log
			// says what could not be read, so a person can look.
			reason := printable(err.Error(), maxReasonLength)
			s.acknowledge(w, rt, start, resUnreadable, "acknowledged, not stored: "+reason)
			s.log.Warn("cobalt webhook acknowledged but unreadable", "reason", reason, "verified", verified)
			return
		}
		if err != nil {
			s.refuse(w, r, rt, &rejection{http.StatusBadRequest, err.Error()})
			return
		}
		if po.ProviderID == "" && rt == routePlaid {
			// Plaid LINK webhooks name the link_token, not the Item: a token
			// we minted is recorded (by its hash) with its connection.
			if h := plaid.SessionLinkTokenHash(po.Raw); h != "" {
				if pid, err := s.cfg.Store.ConnectionByLinkToken(r.Context(), "plaid", h); err == nil {
					po.ProviderID = pid
				}
			}
		}
		if po.ProviderID == "" {
			// A LINK webhook for a token we did not mint, or an event that
			// names no connection: nothing to store it under.
			s.acknowledge(w, rt, start, resIgnored, "acknowledged, not stored: the event names no connection")
			s.log.Info("webhook acknowledged, not stored: it names no connection", "provider", rt.provider(),
				"code", printable(po.Signal.ProviderCode, maxLoggedIDBytes), "event_id", printable(po.EventID, maxLoggedIDBytes))
			return
		}
		if msg := provider.CheckID(po.ProviderID); msg != "" {
			// The registry's rule: an id that reaches the cache, a CONN
			// argument or a terminal is one printable line.
			s.refuse(w, r, rt, &rejection{http.StatusBadRequest, "the webhook's connection id " + msg})
			return
		}
		ref := rt.provider() + ":" + po.ProviderID
		out, err := s.w.submit(r.Context(), store.Observation{Provider: rt.provider(), ProviderID: po.ProviderID,
			Institution: po.Institution, EventID: po.EventID, Kind: po.Kind, Signal: po.Signal, Raw: po.Raw,
			Verified: verified, ReceivedAt: receivedAt, Register: ep.register})
		if err != nil {
			s.storeFailed(w, r, rt, ref, err)
			return
		}
		s.stored(w, rt, start, ref, po.EventID, verified, out)
		if po.Recheck && !out.Duplicate && !out.Unattached {
			s.re.enqueue(ref)
		}
	})
}

// cobaltLinkResult takes the callback of a completed Cobalt Link update
// session: signed like a webhook, {"access_token_reference_id"}, it marks
// the connection healthy. It is not a provider event (there is no event id),
// so a connection that is not registered has nothing to keep it under: 404.
func (s *Server) cobaltLinkResult(w http.ResponseWriter, r *http.Request) {
	start, receivedAt, rt := time.Now(), s.now(), routeCobaltLink
	if s.cfg.CobaltSecret == "" {
		s.refuse(w, r, rt, &rejection{http.StatusNotFound, "cobalt callbacks are off: set cobalt.webhook_secret (or env COBALT_WEBHOOK_SECRET)"})
		return
	}
	body, rej := s.readBody(w, r)
	if rej != nil {
		s.refuse(w, r, rt, rej)
		return
	}
	verified, rej := s.cobaltVerify(r.Context(), r.Header, body)
	if rej != nil {
		s.refuse(w, r, rt, rej)
		return
	}
	po, err := cobalt.ParseLinkResult(body, receivedAt)
	if err != nil {
		s.refuse(w, r, rt, &rejection{http.StatusBadRequest, err.Error()})
		return
	}
	ref := "cobalt:" + po.ProviderID
	// Not a provider event: nothing is kept for a connection not registered.
	if _, err := s.cfg.Store.Connection(r.Context(), "cobalt", po.ProviderID); errors.Is(err, store.ErrNotFound) {
		s.refuse(w, r, rt, &rejection{http.StatusNotFound, printable(ref, maxLoggedIDBytes) + " is not in the registry; nothing stored"})
		return
	}
	out, err := s.w.submit(r.Context(), store.Observation{Provider: "cobalt", ProviderID: po.ProviderID,
		EventID: po.EventID, Kind: po.Kind, Signal: po.Signal, Raw: po.Raw, Verified: verified, ReceivedAt: receivedAt})
	if err != nil {
		s.storeFailed(w, r, rt, ref, err)
		return
	}
	if out.Unattached {
		s.refuse(w, r, rt, &rejection{http.StatusNotFound, printable(ref, maxLoggedIDBytes) + " is not in the registry; nothing stored"})
		return
	}
	s.stored(w, rt, start, ref, "", verified, out)
}

// readBody reads at most maxBody bytes.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *rejection) {
	if r.ContentLength > s.maxBody {
		return nil, &rejection{http.StatusRequestEntityTooLarge, fmt.Sprintf("the body (%d bytes) is over the limit of %d bytes", r.ContentLength, s.maxBody)}
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.maxBody))
	var tooBig *http.MaxBytesError
	var netErr net.Error
	switch {
	case err == nil && buf.Len() == 0:
		return nil, &rejection{http.StatusBadRequest, "the body is empty"}
	case err == nil:
		return buf.Bytes(), nil
	case errors.As(err, &tooBig):
		return nil, &rejection{http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over the limit of %d bytes", s.maxBody)}
	case errors.As(err, &netErr) && netErr.Timeout():
		return nil, &rejection{http.StatusRequestTimeout, "the body did not arrive in time"}
	default:
		return nil, &rejection{http.StatusBadRequest, "reading the body: " + err.Error()}
	}
}

// stored acknowledges a committed observation and logs it.
func (s *Server) stored(w http.ResponseWriter, rt route, start time.Time, ref, eventID, verified string, out store.Outcome) {
	ref, eventID = printable(ref, maxLoggedIDBytes), printable(eventID, maxLoggedIDBytes)
	switch {
	case out.Duplicate:
		s.acknowledge(w, rt, start, resDuplicate, "duplicate: already stored")
		s.log.Info(rt.what()+" already stored", "provider", rt.provider(), "connection", ref, "event_id", eventID)
	case out.Unattached:
		s.acknowledge(w, rt, start, resAccepted, "stored; it waits for its connection to be imported")
		s.log.Info(rt.what()+" stored for a connection not registered yet", "provider", rt.provider(),
			"connection", ref, "event_id", eventID, "verified", verified)
	default:
		s.acknowledge(w, rt, start, resAccepted, "stored")
		s.log.Info(rt.what()+" stored", "provider", rt.provider(), "connection", ref, "event_id", eventID,
			"verified", verified, "category", string(out.Health.Category), "changed", out.Change.StateChanged)
	}
}

// refuse answers a rejection and logs it.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, rt route, rej *rejection) {
	s.m.count(rt, resRejected)
	reason := printable(rej.reason, maxReasonLength)
	plain(w, rej.status, reason)
	s.log.Warn(rt.what()+" refused", "provider", rt.provider(), "status", rej.status, "reason", reason,
		"remote", r.RemoteAddr)
}

// storeFailed answers 503 (providers retry it) when the store did not commit.
func (s *Server) storeFailed(w http.ResponseWriter, r *http.Request, rt route, ref string, err error) {
	s.m.count(rt, resRejected)
	reason := "could not store the event; retry later"
	if errors.Is(err, errClosing) {
		reason = "shutting down; retry later"
	}
	plain(w, http.StatusServiceUnavailable, reason)
	s.log.Error(rt.what()+" not stored", "provider", rt.provider(), "connection", printable(ref, maxLoggedIDBytes),
		"remote", r.RemoteAddr, "error", err)
}

// acknowledge answers 200 and counts the request.
func (s *Server) acknowledge(w http.ResponseWriter, rt route, start time.Time, res result, msg string) {
	plain(w, http.StatusOK, msg)
	s.m.count(rt, res)
	s.m.observe(rt, time.Since(start))
}

// plain writes a one-line plain-text answer.
func plain(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}

// printable makes s safe for a one-line answer or a log: control and
// invalid characters become '?', and it is cut at max bytes.
func printable(s string, max int) string {
	clean := true
	for _, c := range s {
		if c == utf8.RuneError || !unicode.IsPrint(c) {
			clean = false
			break
		}
	}
	if clean && len(s) <= max {
		return s
	}
	var b strings.Builder
	for _, c := range s {
		if c == utf8.RuneError || !unicode.IsPrint(c) {
			c = '?'
		}
		if b.Len()+utf8.RuneLen(c) > max {
			b.WriteString("…")
			break
		}
		b.WriteRune(c)
	}
	return b.String()
}
