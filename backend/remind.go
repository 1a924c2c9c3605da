package backend

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/relink/relink/remind"
)

// Reminders plans and sends reminders over the backend: who may be reminded
// (remind.Policy), one message per user with a durable link per
// connection, queued in the store's outbox before anything is sent, then
// delivered by a remind.Dispatcher per channel. It embeds the Backend, so it
// offers every backend operation too.
//
// Crash safety: a message is queued (with its idempotency key) before it
// is sent, marked 'sending' by this run right before the channel gets it,
// and marked sent right after, each in its own transaction. After a kill,
// the next send (of any plan, or a resume) first queues again the messages
// left 'sending' by a run that is gone (same host, pid not running) or
// whose lease ran out, and sends every queued message: nothing is lost,
// and only the messages in flight at the kill (at most one per concurrent
// send) can arrive twice.
type Reminders struct {
	*Backend
	opts RemindOptions
	// writes serialises this value's writes to the store: SQLite takes one
	// writer at a time, and waiting on a mutex is much cheaper than its
	// busy handler's sleeps when the queueing and sending goroutines collide.
	writes *sync.Mutex
	// sending is who of this value and its copies has a send under way.
	sending *senders
}

// senders counts the sends under way by person, across every copy (As) of
// one Reminders: the hub's sessions and its outbox loop. A send never
// claims another's messages while that person's send runs: the one that
// queued them sends them and counts them in its report. (The hub's outbox
// loop, which sends what the outbox holds every 30 s, had taken a running
// session's queued messages, and the agent was told fewer were sent.)
type senders struct {
	mu sync.Mutex
	n  map[string]int
}

// begin counts a send by operator until the returned func is called.
func (s *senders) begin(operator string) (end func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[string]int{}
	}
	s.n[operator]++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.n[operator]--; s.n[operator] <= 0 {
			delete(s.n, operator)
		}
	}
}

// others are the people other than operator with a send under way, sorted.
func (s *senders) others(operator string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for op := range s.n {
		if op != operator {
			out = append(out, op)
		}
	}
	slices.Sort(out)
	return out
}

// RemindOptions configure reminders.
type RemindOptions struct {
	Templates *remind.Templates         // required
	Channels  map[string]remind.Channel // the configured channels, by name
	Limits    map[string]remind.Limit   // per channel; missing: DefaultLimit
	Cooldown  time.Duration             // never remind a connection twice within this
	Quiet     remind.QuietHours         // no reminders in this daily window
	Sender    string                    // who signs; default the email From name, else "Support"
	Backoff   remind.Backoff            // retries of transient failures
	Lease     time.Duration             // a claim older than this is presumed dead; default 2m
	Timeout   time.Duration             // per send; default 30s
	Claimant  string                    // this run's name in the outbox; default remind.NewClaimant()
}

// DefaultLimit is a channel's concurrency and rate when none is set:
// email 8 at once and 200/s, SMS 1 at once and 1/s (a long code's
// limit), webhook 4 at once and 50/s.
func DefaultLimit(channel string) remind.Limit {
	switch channel {
	case remind.Email:
		return remind.Limit{Concurrency: 8, PerSecond: 200}
	case remind.SMS:
		return remind.Limit{Concurrency: 1, PerSecond: 1}
	}
	return remind.Limit{Concurrency: 4, PerSecond: 50}
}

// NewReminders checks the options and returns reminders over d.
func NewReminders(d *Backend, o RemindOptions) (*Reminders, error) {
	if o.Templates == nil {
		return nil, errors.New("reminders need templates")
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Lease < 2*o.Timeout {
		return nil, fmt.Errorf("the reminder lease (%s) must be at least twice the send timeout (%s)", o.Lease, o.Timeout)
	}
	if o.Claimant == "" {
		o.Claimant = remind.NewClaimant()
	}
	if o.Sender == "" {
		o.Sender = "Support"
		if e, ok := o.Channels[remind.Email].(*remind.EmailChannel); ok {
			o.Sender = e.Sender()
		}
	}
	return &Reminders{Backend: d, opts: o, writes: &sync.Mutex{}, sending: &senders{}}, nil
}

// As returns reminders that act as operator (Backend.As): the same
// channels, templates, outbox claimant, write lock and count of sends
// under way as r, so that sends from every session still take the store
// one writer at a time, never mistake each other's claims for a dead
// run's, and never claim what another's running send queued. Close only
// r, never a copy.
func (r *Reminders) As(operator string) *Reminders {
	return &Reminders{Backend: r.Backend.As(operator), opts: r.opts, writes: r.writes, sending: r.sending}
}

// Channels lists the configured channels.
func (r *Reminders) Channels() []string {
	var out []string
	for _, name := range remind.ChannelNames() {
		if _, ok := r.opts.Channels[name]; ok {
			out = append(out, name)
		}
	}
	return out
}

// Ready says why reminders cannot be sent on channel now, or nil.
func (r *Reminders) Ready(channel string) error {
	if !remind.ValidChannel(channel) {
		return fmt.Errorf("%q is not a channel; want %s", channel, strings.Join(remind.ChannelNames(), ", "))
	}
	if _, ok := r.opts.Channels[channel]; !ok {
		switch channel {
		case remind.Email:
			return errors.New("email reminders are not configured: set [reminders.email] from, smtp_host and smtp_port in the config")
		case remind.SMS:
			return errors.New("SMS reminders are not configured: set [reminders.sms] account_sid, from and auth_token (env RELINK_SMS_TOKEN)")
		}
		return errors.New("webhook reminders are not configured: set the webhook URL and signing secret")
	}
	if !r.DurableLinksOn() {
		return errors.New("reminders carry durable reconnect links, which need serve.public_url in the config")
	}
	return nil
}

// Close closes the channels.
func (r *Reminders) Close() error {
	var errs []error
	for _, c := range r.opts.Channels {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
