//go:build !unix

package store

import (
	"io/fs"
	"os"
	"syscall"
)

// writable reports whether this user may write the file or folder at p:
// nil, or why not. Without access(2), a file's read-only attribute is all
// there is to check, and a folder is tried with a file created and removed.
func writable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		if fi.Mode().Perm()&0o200 == 0 {
			return &fs.PathError{Op: "access", Path: p, Err: syscall.EACCES}
		}
		return nil
	}
	f, err := os.CreateTemp(p, ".relink-write-check-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}
