package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// LinkKind says how a link reaches the provider's update page.
type LinkKind string

// The kinds of link.
const (
	// LinkDirect is the provider's update page with a token minted now.
	LinkDirect LinkKind = "direct"
	// LinkDurable is serve.public_url + /r/{ticket}: the token is minted
	// when the user clicks.
	LinkDurable LinkKind = "durable"
)

// Valid reports whether k is one of the kinds.
func (k LinkKind) Valid() bool { return k == LinkDirect || k == LinkDurable }

// Link is a minted update-mode link.
type Link struct {
	ID           int64
	ConnectionID int64
	Kind         LinkKind
	// URL is, for a durable link, its whole serve.public_url/r/{ticket}
	// address. A direct link's URL carries a live provider token, which is
	// never stored: AddLink keeps only the page's origin (scheme://host, e.g.
	// https://hosted.plaid.com), so a stored direct link cannot be opened
	// again (see Reusable) and Links returns that origin.
	URL       string
	Ticket    string
	TokenHash string // provider.TokenHash of the minted token, if any
	ExpiresAt *time.Time
	CreatedAt time.Time
	Operator  string
	RevokedAt *time.Time
	Clicks    int
}

// Reusable reports whether URL still leads to the update page: true for a
// durable link; a stored direct link holds only its page's origin.
func (l Link) Reusable() bool { return l.Kind == LinkDurable && l.URL != "" }

// Host is the host of the link's page (hosted.plaid.com, widget.belvo.io,
// relink serve's host for a durable link); "" if URL has none.
func (l Link) Host() string {
	u, err := url.Parse(l.URL)
	if err != nil {
		return ""
	}
	return u.Host
}

// AddLink records a minted link, with a history entry and an audit line, in
// one transaction. A direct link's URL is reduced to its origin first: the
// provider token in it is not kept (TokenHash is, for webhooks naming it).
func (s *Store) AddLink(ctx context.Context, l Link) (int64, error) {
	if l.CreatedAt.IsZero() {
		l.CreatedAt = s.now()
	}
	l.URL = storedURL(l.Kind, l.URL)
	var id int64
	err := s.inTx(ctx, "recording a link", func(tx *sql.Tx) error {
		var ticket, tokenHash any
		if l.Ticket != "" {
			ticket = l.Ticket
		}
		if l.TokenHash != "" {
			tokenHash = l.TokenHash
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO links (connection_id, kind, url, ticket, token_hash, expires_at, created_at, operator)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, l.ConnectionID, l.Kind, l.URL, ticket, tokenHash, ms(l.ExpiresAt),
			msv(l.CreatedAt), l.Operator).Scan(&id)
		if err != nil {
			return fmt.Errorf("store: recording a link: %w", err)
		}
		summary := string(l.Kind) + " link minted by " + l.Operator
		if l.ExpiresAt != nil {
			summary += ", expires " + l.ExpiresAt.UTC().Format(time.RFC3339)
		}
		var ref string
		err = tx.QueryRowContext(ctx, `INSERT INTO events (connection_id, provider, provider_id, kind, summary, observed_at, received_at)
			SELECT id, provider, provider_id, 'link', ?, ?, ? FROM connections WHERE id = ? RETURNING provider || ':' || provider_id`,
			summary, msv(l.CreatedAt), msv(l.CreatedAt), l.ConnectionID).Scan(&ref)
		if err != nil {
			return fmt.Errorf("store: noting the link: %w", err)
		}
		return insertAudit(ctx, tx, l.CreatedAt, l.Operator, "link", ref, string(l.Kind))
	})
	return id, err
}

// Links returns a connection's newest links, newest first.
func (s *Store) Links(ctx context.Context, connID int64, limit int) ([]Link, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, connection_id, kind, url, COALESCE(ticket, ''), COALESCE(token_hash, ''), expires_at,
		created_at, operator, revoked_at, clicks FROM links WHERE connection_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, connID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: reading links of #%d: %w", connID, err)
	}
	defer rows.Close()
	var out []Link
	for rows.Next() {
		var l Link
		var exp, rev sql.NullInt64
		var created int64
		if err := rows.Scan(&l.ID, &l.ConnectionID, &l.Kind, &l.URL, &l.Ticket, &l.TokenHash, &exp, &created, &l.Operator, &rev,
			&l.Clicks); err != nil {
			return nil, err
		}
		l.ExpiresAt, l.RevokedAt, l.CreatedAt = fromMS(exp), fromMS(rev), time.UnixMilli(created).UTC()
		out = append(out, l)
	}
	return out, rows.Err()
}

// ProviderCount is how many connections of provider the registry holds.
func (s *Store) ProviderCount(ctx context.Context, provider string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(n), 0) FROM counts WHERE provider = ?`, provider).Scan(&n)
	return n, err
}

// LinkByTicket returns the durable link with ticket id.
func (s *Store) LinkByTicket(ctx context.Context, ticket string) (Link, error) {
	var l Link
	var exp, rev sql.NullInt64
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT id, connection_id, kind, url, ticket, expires_at, created_at, operator, revoked_at, clicks
		FROM links WHERE ticket = ?`, ticket).Scan(&l.ID, &l.ConnectionID, &l.Kind, &l.URL, &l.Ticket, &exp, &created, &l.Operator, &rev, &l.Clicks)
	if errors.Is(err, sql.ErrNoRows) {
		return l, fmt.Errorf("link ticket: %w", ErrNotFound)
	}
	if err != nil {
		return l, fmt.Errorf("store: reading a link: %w", err)
	}
	l.ExpiresAt, l.RevokedAt, l.CreatedAt = fromMS(exp), fromMS(rev), time.UnixMilli(created).UTC()
	return l, nil
}

// RevokeLinks revokes every live durable link of a connection and returns
// how many it revoked, with a history entry and an audit line.
func (s *Store) RevokeLinks(ctx context.Context, connID int64, operator string) (int, error) {
	var n int64
	err := s.inTx(ctx, "revoking links", func(tx *sql.Tx) error {
		now := s.now()
		// Only the live ones: an expired link opens nothing already, and
		// the count says what the revocation stopped.
		res, err := tx.ExecContext(ctx, `UPDATE links SET revoked_at = ?
			WHERE connection_id = ? AND kind = 'durable' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`,
			msv(now), connID, msv(now))
		if err != nil {
			return fmt.Errorf("store: revoking links: %w", err)
		}
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		var ref string
		err = tx.QueryRowContext(ctx, `INSERT INTO events (connection_id, provider, provider_id, kind, summary, observed_at, received_at)
			SELECT id, provider, provider_id, 'link', ?, ?, ? FROM connections WHERE id = ? RETURNING provider || ':' || provider_id`,
			fmt.Sprintf("%d durable link(s) revoked by %s", n, operator), msv(now), msv(now), connID).Scan(&ref)
		if err != nil {
			return fmt.Errorf("store: noting the revocation: %w", err)
		}
		return insertAudit(ctx, tx, now, operator, "revoke", ref, fmt.Sprintf("%d durable link(s)", n))
	})
	return int(n), err
}

// RecordClick counts a click on a durable link, with a history entry and an
// audit line; outcome says what the click led to.
func (s *Store) RecordClick(ctx context.Context, linkID int64, outcome string) error {
	return s.inTx(ctx, "recording a click", func(tx *sql.Tx) error {
		now := s.now()
		var connID int64
		err := tx.QueryRowContext(ctx, `UPDATE links SET clicks = clicks + 1, last_click_at = ? WHERE id = ? RETURNING connection_id`,
			msv(now), linkID).Scan(&connID)
		if err != nil {
			return fmt.Errorf("store: recording a click: %w", err)
		}
		var ref string
		err = tx.QueryRowContext(ctx, `INSERT INTO events (connection_id, provider, provider_id, kind, summary, observed_at, received_at)
			SELECT id, provider, provider_id, 'click', ?, ?, ? FROM connections WHERE id = ? RETURNING provider || ':' || provider_id`,
			"reconnect link clicked: "+outcome, msv(now), msv(now), connID).Scan(&ref)
		if err != nil {
			return fmt.Errorf("store: noting the click: %w", err)
		}
		return insertAudit(ctx, tx, now, "end user", "click", ref, outcome)
	})
}

// ConnectionByLinkToken returns the provider id of the connection a minted
// token (by its hash) was made for.
func (s *Store) ConnectionByLinkToken(ctx context.Context, provider, tokenHash string) (string, error) {
	var pid string
	err := s.db.QueryRowContext(ctx, `SELECT c.provider_id FROM links l JOIN connections c ON c.id = l.connection_id
		WHERE l.token_hash = ? AND c.provider = ?`, tokenHash, provider).Scan(&pid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("link token: %w", ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: finding a link token: %w", err)
	}
	return pid, nil
}
