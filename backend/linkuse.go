package backend

import (
	"context"
	"fmt"

	"github.com/relink/relink/store"
)

// Link uses NoteLinkUse records.
const (
	LinkCopied = store.LinkCopied
	LinkOpened = store.LinkOpened
)

// NoteLinkUse records that the operator copied or opened (action) a link of
// kind (direct | durable) for the connection ref: a line in its history
// ("direct link copied by dana") and one in the audit log (who, when, which
// kind). Neither holds the URL, whose token is a credential for as long as
// it lives.
func (d *Backend) NoteLinkUse(ctx context.Context, ref string, kind store.LinkKind, action string) error {
	if !kind.Valid() {
		return fmt.Errorf("noting a link use: unknown link kind %q (want direct or durable)", kind)
	}
	verb := ""
	switch action {
	case LinkCopied:
		verb = "copy"
	case LinkOpened:
		verb = "open"
	default:
		return fmt.Errorf("noting a link use: unknown action %q (want %s or %s)", action, LinkCopied, LinkOpened)
	}
	provName, id, err := ParseRef(ref)
	if err != nil {
		return err
	}
	conn, err := d.Store.Connection(ctx, provName, id)
	if err != nil {
		return fmt.Errorf("noting that a link for %s was %s: %w", ref, action, err)
	}
	who := d.Operator
	if who == "" {
		who = "an unnamed operator"
	}
	if err := d.Store.Note(ctx, conn.ID, "link", store.LinkUseSummary(kind, action, who)); err != nil {
		return err
	}
	if err := d.Store.Audit(ctx, store.AuditEntry{At: d.now(), Operator: d.Operator, Action: verb, Target: conn.Ref(), Detail: string(kind) + " link"}); err != nil {
		return err
	}
	d.changed()
	return nil
}
