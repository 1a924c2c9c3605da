package backend

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/store"
	"github.com/relink/relink/ticket"
)

// Link is a minted update-mode link.
type Link struct {
	URL        string         `json:"url"`
	ExpiresAt  time.Time      `json:"expires_at"`
	Kind       store.LinkKind `json:"kind"`
	Connection string         `json:"connection"`
}

// DirectLink mints a provider update-mode link for ref now, records it and
// returns it.
func (d *Backend) DirectLink(ctx context.Context, ref string) (Link, error) {
	conn, lt, err := d.mint(ctx, ref)
	if err != nil {
		return Link{}, err
	}
	exp := lt.ExpiresAt
	if _, err := d.Store.AddLink(ctx, store.Link{ConnectionID: conn.ID, Kind: store.LinkDirect, URL: lt.URL, ExpiresAt: &exp,
		TokenHash: provider.TokenHash(lt.Token), Operator: d.Operator, CreatedAt: d.now()}); err != nil {
		return Link{}, err
	}
	return Link{URL: lt.URL, ExpiresAt: lt.ExpiresAt, Kind: store.LinkDirect, Connection: ref}, nil
}

// mint asks the connection's provider for an update-mode token.
func (d *Backend) mint(ctx context.Context, ref string) (store.Connection, provider.LinkToken, error) {
	conn, p, err := d.connection(ctx, ref)
	if err != nil {
		return conn, provider.LinkToken{}, err
	}
	tok, err := d.Store.AccessToken(ctx, conn.Provider, conn.ProviderID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) && unsealFailed(err) {
			err = fmt.Errorf("%s: %w: %w", conn.Ref(), ErrSecretKey, err)
		}
		return conn, provider.LinkToken{}, err
	}
	lt, err := p.UpdateLink(ctx, provider.Conn{ProviderID: conn.ProviderID, AccessToken: tok, UserRef: conn.UserRef, OrgID: conn.OrgID,
		Return: d.returnURLs(conn)})
	if err != nil {
		return conn, lt, explainRefusal(conn, err)
	}
	return conn, lt, nil
}

func (d *Backend) connection(ctx context.Context, ref string) (store.Connection, provider.Provider, error) {
	provName, id, err := ParseRef(ref)
	if err != nil {
		return store.Connection{}, nil, err
	}
	p, ok := d.Providers[provName]
	if !ok {
		return store.Connection{}, nil, fmt.Errorf("%s is not configured: add its keys to the config ([%s] section) to mint links", provName, provName)
	}
	conn, err := d.Store.Connection(ctx, provName, id)
	if errors.Is(err, store.ErrNotFound) {
		return conn, nil, fmt.Errorf("%s is not in the cache; import the registry or run relink sync", ref)
	}
	return conn, p, err
}

// explainRefusal says in support's terms why a provider would not mint.
func explainRefusal(conn store.Connection, err error) error {
	switch conn.Health.Category {
	case health.PermissionRevoked, health.NotFound:
		return fmt.Errorf("%s needs a new connection: the user revoked access or the provider no longer knows it, so update mode is refused (%w)", conn.Ref(), err)
	case health.Unsupported:
		return fmt.Errorf("%s cannot be repaired with update mode: the institution or account is not supported (%w)", conn.Ref(), err)
	}
	return fmt.Errorf("minting an update-mode link for %s: %w", conn.Ref(), err)
}

// DurableLinksOn reports whether durable links can be made.
func (d *Backend) DurableLinksOn() bool { return d.Tickets != nil && d.PublicURL != "" }

// DurableLink makes a signed reconnect link for ref: serve.public_url +
// /r/{ticket}, valid for serve.link_ttl. No provider token is minted until
// the user clicks.
func (d *Backend) DurableLink(ctx context.Context, ref string) (Link, error) {
	if !d.DurableLinksOn() {
		return Link{}, errors.New("durable links need serve.public_url in the config (the address relink serve is reachable at)")
	}
	conn, _, err := d.connection(ctx, ref)
	if err != nil {
		return Link{}, err
	}
	ttl := d.LinkTTL
	if ttl <= 0 {
		ttl = 168 * time.Hour
	}
	t, err := ticket.New(conn.Ref(), d.now(), ttl)
	if err != nil {
		return Link{}, err
	}
	u := strings.TrimRight(d.PublicURL, "/") + "/r/" + url.PathEscape(d.Tickets.Sign(t))
	exp := t.Expires
	if _, err := d.Store.AddLink(ctx, store.Link{ConnectionID: conn.ID, Kind: store.LinkDurable, URL: u, Ticket: t.ID,
		ExpiresAt: &exp, Operator: d.Operator, CreatedAt: d.now()}); err != nil {
		return Link{}, err
	}
	return Link{URL: u, ExpiresAt: exp, Kind: store.LinkDurable, Connection: conn.Ref()}, nil
}

// RevokeLinks revokes every durable link of ref not revoked yet and says
// how many: a click on one is then refused (Redeem's RevokedTicket). The
// connection's history and the audit log name d's operator (As gives each
// SSH session its person). The CLI's relink link --revoke and the
// dashboard's revoke_links both come here.
func (d *Backend) RevokeLinks(ctx context.Context, ref string) (int, error) {
	provName, id, err := ParseRef(ref)
	if err != nil {
		return 0, err
	}
	conn, err := d.Store.Connection(ctx, provName, id)
	if errors.Is(err, store.ErrNotFound) {
		return 0, fmt.Errorf("%s is not in the cache; import the registry or run relink sync", ref)
	}
	if err != nil {
		return 0, fmt.Errorf("revoking the durable links of %s: %w", ref, err)
	}
	n, err := d.Store.RevokeLinks(ctx, conn.ID, d.Operator)
	if err != nil {
		return 0, fmt.Errorf("revoking the durable links of %s: %w", ref, err)
	}
	if n > 0 {
		d.changed()
	}
	return n, nil
}

// Redemption is what a click on a durable link leads to.
type Redemption struct {
	Outcome    RedeemOutcome
	URL        string // the provider's update page, for Redirect
	Connection string
	Reason     string // for the refusal page
	Reused     bool   // Redirect to a page minted for an earlier click on the same link
}

// RedeemOutcome classifies a click.
type RedeemOutcome int

// The outcomes of a click.
const (
	Redirect      RedeemOutcome = iota // send the user to the provider's page (fresh or reused)
	NothingToDo                        // the connection is healthy again
	InvalidTicket                      // malformed or forged
	ExpiredTicket
	RevokedTicket
	TooManyClicks // the connection's mint budget is spent: wait a minute
)

// ErrSecretKey is wrapped by the error of a mint for a connection whose
// stored access token relink's secret key does not open (RELINK_SECRET_KEY
// or secret_key_file is not the key the registry was imported with).
var ErrSecretKey = errors.New("relink's secret key does not open its stored access token")

// unsealFailed reports whether an error of store.AccessToken says the
// token could not be decrypted (rather than read). The store has no
// sentinel for it; these are its two messages.
func unsealFailed(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "decrypting the access token") || strings.Contains(msg, "no secret key is configured")
}

// Redeem handles a click on a durable link: check the ticket, then either
// say nothing needs doing (healthy again) or return where to redirect: the
// provider page minted for an earlier click on this link while it has
// time left, else one minted now, within the connection's mint budget (see
// clickGuard). Every click that names a real link is recorded.
func (d *Backend) Redeem(ctx context.Context, token string) (Redemption, error) {
	if d.Tickets == nil {
		return Redemption{Outcome: InvalidTicket, Reason: "reconnect links are not enabled on this server"}, nil
	}
	t, err := d.Tickets.Verify(token, d.now())
	switch {
	case errors.Is(err, ticket.ErrExpired):
		return Redemption{Outcome: ExpiredTicket, Connection: t.Conn, Reason: "This reconnect link has expired. Ask support for a new one."}, nil
	case err != nil || t.Purpose != "": // a return page's ticket is not a durable link
		return Redemption{Outcome: InvalidTicket, Reason: "This is not a valid reconnect link."}, nil
	}
	l, err := d.Store.LinkByTicket(ctx, t.ID)
	if errors.Is(err, store.ErrNotFound) {
		return Redemption{Outcome: InvalidTicket, Reason: "This reconnect link is not known here."}, nil
	}
	if err != nil {
		return Redemption{Connection: t.Conn}, err
	}
	key := clickKey{db: d.Store.Path(), id: t.ID}
	if l.RevokedAt != nil {
		d.clicks().forget(key)
		_ = d.Store.RecordClick(ctx, l.ID, "refused, revoked")
		return Redemption{Outcome: RevokedTicket, Connection: t.Conn, Reason: "This reconnect link was withdrawn. Ask support for a new one."}, nil
	}
	cur, _, err := d.connection(ctx, t.Conn)
	if err != nil {
		return Redemption{Connection: t.Conn}, err
	}
	if cur.Health.Category == health.Healthy && cur.Health.Warning == health.NoWarning {
		d.clicks().forget(key)
		_ = d.Store.RecordClick(ctx, l.ID, "nothing to do, connection healthy")
		return Redemption{Outcome: NothingToDo, Connection: t.Conn}, nil
	}
	res, err := d.providerPage(ctx, key, t.Conn)
	switch {
	case errors.Is(err, ErrSecretKey):
		_ = d.Store.RecordClick(ctx, l.ID, "refused, relink's secret key does not open this connection's access token")
		return Redemption{Connection: t.Conn}, err
	case err != nil:
		_ = d.Store.RecordClick(ctx, l.ID, "minting failed")
		return Redemption{Connection: t.Conn}, err
	case res.limited:
		_ = d.Store.RecordClick(ctx, l.ID, fmt.Sprintf("refused, over %d update-mode tokens minted for this connection in a minute", mintBurst))
		return Redemption{Outcome: TooManyClicks, Connection: t.Conn,
			Reason: "This link was opened many times in a short while, so we paused it for a moment. " +
				"Please wait a minute and try again, or use the link from the latest email we sent you."}, nil
	}
	outcome := "fresh update-mode token minted, redirected"
	if !res.fresh {
		outcome = "redirected to the update-mode token minted " + res.page.minted.UTC().Format("15:04:05 UTC") + ", still valid"
	}
	if err := d.Store.RecordClick(ctx, l.ID, outcome); err != nil {
		return Redemption{Connection: t.Conn}, err
	}
	return Redemption{Outcome: Redirect, URL: res.page.url, Connection: t.Conn, Reused: !res.fresh}, nil
}

// How clicks on durable links are kept from burning the providers' rate
// limits. A burst of clicks on one link (an impatient user, or a mail
// client's link-preview bot fetching the URL first) must not mint a
// provider token per request:
//
//   - the token minted for a ticket is remembered, in this process's memory
//     only (never stored, never logged: the store keeps no live token at
//     rest), and later clicks on the same ticket are sent to the same
//     provider page while it has reuseMargin (or half its lifetime, when
//     that is shorter) left to live;
//   - concurrent clicks on one ticket wait for one mint (singleflight);
//   - mints per connection, across all of its tickets, are limited to
//     mintBurst at once, then one per mintEvery; beyond that the click gets
//     a page asking to wait a minute or use the link from the latest email.
const (
	reuseMargin = 5 * time.Minute
	maxReused   = 10000 // tickets whose token is remembered
	mintBurst   = 3
	mintEvery   = 20 * time.Second
	maxLimiters = 10000 // connections whose recent mints are remembered
	// mintTimeout bounds one shared mint: it runs without the canceller of
	// the click that started it, so a bot hanging up does not fail the
	// clicks waiting for the same token.
	mintTimeout = 30 * time.Second
)

// clickKey names a ticket, or a connection (id is then its ref), of one cache.
type clickKey struct{ db, id string }

// ClickGuard holds the provider pages minted for durable-link clicks (in
// memory only: they hold live tokens) and the per-connection mint
// limiters. One process makes one (NewClickGuard) and gives it to every
// Backend on its cache, so that every SSH session and serve's /r/ share
// it; a Backend without one mints on every click.
type ClickGuard struct {
	flight singleflight.Group // by db and ticket id

	mu       sync.Mutex
	tokens   map[clickKey]reusable      // by ticket
	limiters map[clickKey]*rate.Limiter // by connection
}

// NewClickGuard makes the guard of one process's cache.
func NewClickGuard() *ClickGuard { return &ClickGuard{} }

// clicks is the Backend's guard, or one of this call's own (nothing
// reused, nothing limited) for a Backend given none.
func (d *Backend) clicks() *ClickGuard {
	if d.Clicks != nil {
		return d.Clicks
	}
	return &ClickGuard{}
}

// reusable is a minted provider page a ticket's clicks are sent to.
type reusable struct {
	url    string // the provider's page; it holds the token, a credential
	minted time.Time
	until  time.Time // reused before this
}

// errTooManyMints is the flight's answer when the connection's budget is spent.
var errTooManyMints = errors.New("too many update-mode tokens minted for this connection in the last minute")

// cached returns the page remembered for a ticket, if it is still worth reusing.
func (g *ClickGuard) cached(k clickKey, now time.Time) (reusable, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r, ok := g.tokens[k]
	if ok && !now.Before(r.until) {
		delete(g.tokens, k)
		ok = false
	}
	return r, ok
}

// remember keeps the page minted for a ticket until it is too close to
// expiring to hand out.
func (g *ClickGuard) remember(k clickKey, url string, now, expires time.Time) reusable {
	margin := min(reuseMargin, expires.Sub(now)/2)
	r := reusable{url: url, minted: now, until: expires.Add(-margin)}
	if !now.Before(r.until) {
		return r // too short-lived to reuse
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.tokens == nil {
		g.tokens = map[clickKey]reusable{}
	}
	if _, ok := g.tokens[k]; !ok && len(g.tokens) >= maxReused {
		for old, o := range g.tokens {
			if !now.Before(o.until) {
				delete(g.tokens, old)
			}
		}
		if len(g.tokens) >= maxReused { // all still live: drop the one that ends first
			var first clickKey
			found := false
			for old, o := range g.tokens {
				if !found || o.until.Before(g.tokens[first].until) {
					first, found = old, true
				}
			}
			delete(g.tokens, first)
		}
	}
	g.tokens[k] = r
	return r
}

// forget drops the page remembered for a ticket (revoked, or nothing to do).
func (g *ClickGuard) forget(k clickKey) {
	g.mu.Lock()
	delete(g.tokens, k)
	g.mu.Unlock()
}

// allowMint takes one mint from a connection's budget, reporting whether
// there was one.
func (g *ClickGuard) allowMint(conn clickKey, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.limiters == nil {
		g.limiters = map[clickKey]*rate.Limiter{}
	}
	lim, ok := g.limiters[conn]
	if !ok {
		if len(g.limiters) >= maxLimiters {
			// A limiter whose bucket is full again remembers nothing.
			for k, l := range g.limiters {
				if l.TokensAt(now) >= mintBurst {
					delete(g.limiters, k)
				}
			}
			if len(g.limiters) >= maxLimiters {
				clear(g.limiters) // that many connections minting within a minute: start over
			}
		}
		lim = rate.NewLimiter(rate.Every(mintEvery), mintBurst)
		g.limiters[conn] = lim
	}
	return lim.AllowN(now, 1)
}

// clickResult is where a click that needs a provider page goes.
type clickResult struct {
	page    reusable
	fresh   bool // minted by this click's own flight
	limited bool // the connection's mint budget is spent
}

// providerPage returns the provider page for a click on ticket k of the
// connection ref: the one remembered for k, or one minted now, once for
// all the clicks waiting on k, within the connection's mint budget.
func (d *Backend) providerPage(ctx context.Context, k clickKey, ref string) (clickResult, error) {
	clicks := d.clicks()
	if r, ok := clicks.cached(k, d.now()); ok {
		return clickResult{page: r}, nil
	}
	var led atomic.Bool
	ch := clicks.flight.DoChan(k.db+"\x00"+k.id, func() (any, error) {
		led.Store(true)
		now := d.now()
		if r, ok := clicks.cached(k, now); ok { // a flight that just ended minted it
			return r, nil
		}
		if !clicks.allowMint(clickKey{db: k.db, id: ref}, now) {
			return nil, errTooManyMints
		}
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mintTimeout)
		defer cancel()
		conn, lt, err := d.mint(mctx, ref)
		if err != nil {
			return nil, err
		}
		// The fresh token is recorded like a direct link, so the provider's
		// session webhook (which names only the token) finds its connection.
		exp := lt.ExpiresAt
		if _, err := d.Store.AddLink(mctx, store.Link{ConnectionID: conn.ID, Kind: store.LinkDirect, URL: lt.URL, ExpiresAt: &exp,
			TokenHash: provider.TokenHash(lt.Token), Operator: "end user, via a durable link", CreatedAt: now}); err != nil {
			return nil, err
		}
		return clicks.remember(k, lt.URL, now, lt.ExpiresAt), nil
	})
	select {
	case res := <-ch:
		switch {
		case errors.Is(res.Err, errTooManyMints):
			return clickResult{limited: true}, nil
		case res.Err != nil:
			return clickResult{}, res.Err
		}
		return clickResult{page: res.Val.(reusable), fresh: led.Load()}, nil
	case <-ctx.Done():
		return clickResult{}, ctx.Err()
	}
}
