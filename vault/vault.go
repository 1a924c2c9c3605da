// Package vault seals secrets at rest: AES-256-GCM with a 32-byte key read
// from secret_key_file or RELINK_SECRET_KEY, each ciphertext bound to the
// connection it belongs to. It never falls back to plaintext.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// version prefixes every sealed value so the format can change later.
const version byte = 1

// Key is a 32-byte AES-256-GCM key.
type Key struct {
	aead cipher.AEAD
}

// ParseKey reads 32 bytes written as hex (64 characters) or base64.
func ParseKey(text string) (*Key, error) {
	text = strings.TrimSpace(text)
	var raw []byte
	if b, err := hex.DecodeString(text); err == nil && len(b) == 32 {
		raw = b
	} else if b, err := base64.StdEncoding.DecodeString(text); err == nil && len(b) == 32 {
		raw = b
	} else if b, err := base64.RawStdEncoding.DecodeString(text); err == nil && len(b) == 32 {
		raw = b
	} else {
		return nil, errors.New("the secret key must be 32 random bytes written as hex or base64 (make one with: openssl rand -hex 32)")
	}
	return NewKey(raw)
}

// NewKey wraps 32 raw bytes.
func NewKey(raw []byte) (*Key, error) {
	if len(raw) != 32 {
		return nil, fmt.Errorf("the secret key has %d bytes, want 32", len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Key{aead: aead}, nil
}

// LoadKey returns the key from the env value if set, else from file; both
// empty means no key (nil, nil). A file readable by others is refused.
func LoadKey(envValue, file string) (*Key, error) {
	if envValue != "" {
		k, err := ParseKey(envValue)
		if err != nil {
			return nil, fmt.Errorf("RELINK_SECRET_KEY: %w", err)
		}
		return k, nil
	}
	if file == "" {
		return nil, nil
	}
	fi, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("secret_key_file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		what := "readable"
		if perm&0o044 == 0 {
			what = "writable"
		}
		return nil, fmt.Errorf("secret_key_file %s is %s by other users (mode %04o); run: chmod 600 %s", file, what, perm, file)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("secret_key_file: %w", err)
	}
	k, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("secret_key_file %s: %w", file, err)
	}
	return k, nil
}

// Generate makes a new random key and returns it with its hex form.
func Generate() (*Key, string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, "", err
	}
	k, err := NewKey(raw)
	return k, hex.EncodeToString(raw), err
}

// Seal encrypts plaintext bound to aad.
func (k *Key) Seal(plaintext []byte, aad string) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize(), 1+k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("making a nonce: %w", err)
	}
	out := append([]byte{version}, nonce...)
	return k.aead.Seal(out, nonce, plaintext, []byte(aad)), nil
}

// Open decrypts a value sealed with the same key and aad.
func (k *Key) Open(sealed []byte, aad string) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < 1+n+k.aead.Overhead() || sealed[0] != version {
		return nil, errors.New("not a sealed value")
	}
	p, err := k.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(aad))
	if err != nil {
		return nil, errors.New("wrong key or damaged value")
	}
	return p, nil
}
