package server

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/relink/relink/backend"
)

// Redeemer turns a click on a durable link into what to show; *backend.Backend is one.
type Redeemer interface {
	Redeem(ctx context.Context, token string) (backend.Redemption, error)
}

// Reconnect serves GET /r/{ticket}: a valid ticket for a connection that
// still needs repair redirects (302) to the provider page minted for it
// (once per token lifetime, see backend.Redeem); a healthy connection gets
// a page saying nothing needs doing; a bad, expired or revoked ticket gets
// a plain page saying so (4xx), and a connection that minted too many
// tokens in the last minute a page asking to wait (429).
func Reconnect(r Redeemer, log *slog.Logger) http.Handler { return reconnect(r, log, nil) }

// reconnect is Reconnect; redirected, when set, is told of each connection
// whose user it sent to the provider's page (relink serve schedules its
// rechecks).
func reconnect(r Redeemer, log *slog.Logger, redirected func(ref string)) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		token := strings.TrimPrefix(req.URL.Path, "/r/")
		ctx, cancel := context.WithTimeout(req.Context(), 30*time.Second)
		defer cancel()
		res, err := r.Redeem(ctx, token)
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		switch {
		case errors.Is(err, backend.ErrSecretKey):
			// Nothing the user can do about it: support must set the key.
			log.Error("reconnect link: relink's secret key does not open the connection's stored access token; "+
				"set RELINK_SECRET_KEY (or secret_key_file) to the key the registry was imported with",
				"connection", res.Connection, "err", err)
			page(w, http.StatusServiceUnavailable, "We could not open your reconnect page right now",
				"This link cannot be opened right now because of a problem on our side, not yours. "+
					"Our support team has been told. Please try the same link again later.")
			return
		case err != nil:
			log.Error("reconnect link", "connection", res.Connection, "err", err)
			page(w, http.StatusBadGateway, "We could not open your reconnect page right now",
				"Your bank or health-record provider did not answer. Please try the same link again in a few minutes.")
			return
		}
		log.Info("reconnect link", "connection", res.Connection, "outcome", res.Outcome, "reused", res.Reused)
		switch res.Outcome {
		case backend.Redirect:
			if redirected != nil && req.Method == http.MethodGet {
				redirected(res.Connection) // before the answer, so it is scheduled once the user is on the page
			}
			http.Redirect(w, req, res.URL, http.StatusFound)
		case backend.TooManyClicks:
			w.Header().Set("Retry-After", "60")
			page(w, http.StatusTooManyRequests, "Please wait a minute", res.Reason)
		case backend.NothingToDo:
			page(w, http.StatusOK, "Nothing to do", "Your connection is working again. You can close this page.")
		case backend.ExpiredTicket:
			page(w, http.StatusGone, "This link has expired", res.Reason)
		case backend.RevokedTicket:
			page(w, http.StatusGone, "This link was withdrawn", res.Reason)
		default:
			page(w, http.StatusNotFound, "This link does not work", res.Reason)
		}
	})
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;line-height:1.5}</style>
</head><body><h1>{{.Title}}</h1><p>{{.Text}}</p></body></html>
`))

func page(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	pageTmpl.Execute(w, struct{ Title, Text string }{title, text})
}
