package store

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/vault"
)

// heldDisk is a disk whose flushes the test lets finish one at a time.
type heldDisk struct {
	mu      sync.Mutex
	paths   []string      // every file flushed, in order
	started chan struct{} // a flush began
	release chan error    // what the flush that waits returns
}

func newHeldDisk() *heldDisk {
	return &heldDisk{started: make(chan struct{}, 16), release: make(chan error)}
}

func (d *heldDisk) fsync(path string) error {
	d.mu.Lock()
	d.paths = append(d.paths, path)
	d.mu.Unlock()
	d.started <- struct{}{}
	return <-d.release
}

func (d *heldDisk) flushes() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.paths)
}

func openHeld(t *testing.T) (*Store, *heldDisk) {
	t.Helper()
	key, _, err := vault.Generate()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "relink.db")
	// Open migrates (each migration waits for the disk): the held disk is
	// put in place after.
	s, err := Open(context.Background(), path, Options{Sealer: key, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	d := newHeldDisk()
	s.dur.sync = d.fsync
	return s, d
}

func TestAWriteReturnsOnlyOnceTheWALIsFlushed(t *testing.T) {
	s, d := openHeld(t)
	done := make(chan error, 1)
	go func() {
		done <- s.Note(context.Background(), 0, "note", "a note")
	}()
	<-d.started
	select {
	case err := <-done:
		t.Fatalf("the write returned (%v) while its flush had not finished", err)
	default:
	}
	d.release <- nil
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d.paths[0] != s.path+"-wal" {
		t.Fatalf("flushed %q, want the WAL %q", d.paths[0], s.path+"-wal")
	}
}

func TestApplyUnflushedIsSeenAtOnceAndOnDiskOnceFlushedReturns(t *testing.T) {
	s, d := openHeld(t)
	go func() {
		for range d.started { // the import's flush
			d.release <- nil
			return
		}
	}()
	importRows(t, s, Registration{Provider: "cobalt", ProviderID: "ref_1", Name: "Ada"})

	obs := []Observation{{Provider: "cobalt", ProviderID: "ref_1", EventID: "evt_1", Kind: "webhook",
		Signal: health.Signal{Effect: health.SetPrimary, Category: health.LoginRequired, Source: health.SourceWebhook}}}
	out, flushed, err := s.ApplyUnflushed(context.Background(), obs)
	if err != nil {
		t.Fatal(err)
	}
	if n := d.flushes(); n != 1 {
		t.Fatalf("%d flushes before flushed was called, want only the import's", n)
	}
	c, err := s.Connection(context.Background(), "cobalt", "ref_1")
	if err != nil || c.Health.Category != health.LoginRequired || out[0].Health.Category != health.LoginRequired {
		t.Fatalf("not seen at once: %+v, %v", c.Health, err)
	}
	returned := make(chan error, 1)
	go func() { returned <- flushed() }()
	<-d.started
	select {
	case err := <-returned:
		t.Fatalf("flushed returned (%v) before the disk did", err)
	default:
	}
	d.release <- nil
	if err := <-returned; err != nil {
		t.Fatal(err)
	}
}

// A commit made while a flush runs is not covered by it: that flush may
// have started before the commit's pages were written.
func TestACommitDuringAFlushWaitsForTheNextOne(t *testing.T) {
	s, d := openHeld(t)
	y := s.dur
	first := y.committed()
	firstDone := make(chan error, 1)
	go func() { firstDone <- y.wait(first) }()
	<-d.started // the first flush runs, for commit 1

	second := y.committed()
	secondDone := make(chan error, 1)
	go func() { secondDone <- y.wait(second) }()
	d.release <- nil
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.started: // commit 2 has a flush of its own
	case err := <-secondDone:
		t.Fatalf("commit 2 returned (%v) on a flush that began before it", err)
	}
	d.release <- nil
	if err := <-secondDone; err != nil {
		t.Fatal(err)
	}
	if n := d.flushes(); n != 2 {
		t.Fatalf("%d flushes, want 2", n)
	}
}

// Writers that commit while one flush runs share the next flush.
func TestWritersWaitingTogetherShareOneFlush(t *testing.T) {
	s, d := openHeld(t)
	y := s.dur
	first := y.committed()
	firstDone := make(chan error, 1)
	go func() { firstDone <- y.wait(first) }()
	<-d.started

	const waiting = 5
	var wg sync.WaitGroup
	for range waiting {
		n := y.committed()
		wg.Go(func() {
			if err := y.wait(n); err != nil {
				t.Error(err)
			}
		})
	}
	d.release <- nil
	<-firstDone
	<-d.started
	d.release <- nil
	wg.Wait()
	if n := d.flushes(); n != 2 {
		t.Fatalf("%d flushes for 1+%d commits, want 2", n, waiting)
	}
}

// After a failed flush no write is called durable again: Linux may have
// dropped the pages it could not write and report the next flush as done.
func TestAFailedFlushFailsEveryWriteAfterIt(t *testing.T) {
	s, d := openHeld(t)
	done := make(chan error, 1)
	go func() { done <- s.Note(context.Background(), 0, "note", "a note") }()
	<-d.started
	d.release <- errors.New("input/output error")
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "input/output error") || !strings.Contains(err.Error(), "restart relink") {
		t.Fatalf("the write after a failed flush: %v", err)
	}
	go func() { done <- s.Note(context.Background(), 0, "note", "another") }()
	if err := <-done; err == nil {
		t.Fatal("a write after a failed flush was called durable")
	}
	if n := d.flushes(); n != 1 {
		t.Fatalf("%d flushes: a later one was tried and believed", n)
	}
}

func TestTheRealFlushSyncsTheWAL(t *testing.T) {
	s := openTest(t)
	if err := s.Note(context.Background(), 0, "note", "a note"); err != nil {
		t.Fatal(err)
	}
	if err := fsyncFile(s.path + "-wal"); err != nil {
		t.Fatal(err)
	}
	var mode int
	if err := s.db.QueryRow("PRAGMA synchronous").Scan(&mode); err != nil || mode != 1 {
		t.Fatalf("synchronous = %d (%v), want NORMAL (1): relink flushes the WAL itself", mode, err)
	}
}
