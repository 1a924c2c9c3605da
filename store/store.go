// Package store owns relink's SQLite cache (modernc.org/sqlite, pure Go):
// the schema and its embedded migrations, the registry of connections with
// their health, each connection's event history, minted links, the reminder
// outbox, the audit log and per-provider sync state, and every query the
// dashboard and the commands run. Every query is served by an index; none
// loads the whole table. Access tokens are sealed before they are written.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// Sealer encrypts and decrypts access tokens at rest. aad binds a sealed
// token to its connection ("provider:provider_id").
type Sealer interface {
	Seal(plaintext []byte, aad string) ([]byte, error)
	Open(sealed []byte, aad string) ([]byte, error)
}

// Store is an open cache.
type Store struct {
	db     *sql.DB
	path   string
	sealer Sealer
	now    func() time.Time
	ckpt   *checkpointer
	dur    *syncer   // the fsync every write waits for (durable.go)
	stmts  stmtCache // Apply's prepared statements
	// directOffset is the deepest offset at which a merge of the
	// all-failing group's pages reads whole rows (allfailing.go): the
	// constant directOffset; tests lower it to read pages by id.
	directOffset int
}

// Options tune Open.
type Options struct {
	// Sealer seals access tokens. Without one, writing or reading a token
	// is an error (never a plaintext fallback).
	Sealer Sealer
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Fsync flushes a file (the cache's WAL) to the disk; every write waits
	// for it (durable.go). When nil, the file is opened and (*os.File).Sync
	// called. Tests hold it to see what waits for the disk.
	Fsync func(path string) error
}

// Open opens (creating if needed) the cache at path and brings its schema up
// to date. The database and its -wal and -shm are private (mode 600): a new
// one is created so, an existing one others can read is tightened (see
// privateFile). A database or folder this user cannot write is reported as
// such, with what to do.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: no database path given (use --db or RELINK_DB)")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: creating the folder %s for the database: %w; create it, or point --db or RELINK_DB elsewhere", dir, err)
		}
	}
	if err := privateFile(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(0)
	s := &Store{db: db, path: path, sealer: opts.Sealer, now: opts.Now, dur: newSyncer(path, opts.Fsync), directOffset: directOffset}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, explainOpen(path, err)
	}
	for _, sfx := range sidecars {
		// SQLite gives them the database's mode; one left by another
		// program may differ.
		if err := tighten(path + sfx); err != nil {
			db.Close()
			return nil, err
		}
	}
	cdb, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: opening %s for checkpoints: %w", path, err)
	}
	cdb.SetMaxOpenConns(1)
	s.ckpt = startCheckpointer(cdb, restartPages, checkpointEvery)
	return s, nil
}

// checkpointEvery is the least time between two checkpoints: a busy writer
// leaves them a few transactions' pages each, not one's.
const checkpointEvery = 50 * time.Millisecond

// dsn is the connection string of every connection to the cache.
func dsn(path string) string {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)",
		"temp_store(MEMORY)", "cache_size(-65536)", fmt.Sprintf("wal_autocheckpoint(%d)", autoPages)} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// Close stops the checkpoints and closes the database.
func (s *Store) Close() error {
	err := s.ckpt.close()
	s.stmts.close()
	if cerr := s.db.Close(); cerr != nil {
		return cerr
	}
	return err
}

// FlushError is the error of the fsync of the WAL that failed, after which
// every write fails (see durable.go); nil while none has.
func (s *Store) FlushError() error { return s.dur.failed() }

// Path is the database file.
func (s *Store) Path() string { return s.path }

// SchemaVersion is the version of the newest migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

type migration struct {
	version int
	name    string
}

// goSteps are migrations with work SQL alone cannot do, run after their
// file's SQL in the same transaction. Each must be idempotent.
var goSteps = map[int]func(context.Context, *sql.Tx) error{
	5:  redactTokensAtRest,  // 0005_tokens_at_rest.sql
	10: fillInstitutionKeys, // 0010_institution_order.sql
}

func listMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("store: migration %q is not named NNNN_name.sql", e.Name())
		}
		ms = append(ms, migration{v, e.Name()})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrate applies, each in its own transaction, every migration newer than
// the database's user_version.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := listMigrations()
	if err != nil {
		return err
	}
	cur, err := s.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("store: reading schema version of %s: %w (is it a relink database?)", s.path, err)
	}
	rewrote := false
	if latest := ms[len(ms)-1].version; cur > latest {
		return fmt.Errorf("store: %s has schema version %d, newer than this relink knows (%d); upgrade relink", s.path, cur, latest)
	}
	for _, m := range ms {
		if m.version <= cur {
			continue
		}
		body, err := migrations.ReadFile("migrations/" + m.name)
		if err != nil {
			return err
		}
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store: migrating to %d: %w", m.version, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: applying migration %s: %w", m.name, err)
		}
		if step := goSteps[m.version]; step != nil {
			if err := step(ctx, tx); err != nil {
				tx.Rollback()
				return fmt.Errorf("store: applying migration %s: %w", m.name, err)
			}
			rewrote = true
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: recording migration %s: %w", m.name, err)
		}
		n, err := s.commit(tx)
		if err != nil {
			return fmt.Errorf("store: committing migration %s: %w", m.name, err)
		}
		if err := s.dur.wait(n); err != nil {
			return err
		}
	}
	if rewrote {
		// The WAL may still hold page images from before the rewrite: copy
		// the pages back and empty it. Best effort: a reader elsewhere may
		// keep it from completing now; SQLite checkpoints again later.
		s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	}
	return nil
}

// ms converts a time to the stored Unix milliseconds; nil stays NULL.
func ms(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func msv(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := time.UnixMilli(v.Int64).UTC()
	return &t
}

func (s *Store) inTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	n, err := s.inTxUnflushed(ctx, what, fn)
	if err != nil {
		return err
	}
	return s.dur.wait(n)
}

// inTxUnflushed is inTx returning once committed, with the commit's number
// for s.dur.wait.
func (s *Store) inTxUnflushed(ctx context.Context, what string, fn func(tx *sql.Tx) error) (uint64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: %s: %w", what, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return 0, err
	}
	n, err := s.commit(tx)
	if err != nil {
		return 0, fmt.Errorf("store: %s: committing: %w", what, err)
	}
	return n, nil
}

// commit commits tx and returns its number for s.dur.wait: the commit is
// visible to readers, and on disk once the wait returns.
func (s *Store) commit(tx *sql.Tx) (uint64, error) {
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	n := s.dur.committed()
	s.ckpt.written()
	return n, nil
}

// exec runs one writing statement on its own and returns once it is on
// disk.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return res, s.dur.wait(s.dur.committed())
}
