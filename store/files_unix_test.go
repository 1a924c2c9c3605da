//go:build unix

package store

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// permissive sets the usual umask (022) for the test, under which a file
// created 644 stays 644: what the modes below must not depend on.
func permissive(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
}

func modeOf(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestDatabaseAndItsWALArePrivate(t *testing.T) {
	permissive(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o755); err != nil { // a folder relink did not make
		t.Fatal(err)
	}
	path := filepath.Join(dir, "relink.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	importRows(t, s, Registration{Provider: "belvo", ProviderID: "l1", Name: "Ana"})
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if m := modeOf(t, p); m != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", filepath.Base(p), m)
		}
	}
	s.Close()

	// One made readable by others (an older relink, a copy) is tightened.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		f, _ := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
		f.Close()
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if c, err := s.Connection(ctx, "belvo", "l1"); err != nil || c.Name != "Ana" {
		t.Fatalf("reopened: %+v %v", c, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if m := modeOf(t, p); m != 0o600 {
			t.Errorf("reopened %s: mode %04o, want 0600", filepath.Base(p), m)
		}
	}
}

// unprivileged runs the calling test again as nobody (uid 65534) when the
// tests run as root, who may write anywhere; it returns whether the caller
// should go on in this process (not root, or already the re-run).
func unprivileged(t *testing.T) bool {
	t.Helper()
	if os.Geteuid() != 0 {
		return true
	}
	if os.Getenv("RELINK_TEST_UNPRIVILEGED") != "" {
		t.Fatal("the re-run is still root")
	}
	dir, err := os.MkdirTemp("", "relink-unprivileged-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "store.test")
	if err := copyFile(exe, bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run", "^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "RELINK_TEST_UNPRIVILEGED=1", "TMPDIR="+dir, "HOME="+dir, "GOCOVERDIR=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(err.Error(), "operation not permitted") {
			t.Skipf("cannot run as uid 65534 here: %v", err)
		}
		t.Fatalf("as uid 65534: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("the unprivileged run did not pass:\n%s", out)
	}
	return false
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// A folder this user cannot write: SQLite said "attempt to write a
// readonly database (is it a relink database?)"; Open says which folder
// and what to do, for an existing database and for a new one.
func TestUnwritableFolderIsSaidPlainly(t *testing.T) {
	if !unprivileged(t) {
		return
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "relink.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })

	_, err = Open(ctx, path, Options{})
	if err == nil {
		t.Fatal("opened a database in a read-only folder")
	}
	msg := err.Error()
	for _, want := range []string{"folder " + dir + " is not writable", "relink.db-wal", "chmod u+w " + dir, "--db or RELINK_DB"} {
		if !strings.Contains(msg, want) {
			t.Errorf("existing database: %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "readonly database") || strings.Contains(msg, "is it a relink database") {
		t.Errorf("existing database: %q", msg)
	}

	_, err = Open(ctx, filepath.Join(dir, "new.db"), Options{})
	if err == nil {
		t.Fatal("created a database in a read-only folder")
	}
	msg = err.Error()
	for _, want := range []string{"cannot create the database " + filepath.Join(dir, "new.db"), "folder " + dir + " is not writable", "chmod u+w " + dir} {
		if !strings.Contains(msg, want) {
			t.Errorf("new database: %q does not say %q", msg, want)
		}
	}

	// A database file this user cannot write, in a writable folder.
	os.Chmod(dir, 0o755)
	ro := filepath.Join(dir, "ro.db")
	v4(t, ro)
	if err := os.Chmod(ro, 0o400); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, ro, Options{})
	if err == nil || !strings.Contains(err.Error(), "the file is not writable by this user") || !strings.Contains(err.Error(), "chmod 600 "+ro) {
		t.Errorf("read-only database file: %v", err)
	}
}
