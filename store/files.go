package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

// The database and its -wal and -shm files hold the registry (names,
// e-mail addresses, phone numbers), the history and the sealed access
// tokens: they are private to their owner, mode 600.
//
// SQLite creates a missing database with mode 644 under the usual umask and
// gives its -wal and -shm the database's mode, so Open creates the file
// itself, 600, before SQLite opens it. An existing database (or -wal, -shm)
// that other users can read or write is tightened (chmod, group and other
// bits cleared): it is relink's own file. One relink cannot tighten (another
// user owns it) is refused, naming the file and the chmod to run.

// sidecars are the files SQLite keeps beside a database in WAL mode.
var sidecars = []string{"-wal", "-shm"}

// privateFile creates the database at path, mode 600, if it does not exist,
// and tightens it and its -wal and -shm if others may read or write them.
func privateFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		return f.Close()
	case errors.Is(err, fs.ErrExist):
	case isUnwritable(err):
		dir := filepath.Dir(path)
		return fmt.Errorf("store: cannot create the database %s: the folder %s is not writable by this user (%s); make it writable (chmod u+w %s) or point --db or RELINK_DB at a database in a writable folder",
			path, dir, reason(err), dir)
	default:
		return fmt.Errorf("store: creating the database %s: %w", path, err)
	}
	for _, p := range []string{path, path + sidecars[0], path + sidecars[1]} {
		if err := tighten(p); err != nil {
			return err
		}
	}
	return nil
}

// tighten clears the group and other bits of the file at p, if it exists.
func tighten(p string) error {
	if runtime.GOOS == "windows" {
		return nil // no owner/group/other modes to speak of
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	perm := fi.Mode().Perm()
	if !fi.Mode().IsRegular() || perm&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(p, perm&^0o077); err != nil {
		return fmt.Errorf("store: %s is %s by other users (mode %04o) and relink could not make it private (%s); its owner can run: chmod 600 %s",
			p, openTo(perm), perm, reason(err), p)
	}
	return nil
}

// openTo says what a mode lets group and others do.
func openTo(perm fs.FileMode) string {
	if perm&0o044 != 0 {
		return "readable"
	}
	return "writable"
}

// isUnwritable reports whether err says a file or folder may not be written.
func isUnwritable(err error) bool {
	return errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)
}

// reason is the system's word for an os error: "permission denied".
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// sqliteCode is the primary result code of a SQLite error, or 0.
func sqliteCode(err error) int {
	var se interface{ Code() int }
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return 0
}

// SQLite's primary result codes that can mean "not writable".
const (
	sqlitePerm     = 3
	sqliteReadOnly = 8
	sqliteCantOpen = 14
)

// explainOpen turns SQLite's "attempt to write a readonly database" or
// "unable to open database file" into what is wrong and what to do, when
// the database file or its folder is not writable by this user; other
// errors are returned as they are.
func explainOpen(path string, err error) error {
	switch sqliteCode(err) {
	case sqlitePerm, sqliteReadOnly, sqliteCantOpen:
	default:
		return err
	}
	if ferr := writable(path); ferr != nil && isUnwritable(ferr) {
		mode := ""
		if fi, err := os.Stat(path); err == nil {
			mode = fmt.Sprintf(", mode %04o", fi.Mode().Perm())
		}
		return fmt.Errorf("store: cannot write to the database %s: the file is not writable by this user (%s%s); make it writable (chmod 600 %s, as its owner) or point --db or RELINK_DB at another database",
			path, reason(ferr), mode, path)
	}
	dir := filepath.Dir(path)
	if derr := writable(dir); derr != nil && isUnwritable(derr) {
		return fmt.Errorf("store: cannot write to the database %s: its folder %s is not writable by this user (%s), and SQLite must create %s-wal and %s-shm beside the database; make the folder writable (chmod u+w %s) or move the database to a writable folder and point --db or RELINK_DB at it",
			path, dir, reason(derr), filepath.Base(path), filepath.Base(path), dir)
	}
	return err
}
