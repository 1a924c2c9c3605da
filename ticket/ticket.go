// Package ticket signs and checks the tickets of durable reconnect links
// (serve.public_url + /r/{ticket}): each names one connection and an expiry,
// carries no secret, and is signed with HMAC-SHA256 under a server key kept
// beside the database. Revocation is recorded in the store by ticket id.
package ticket

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Ticket is what a durable link says.
type Ticket struct {
	ID      string    // random; the links table row is found by it
	Conn    string    // provider:provider_id
	Expires time.Time // after this the link is refused
}

// Errors of Verify.
var (
	ErrMalformed = errors.New("this link is not a valid reconnect link")
	ErrForged    = errors.New("this link's signature does not match")
	ErrExpired   = errors.New("this link has expired")
)

// Signer signs and verifies tickets with one key.
type Signer struct{ key []byte }

// NewSigner wraps a key of at least 32 bytes.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("ticket key has %d bytes, want at least 32", len(key))
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// KeyPath is where the key for the database at dbPath lives.
func KeyPath(dbPath string) string { return dbPath + ".linkkey" }

// LoadOrCreate reads the key at path, or makes a new random one there
// (mode 600) when none exists yet.
func LoadOrCreate(path string) (*Signer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return LoadOrCreate(path) // another process made it first
		}
		if err != nil {
			return nil, fmt.Errorf("creating the link key %s: %w", path, err)
		}
		_, werr := f.WriteString(hex.EncodeToString(key) + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, fmt.Errorf("writing the link key %s: %w", path, werr)
		}
		return NewSigner(key)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the link key %s: %w", path, err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("the link key %s is not hex: %w", path, err)
	}
	return NewSigner(key)
}

type payload struct {
	ID   string `json:"i"`
	Conn string `json:"c"`
	Exp  int64  `json:"e"`
}

var enc = base64.RawURLEncoding.Strict()

// New makes a ticket for conn valid for ttl from now.
func New(conn string, now time.Time, ttl time.Duration) (Ticket, error) {
	id := make([]byte, 12)
	if _, err := rand.Read(id); err != nil {
		return Ticket{}, err
	}
	return Ticket{ID: enc.EncodeToString(id), Conn: conn, Expires: now.Add(ttl).Truncate(time.Second)}, nil
}

// Sign encodes t as payload.signature, safe in a URL path.
func (s *Signer) Sign(t Ticket) string {
	b, _ := json.Marshal(payload{ID: t.ID, Conn: t.Conn, Exp: t.Expires.Unix()})
	p := enc.EncodeToString(b)
	return p + "." + enc.EncodeToString(s.mac(p))
}

func (s *Signer) mac(p string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("relink-ticket-v1."))
	m.Write([]byte(p))
	return m.Sum(nil)
}

// Verify checks the signature and the expiry, in that order, and returns
// the ticket. A forged ticket's content is never trusted.
func (s *Signer) Verify(token string, now time.Time) (Ticket, error) {
	p, sig, ok := strings.Cut(token, ".")
	if !ok || len(token) > 512 {
		return Ticket{}, ErrMalformed
	}
	got, err := enc.DecodeString(sig)
	if err != nil {
		return Ticket{}, ErrMalformed
	}
	if !hmac.Equal(got, s.mac(p)) {
		return Ticket{}, ErrForged
	}
	raw, err := enc.DecodeString(p)
	if err != nil {
		return Ticket{}, ErrMalformed
	}
	var pl payload
	if err := json.Unmarshal(raw, &pl); err != nil || pl.ID == "" || pl.Conn == "" {
		return Ticket{}, ErrMalformed
	}
	t := Ticket{ID: pl.ID, Conn: pl.Conn, Expires: time.Unix(pl.Exp, 0).UTC()}
	if !now.Before(t.Expires) {
		return t, ErrExpired
	}
	return t, nil
}
