// Package sshd serves relink's dashboard over SSH: the front door of
// relink serve for a support team ([ssh] and [[people]] in the config; see
// "A team on one hub" in DESIGN.md).
//
// It is built the way soft-serve serves its TUI: charm.land/wish/v2 with
// its Bubble Tea middleware, one tea.Program per session on the session's
// own input and output (an emulated pty), sized by the caller's pty and
// resized by its window changes, coloured for the caller's terminal
// (TERM from the pty request, COLORTERM and NO_COLOR from the session's
// environment) and reading the caller's background, so each session has
// its own palette. Every session shares the hub's one store and backend,
// and the reads they all make alike (ui.SharedReads: counts, insights,
// freshness), made once for all and made again on Notify; each acts as its person (backend.As) and carries its key's fingerprint
// to the audit log (store.WithSSHKey). A copy travels to the caller's own
// clipboard by OSC 52 over the session's output.
//
// People are known by their public keys alone: the SSH user name is
// ignored, and there is no password or keyboard-interactive
// authentication. An unknown key is refused during authentication, before
// any screen is drawn, and its fingerprint is logged so that an admin can
// add it. SetPeople swaps the people (relink serve calls it on SIGHUP):
// sessions of people who remain, with the same role, go on; the others end
// with a one-line notice.
package sshd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	bm "charm.land/wish/v2/bubbletea"
	gossh "golang.org/x/crypto/ssh"

	"github.com/relink/relink/store"
	"github.com/relink/relink/ui"
)

// Person is one of [[people]]: a name, a role and the keys they log in with.
type Person struct {
	Name string
	Role ui.Role
	Keys []gossh.PublicKey
}

// Options configure the server. HostKeyFile and Dashboard are required.
type Options struct {
	HostKeyFile string        // created on first start: ed25519, mode 600
	IdleTimeout time.Duration // a session with no input for this long ends; 0: never
	MaxSessions int           // sessions at once; default 64
	People      []Person
	BulkLimit   int // reminders.agent_bulk_limit, for agents' sessions
	Logger      *slog.Logger
	// NoticeEvery is the most often the sessions are told the cache
	// changed (Notify); a change within it is told at its end. Default
	// 500 ms: a change shows on every screen within the second (half of
	// it at most waiting for the notice, then a re-read and a frame), and
	// a flood of webhooks costs each session two re-reads and frames a
	// second, not one per stored batch: with 50 sessions, every frame not
	// drawn is CPU the webhooks' writer gets (BENCHMARKS.md).
	NoticeEvery time.Duration

	// Dashboard returns the options of one person's dashboard: the hub's
	// store, a backend and reminders that act as p (backend.As), keys and
	// theme. The server sets what belongs to the session: Role,
	// BulkLimit, Remote, Operator and Context.
	Dashboard func(p Person) ui.Options
}

// Server is the dashboard over SSH.
type Server struct {
	opts Options
	log  *slog.Logger
	srv  *ssh.Server
	host gossh.Signer

	mu        sync.Mutex
	people    map[string]Person // by the key's wire form
	bulkLimit int
	sessions  map[*session]struct{}
	closing   bool
	shared    *ui.SharedReads             // the sessions' shared reads of the hub's store, made with the first session
	noticeAt  time.Time                   // when the sessions were last told of a change
	noticeDue bool                        // a notice is due at the end of NoticeEvery
	after     func(time.Duration, func()) // time.AfterFunc; tests run what is due themselves
}

// DefaultNoticeEvery is Options.NoticeEvery's default.
const DefaultNoticeEvery = 500 * time.Millisecond

// New loads (or creates) the host key and builds the server.
func New(o Options) (*Server, error) {
	if o.Dashboard == nil {
		return nil, errors.New("sshd: no Dashboard")
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = 64
	}
	if o.NoticeEvery <= 0 {
		o.NoticeEvery = DefaultNoticeEvery
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	host, err := LoadOrCreateHostKey(o.HostKeyFile)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: o, log: o.Logger, host: host, sessions: map[*session]struct{}{},
		after: func(d time.Duration, f func()) { time.AfterFunc(d, f) }}
	s.SetPeople(o.People, o.BulkLimit)
	s.srv, err = wish.NewServer(
		// The host key first: without one, wish.NewServer writes a new key
		// to ./id_ed25519.
		func(srv *ssh.Server) error { srv.AddHostKey(host); return nil },
		ssh.PublicKeyAuth(s.publicKey), // and no password or keyboard-interactive handler: never a prompt
		ssh.EmulatePty(),
		wish.WithMiddleware(
			bm.MiddlewareWithProgramHandler(s.program), // runs the dashboard (innermost)
			s.admit, // who, whether a terminal, whether there is room (runs first)
		),
	)
	if err != nil {
		return nil, fmt.Errorf("sshd: %w", err)
	}
	s.srv.HandshakeTimeout = 30 * time.Second
	if o.IdleTimeout > 0 {
		// The connection's own timeout counts output as activity too, so a
		// dashboard that redraws would never time out by it: sessions time
		// out on input (session.idle); this only ends connections that
		// never open one, a little later.
		s.srv.IdleTimeout = o.IdleTimeout + 30*time.Second
	}
	return s, nil
}

// HostKey is the server's public host key.
func (s *Server) HostKey() gossh.PublicKey { return s.host.PublicKey() }

// Fingerprint is the host key's SHA256 fingerprint, as ssh prints it on
// first connection, for people to check.
func (s *Server) Fingerprint() string { return gossh.FingerprintSHA256(s.host.PublicKey()) }

// GoingDown is the line every open session gets when the hub stops.
const GoingDown = "relink: the hub is going down; reconnect in a minute."

// Serve accepts connections on ln until ctx is done, then ends every
// session with the GoingDown line (each program quits, restoring its
// caller's terminal, then the line is printed), waits a little for them
// and closes what is left.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("sshd: %w", err)
	case <-ctx.Done():
	}
	s.mu.Lock()
	s.closing = true
	open := make([]*session, 0, len(s.sessions))
	for se := range s.sessions {
		open = append(open, se)
	}
	s.mu.Unlock()
	for _, se := range open {
		se.end(GoingDown)
	}
	wait, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(wait); err != nil {
		s.srv.Close()
	}
	if err := <-errc; !errors.Is(err, ssh.ErrServerClosed) {
		return fmt.Errorf("sshd: %w", err)
	}
	return nil
}

// SetPeople replaces who may log in, and the agents' bulk limit for new
// sessions. An open session goes on if its key still names the same
// person with the same role; any other ends with a line saying why. It
// returns how many sessions it ended.
func (s *Server) SetPeople(people []Person, bulkLimit int) int {
	byKey := map[string]Person{}
	for _, p := range people {
		for _, k := range p.Keys {
			byKey[string(k.Marshal())] = p
		}
	}
	s.mu.Lock()
	s.people, s.bulkLimit = byKey, bulkLimit
	var gone []*session
	var why []string
	for se := range s.sessions {
		p, ok := byKey[se.key]
		switch {
		case !ok:
			gone, why = append(gone, se), append(why, fmt.Sprintf("relink: %s's key was removed from this hub's people; the session ends.", se.person.Name))
		case p.Name != se.person.Name:
			gone, why = append(gone, se), append(why, fmt.Sprintf("relink: this key now belongs to %s; the session ends. Reconnect.", p.Name))
		case p.Role != se.person.Role:
			gone, why = append(gone, se), append(why, fmt.Sprintf("relink: %s's role is now %s; the session ends. Reconnect to go on as %s.", p.Name, p.Role, p.Role))
		}
	}
	s.mu.Unlock()
	for i, se := range gone {
		s.log.Info("ssh session ended by a change of people", "person", se.person.Name, "fingerprint", se.fingerprint)
		se.end(why[i])
	}
	return len(gone)
}

// Notify tells every open dashboard that the cache changed (a webhook
// stored, a sync, another session's act), for it to re-read at once; the
// sessions' shared reads (counts, insights, freshness) are read again. It
// never blocks. The sessions are told at most once every NoticeEvery: a
// change within it is told at its end, with every other change of that
// time, and a session with a notice not yet taken has nothing added, so
// a burst costs each session one re-read at a time.
func (s *Server) Notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shared != nil {
		s.shared.Changed() // now: no re-read from here on is served what was read before
	}
	if s.noticeDue {
		return // the notice due tells this change too
	}
	if wait := s.opts.NoticeEvery - time.Since(s.noticeAt); wait > 0 {
		s.noticeDue = true
		s.after(wait, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.noticeDue = false
			s.tellLocked()
		})
		return
	}
	s.tellLocked()
}

// tellLocked gives every session a notice, unless it has one to take.
func (s *Server) tellLocked() {
	s.noticeAt = time.Now()
	for se := range s.sessions {
		select {
		case se.changed <- struct{}{}:
		default:
		}
	}
}

// Sessions is how many dashboards are open.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

func (s *Server) personOf(k gossh.PublicKey) (Person, bool) {
	if k == nil {
		return Person{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.people[string(k.Marshal())]
	return p, ok
}

// publicKey authenticates: a key of [[people]] is let in, any other is
// refused and its fingerprint logged, for an admin to add it.
func (s *Server) publicKey(ctx ssh.Context, k ssh.PublicKey) bool {
	if _, ok := s.personOf(k); ok {
		return true
	}
	s.log.Warn("ssh: refused an unknown key; add it to a person's keys in [[people]] to let them in",
		"fingerprint", gossh.FingerprintSHA256(k), "key_type", k.Type(), "remote", ctx.RemoteAddr().String())
	return false
}

// session is one open dashboard.
type session struct {
	person      Person
	key         string // the key's wire form
	fingerprint string
	idleAfter   time.Duration
	idle        *time.Timer   // nil without ssh.idle_timeout
	changed     chan struct{} // Notify's notices, buffered to one: the dashboard's Options.Changed

	mu      sync.Mutex
	program *tea.Program
	reason  string // why the session was ended, shown once the program is gone
	ended   bool
}

// end quits the session's program; reason (if any) is printed once the
// caller's terminal is restored. The first reason wins.
func (se *session) end(reason string) {
	se.mu.Lock()
	if se.ended {
		se.mu.Unlock()
		return
	}
	se.ended, se.reason = true, reason
	p := se.program
	se.mu.Unlock()
	if p != nil {
		p.Quit()
	}
}

// started records the session's program, and quits it at once if the
// session was ended while it was being built.
func (se *session) started(p *tea.Program) {
	se.mu.Lock()
	se.program = p
	ended := se.ended
	se.mu.Unlock()
	if ended {
		p.Quit()
	}
}

func (se *session) endReason() string {
	se.mu.Lock()
	defer se.mu.Unlock()
	return se.reason
}

// touch notes input: the idle timer starts again.
func (se *session) touch() {
	if se.idle != nil {
		se.idle.Reset(se.idleAfter)
	}
}

type sessionKey struct{}

// admit lets a session through to the dashboard if its key still names a
// person, it asked for a terminal and no command, and there is room;
// else it says why in one line. After the dashboard ends, it prints why
// the session was ended, if it was.
func (s *Server) admit(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		p, ok := s.personOf(sess.PublicKey())
		if !ok { // removed between authentication and the session
			wish.Fatalln(sess, "relink: this key is not one of this hub's people.")
			return
		}
		if len(sess.Command()) > 0 || sess.Subsystem() != "" {
			wish.Fatalln(sess, "relink: this hub serves the dashboard only; run ssh without a command.")
			return
		}
		pty, _, isPty := sess.Pty()
		if !isPty {
			wish.Fatalln(sess, "relink: the dashboard needs a terminal; run ssh without -T (or with -t).")
			return
		}
		se, why := s.register(p, sess.PublicKey())
		if se == nil {
			s.log.Warn("ssh session refused", "person", p.Name, "why", why)
			wish.Fatalln(sess, "relink: "+why)
			return
		}
		defer s.unregister(se)
		start := time.Now()
		s.log.Info("ssh session opened", "person", p.Name, "role", p.Role.String(), "fingerprint", se.fingerprint,
			"remote", sess.RemoteAddr().String(), "term", pty.Term, "width", pty.Window.Width, "height", pty.Window.Height)
		sess.Context().SetValue(sessionKey{}, se)
		next(sess)
		reason := se.endReason()
		s.log.Info("ssh session closed", "person", p.Name, "fingerprint", se.fingerprint,
			"duration", time.Since(start).Round(time.Second).String(), "why", reason)
		if reason != "" {
			fmt.Fprint(sess, "\r\n"+reason+"\r\n")
			_ = sess.Exit(1)
			return
		}
		_ = sess.Exit(0)
	}
}

// register counts a new session in, unless the hub is full or stopping.
func (s *Server) register(p Person, k gossh.PublicKey) (*session, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing:
		return nil, "the hub is stopping; try again in a moment."
	case len(s.sessions) >= s.opts.MaxSessions:
		return nil, fmt.Sprintf("the hub is full (%d sessions, ssh.max_sessions); try again later.", s.opts.MaxSessions)
	}
	se := &session{person: p, key: string(k.Marshal()), fingerprint: gossh.FingerprintSHA256(k), idleAfter: s.opts.IdleTimeout,
		changed: make(chan struct{}, 1)}
	if d := s.opts.IdleTimeout; d > 0 {
		se.idle = time.AfterFunc(d, func() {
			se.end(fmt.Sprintf("relink: no key pressed for %s (ssh.idle_timeout); the session ends.", d))
		})
	}
	s.sessions[se] = struct{}{}
	return se, ""
}

func (s *Server) unregister(se *session) {
	if se.idle != nil {
		se.idle.Stop()
	}
	s.mu.Lock()
	delete(s.sessions, se)
	s.mu.Unlock()
}

// program builds the session's dashboard: the person's options, this
// session's role, limit and context (its key, for the audit log), on the
// session's input, output, size, environment and colour profile
// (bm.MakeOptions).
func (s *Server) program(sess ssh.Session) *tea.Program {
	se, ok := sess.Context().Value(sessionKey{}).(*session)
	if !ok {
		return nil
	}
	o := s.opts.Dashboard(se.person)
	s.mu.Lock()
	o.BulkLimit = s.bulkLimit
	if o.Shared == nil && o.Store != nil { // one read of what every session reads alike, for all of them
		if s.shared == nil || s.shared.Store() != o.Store {
			s.shared = ui.NewSharedReads(o.Store, 0, nil)
		}
		o.Shared = s.shared
	}
	s.mu.Unlock()
	o.Role, o.Remote = se.person.Role, true
	o.Operator = se.person.Name + " · " + se.person.Role.String()
	o.Context = store.WithSSHKey(sess.Context(), se.fingerprint)
	o.Changed = se.changed
	o.SyncInterval = 0 // the hub syncs for everyone (serve.sync_interval); a session never on a timer
	m, err := ui.New(o)
	if err != nil {
		s.log.Error("ssh session: the dashboard would not start", "person", se.person.Name, "err", err)
		wish.Fatalln(sess, "relink: the dashboard would not start: "+err.Error())
		return nil
	}
	opts := append(bm.MakeOptions(sess),
		tea.WithInput(activity{r: sess, touch: se.touch}), // the session's input, as MakeOptions has it, timing idleness
		tea.WithoutSignalHandler(),                        // the hub's signals are the hub's, not each session's
	)
	p := tea.NewProgram(m, opts...)
	se.started(p)
	return p
}

// activity is a session's input that notes every read, for the idle timeout.
type activity struct {
	r     io.Reader
	touch func()
}

func (a activity) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.touch()
	}
	return n, err
}
