package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/relink/relink/internal/institution"
)

// Registration is one row of the company's connection registry.
type Registration struct {
	Provider    string
	ProviderID  string
	AccessToken string // plaintext in memory only; sealed before it is written
	UserRef     string
	Name        string
	Email       string
	Phone       string
	Institution string
	// OrgID is Cobalt's org_id: our organization the connection belongs to
	// (the registry's org_id column, else cobalt.org_id); "" for the others.
	// An empty one keeps what the row had.
	OrgID string
}

// Importer upserts registry rows inside one transaction: nothing is visible
// to readers until Commit, and Rollback leaves the cache as it was.
type Importer struct {
	s        *Store
	tx       *sql.Tx
	upsert   *sql.Stmt // one row
	bulk     *sql.Stmt // importBatch rows
	pending  []any     // arguments of rows not yet written
	operator string
	n        int
}

// importBatch rows go into one INSERT: far fewer statement executions.
const importBatch = 64

const upsertCols = 12

func upsertSQL(rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO connections
		(provider, provider_id, access_token, user_ref, name, email, phone, institution, institution_key, org_id, created_at, updated_at) VALUES `)
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	}
	b.WriteString(` ON CONFLICT (provider, provider_id) DO UPDATE SET
			access_token = COALESCE(excluded.access_token, access_token),
			user_ref = excluded.user_ref, name = excluded.name, email = excluded.email, phone = excluded.phone,
			institution = CASE WHEN excluded.institution != '' THEN excluded.institution ELSE institution END,
			institution_key = CASE WHEN excluded.institution != '' THEN excluded.institution_key ELSE institution_key END,
			org_id = CASE WHEN excluded.org_id != '' THEN excluded.org_id ELSE org_id END,
			updated_at = excluded.updated_at`)
	return b.String()
}

// BeginImport starts an atomic import.
func (s *Store) BeginImport(ctx context.Context, operator string) (*Importer, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: starting import: %w", err)
	}
	upsert, err := tx.PrepareContext(ctx, upsertSQL(1))
	if err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("store: preparing import: %w", err)
	}
	bulk, err := tx.PrepareContext(ctx, upsertSQL(importBatch))
	if err != nil {
		upsert.Close()
		tx.Rollback()
		return nil, fmt.Errorf("store: preparing import: %w", err)
	}
	return &Importer{s: s, tx: tx, upsert: upsert, bulk: bulk, operator: operator,
		pending: make([]any, 0, importBatch*upsertCols)}, nil
}

// Add upserts one registration. A token is sealed with the store's key; a
// token without a key is an error, never stored in the clear.
func (im *Importer) Add(ctx context.Context, r Registration) error {
	var sealed any
	if r.AccessToken != "" {
		if im.s.sealer == nil {
			return errors.New("the registry has access tokens but no secret key is configured to encrypt them: set secret_key_file in the config or RELINK_SECRET_KEY (32 random bytes, hex or base64: openssl rand -hex 32)")
		}
		b, err := im.s.sealer.Seal([]byte(r.AccessToken), r.Provider+":"+r.ProviderID)
		if err != nil {
			return fmt.Errorf("encrypting the access token: %w", err)
		}
		sealed = b
	}
	now := msv(im.s.now())
	im.pending = append(im.pending, r.Provider, r.ProviderID, sealed, r.UserRef, r.Name, r.Email, r.Phone, r.Institution,
		institution.SortKey(r.Provider, r.Institution), r.OrgID, now, now)
	im.n++
	if len(im.pending) == importBatch*upsertCols {
		return im.flush(ctx)
	}
	return nil
}

// flush writes the pending rows. The statement runs without the caller's
// cancellation (which costs a goroutine per execution in database/sql);
// cancellation is checked here between batches instead.
func (im *Importer) flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	bg := context.WithoutCancel(ctx)
	if len(im.pending) == importBatch*upsertCols {
		if _, err := im.bulk.ExecContext(bg, im.pending...); err != nil {
			return fmt.Errorf("store: importing rows %d–%d: %w", im.n-importBatch+1, im.n, err)
		}
	} else {
		for i := 0; i < len(im.pending); i += upsertCols {
			if _, err := im.upsert.ExecContext(bg, im.pending[i:i+upsertCols]...); err != nil {
				return fmt.Errorf("store: importing %v:%v: %w", im.pending[i], im.pending[i+1], err)
			}
		}
	}
	im.pending = im.pending[:0]
	return nil
}

// Commit attaches events that arrived before their connection was
// registered, records the import in the audit log and makes it visible.
func (im *Importer) Commit(ctx context.Context, source string) error {
	defer im.upsert.Close()
	defer im.bulk.Close()
	if err := im.flush(ctx); err != nil {
		im.tx.Rollback()
		return err
	}
	if err := im.s.attachPending(ctx, im.tx); err != nil {
		im.tx.Rollback()
		return err
	}
	if err := insertAudit(ctx, im.tx, im.s.now(), im.operator, "import", source, fmt.Sprintf("%d rows", im.n)); err != nil {
		im.tx.Rollback()
		return err
	}
	n, err := im.s.commit(im.tx)
	if err != nil {
		return fmt.Errorf("store: committing import: %w", err)
	}
	return im.s.dur.wait(n)
}

// Rollback abandons the import.
func (im *Importer) Rollback() error {
	im.upsert.Close()
	im.bulk.Close()
	return im.tx.Rollback()
}

// Count is the number of rows added so far.
func (im *Importer) Count() int { return im.n }
