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
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Ticket is what a durable link says.
type Ticket struct {
	ID      string    // random; the links table row is found by it
	Conn    string    // provider:provider_id
	Expires time.Time // after this the link is refused
	// Purpose is "" for a durable link's ticket; another value (Return)
	// signs another kind of address that names a connection, which its
	// handler checks, so one kind of ticket never opens the other's page.
	Purpose string
}

// Return is the Purpose of the ticket in the return address of a
// provider's hosted page (Belvo's widget callback_urls, Cobalt Link's
// callback URL): which connection the user who comes back was updating.
const Return = "return"

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
// (mode 600, written whole or not at all) when none exists yet. A key file
// other users can read or write is refused, as is one that is empty or not
// a key; each error names the file and what to do.
func LoadOrCreate(path string) (*Signer, error) {
	s, err := load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	switch err := create(path, []byte(hex.EncodeToString(key)+"\n")); {
	case errors.Is(err, fs.ErrExist):
		return load(path) // another process made it first
	case err != nil:
		return nil, err
	}
	return NewSigner(key)
}

// remedy is what to do about a key file that is not a usable key.
const remedy = "delete it and relink makes a new one, but every durable link signed with it (those in reminders already sent too) stops working; mint new ones with relink link --durable CONN"

// load reads an existing key; fs.ErrNotExist if there is none.
func load(path string) (*Signer, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("reading the link key %s: %w", path, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		what := "readable"
		if perm&0o044 == 0 {
			what = "writable"
		}
		return nil, fmt.Errorf("the link key %s is %s by other users (mode %04o); run: chmod 600 %s (if others may have copied it, %s)",
			path, what, perm, path, remedy)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the link key %s: %w", path, err)
	}
	text := strings.TrimSpace(string(b))
	if text == "" {
		return nil, fmt.Errorf("the link key %s is empty (%d bytes; a key is 64 hex characters); %s", path, len(b), remedy)
	}
	key, err := hex.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("the link key %s is not a key (it must be 64 hex characters); %s", path, remedy)
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("the link key %s holds %d bytes, want at least 32 (64 hex characters); %s", path, len(key), remedy)
	}
	return NewSigner(key)
}

// create writes text to path, mode 600, only if path does not exist yet
// (fs.ErrExist then). It is written and synced under a temporary name and
// then linked into place, so no reader ever sees a partial key and a crash
// leaves none; where hard links are not supported, it is created in place.
func create(path string, text []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".new-*") // mode 600
	if err != nil {
		return createError(path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := writeSynced(f, text); err != nil {
		return fmt.Errorf("writing the link key %s: %w", path, err)
	}
	err = os.Link(tmp, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return createError(path, err)
	}
	if err := writeSynced(f, text); err != nil {
		os.Remove(path)
		return fmt.Errorf("writing the link key %s: %w", path, err)
	}
	return nil
}

func writeSynced(f *os.File, text []byte) error {
	_, err := f.Write(text)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func createError(path string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		dir := filepath.Dir(path)
		return fmt.Errorf("creating the link key %s: the folder %s is not writable by this user; make it writable (chmod u+w %s) or put the database in a writable folder (--db or RELINK_DB): %w",
			path, dir, dir, err)
	}
	return fmt.Errorf("creating the link key %s: %w", path, err)
}

type payload struct {
	ID      string `json:"i"`
	Conn    string `json:"c"`
	Exp     int64  `json:"e"`
	Purpose string `json:"p,omitempty"` // omitted for durable links, so their tickets read as before
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
	b, _ := json.Marshal(payload{ID: t.ID, Conn: t.Conn, Exp: t.Expires.Unix(), Purpose: t.Purpose})
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
	t := Ticket{ID: pl.ID, Conn: pl.Conn, Expires: time.Unix(pl.Exp, 0).UTC(), Purpose: pl.Purpose}
	if !now.Before(t.Expires) {
		return t, ErrExpired
	}
	return t, nil
}
