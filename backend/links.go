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
		return conn, provider.LinkToken{}, err
	}
	lt, err := p.UpdateLink(ctx, provider.Conn{ProviderID: conn.ProviderID, AccessToken: tok, UserRef: conn.UserRef})
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

// RevokeLinks revokes every durable link of ref.
func (d *Backend) RevokeLinks(ctx context.Context, ref string) (int, error) {
	provName, id, err := ParseRef(ref)
	if err != nil {
		return 0, err
	}
	conn, err := d.Store.Connection(ctx, provName, id)
	if err != nil {
		return 0, err
	}
	return d.Store.RevokeLinks(ctx, conn.ID, d.Operator)
}

// Redemption is what a click on a durable link leads to.
type Redemption struct {
	Outcome    RedeemOutcome
	URL        string // the provider's update page, for Redirect
	Connection string
	Reason     string // for the refusal page
}

// RedeemOutcome classifies a click.
type RedeemOutcome int

// The outcomes of a click.
const (
	Redirect      RedeemOutcome = iota // a fresh token was minted: send the user there
	NothingToDo                        // the connection is healthy again
	InvalidTicket                      // malformed or forged
	ExpiredTicket
	RevokedTicket
)

// Redeem handles a click on a durable link: check the ticket, then either
// say nothing needs doing (healthy again) or mint a fresh provider token and
// return where to redirect. Every click that names a real link is recorded.
func (d *Backend) Redeem(ctx context.Context, token string) (Redemption, error) {
	if d.Tickets == nil {
		return Redemption{Outcome: InvalidTicket, Reason: "reconnect links are not enabled on this server"}, nil
	}
	t, err := d.Tickets.Verify(token, d.now())
	switch {
	case errors.Is(err, ticket.ErrExpired):
		return Redemption{Outcome: ExpiredTicket, Connection: t.Conn, Reason: "This reconnect link has expired. Ask support for a new one."}, nil
	case err != nil:
		return Redemption{Outcome: InvalidTicket, Reason: "This is not a valid reconnect link."}, nil
	}
	l, err := d.Store.LinkByTicket(ctx, t.ID)
	if errors.Is(err, store.ErrNotFound) {
		return Redemption{Outcome: InvalidTicket, Reason: "This reconnect link is not known here."}, nil
	}
	if err != nil {
		return Redemption{}, err
	}
	if l.RevokedAt != nil {
		_ = d.Store.RecordClick(ctx, l.ID, "refused, revoked")
		return Redemption{Outcome: RevokedTicket, Connection: t.Conn, Reason: "This reconnect link was withdrawn. Ask support for a new one."}, nil
	}
	cur, _, err := d.connection(ctx, t.Conn)
	if err != nil {
		return Redemption{}, err
	}
	if cur.Health.Category == health.Healthy && cur.Health.Warning == health.NoWarning {
		_ = d.Store.RecordClick(ctx, l.ID, "nothing to do, connection healthy")
		return Redemption{Outcome: NothingToDo, Connection: t.Conn}, nil
	}
	conn, lt, err := d.mint(ctx, t.Conn)
	if err != nil {
		_ = d.Store.RecordClick(ctx, l.ID, "minting failed")
		return Redemption{}, err
	}
	// The fresh token is recorded like a direct link, so the provider's
	// session webhook (which names only the token) finds its connection.
	exp := lt.ExpiresAt
	if _, err := d.Store.AddLink(ctx, store.Link{ConnectionID: conn.ID, Kind: store.LinkDirect, URL: lt.URL, ExpiresAt: &exp,
		TokenHash: provider.TokenHash(lt.Token), Operator: "end user, via a durable link", CreatedAt: d.now()}); err != nil {
		return Redemption{}, err
	}
	if err := d.Store.RecordClick(ctx, l.ID, "fresh update-mode token minted, redirected"); err != nil {
		return Redemption{}, err
	}
	return Redemption{Outcome: Redirect, URL: lt.URL, Connection: t.Conn}, nil
}
