package ui

import (
	"context"
	"errors"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/health"
	"github.com/relink/relink/internal/institution"
	"github.com/relink/relink/store"
	"github.com/relink/relink/themes"
)

// Context is what every view reads: the screen size, styles, keys and clock.
type Context struct {
	Width, Height int
	Styles        themes.Styles
	Keys          KeyMap
	Now           func() time.Time
	ReadOnly      bool
	DemoMailbox   string // Options.DemoMailbox, for help
}

// group is one tab (a category with failing connections, all failing,
// expiring), or everyone: every connection in any state, found by the filter.
type group struct {
	sg    store.Group
	count int
}

func (g group) key() string {
	switch g.sg.Kind {
	case store.GroupAllFailing:
		return "all"
	case store.GroupExpiring:
		return "expiring"
	case store.GroupEveryone:
		return "everyone"
	}
	return string(g.sg.Category)
}

func (g group) label() string {
	if g.sg.Kind == store.GroupAllFailing {
		return "all failing"
	}
	return g.key()
}

// Model is the dashboard: the one tea.Model of the program.
type Model struct {
	opts    Options
	c       Context
	palette themes.Palette
	dark    bool // the terminal background, from tea.BackgroundColorMsg
	plain   bool // no colours (NO_COLOR, dumb terminal): selection in reverse video
	lay     layout

	ctx    context.Context // cancelled on quit: stops queries and syncs
	cancel context.CancelFunc
	after  func(time.Duration, tea.Msg) tea.Cmd // the scheduler; tea.Tick outside tests
	open   func(url string) error               // starts the browser; startBrowser outside tests

	// Request ids: a result is applied only if its id is the latest of its kind.
	seq int
	req struct{ counts, page, total, history, insights, markAll, funnel, anywhere, conn int }

	cancelPage, cancelCount context.CancelFunc // the page and count reads in flight

	counts   store.Counts
	groups   []group
	gi       int
	everyone bool // the lookup of anyone in any state shows, not the tab gi
	sort     store.Sort
	desc     bool
	filterOn bool // the filter input has focus
	filter   lineInput
	applied  string // the filter the rows were read with
	debounce int

	total, cursor, top int
	rows               []store.Connection
	rowsOff            int
	rowsQuery          string // the query the rows were read with (queryKey)
	loaded             bool
	pending            struct {
		active     bool
		off, limit int
	}

	detailOpen  bool
	history     []store.Event
	historyFor  int64
	historyErr  error
	storedLinks []store.Link // the open connection's newest links, from the store
	links       map[int64]backend.Link
	showQR      bool // the pane shows the QR code of the link
	qrCache     *qrCache

	insights     insightsMsg
	anywhere     int               // how many connections in any state the filter finds (GroupEveryone)
	pinned       *store.Connection // the open connection, kept in the pane after it left the group (repaired)
	pressed      tea.KeyPressMsg   // the key being handled, for the actions that read it (jump_group)
	syncStates   map[string]store.SyncState
	marks        map[int64]string // id → ref
	refreshes    int
	syncRunning  int // the task id of a running sync, 0 when none
	syncProgress map[string]backend.SyncProgress
	planning     int // the task id of a reminder plan being made, 0 when none
	tasks        []task
	taskSeq      int
	spinning     bool
	spin         int
	result       *result
	overlay      dialog // the open dialog, nil when none
	quitting     bool
	refused      []refusal  // the keys of actions this dashboard withholds, and why (roles.go)
	log          messageLog // every result the status line showed, whole (view_log.go)
	memo         memos      // the panes drawn in the last frame, drawn again only when their inputs change (memo.go)
}

// task is a running operation shown with a spinner in the status line.
type task struct {
	id       int
	label    string
	progress string
}

// result is the last outcome, shown until it clears itself.
type result struct {
	id   int
	ok   bool
	text string
	more bool // the messages log holds more of it than text
}

// New builds the dashboard. It fails on a bad theme or [keys] before the
// terminal is taken over.
func New(opts Options) (*Model, error) {
	if opts.Store == nil {
		return nil, errors.New("ui: no store")
	}
	if opts.Shared != nil && opts.Shared.Store() != opts.Store {
		return nil, errors.New("ui: Options.Shared reads another store than Options.Store")
	}
	opts = opts.withDefaults()
	keys := DefaultKeyMap()
	if err := keys.Rebind(opts.Keys); err != nil {
		return nil, err
	}
	pal, err := themes.Load(opts.Theme, opts.ThemeDir)
	if err != nil {
		return nil, err
	}
	m := &Model{
		opts: opts, palette: pal, dark: true,
		groups: buildGroups(store.Counts{}, ""),
		links:  map[int64]backend.Link{}, marks: map[int64]string{},
		after: tick, open: startBrowser,
	}
	m.ctx, m.cancel = context.WithCancel(opts.Context)
	m.c = Context{Keys: keys, Now: opts.Now, ReadOnly: opts.ReadOnly, DemoMailbox: opts.DemoMailbox}
	if opts.DemoMailbox != "" {
		m.result = &result{ok: true, text: "demo mailbox: " + opts.DemoMailbox} // the start's notice, until the next outcome
	}
	m.withholdByRole()
	m.disableUnavailable()
	m.filter = lineInput{prompt: "/ ", placeholder: "name, email, institution, id, code"}
	m.restyle()
	return m, nil
}

// disableUnavailable turns off the bindings of actions that cannot run, so
// they neither match nor show in help; their keys still say why
// (refusal): under --read-only, without a backend (no provider
// configured), without a reminder channel.
func (m *Model) disableUnavailable() {
	k := &m.c.Keys
	if m.opts.ReadOnly {
		m.withholdReadOnly()
	}
	noActions := m.opts.Actions == nil
	for _, b := range []struct {
		off bool
		key *key.Binding
		why func() string
	}{
		{noActions, &k.CopyLink, func() string { return m.cacheOnly("mint links") }},
		{noActions, &k.CopyDurable, func() string { return m.cacheOnly("mint links") }},
		{noActions, &k.OpenBrowser, func() string { return m.cacheOnly("mint links") }},
		{noActions, &k.Revoke, func() string { return m.cacheOnly("revoke links") }},
		{noActions, &k.Sync, m.nothingToSync},
		{m.opts.Reminders == nil, &k.Remind, m.noChannel},
	} {
		if !b.off || !b.key.Enabled() {
			continue
		}
		m.refused = append(m.refused, refusal{keys: *b.key, why: b.why()})
		b.key.SetEnabled(false)
	}
}

// nothingToSync is what the sync key says when there is nothing to sync.
func (m *Model) nothingToSync() string {
	if !m.firstRun() {
		return "nothing to sync: this dashboard shows the cache only"
	}
	return "nothing to sync: no provider configured in " + m.configWhere() + "; try relink --demo"
}

// cacheOnly is what a key that needs a provider says without one.
func (m *Model) cacheOnly(what string) string {
	if !m.firstRun() {
		return "cannot " + what + ": this dashboard shows the cache only"
	}
	return "cannot " + what + ": no provider configured in " + m.configWhere() + "; try relink --demo"
}

// noChannel is what the remind key says without a reminder channel.
func (m *Model) noChannel() string {
	return "cannot remind: no reminder channel is configured ([reminders.email], [reminders.sms] or [reminders.webhook]; config: " +
		m.configWhere() + ")"
}

// configWhere names the config file read, or looked for.
func (m *Model) configWhere() string {
	switch f := m.opts.ConfigFile; {
	case f != "" && m.opts.ConfigFound:
		return f
	case f != "":
		return f + " (not found)"
	}
	return "no config file"
}

// restyle rebuilds the styles for the palette, background and colour mode.
func (m *Model) restyle() {
	p := m.palette
	if m.plain {
		p = themes.Palette{}
	}
	s := themes.Build(p, m.dark)
	if m.opts.ASCII {
		s = s.WithIcons(themes.ASCIIIcons())
	}
	m.c.Styles = s
}

// Init implements tea.Model: ask the terminal's background, read the cache,
// and start the refresh (and, if configured, sync) timers.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{
		tea.RequestBackgroundColor,
		m.countsCmd(), m.pageCmd(true), m.insightsCmd(), m.syncStatesCmd(),
		m.after(m.opts.RefreshInterval, refreshTickMsg{}), m.waitChanged(),
	}
	if m.opts.SyncInterval > 0 && m.opts.Actions != nil {
		cmds = append(cmds, m.after(m.opts.SyncInterval, syncTickMsg{}))
	}
	return tea.Batch(cmds...)
}

// group is the group on screen: the current tab's, or everyone while a
// lookup of anyone shows (over the tab it came from, where back returns).
func (m *Model) group() group {
	if m.everyone {
		return group{sg: store.Group{Kind: store.GroupEveryone}, count: m.counts.Total}
	}
	return m.groups[m.gi]
}

// query is the page query of the current group, filter and sort. The
// filter finds what the table shows: an EHR's name for its hosts.
func (m *Model) query() store.PageQuery {
	return store.PageQuery{Group: m.group().sg, Filter: m.filter.Value(), Synonyms: institution.Synonyms, Sort: m.sort, Desc: m.desc}
}

// selected is the connection under the cursor, if its page is loaded; while
// the pane holds a connection that left the group (pinned), that one: what
// the pane shows is what the keys act on.
func (m *Model) selected() (store.Connection, bool) {
	if m.pinned != nil {
		return *m.pinned, true
	}
	i := m.cursor - m.rowsOff
	if m.total == 0 || i < 0 || i >= len(m.rows) {
		return store.Connection{}, false
	}
	return m.rows[i], true
}

// buildGroups makes the tabs from the counts: all failing, each failing
// category with connections (worst first), expiring. The current group stays
// even when it empties, so the tab under the user never vanishes.
func buildGroups(c store.Counts, current string) []group {
	gs := []group{{sg: store.Group{Kind: store.GroupAllFailing}, count: c.Failing}}
	for _, cat := range health.Categories() {
		if !cat.Failing() {
			continue
		}
		n := c.ByCategory[cat]
		if n > 0 || string(cat) == current {
			gs = append(gs, group{sg: store.Group{Kind: store.GroupCategory, Category: cat}, count: n})
		}
	}
	return append(gs, group{sg: store.Group{Kind: store.GroupExpiring}, count: c.Expiring})
}

// firstRun says whether no provider is configured: the dashboard then says
// how to start instead of showing an empty cache as all well.
func (m *Model) firstRun() bool { return len(m.opts.Providers) == 0 }
