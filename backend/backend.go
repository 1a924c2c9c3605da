// Package desk holds the operations both faces of relink share (the command
// line and the dashboard): syncing providers into the cache and minting
// update-mode links. It is the only place that calls provider clients and
// writes their results to the store.
package backend

import (
	"fmt"
	"strings"
	"time"

	"github.com/relink/relink/provider"
	"github.com/relink/relink/store"
	"github.com/relink/relink/ticket"
)

// Backend wires the store to the configured providers.
type Backend struct {
	Store     *store.Store
	Providers map[string]provider.Provider // only the configured ones
	Operator  string
	Now       func() time.Time
	// Durable reconnect links: the ticket signer, serve.public_url and
	// serve.link_ttl. Without a signer or URL, durable links are off.
	Tickets   *ticket.Signer
	PublicURL string
	LinkTTL   time.Duration
}

func (d *Backend) now() time.Time {
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
