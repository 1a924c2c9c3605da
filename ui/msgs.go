package ui

import (
	"time"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/store"
)

// Results of store reads. Each carries the id of its request; a result whose
// id is not the latest of its kind is late and dropped.
type (
	countsMsg struct {
		id     int
		counts store.Counts
		err    error
	}
	pageMsg struct {
		id     int
		query  string // the group, filter and order it was read with (queryKey)
		offset int
		limit  int
		rows   []store.Connection
		err    error
	}
	totalMsg struct {
		id    int
		total int
		err   error
	}
	historyMsg struct {
		id     int
		connID int64
		events []store.Event
		links  []store.Link
		err    error
	}
	insightsMsg struct {
		id        int
		group     string
		breakdown []store.Breakdown
		perDay    []int
		expiring  store.ExpiringSummary // the expiring group's deadlines and warnings
		err       error
	}
	// anywhereMsg is how many connections in any state the filter finds.
	anywhereMsg struct {
		id, n int
		err   error
	}
	// connMsg is the open connection re-read after it left the page.
	connMsg struct {
		id   int
		conn store.Connection
		err  error
	}
	syncStatesMsg struct {
		states map[string]store.SyncState
		err    error
	}
	funnelMsg struct {
		id    int
		since time.Time
		rows  []store.FunnelRow
		err   error
	}
	markAllMsg struct {
		id    int
		conns []store.Connection
		total int
		err   error
	}
)

// Timers.
type (
	refreshTickMsg struct{}
	syncTickMsg    struct{}
	spinTickMsg    struct{}
	filterFireMsg  struct{ seq int }
	clearResultMsg struct{ id int }
)

// Outcomes of backend operations.
type (
	syncProgressMsg struct {
		task int
		p    backend.SyncProgress
		more stream // where the next message of the sync comes from
	}
	syncDoneMsg struct {
		task    int
		reports []backend.SyncReport
		err     error
	}
	linkMsg struct {
		task   int
		connID int64
		ref    string
		who    string
		link   backend.Link
		open   bool
		err    error
	}
	// remindPlanMsg is the plan of the reminders r asked for, to preview.
	remindPlanMsg struct {
		task int
		plan backend.Plan
		err  error
	}
	remindProgressMsg struct {
		task        int
		done, total int
		more        stream // where the next message of the send comes from
	}
	remindDoneMsg struct {
		task int
		rep  backend.Report
		err  error
	}
	// openedMsg is the browser started (err nil) or not; noteErr is the
	// failure to record the opening.
	openedMsg struct {
		connID       int64
		err, noteErr error
	}
	// revokeAskMsg is how many live durable links the connection X asked
	// about has, to ask whether to revoke them.
	revokeAskMsg struct {
		conn store.Connection
		live int
		err  error
	}
	// revokedMsg is the durable links of a connection revoked (n of them), or not.
	revokedMsg struct {
		task   int
		connID int64
		who    string
		n      int
		err    error
	}
	// linkNotedMsg is a copy recorded in the history and audit log, or not.
	linkNotedMsg struct {
		connID int64
		err    error
	}
)
