package remind

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// NewClaimant names this process in the outbox ("host/pid/nonce"), so a
// later run can tell whether the process that was sending a message is
// gone.
func NewClaimant() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "/" + strconv.Itoa(os.Getpid()) + "/" + hex.EncodeToString(b[:])
}

// ClaimantGone reports, for the process named self, whether the process
// named by id has certainly exited: it ran on this host and no process
// has its pid (or the pid is self's, reused). A process on another host,
// or an id that cannot be read, is never assumed gone: its claims wait for
// their lease to run out instead.
func ClaimantGone(self, id string) bool {
	if id == self {
		return false
	}
	parts := strings.Split(id, "/")
	if len(parts) != 3 {
		return false
	}
	host, _ := os.Hostname()
	pid, err := strconv.Atoi(parts[1])
	if parts[0] != host || err != nil || pid <= 0 {
		return false
	}
	if pid == os.Getpid() {
		return true // same pid, another nonce: a dead process whose pid we got
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return true
	}
	err = p.Signal(syscall.Signal(0))
	return err != nil && !errors.Is(err, syscall.EPERM)
}
