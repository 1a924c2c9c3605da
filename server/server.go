package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/store"
)

// PlaidVerifier checks a Plaid-Verification header against the raw body:
// *plaid.Verifier. Its errors wrap the plaid.Err… sentinels when the
// webhook is at fault; any other error (Plaid could not be asked for the
// key) is taken as ours, answered 503 so Plaid retries.
type PlaidVerifier = provider.WebhookVerifier

// Config is what a Server needs. Store is required; each provider's
// receiver is on when its verification is configured.
type Config struct {
	Store *store.Store
	// Backend rechecks connections after webhooks that ask for it; nil: none.
	Backend Checker
	// PlaidVerifier turns /webhooks/plaid on.
	PlaidVerifier PlaidVerifier
	// Belvo parses Belvo webhooks (it holds the configured login rules);
	// with BelvoAuthorization (belvo.webhook_authorization) it turns
	// /webhooks/belvo on.
	Belvo              provider.WebhookParser
	BelvoAuthorization string
	// CobaltSecret (cobalt.webhook_secret) turns /webhooks/cobalt and
	// /callbacks/cobalt on.
	CobaltSecret string
	// Reconnect, when set, serves the durable reconnect links on
	// GET /r/{ticket} (see Reconnect).
	Reconnect Redeemer
	// Returns, when set, serves the pages the providers' hosted update
	// pages send the user back to: GET /belvo/done/{ticket},
	// /belvo/exit/{ticket} and /cobalt/done/{ticket}?token=… (see
	// backend.LinkReturn); a finished Belvo widget is rechecked at once.
	Returns Returner
	// RecheckAfter are the delays after a durable link sent its user to the
	// provider's update page at which the connection is read again with
	// Backend (serve.recheck_after; see rechecker). nil means
	// DefaultRecheckAfter; an empty list, none.
	RecheckAfter []time.Duration
	// AfterFunc is the clock those rechecks wait on; nil means time.AfterFunc.
	AfterFunc AfterFunc
	// Logger gets one line per request; nil means slog.Default().
	Logger *slog.Logger
	// MaxBody is the largest body accepted, in bytes; 0 means 1 MiB.
	MaxBody int64
	// Now is the clock for received-at times; nil means time.Now.
	Now func() time.Time
	// Timeouts tune the HTTP server; zero fields get the defaults.
	Timeouts Timeouts
	// OnStored, when set, is called after each group-commit transaction
	// that stored webhooks, from the writer's goroutine: it must not block
	// (relink serve's tells every open dashboard to re-read).
	OnStored func()
}

// Timeouts bound what slow clients and slow stores can hold up.
type Timeouts struct {
	ReadHeader time.Duration // default 5 s
	Read       time.Duration // the whole request, body included; default 10 s
	Write      time.Duration // from the end of the headers to the end of the answer; default 20 s
	Idle       time.Duration // a kept-alive connection between requests; default 60 s
	Shutdown   time.Duration // how long Serve waits for requests in flight; default 30 s
	Store      time.Duration // one group-commit transaction; default 10 s
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.ReadHeader, 5*time.Second)
	def(&t.Read, 10*time.Second)
	def(&t.Write, 20*time.Second)
	def(&t.Idle, 60*time.Second)
	def(&t.Shutdown, 30*time.Second)
	def(&t.Store, 10*time.Second)
	return t
}

// Tuning of the writer and the rechecks.
const (
	DefaultMaxBody   = 1 << 20
	maxBatch         = 256 // observations per group-commit transaction
	batchLinger      = 300 * time.Microsecond
	recheckWorkers   = 4
	recheckQueue     = 1024
	recheckTimeout   = 30 * time.Second
	recheckGrace     = 5 * time.Second // at shutdown
	healthzTimeout   = 2 * time.Second
	maxHeaderBytes   = 64 << 10
	maxReasonLength  = 300
	maxLoggedIDBytes = 128
)

// Server receives webhooks. Its writer runs from New until Close (Serve
// closes it when it returns).
type Server struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	maxBody  int64
	timeouts Timeouts
	mux      *http.ServeMux
	m        *metrics
	w        *writer
	re       *rechecker
	eps      []*endpoint // plaid, belvo, cobalt
	probe    *writeProbe

	closeOnce sync.Once
}

// New checks cfg and starts the writer.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: no store given")
	}
	if cfg.MaxBody < 0 {
		return nil, fmt.Errorf("server: MaxBody %d is negative", cfg.MaxBody)
	}
	for i, d := range cfg.RecheckAfter {
		if d <= 0 || (i > 0 && d <= cfg.RecheckAfter[i-1]) {
			return nil, fmt.Errorf("server: RecheckAfter %v: each delay must be positive and later than the one before", cfg.RecheckAfter)
		}
	}
	s := &Server{cfg: cfg, log: cfg.Logger, now: cfg.Now, maxBody: cfg.MaxBody,
		timeouts: cfg.Timeouts.withDefaults(), m: newMetrics()}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxBody == 0 {
		s.maxBody = DefaultMaxBody
	}
	s.w = newWriter(cfg.Store, maxBatch, batchLinger, s.timeouts.Store, s.log, s.m)
	s.w.onStored = cfg.OnStored
	s.re = newRechecker(cfg.Backend, recheckWorkers, recheckQueue, recheckTimeout, s.log, s.m)
	s.re.delays = cfg.RecheckAfter
	if s.re.delays == nil {
		s.re.delays = DefaultRecheckAfter
	}
	if cfg.AfterFunc != nil {
		s.re.after = cfg.AfterFunc
	}
	s.re.settled = s.settled
	s.m.queueDepth = func() int { return len(s.w.in) }
	s.m.recheckDepth = s.re.depth
	s.m.recheckScheduled = s.re.scheduled
	s.eps = []*endpoint{s.plaidEndpoint(), s.belvoEndpoint(), s.cobaltEndpoint()}
	s.probe = &writeProbe{path: cfg.Store.Path(), every: healthzWriteEvery}
	s.mux = s.routes()
	go s.w.run()
	return s, nil
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	for _, ep := range s.eps {
		mux.Handle("POST /webhooks/"+ep.route.provider(), s.webhook(ep))
	}
	mux.HandleFunc("POST /callbacks/cobalt", s.cobaltLinkResult)
	if s.cfg.Reconnect != nil {
		mux.Handle("/r/", reconnect(s.cfg.Reconnect, s.log, s.re.schedule))
	}
	if s.cfg.Returns != nil {
		for _, r := range returnRoutes {
			mux.HandleFunc("GET /"+r.prov+"/"+r.page+"/{ticket}", s.linkReturn(r.prov, r.page))
		}
	}
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", s.m)
	return mux
}

// settled reports whether the connection ref is healthy with no warning in
// the cache: its rechecks after a click have nothing left to find.
func (s *Server) settled(ref string) bool {
	prov, id, ok := strings.Cut(ref, ":")
	if !ok {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), healthzTimeout)
	defer cancel()
	c, err := s.cfg.Store.Connection(ctx, prov, id)
	return err == nil && c.Health.Category == health.Healthy && c.Health.Warning == health.NoWarning
}

// Enabled lists the providers whose webhooks this server receives, and for
// each one that is off, why.
func (s *Server) Enabled() (on []string, off map[string]string) {
	off = map[string]string{}
	for _, ep := range s.eps {
		if ep.off != "" {
			off[ep.route.provider()] = ep.off
			continue
		}
		on = append(on, ep.route.provider())
	}
	return on, off
}

// Handler is the server's routes, for use without Serve (then call Close).
func (s *Server) Handler() http.Handler { return s.mux }

// Serve answers on ln until ctx ends, then stops taking connections, lets
// the requests in flight finish (up to Timeouts.Shutdown), stores what is
// queued and closes the Server.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: s.timeouts.ReadHeader,
		ReadTimeout:       s.timeouts.Read,
		WriteTimeout:      s.timeouts.Write,
		IdleTimeout:       s.timeouts.Idle,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// Requests in flight must outlive ctx: they finish during shutdown.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		s.Close()
		return fmt.Errorf("server: serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.timeouts.Shutdown)
	defer cancel()
	var shutErr error
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		shutErr = fmt.Errorf("server: waiting for requests in flight: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && shutErr == nil {
		shutErr = fmt.Errorf("server: serving on %s: %w", ln.Addr(), err)
	}
	s.Close()
	return shutErr
}

// Close stores what is queued, stops the writer and the rechecks (giving
// running ones a few seconds). Requests after Close get 503.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.w.close()
		s.re.close(recheckGrace)
		s.probe.close()
	})
	return nil
}

// healthz answers 200 when the database answers, its disk has not failed
// a flush of the store's, and it takes a write (the write is checked at
// most once per healthzWriteEvery; see writeProbe).
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.w.stop:
		plain(w, http.StatusServiceUnavailable, "shutting down")
		return
	default:
	}
	ctx, cancel := context.WithTimeout(r.Context(), healthzTimeout)
	defer cancel()
	if _, err := s.cfg.Store.SchemaVersion(ctx); err != nil {
		s.log.Error("health check: the database does not answer", "error", err)
		plain(w, http.StatusServiceUnavailable, "database unreachable: "+printable(err.Error(), maxReasonLength))
		return
	}
	if err := s.cfg.Store.FlushError(); err != nil {
		// The probe's own connection may still write; the store's do not.
		s.log.Error("health check: the database's disk failed a flush; webhooks cannot be stored", "error", err)
		plain(w, http.StatusServiceUnavailable, "database cannot write: "+printable(err.Error(), maxReasonLength))
		return
	}
	if err := s.probe.check(time.Now()); err != nil {
		s.log.Error("health check: the database does not take a write; webhooks cannot be stored", "error", err)
		plain(w, http.StatusServiceUnavailable, "database cannot write: "+printable(err.Error(), maxReasonLength))
		return
	}
	plain(w, http.StatusOK, "ok")
}

// healthzWriteEvery is how often /healthz checks that the database takes a
// write; polls in between get the last answer.
const healthzWriteEvery = 10 * time.Second

// writeProbe checks that the store's database takes a write: a committed
// transaction that sets PRAGMA user_version to the value it has. That
// writes page 1 through the WAL and syncs it, so it needs what a
// webhook's commit needs (a writable file, room on the disk, the write
// lock) and changes nothing anyone reads. It has a connection of its own,
// opened at the first check, so it answers even while the store's pool is
// busy. A check runs at most once per every: polling /healthz cannot load
// the database, and concurrent polls wait for the check in progress.
type writeProbe struct {
	path  string
	every time.Duration

	mu      sync.Mutex // held during a check
	db      *sql.DB
	closed  bool
	checked bool
	at      time.Time
	err     error
	writes  int // checks run
}

// check returns the result of the last check, running one first if none
// ran within every of now.
func (p *writeProbe) check(now time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errClosing
	}
	if p.checked && now.Sub(p.at) < p.every && now.Sub(p.at) >= 0 {
		return p.err
	}
	// Not the request's context: a poller hanging up must not leave a
	// cancelled check as the answer for the next ones.
	ctx, cancel := context.WithTimeout(context.Background(), healthzTimeout)
	defer cancel()
	p.err, p.at, p.checked = p.write(ctx), now, true
	p.writes++
	return p.err
}

func (p *writeProbe) write(ctx context.Context) error {
	if p.db == nil {
		// mode=rw: never create a database where the store's has gone.
		// The busy timeout is under healthzTimeout so a held write lock
		// is reported as such.
		q := url.Values{}
		q.Set("mode", "rw")
		q.Add("_pragma", "busy_timeout(1000)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Set("_txlock", "immediate")
		db, err := sql.Open("sqlite", "file:"+p.path+"?"+q.Encode())
		if err != nil {
			return err
		}
		db.SetMaxOpenConns(1)
		p.db = db
	}
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(v)); err != nil {
		return err
	}
	return tx.Commit()
}

func (p *writeProbe) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.db != nil {
		p.db.Close()
		p.db = nil
	}
}
