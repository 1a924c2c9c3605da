package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Checkpoints run beside the writer, not on its path. SQLite's own
// automatic checkpoint runs inside the COMMIT that takes the WAL past
// wal_autocheckpoint pages: that commit copies every page back to the
// database and fsyncs it (tens of milliseconds at 1,000,000 connections)
// while every webhook of the batch waits for its 200. Here a goroutine on
// its own connection copies the pages after each written transaction
// (PASSIVE: it never blocks the writer nor the readers) and, once the WAL
// holds restartPages, takes the writer lock for the few pages left
// (RESTART) so the next transaction writes the WAL from its start again
// instead of growing it. autoPages stays as SQLite's fallback, far above
// restartPages, for when this goroutine cannot keep up.
//
// A RESTART blocks the writer while it waits for the readers still on the
// WAL and while it fsyncs the database: rare, not every quarter second.
// Mostly the WAL starts again by itself: once a PASSIVE checkpoint has
// copied all of it and no reader is on it, the next transaction writes it
// from the start. With restartPages at 16 MiB, a flood of new failures
// at 1,000,000 connections (~6 pages each) reached it several times a
// second and, with 50 sessions reading, got ~3,000 events/s; at 128 MiB
// ~3,600 (BENCHMARKS.md). The file keeps the size it grew to.
const (
	autoPages    = 65536 // wal_autocheckpoint: 256 MiB of 4 KiB pages
	restartPages = 32768 // 128 MiB
)

// checkpointer is the goroutine and its connection.
type checkpointer struct {
	db       *sql.DB // one connection of its own
	wrote    chan struct{}
	stop     chan struct{}
	done     chan struct{}
	restart  int           // WAL pages after which it restarts the WAL
	interval time.Duration // at least this long between checkpoints
	once     sync.Once
	runs     atomic.Int64 // checkpoints done, for tests
}

func startCheckpointer(db *sql.DB, restart int, interval time.Duration) *checkpointer {
	c := &checkpointer{db: db, wrote: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		restart: restart, interval: interval}
	go c.run()
	return c
}

// written tells the checkpointer a transaction committed; it never blocks.
func (c *checkpointer) written() {
	if c == nil { // while Open migrates
		return
	}
	select {
	case c.wrote <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	for {
		select {
		case <-c.wrote:
		case <-c.stop:
			return
		}
		// Errors are not fatal: the next write tries again, and SQLite's
		// automatic checkpoint remains.
		_, _, _ = c.checkpoint(context.Background())
		c.runs.Add(1)
		if c.interval > 0 {
			t := time.NewTimer(c.interval)
			select {
			case <-t.C:
			case <-c.stop:
				t.Stop()
				return
			}
		}
	}
}

// checkpoint copies the WAL's pages into the database and, when the WAL
// has grown to restart pages, restarts it. It returns the WAL's size in
// pages and how many of them are in the database now.
func (c *checkpointer) checkpoint(ctx context.Context) (log, done int, err error) {
	var busy int
	if err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &done); err != nil {
		return 0, 0, fmt.Errorf("store: checkpointing the WAL: %w", err)
	}
	if log >= c.restart {
		if err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &log, &done); err != nil {
			return 0, 0, fmt.Errorf("store: restarting the WAL: %w", err)
		}
	}
	return log, done, nil
}

func (c *checkpointer) close() error {
	c.once.Do(func() { close(c.stop) })
	<-c.done
	return c.db.Close()
}
