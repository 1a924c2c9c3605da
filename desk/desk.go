// Package desk holds the operations both faces of relink share (the command
// line and the dashboard): syncing providers into the cache and minting
// update-mode links. It is the only place that calls provider clients and
// writes their results to the store.
package desk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/relink/relink/provider"
	"github.com/relink/relink/store"
)

// Desk wires the store to the configured providers.
type Desk struct {
	Store     *store.Store
	Providers map[string]provider.Provider // only the configured ones
	Operator  string
	Now       func() time.Time
}

func (d *Desk) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// ParseRef splits a CONN id "provider:provider_id".
func ParseRef(ref string) (prov, id string, err error) {
	prov, id, ok := strings.Cut(ref, ":")
	if !ok || id == "" {
		return "", "", fmt.Errorf("%q is not a connection id; want provider:provider_id, e.g. plaid:Ed6bjN…", ref)
	}
	switch prov {
	case provider.Plaid, provider.Belvo, provider.Cobalt:
	default:
		return "", "", fmt.Errorf("%q: unknown provider %q (want plaid, belvo or cobalt)", ref, prov)
	}
	return prov, id, nil
}

// Link is a minted update-mode link.
type Link struct {
	URL        string    `json:"url"`
	ExpiresAt  time.Time `json:"expires_at"`
	Kind       string    `json:"kind"` // direct | durable
	Connection string    `json:"connection"`
}

// DirectLink mints a provider update-mode link for ref now, records it and
// returns it.
func (d *Desk) DirectLink(ctx context.Context, ref string) (Link, error) {
	provName, id, err := ParseRef(ref)
	if err != nil {
		return Link{}, err
	}
	p, ok := d.Providers[provName]
	if !ok {
		return Link{}, fmt.Errorf("%s is not configured: add its keys to the config ([%s] section) to mint links", provName, provName)
	}
	conn, err := d.Store.Connection(ctx, provName, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Link{}, fmt.Errorf("%s is not in the cache; import the registry or run relink sync", ref)
		}
		return Link{}, err
	}
	tok, err := d.Store.AccessToken(ctx, provName, id)
	if err != nil {
		return Link{}, err
	}
	lt, err := p.UpdateLink(ctx, provider.Conn{ProviderID: id, AccessToken: tok, UserRef: conn.UserRef})
	if err != nil {
		return Link{}, fmt.Errorf("minting an update-mode link for %s: %w", ref, err)
	}
	exp := lt.ExpiresAt
	if _, err := d.Store.AddLink(ctx, store.Link{ConnectionID: conn.ID, Kind: "direct", URL: lt.URL, ExpiresAt: &exp,
		Operator: d.Operator, CreatedAt: d.now()}); err != nil {
		return Link{}, err
	}
	return Link{URL: lt.URL, ExpiresAt: lt.ExpiresAt, Kind: "direct", Connection: ref}, nil
}
