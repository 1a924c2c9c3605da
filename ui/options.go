// Package ui is relink's dashboard: one Bubble Tea model that shows the
// failing connections of the local cache grouped by what is wrong, and runs
// the backend's operations (sync, links, reminders) in commands. It renders what
// the store holds, a page at a time, and never calls a provider itself.
package ui

import (
	"context"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/store"
)

// Actions are the backend operations the dashboard runs; *backend.Backend has them.
// A nil Actions turns sync and links off (their keys vanish from help).
type Actions interface {
	Sync(ctx context.Context, only []string, progress func(backend.SyncProgress)) ([]backend.SyncReport, error)
	DirectLink(ctx context.Context, ref string) (backend.Link, error)
	DurableLink(ctx context.Context, ref string) (backend.Link, error)
	// NoteLinkUse records in the connection's history and the audit log that
	// a link of kind was copied or opened (action: backend.LinkCopied or
	// backend.LinkOpened); never the URL.
	NoteLinkUse(ctx context.Context, ref string, kind store.LinkKind, action string) error
	// RevokeLinks revokes every durable link of ref, so that a click on one
	// is refused, and says how many; the history and the audit log name
	// the person acting (the backend's operator).
	RevokeLinks(ctx context.Context, ref string) (int, error)
}

// Reminders plan and send reminders; *backend.Reminders has them. The
// dashboard plans first (who would get what, who is skipped and why, one
// rendered sample), shows the plan, and sends it only once confirmed.
type Reminders interface {
	// Ready says why reminders cannot be sent on channel now, or nil; the
	// dashboard asks before planning, so that it says why at once.
	Ready(channel string) error
	// Recover queues again what a killed run left being sent, and says how
	// many; the dashboard runs it before it plans, as every send path does.
	Recover(ctx context.Context) (int, error)
	PlanReminders(ctx context.Context, refs []string, channel string) (backend.Plan, error)
	// SendReminders queues and sends the plan's messages; progress (called
	// from other goroutines) sees messages finished of the total.
	SendReminders(ctx context.Context, plan backend.Plan, progress func(done, total int)) (backend.Report, error)
}

// Options configure the dashboard. Only Store is required.
type Options struct {
	Store     *store.Store
	Actions   Actions   // nil: no sync, no links
	Reminders Reminders // nil: no reminders

	Keys     map[string][]string // [keys] overrides: action name → keys
	Theme    string              // auto | dark | light | high-contrast | colorblind | a user theme
	ThemeDir string              // where user themes live
	ASCII    bool                // draw ASCII glyphs and borders only

	ReadOnly        bool          // remove every action that sends or mints
	SyncInterval    time.Duration // background sync; 0 turns it off
	RefreshInterval time.Duration // re-reading of the cache; default 3s
	StaleAfter      time.Duration // a provider's data older than this is "stale"; default 1h
	Providers       []string      // configured providers, so one never synced shows "never"
	RemindChannel   string        // default "email"
	Operator        string        // who acts, shown in the header

	// ConfigFile is the config file read, or the one looked for when
	// ConfigFound is false. With no provider configured (Providers empty)
	// the dashboard's first screen names it and says how to start.
	ConfigFile  string
	ConfigFound bool

	// Role is what the person at this dashboard may do; the zero value,
	// RoleLead, allows everything (the local dashboard). A key the role
	// does not allow says why on the status line and does nothing; help,
	// footer and palette show only what the role may do.
	Role Role
	// Remote: the dashboard runs for a terminal elsewhere (an SSH session),
	// so o, which starts a browser where relink runs, says to copy the
	// link instead.
	Remote bool
	// BulkLimit is the most users an agent reminds at once
	// (reminders.agent_bulk_limit); 0 is no limit. Leads have none.
	BulkLimit int
	// Context is the parent of every operation the dashboard runs (an SSH
	// session's, carrying its key for the audit log: store.WithSSHKey);
	// context.Background when nil.
	Context context.Context
	// Changed, when set, says the cache changed (a webhook stored, another
	// session's act): the dashboard re-reads it at once, as it does every
	// RefreshInterval, with one re-read at a time; the next starts once
	// that one is in. The sender must not block: a channel buffered to one
	// and a send that skips when full coalesces a burst into one re-read.
	Changed <-chan struct{}
	// DemoMailbox is the address of the demo's mailbox page (the reminders
	// it sent, their links clickable); "" outside the demo. The status line
	// names it at start and help shows it.
	DemoMailbox string
	// Shared, when set, makes the reads every session of a hub makes alike
	// (counts, freshness, insights, the count of a group and filter) once
	// for all of them (see SharedReads); it must read Store. nil: this
	// dashboard reads them itself, as the local one does.
	Shared *SharedReads

	Now func() time.Time // the clock; time.Now when nil
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = 3 * time.Second
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = time.Hour
	}
	if o.RemindChannel == "" {
		o.RemindChannel = "email"
	}
	return o
}

// changedMsg is Options.Changed's notice.
type changedMsg struct{}

// waitChanged waits for the next notice on Options.Changed (nil without
// one), until the dashboard's context ends.
func (m *Model) waitChanged() tea.Cmd {
	ch, ctx := m.opts.Changed, m.opts.Context
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		select {
		case <-ch:
			return changedMsg{}
		case <-ctx.Done():
			return nil
		}
	}
}

// Timings the dashboard uses.
const (
	filterDebounce = 120 * time.Millisecond
	spinnerEvery   = 100 * time.Millisecond
	resultOKFor    = 5 * time.Second
	resultErrFor   = 12 * time.Second
	graceQuiet     = 400 * time.Millisecond // a dialog swallows keys until input is quiet this long…
	graceMax       = 1500 * time.Millisecond
	insightsEvery  = 10 // …refreshes; the breakdown and the chart are re-read less often
	queryTimeout   = 10 * time.Second
	linkTimeout    = 60 * time.Second
	planTimeout    = 60 * time.Second
	noteTimeout    = 10 * time.Second
	markAllLimit   = 5000
	historyLimit   = 50
	breakdownLimit = 12
	funnelPeriod   = 30 * 24 * time.Hour // the funnel's period, as relink report's default
)
