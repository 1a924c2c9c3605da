package server

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relink/relink/health"
)

// A webhook's 200 means it is on disk: the writer answers a batch only
// once the store's flush of it returned, and stores the next batch while
// the disk flushes the last one.
func TestAWebhookIsAnsweredOnlyOnceItsBatchIsOnDisk(t *testing.T) {
	var hold atomic.Bool
	flushing := make(chan struct{}, 16)
	release := make(chan struct{})
	e := newEnvFsync(t, listen(t), func(string) error {
		if hold.Load() {
			flushing <- struct{}{}
			<-release
		}
		return nil
	})
	e.addCobalt("ref_1")
	e.addCobalt("ref_2")
	defer func() { hold.Store(false); close(release) }()

	answered := make(chan string, 2)
	send := func(id, ref string) {
		body := cobaltBody(t, id, ref, "access_token.login_required", time.Now(), loginRequired(ref))
		req, _ := http.NewRequest(http.MethodPost, e.base+"/webhooks/cobalt", bytes.NewReader(body))
		req.Header = e.cobaltHeader(body)
		resp, err := e.client.Do(req)
		if err != nil {
			answered <- fmt.Sprintf("%s: %v", id, err)
			return
		}
		resp.Body.Close()
		answered <- fmt.Sprintf("%s: %d", id, resp.StatusCode)
	}
	hold.Store(true)
	go send("evt_1", "ref_1")
	<-flushing // evt_1 is committed; its flush is held
	if got := e.category("cobalt", "ref_1"); got != health.LoginRequired {
		t.Fatalf("ref_1 is %q while its flush is held, want it stored (login_required)", got)
	}
	select {
	case a := <-answered:
		t.Fatalf("answered (%s) before its batch was on disk", a)
	default:
	}

	go send("evt_2", "ref_2")
	e.eventually("evt_2 stored while evt_1's flush is held", func() bool {
		return e.category("cobalt", "ref_2") == health.LoginRequired
	})
	release <- struct{}{} // evt_1's flush returns
	if a := <-answered; a != "evt_1: 200" {
		t.Fatalf("first answer %q, want evt_1: 200", a)
	}
	<-flushing // evt_2's batch needs a flush of its own: it was committed after the first began
	select {
	case a := <-answered:
		t.Fatalf("answered (%s) before its batch was on disk", a)
	default:
	}
	release <- struct{}{}
	if a := <-answered; a != "evt_2: 200" {
		t.Fatalf("second answer %q, want evt_2: 200", a)
	}
}

// When the disk fails a flush, every later webhook is refused, and
// /healthz says so (its own probe's write could still succeed).
func TestAFailedFlushRefusesWebhooksAndHealthzSaysSo(t *testing.T) {
	var failing atomic.Bool
	e := newEnvFsync(t, listen(t), func(string) error {
		if failing.Load() {
			return errors.New("input/output error")
		}
		return nil
	})
	e.addCobalt("ref_1")
	failing.Store(true)
	for _, id := range []string{"evt_1", "evt_2"} {
		body := cobaltBody(t, id, "ref_1", "access_token.login_required", time.Now(), loginRequired("ref_1"))
		if status, answer := e.post("/webhooks/cobalt", body, e.cobaltHeader(body)); status != http.StatusServiceUnavailable {
			t.Fatalf("%s after a failed flush: %d %q, want 503", id, status, answer)
		}
	}
	status, answer := e.get("/healthz")
	checkRefusal(t, status, answer, http.StatusServiceUnavailable)
	if !strings.Contains(answer, "database cannot write") || !strings.Contains(answer, "input/output error") {
		t.Fatalf("/healthz %q, want it to name the failed flush", answer)
	}
}
