//go:build unix

package store

import (
	"io/fs"
	"syscall"
)

// writable reports, without opening it (closing any descriptor of a
// database drops the POSIX locks SQLite holds on it in this process),
// whether this user may write the file or folder at p: nil, or why not.
func writable(p string) error {
	const wOK = 2 // W_OK
	if err := syscall.Access(p, wOK); err != nil {
		return &fs.PathError{Op: "access", Path: p, Err: err}
	}
	return nil
}
