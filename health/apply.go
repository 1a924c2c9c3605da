package health

import "time"

// Source says where a signal came from.
type Source string

// Signal sources (TAXONOMY.md §1).
const (
	SourcePoll       Source = "poll"        // a status read: /item/get, GET /api/links/
	SourceWebhook    Source = "webhook"     // a provider webhook or event history
	SourceAPIError   Source = "api_error"   // the error of some other call
	SourceLinkResult Source = "link_result" // the outcome of an update-mode session
	// SourceHistory is a clean read of a provider's event history that holds
	// no problem (Cobalt): "no problem reported". It makes an unchecked or
	// merely erring connection healthy, but never clears a user-actionable
	// state: only a completed update-mode session or a newer event does.
	SourceHistory Source = "history"
)

// Effect says what kind of change a signal asks for.
type Effect int

// The effects a mapped signal can have.
const (
	// SetPrimary sets the primary category (subject to the precedence rules).
	SetPrimary Effect = iota
	// SetWarning sets the warning overlay and its deadline; the primary is untouched.
	SetWarning
	// Attempt records a failed re-authentication attempt: a failing connection
	// keeps its state, a healthy one takes the category.
	Attempt
	// NoChange is recorded in the history but changes no health
	// (product-level codes, informational webhooks, data still loading).
	NoChange
)

// Signal is one provider observation, already mapped to the taxonomy.
type Signal struct {
	Effect         Effect
	Category       Category // for SetPrimary and Attempt
	Warning        Warning  // for SetWarning; also set alongside a poll's SetPrimary
	Deadline       *time.Time
	ClearWarning   bool   // the clearing signal also ends any warning (re-authenticated)
	ProviderCode   string // verbatim, e.g. ITEM_LOGIN_REQUIRED
	ProviderReason string // verbatim sub-code
	UserMessage    string // the provider's end-user text; display only
	Source         Source
	ObservedAt     time.Time
	// Generic marks a less specific report of a login failure (a Belvo poll
	// of an "invalid" link carries no message): it confirms, but does not
	// undo, a refinement already recorded (account_locked, password_expired,
	// action_at_institution).
	Generic bool
}

// Health is a connection's recorded state.
type Health struct {
	Category       Category
	Warning        Warning
	Deadline       *time.Time
	ProviderCode   string
	ProviderReason string
	UserMessage    string
	Source         Source
	ObservedAt     time.Time  // when the signal behind Category was observed
	FirstFailedAt  *time.Time // start of the current failure; nil when working
	// The last transient error, kept aside when it may not hide a
	// user-actionable category (precedence rule 3).
	LastTransient     Category
	LastTransientCode string
	LastTransientAt   *time.Time
}

// Change describes what Apply did.
type Change struct {
	Changed       bool   // anything in Health differs (if only ObservedAt: the row is refreshed)
	StateChanged  bool   // category, warning, deadline, codes or message differ: worth a history entry
	Primary       bool   // the primary category changed
	Cleared       bool   // a failing connection is healthy again: stop its reminders
	Ignored       string // why the signal did not change the primary state, if it did not
	TransientKept bool   // a transient error was stored aside, not as the primary
}

// Apply returns cur updated by s under the precedence rules of TAXONOMY.md §2:
//
//  1. A poll newer than the recorded state overrides it; any signal older
//     than the recorded state does not roll it back.
//  2. Between simultaneous signals the higher rank wins.
//  3. A transient category never overwrites a user-actionable one; it is kept
//     as the last transient error instead.
//  4. A clearing signal (→ healthy) returns the connection to healthy, and the
//     change is flagged so reminders stop.
//  5. "No problem reported" (SourceHistory) is the weakest healthy signal:
//     it refreshes a healthy connection and settles an unchecked or erring
//     one, but leaves a user-actionable category as it is.
func Apply(cur Health, s Signal) (Health, Change) {
	next := cur
	var ch Change
	if next.Category == "" {
		next.Category = Unknown
	}
	stale := !cur.ObservedAt.IsZero() && s.ObservedAt.Before(cur.ObservedAt)

	switch s.Effect {
	case NoChange:
		ch.Ignored = "informational signal"
		return cur, ch
	case SetWarning:
		if stale && s.Source != SourcePoll {
			ch.Ignored = "older than the recorded state"
			return cur, ch
		}
		next.Warning, next.Deadline = s.Warning, s.Deadline
		if next.Warning == NoWarning {
			next.Deadline = nil
		}
		if s.Warning != NoWarning && s.ProviderReason != "" && !next.Category.Failing() {
			next.ProviderReason = s.ProviderReason
		}
		ch.Changed = !sameHealth(cur, next)
		ch.StateChanged = !sameState(cur, next)
		return next, ch
	case Attempt:
		if next.Category.Failing() {
			ch.Ignored = "failed re-authentication attempt; prior state kept"
			return cur, ch
		}
	}

	if stale {
		ch.Ignored = "older than the recorded state"
		return cur, ch
	}
	if s.Source == SourceHistory && cur.Category.UserActionable() {
		ch.Ignored = "no problem reported does not clear " + string(cur.Category) +
			"; only a completed update-mode session or a newer event does"
		return cur, ch
	}
	simultaneous := s.ObservedAt.Equal(cur.ObservedAt) && !cur.ObservedAt.IsZero()
	if simultaneous && s.Source == cur.Source && s.Category.Rank() < cur.Category.Rank() && s.Category != Healthy {
		ch.Ignored = "a worse signal of the same moment wins"
		return cur, ch
	}
	if s.Generic && s.Category == LoginRequired && refinesLogin(cur.Category) {
		next.ObservedAt, next.Source = s.ObservedAt, s.Source
		ch.Changed = !sameHealth(cur, next)
		ch.Ignored = "a generic login failure confirms " + string(cur.Category)
		return next, ch
	}
	if s.Category.Transient() && cur.Category.UserActionable() {
		at := s.ObservedAt
		next.LastTransient, next.LastTransientCode, next.LastTransientAt = s.Category, s.ProviderCode, &at
		ch.TransientKept = true
		ch.Ignored = "transient error does not hide " + string(cur.Category)
		ch.Changed = !sameHealth(cur, next)
		ch.StateChanged = ch.Changed
		return next, ch
	}

	next.Category = s.Category
	next.ProviderCode, next.ProviderReason, next.UserMessage = s.ProviderCode, s.ProviderReason, s.UserMessage
	next.Source, next.ObservedAt = s.Source, s.ObservedAt
	if s.Category.Transient() {
		at := s.ObservedAt
		next.LastTransient, next.LastTransientCode, next.LastTransientAt = s.Category, s.ProviderCode, &at
	}
	switch {
	case s.Category.Failing() && !cur.Category.Failing():
		at := s.ObservedAt
		next.FirstFailedAt = &at
	case !s.Category.Failing():
		next.FirstFailedAt = nil
	}
	if s.Category == Healthy {
		ch.Cleared = cur.Category.Failing()
		if s.ClearWarning {
			next.Warning, next.Deadline = NoWarning, nil
		}
	}
	if s.Warning != NoWarning {
		next.Warning, next.Deadline = s.Warning, s.Deadline
	}
	ch.Primary = next.Category != cur.Category
	ch.Changed = !sameHealth(cur, next)
	ch.StateChanged = !sameState(cur, next)
	return next, ch
}

// refinesLogin reports whether c is a finer reading of login_required.
func refinesLogin(c Category) bool {
	return c == AccountLocked || c == PasswordExpired || c == ActionAtInstitution
}

func sameHealth(a, b Health) bool {
	return sameState(a, b) && a.Source == b.Source && a.ObservedAt.Equal(b.ObservedAt) &&
		sameTime(a.LastTransientAt, b.LastTransientAt)
}

// sameState compares what a person would call the connection's state,
// ignoring when it was last observed.
func sameState(a, b Health) bool {
	return a.Category == b.Category && a.Warning == b.Warning && sameTime(a.Deadline, b.Deadline) &&
		a.ProviderCode == b.ProviderCode && a.ProviderReason == b.ProviderReason &&
		a.UserMessage == b.UserMessage && sameTime(a.FirstFailedAt, b.FirstFailedAt) &&
		a.LastTransient == b.LastTransient && a.LastTransientCode == b.LastTransientCode
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
