package server

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The disk fills up: no file of the database can take another page
// (RLIMIT_FSIZE at one page; Go ignores SIGXFSZ, so writes fail with
// EFBIG). Webhooks get 503, and so does /healthz, saying why. The limit is
// a page, not the WAL's size: once the checkpointer has copied the whole
// WAL into the database, the next write starts the WAL again from its
// beginning and a one-page write fits in what the file already has.
// (On a real full disk such a write succeeds too, and /healthz says ok
// while a batch that needs new blocks fails.)
func TestHealthzWhenTheDiskIsFull(t *testing.T) {
	e := newEnv(t)
	e.addCobalt("clinic_1")
	if status, answer := e.get("/healthz"); status != 200 {
		t.Fatalf("%d %q", status, answer)
	}
	ageProbe(e.srv)
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	full := old
	full.Cur = 4096
	// Keep the window short: every file this process writes is limited.
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &full); err != nil {
		t.Skipf("cannot limit the file size: %v", err)
	}
	b := cobaltBody(t, "evt_full", "clinic_1", "access_token.login_required", time.Now(), loginRequired("clinic_1"))
	hookStatus, hookAnswer := e.post("/webhooks/cobalt", b, e.cobaltHeader(b))
	status, answer := e.get("/healthz")
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	t.Logf("webhook %d %q; /healthz %d %q", hookStatus, hookAnswer, status, answer)
	if hookStatus != http.StatusServiceUnavailable {
		t.Fatalf("the webhook was stored on a full disk: %d", hookStatus)
	}
	checkRefusal(t, status, answer, http.StatusServiceUnavailable)
	if !strings.HasPrefix(answer, "database cannot write: ") {
		t.Errorf("answer %q", answer)
	}
	ageProbe(e.srv)
	if status, answer := e.get("/healthz"); status != 200 {
		t.Errorf("with room again: %d %q", status, answer)
	}
}
