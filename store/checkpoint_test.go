package store

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/relink/relink/health"
)

// A stored transaction is copied into the database by the checkpointer,
// not by the commit: the writer's connections leave the WAL to it until
// it is far bigger than the checkpointer lets it grow.
func TestCommitsLeaveCheckpointsToTheCheckpointer(t *testing.T) {
	s := openTest(t)
	var auto int
	if err := s.db.QueryRow("PRAGMA wal_autocheckpoint").Scan(&auto); err != nil {
		t.Fatal(err)
	}
	if auto != autoPages || auto <= restartPages {
		t.Fatalf("wal_autocheckpoint = %d, want %d (above the checkpointer's %d)", auto, autoPages, restartPages)
	}
	importRows(t, s, Registration{Provider: "plaid", ProviderID: "item-1", Name: "Ana"})
	before := s.ckpt.runs.Load()
	mustApply(t, s, obs("plaid", "item-1", health.LoginRequired, 1, "webhook"))
	for s.ckpt.runs.Load() == before {
		// polls until the checkpointer ran after the commit
		runtime.Gosched()
	}
}

// A checkpoint copies every page of a big WAL into the database, and the
// next transaction writes the WAL from its start: it does not grow.
func TestCheckpointEmptiesABigWAL(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	var regs []Registration
	for i := range 2000 {
		regs = append(regs, Registration{Provider: "plaid", ProviderID: fmt.Sprintf("item-%04d", i), Name: fmt.Sprintf("Person %d", i)})
	}
	importRows(t, s, regs...)
	c := &checkpointer{db: s.ckpt.db, restart: 8}
	log, done, err := c.checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if log < 8 || done != log {
		t.Fatalf("after a big import: WAL of %d pages, %d in the database; want all of at least 8", log, done)
	}
	mustApply(t, s, obs("plaid", "item-0001", health.LoginRequired, 1, "webhook"))
	small := &checkpointer{db: s.ckpt.db, restart: 1 << 30}
	if log2, _, err := small.checkpoint(ctx); err != nil || log2 >= log {
		t.Fatalf("after the restart one transaction left a WAL of %d pages (was %d): %v", log2, log, err)
	}
}
