package backend

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/store"
	"github.com/relink/relink/ticket"
)

// Where a user comes back from a provider's hosted update page. Belvo's
// widget and Cobalt's hosted Link can each send the user to addresses of
// ours once done (Belvo's widget.callback_urls success and exit; Cobalt
// Link's callback URL, with ?token=<public_token>). relink serve's pages
// are those addresses: serve.public_url + /{provider}/done/{ticket} (and
// /belvo/exit/{ticket}), whose ticket, signed like a durable link's (with
// the purpose ticket.Return), names the connection the page was minted for.
// The ticket is in the path, so a provider that adds its own query to the
// address (?token=…, ?link=…) cannot garble it.

// Return pages.
const (
	ReturnDone = "done" // the update was completed
	ReturnExit = "exit" // the user left it (Belvo)
)

// ReturnTTL is how long the return pages of a minted update page work:
// well past the provider token's own life (10 minutes for Belvo, 30 for
// Cobalt), for a user who finishes at the last moment.
const ReturnTTL = 24 * time.Hour

// returnURLs are the return pages of an update page minted now for conn:
// none without durable links (no serve.public_url or ticket key), or for
// Plaid, whose client asks for none.
func (d *Backend) returnURLs(conn store.Connection) provider.ReturnURLs {
	if !d.DurableLinksOn() || (conn.Provider != provider.Belvo && conn.Provider != provider.Cobalt) {
		return provider.ReturnURLs{}
	}
	t, err := ticket.New(conn.Ref(), d.now(), ReturnTTL)
	if err != nil {
		return provider.ReturnURLs{}
	}
	t.Purpose = ticket.Return
	page := strings.TrimRight(d.PublicURL, "/") + "/" + conn.Provider + "/"
	signed := url.PathEscape(d.Tickets.Sign(t))
	r := provider.ReturnURLs{Done: page + ReturnDone + "/" + signed}
	if conn.Provider == provider.Belvo {
		r.Exit = page + ReturnExit + "/" + signed
	}
	return r
}

// Return is what a user's coming back to a return page leads to.
type Return struct {
	Outcome    ReturnOutcome
	Connection string // provider:provider_id, when the ticket named one
	Reason     string // for the refusal page
}

// ReturnOutcome classifies a return.
type ReturnOutcome int

// The outcomes of a return.
const (
	Finished      ReturnOutcome = iota // the update was completed (and, for Cobalt, recorded)
	Left                               // the user left the provider's page before finishing
	ReturnInvalid                      // not a return page of ours, or not for this provider
	ReturnExpired
	ReturnFailed // the provider refused to confirm (a spent or made-up Cobalt public token) or did not answer
)

// LinkReturn handles a user sent back by prov's hosted page to the return
// page (ReturnDone or ReturnExit) whose ticket is token. For Cobalt,
// publicToken is Link's ?token=: it is exchanged (GET
// /v1/link/token/exchange), which proves the session was completed, and
// that completed session is recorded, clearing a login_required; a
// changed access token is kept. For Belvo a finished widget is noted in the
// history, and serve reads the link again at once. A reload of a Cobalt
// page whose public token was spent already, for a connection healthy
// again, is Finished.
func (d *Backend) LinkReturn(ctx context.Context, prov, page, token, publicToken string) (Return, error) {
	if d.Tickets == nil {
		return Return{Outcome: ReturnInvalid, Reason: "This page is not enabled on this server."}, nil
	}
	t, err := d.Tickets.Verify(token, d.now())
	switch {
	case errors.Is(err, ticket.ErrExpired) && t.Purpose == ticket.Return:
		return Return{Outcome: ReturnExpired, Connection: t.Conn,
			Reason: "This page has expired. If you finished reconnecting, there is nothing more to do."}, nil
	case err != nil || t.Purpose != ticket.Return || !strings.HasPrefix(t.Conn, prov+":") ||
		(page != ReturnDone && page != ReturnExit) || (page == ReturnExit && prov != provider.Belvo):
		return Return{Outcome: ReturnInvalid, Reason: "This is not a page of ours."}, nil
	}
	conn, p, err := d.connection(ctx, t.Conn)
	if err != nil {
		return Return{Connection: t.Conn}, err
	}
	res := Return{Outcome: Finished, Connection: t.Conn}
	switch {
	case page == ReturnExit:
		res.Outcome = Left
		return res, d.Store.Note(ctx, conn.ID, "link", "the user left "+providerTitle(prov)+"'s update page before finishing")
	case prov == provider.Belvo:
		return res, d.Store.Note(ctx, conn.ID, "link", "the user finished Belvo's widget; the link is read again")
	}

	// Cobalt Link's redirect.
	if publicToken == "" {
		return Return{Outcome: ReturnInvalid, Connection: t.Conn, Reason: "This page needs the token Cobalt Link adds to it."}, nil
	}
	lf, ok := p.(provider.LinkFinisher)
	if !ok {
		return Return{Connection: t.Conn}, fmt.Errorf("%s: the %s client cannot exchange a public token", t.Conn, prov)
	}
	tok, err := d.Store.AccessToken(ctx, conn.Provider, conn.ProviderID)
	if err != nil {
		if unsealFailed(err) {
			err = fmt.Errorf("%s: %w: %w", conn.Ref(), ErrSecretKey, err)
		}
		return Return{Connection: t.Conn}, err
	}
	obs, access, err := lf.FinishLink(ctx, provider.Conn{ProviderID: conn.ProviderID, AccessToken: tok, UserRef: conn.UserRef, OrgID: conn.OrgID}, publicToken)
	if err != nil {
		if cur, cerr := d.Store.Connection(ctx, conn.Provider, conn.ProviderID); cerr == nil &&
			cur.Health.Category == health.Healthy && cur.Health.Source == health.SourceLinkResult {
			return res, nil // a reload: the session is recorded already
		}
		var pe *provider.Error
		if errors.As(err, &pe) && pe.Status >= 400 && pe.Status < 500 {
			return Return{Outcome: ReturnFailed, Connection: t.Conn,
				Reason: "Cobalt did not confirm this reconnection (this page may have been opened before). If you finished, there is nothing more to do; if not, use the link in our message again."}, err
		}
		return Return{Outcome: ReturnFailed, Connection: t.Conn,
			Reason: "Cobalt did not answer just now. If you finished reconnecting, please open this page again in a few minutes."}, err
	}
	if access != tok {
		// Whether update mode issues a new access token Cobalt does not
		// say (COBALT.md §4.1): when it does, the new one is the one that works.
		if err := d.Store.SetAccessToken(ctx, conn.Provider, conn.ProviderID, access); err != nil {
			return Return{Connection: t.Conn}, err
		}
		_ = d.Store.Audit(ctx, store.AuditEntry{At: d.now(), Operator: "end user, via Cobalt Link", Action: "token",
			Target: conn.Ref(), Detail: "Cobalt's exchange gave a new access token; it replaces the registry's"})
	}
	so := d.observation(conn.Provider, obs)
	so.Verified = "public token exchanged with Cobalt"
	if _, err := d.Store.Apply(ctx, []store.Observation{so}); err != nil {
		return Return{Connection: t.Conn}, err
	}
	return res, nil
}

func providerTitle(prov string) string {
	switch prov {
	case provider.Plaid:
		return "Plaid"
	case provider.Belvo:
		return "Belvo"
	case provider.Cobalt:
		return "Cobalt"
	}
	return prov
}
