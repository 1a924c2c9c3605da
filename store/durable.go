package store

import (
	"fmt"
	"os"
	"sync"
)

// Durability is relink's, not SQLite's. The connections commit with
// synchronous=NORMAL: a COMMIT writes its pages to the WAL and returns
// without an fsync. Every write then waits for an fsync of the WAL that
// began after its COMMIT returned (the write's frames were in the file by
// then), so when a write returns it is on disk, as with synchronous=FULL;
// what NORMAL's page on sqlite.org calls the risk of NORMAL (the last
// transactions lost with the power) is closed by that wait. The difference
// is where the fsync runs: FULL runs it inside the COMMIT, holding the
// write lock for the disk's flush (~3 ms here, and every webhook of the
// next batch waits behind it); here the writer goes on with its next
// transaction while an fsync runs, and concurrent writers share one.
//
// Checkpoints stay safe under NORMAL: SQLite fsyncs the WAL before it
// copies pages into the database and fsyncs the database before the WAL is
// reused (https://www.sqlite.org/pragma.html#pragma_synchronous,
// https://www.sqlite.org/wal.html), so a page the WAL gives up is already
// on disk in the database.
type syncer struct {
	wal  string // the -wal file
	mu   sync.Mutex
	cond *sync.Cond
	// Commits are counted as they return; done is the count an fsync that
	// succeeded had seen when it began, so every commit up to done is on
	// disk.
	commits, done uint64
	busy          bool  // an fsync is running
	err           error // the first fsync that failed; see wait
	sync          func(path string) error
}

func newSyncer(dbPath string, fsync func(path string) error) *syncer {
	if fsync == nil {
		fsync = fsyncFile
	}
	y := &syncer{wal: dbPath + "-wal", sync: fsync}
	y.cond = sync.NewCond(&y.mu)
	return y
}

// committed counts a COMMIT that has returned and gives the number the
// caller passes to wait.
func (y *syncer) committed() uint64 {
	y.mu.Lock()
	defer y.mu.Unlock()
	y.commits++
	return y.commits
}

// wait returns once commit n is on disk: at once if an fsync that began
// after it has finished; else it waits for the running fsync and starts
// the next one itself if none covers n yet.
//
// A failed fsync fails every wait after it, for good: Linux may drop the
// pages a failed fsync could not write and report success the next time,
// so no later fsync proves an earlier commit is on disk.
func (y *syncer) wait(n uint64) error {
	y.mu.Lock()
	defer y.mu.Unlock()
	for y.done < n && y.err == nil {
		if y.busy {
			y.cond.Wait()
			continue
		}
		y.busy = true
		upto := y.commits
		y.mu.Unlock()
		err := y.sync(y.wal)
		y.mu.Lock()
		y.busy = false
		y.cond.Broadcast()
		if err != nil {
			y.err = fmt.Errorf("store: flushing the cache's write-ahead log to disk: %w; "+
				"writes since the last flush may be lost: restart relink, and check the disk", err)
			break
		}
		y.done = max(y.done, upto)
	}
	if y.done >= n {
		return nil
	}
	return y.err
}

// fsyncFile flushes path's data to the disk. The file is opened for each
// flush: a handle kept open could outlive the file if SQLite removed and
// made it again.
func fsyncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// failed is the error of the fsync that failed, nil while none has.
func (y *syncer) failed() error {
	y.mu.Lock()
	defer y.mu.Unlock()
	return y.err
}
