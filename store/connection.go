package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/relink/relink/health"
)

// Connection is one registered connection and its recorded health.
type Connection struct {
	ID             int64
	Provider       string
	ProviderID     string
	UserRef        string
	Name           string
	Email          string
	Phone          string
	Institution    string
	OrgID          string // Cobalt's org_id (our organization); "" for the others
	HasToken       bool
	Health         health.Health
	LastRemindedAt *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Ref is the connection's CONN id, "provider:provider_id".
func (c Connection) Ref() string { return c.Provider + ":" + c.ProviderID }

const connColumns = `id, provider, provider_id, access_token IS NOT NULL, user_ref, name, email, phone, institution,
	category, warning, deadline, provider_code, provider_reason, user_message, source, observed_at,
	first_failed_at, last_transient, last_transient_code, last_transient_at, last_reminded_at, created_at, updated_at, org_id`

// connColumnNames are the names of connColumns.
func connColumnNames() []string {
	var names []string
	for _, c := range strings.Split(connColumns, ",") {
		names = append(names, strings.TrimSpace(c))
	}
	return names
}

type scanner interface{ Scan(dest ...any) error }

// skipLast scans a row of connColumns and one more column, which it drops.
type skipLast struct{ r scanner }

func (s skipLast) Scan(dest ...any) error {
	var last any
	return s.r.Scan(append(dest, &last)...)
}

func scanConnection(r scanner) (Connection, error) {
	var c Connection
	var cat, warn, src string
	var deadline, observed, firstFailed, transientAt, reminded sql.NullInt64
	var created, updated int64
	err := r.Scan(&c.ID, &c.Provider, &c.ProviderID, &c.HasToken, &c.UserRef, &c.Name, &c.Email, &c.Phone, &c.Institution,
		&cat, &warn, &deadline, &c.Health.ProviderCode, &c.Health.ProviderReason, &c.Health.UserMessage, &src, &observed,
		&firstFailed, &c.Health.LastTransient, &c.Health.LastTransientCode, &transientAt, &reminded, &created, &updated, &c.OrgID)
	if err != nil {
		return c, err
	}
	h := &c.Health
	h.Category, h.Warning, h.Source = health.Category(cat), health.Warning(warn), health.Source(src)
	h.Deadline, h.FirstFailedAt, h.LastTransientAt = fromMS(deadline), fromMS(firstFailed), fromMS(transientAt)
	if t := fromMS(observed); t != nil {
		h.ObservedAt = *t
	}
	c.LastRemindedAt = fromMS(reminded)
	c.CreatedAt, c.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return c, nil
}

// Connection returns one connection by provider and provider id.
func (s *Store) Connection(ctx context.Context, provider, providerID string) (Connection, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+connColumns+` FROM connections WHERE provider = ? AND provider_id = ?`, provider, providerID)
	c, err := scanConnection(row)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("connection %s:%s: %w", provider, providerID, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("store: reading connection %s:%s: %w", provider, providerID, err)
	}
	return c, nil
}

// ConnectionByID returns one connection by its row id.
func (s *Store) ConnectionByID(ctx context.Context, id int64) (Connection, error) {
	c, err := scanConnection(s.db.QueryRowContext(ctx, `SELECT `+connColumns+` FROM connections WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("connection #%d: %w", id, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("store: reading connection #%d: %w", id, err)
	}
	return c, nil
}

// AccessToken returns the connection's decrypted access token. Callers hand
// it to a provider client and nowhere else.
func (s *Store) AccessToken(ctx context.Context, provider, providerID string) (string, error) {
	var sealed []byte
	err := s.db.QueryRowContext(ctx, `SELECT access_token FROM connections WHERE provider = ? AND provider_id = ?`, provider, providerID).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("connection %s:%s: %w", provider, providerID, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: reading token of %s:%s: %w", provider, providerID, err)
	}
	return s.open(sealed, provider+":"+providerID)
}

func (s *Store) open(sealed []byte, aad string) (string, error) {
	if sealed == nil {
		return "", nil
	}
	if s.sealer == nil {
		return "", errors.New("store: access tokens are encrypted but no secret key is configured (set secret_key_file or RELINK_SECRET_KEY)")
	}
	p, err := s.sealer.Open(sealed, aad)
	if err != nil {
		return "", fmt.Errorf("store: decrypting the access token of %s: %w (is the secret key the one it was imported with?)", aad, err)
	}
	return string(p), nil
}

// Cred is what a provider client needs of one connection.
type Cred struct {
	ProviderID  string
	AccessToken string // decrypted; secret
	UserRef     string
}

// Creds calls fn for every connection of provider in provider_id order, with its
// decrypted token, reading in batches so no read transaction stays open long
// and memory stays flat. With onlyUnchecked, only connections no signal has
// reached yet. fn returning false stops the walk.
func (s *Store) Creds(ctx context.Context, provider string, onlyUnchecked bool, fn func(Cred) bool) error {
	const batch = 1000
	after := ""
	cond := ""
	if onlyUnchecked {
		cond = " AND category = 'unknown'"
	}
	for {
		rows, err := s.db.QueryContext(ctx, `SELECT id, provider_id, access_token, user_ref FROM connections
			WHERE provider = ? AND provider_id > ?`+cond+` ORDER BY provider_id LIMIT ?`, provider, after, batch)
		if err != nil {
			return fmt.Errorf("store: listing %s connections: %w", provider, err)
		}
		type raw struct {
			id     int64
			pid    string
			sealed []byte
			ref    string
		}
		var page []raw
		for rows.Next() {
			var r raw
			if err := rows.Scan(&r.id, &r.pid, &r.sealed, &r.ref); err != nil {
				rows.Close()
				return fmt.Errorf("store: listing %s connections: %w", provider, err)
			}
			page = append(page, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: listing %s connections: %w", provider, err)
		}
		for _, r := range page {
			tok, err := s.open(r.sealed, provider+":"+r.pid)
			if err != nil {
				return err
			}
			if !fn(Cred{ProviderID: r.pid, AccessToken: tok, UserRef: r.ref}) {
				return nil
			}
		}
		if len(page) > 0 {
			after = page[len(page)-1].pid
		}
		if len(page) < batch {
			return nil
		}
	}
}
