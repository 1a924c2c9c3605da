//go:build unix

package ticket

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The key is created 600 whatever the umask lets through.
func TestNewKeyIsPrivateUnderAPermissiveUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	p := filepath.Join(t.TempDir(), "relink.db.linkkey")
	if _, err := LoadOrCreate(p); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Fatalf("new key: mode %04o, want 0600", m)
	}
}
