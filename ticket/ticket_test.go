package ticket

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func signer(t *testing.T) *Signer {
	s, err := LoadOrCreate(filepath.Join(t.TempDir(), "db.linkkey"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignVerifyRoundTrip(t *testing.T) {
	s := signer(t)
	tk, _ := New("plaid:item-1", now, 168*time.Hour)
	tok := s.Sign(tk)
	got, err := s.Verify(tok, now.Add(time.Hour))
	if err != nil || got.Conn != "plaid:item-1" || got.ID != tk.ID || !got.Expires.Equal(tk.Expires) {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
	if strings.ContainsAny(tok, "/?#+ ") {
		t.Fatalf("ticket not URL-path safe: %s", tok)
	}
}

func TestExpiredTamperedForeign(t *testing.T) {
	s := signer(t)
	tk, _ := New("belvo:link-1", now, time.Hour)
	tok := s.Sign(tk)
	if _, err := s.Verify(tok, now.Add(2*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	// Change the connection inside the payload: the signature no longer matches.
	other, _ := New("belvo:someone-else", now, time.Hour)
	forged := strings.Split(s.Sign(other), ".")[0] + "." + strings.Split(tok, ".")[1]
	if _, err := s.Verify(forged, now); !errors.Is(err, ErrForged) {
		t.Fatalf("tampered: %v", err)
	}
	if _, err := signer(t).Verify(tok, now); !errors.Is(err, ErrForged) {
		t.Fatalf("another server's key: %v", err)
	}
	for _, bad := range []string{"", "nodot", "a.b.c", "!!!.???", strings.Repeat("a", 600) + ".b"} {
		if _, err := s.Verify(bad, now); err == nil {
			t.Errorf("%q verified", bad)
		}
	}
}

func TestKeyIsKeptAndPrivate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "db.linkkey")
	a, _ := LoadOrCreate(p)
	b, _ := LoadOrCreate(p)
	tk, _ := New("cobalt:c1", now, time.Hour)
	if _, err := b.Verify(a.Sign(tk), now); err != nil {
		t.Fatalf("a reloaded key does not verify its own tickets: %v", err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v", fi.Mode().Perm())
	}
}
