package sshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	gossh "golang.org/x/crypto/ssh"
)

// HostKeyPath is where the host key lives by default: beside the database.
func HostKeyPath(db string) string { return db + ".ssh_host_ed25519_key" }

// LoadOrCreateHostKey reads the host key at path, creating it first (an
// ed25519 key in OpenSSH's format, mode 600, its folder 700) if there is
// none. A key file others may read is refused: whoever read it can pose as
// the hub.
func LoadOrCreateHostKey(path string) (gossh.Signer, error) {
	if path == "" {
		return nil, errors.New("sshd: no host key file")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if b, err = createHostKey(path); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("sshd: reading the host key: %w", err)
	} else if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("sshd: the host key %s may be read by others (mode %04o); run chmod 600 %s (or remove it to make a new one, which every client will then warn about)",
			path, fi.Mode().Perm(), path)
	}
	signer, err := gossh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("sshd: the host key %s is not an unencrypted OpenSSH private key: %w", path, err)
	}
	return signer, nil
}

func createHostKey(path string) ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sshd: making a host key: %w", err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "relink hub host key")
	if err != nil {
		return nil, fmt.Errorf("sshd: making a host key: %w", err)
	}
	b := pem.EncodeToMemory(block)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sshd: creating the host key's folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another start made one first: use that
		return os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("sshd: creating the host key: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("sshd: writing the host key: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("sshd: writing the host key: %w", err)
	}
	return b, nil
}
