package ticket

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

func TestKeyReadableByOthersIsRefused(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620} {
		p := filepath.Join(t.TempDir(), "relink.db.linkkey")
		if _, err := LoadOrCreate(p); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadOrCreate(p)
		if err == nil {
			t.Fatalf("mode %04o: a key others can open was used", mode)
		}
		for _, want := range []string{p, "by other users", fmt.Sprintf("mode %04o", mode), "run: chmod 600 " + p} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("mode %04o: %q does not say %q", mode, err, want)
			}
		}
		os.Chmod(p, 0o600)
		if _, err := LoadOrCreate(p); err != nil {
			t.Errorf("after chmod 600: %v", err)
		}
	}
}

func TestUnusableKeyFileIsNamed(t *testing.T) {
	for name, text := range map[string]string{"empty": "", "blank": "\n", "not hex": "not a key\n", "short": strings.Repeat("ab", 16) + "\n"} {
		p := filepath.Join(t.TempDir(), "relink.db.linkkey")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadOrCreate(p)
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		for _, want := range []string{"link key " + p, "delete it", "durable link", "stops working"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q does not say %q", name, err, want)
			}
		}
		if b, _ := os.ReadFile(p); string(b) != text {
			t.Errorf("%s: the file was changed", name)
		}
	}
}

// Many processes starting at once on a new database agree on one key, and
// none of them reads a key file half written.
func TestConcurrentCreationAgreesOnOneKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "relink.db.linkkey")
	const n = 16
	signers := make([]*Signer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			signers[i], errs[i] = LoadOrCreate(p)
		}()
	}
	wg.Wait()
	tk, _ := New("plaid:item-1", now, time.Hour)
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("%d: %v", i, errs[i])
		}
		if _, err := signers[i].Verify(signers[0].Sign(tk), now); err != nil {
			t.Fatalf("%d has another key: %v", i, err)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

// TestPurpose: a ticket's purpose is signed with it; a durable link's
// ticket (no purpose) encodes exactly as before purposes existed.
func TestPurpose(t *testing.T) {
	s := signer(t)
	tk, _ := New("cobalt:clinic-1", now, time.Hour)
	plain := s.Sign(tk)
	if p, _, _ := strings.Cut(plain, "."); strings.Contains(string(mustDecode(t, p)), `"p"`) {
		t.Errorf("a durable ticket carries a purpose: %s", mustDecode(t, p))
	}
	tk.Purpose = Return
	ret := s.Sign(tk)
	got, err := s.Verify(ret, now)
	if err != nil || got.Purpose != Return || got.Conn != tk.Conn {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
	if got, _ := s.Verify(plain, now); got.Purpose != "" {
		t.Errorf("durable ticket verified with purpose %q", got.Purpose)
	}
	// The purpose cannot be swapped onto another ticket's signature.
	forged := strings.Split(ret, ".")[0] + "." + strings.Split(plain, ".")[1]
	if _, err := s.Verify(forged, now); !errors.Is(err, ErrForged) {
		t.Errorf("purpose swapped: %v", err)
	}
}

func mustDecode(t *testing.T, p string) []byte {
	t.Helper()
	b, err := enc.DecodeString(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
