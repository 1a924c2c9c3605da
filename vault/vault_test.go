package vault

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpenRoundTripAndBinding(t *testing.T) {
	k, _, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := k.Seal([]byte("access-sandbox-secret"), "plaid:item1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("access-sandbox-secret")) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := k.Open(sealed, "plaid:item1")
	if err != nil || string(got) != "access-sandbox-secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := k.Open(sealed, "plaid:item2"); err == nil {
		t.Fatal("a token opened under another connection's id")
	}
	other, _, _ := Generate()
	if _, err := other.Open(sealed, "plaid:item1"); err == nil {
		t.Fatal("a token opened with another key")
	}
}

func TestParseKeyFormats(t *testing.T) {
	hexKey := strings.Repeat("ab", 32)
	if _, err := ParseKey(hexKey + "\n"); err != nil {
		t.Fatalf("hex key: %v", err)
	}
	if _, err := ParseKey("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="); err != nil {
		t.Fatalf("base64 key: %v", err)
	}
	if _, err := ParseKey("short"); err == nil || !strings.Contains(err.Error(), "openssl rand -hex 32") {
		t.Fatalf("short key error = %v", err)
	}
}

func TestLoadKeyRefusesWorldReadableFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "key")
	os.WriteFile(p, []byte(strings.Repeat("cd", 32)), 0o644)
	if _, err := LoadKey("", p); err == nil || !strings.Contains(err.Error(), "chmod 600 "+p) || !strings.Contains(err.Error(), "readable by other users (mode 0644)") {
		t.Fatalf("err = %v", err)
	}
	os.Chmod(p, 0o600)
	if k, err := LoadKey("", p); err != nil || k == nil {
		t.Fatalf("LoadKey = %v, %v", k, err)
	}
	if k, err := LoadKey("", ""); k != nil || err != nil {
		t.Fatalf("no key configured = %v, %v", k, err)
	}
}
