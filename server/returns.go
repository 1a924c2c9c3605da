package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/provider"
)

// Returner takes a user a provider's hosted update page sent back to
// relink serve: *backend.Backend.
type Returner interface {
	LinkReturn(ctx context.Context, prov, page, ticket, publicToken string) (backend.Return, error)
}

// returnRoutes are the pages a provider's hosted update page sends the
// user back to (backend.LinkReturn builds their addresses): Belvo's widget
// callback_urls, success and exit, and Cobalt Link's callback URL, which
// Link calls with ?token=<public_token>.
var returnRoutes = []struct{ prov, page string }{
	{provider.Belvo, backend.ReturnDone},
	{provider.Belvo, backend.ReturnExit},
	{provider.Cobalt, backend.ReturnDone},
}

// linkReturn serves GET /{prov}/{which}/{ticket}: a plain page for the user,
// telling them they are reconnected (Cobalt: once Link's public token was
// exchanged and the completed session recorded; Belvo: the widget is done,
// and the link is read again at once), that they left before finishing,
// or why the page does not work. HEAD changes nothing.
func (s *Server) linkReturn(prov, which string) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer") // the address holds a ticket, Cobalt's a public token
		if req.Method == http.MethodHead {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			return
		}
		ctx, cancel := context.WithTimeout(req.Context(), 30*time.Second)
		defer cancel()
		res, err := s.cfg.Returns.LinkReturn(ctx, prov, which, req.PathValue("ticket"), req.URL.Query().Get("token"))
		ref := printable(res.Connection, maxLoggedIDBytes)
		switch {
		case err != nil && res.Outcome == backend.ReturnFailed:
			s.log.Warn("return page: "+prov+" did not confirm the session", "provider", prov, "connection", ref, "error", err)
			page(w, http.StatusBadGateway, "We could not confirm your reconnection", res.Reason)
			return
		case errors.Is(err, backend.ErrSecretKey):
			s.log.Error("return page: relink's secret key does not open the connection's stored access token; "+
				"set RELINK_SECRET_KEY (or secret_key_file) to the key the registry was imported with", "connection", ref, "error", err)
			page(w, http.StatusServiceUnavailable, "We could not record your reconnection right now",
				"This is a problem on our side, not yours, and our support team has been told. Please open this page again later.")
			return
		case err != nil:
			s.log.Error("return page", "provider", prov, "connection", ref, "error", err)
			page(w, http.StatusServiceUnavailable, "We could not record your reconnection right now",
				"This is a problem on our side, not yours. Please open this page again in a few minutes.")
			return
		}
		s.log.Info("return page", "provider", prov, "page", which, "connection", ref, "outcome", returnOutcome(res.Outcome))
		switch res.Outcome {
		case backend.Finished:
			if prov == provider.Belvo {
				s.re.enqueue(res.Connection) // Belvo sends no "repaired" of its own: read the link now
			}
			page(w, http.StatusOK, "You're reconnected", "Thank you: your connection is updated. You can close this page.")
		case backend.Left:
			page(w, http.StatusOK, "You have not finished",
				"Your connection was not updated. To try again, open the link in our message again.")
		case backend.ReturnExpired:
			page(w, http.StatusGone, "This page has expired", res.Reason)
		default:
			page(w, http.StatusNotFound, "This page does not work", res.Reason)
		}
	}
}

func returnOutcome(o backend.ReturnOutcome) string {
	switch o {
	case backend.Finished:
		return "finished"
	case backend.Left:
		return "left"
	case backend.ReturnExpired:
		return "expired"
	case backend.ReturnFailed:
		return "failed"
	}
	return "invalid"
}
