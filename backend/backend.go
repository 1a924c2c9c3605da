// Package backend is relink's application layer: the operations the
// command line, the dashboard and relink serve share, over the store and the
// configured provider clients. It owns
//
//   - sync and check: polling providers and storing what they say (sync.go);
//   - links: minting direct update-mode links, durable reconnect links and
//     their redemption when a user clicks one, revocation, and the record of
//     each copy or open (links.go, linkuse.go);
//   - reminders: the plan (who gets what, why the others are skipped) and
//     the send through the outbox (remind*.go).
//
// It is the only caller of provider clients apart from relink serve's
// webhook verification. It is not the only writer of the store: relink
// serve stores verified webhooks itself (server/writer.go), in group-commit
// batches that this layer's one-call-per-operation shape would not give,
// and the registry import (package registry) writes through store.BeginImport.
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
	// RecheckAfter is serve.recheck_after: the delays after a click sent
	// a user to the provider's update page at which relink serve reads the
	// connection again (nil: serve's default; empty: none). Only serve
	// reads it.
	RecheckAfter []time.Duration
	// Clicks keeps a burst of clicks on one durable link from minting a
	// provider token each (NewClickGuard); every Backend of a process
	// shares one. Nil: every click mints.
	Clicks *ClickGuard
	// Syncs lets one sync run at a time among the Backends that share it
	// (NewSyncGate): relink serve's and every session's copy made by As.
	// Nil: each Sync runs on its own.
	Syncs *SyncGate
	// OnChange, when set, is called after an operation wrote to the store
	// (a sync, a check, a link copied or opened, a reminder sent): relink
	// serve's tells every open dashboard to re-read at once. It must not
	// block. Copies made by As share it.
	OnChange func()
}

// As returns a copy of d that acts as operator: the same store, providers,
// ticket signer and settings, only another name in the audit log and the
// histories. relink serve gives each SSH session one for its person.
// Backend holds no state of its own beyond these shared references (the
// click guard, the sync gate, OnChange), so the copy and d may be used at
// once, and a sync asked for by one waits for the other's (Syncs).
func (d *Backend) As(operator string) *Backend {
	c := *d
	c.Operator = operator
	return &c
}

// changed calls OnChange, if set.
func (d *Backend) changed() {
	if d.OnChange != nil {
		d.OnChange()
	}
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
