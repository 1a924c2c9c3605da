// Package health owns relink's one vocabulary of "what is wrong with a
// connection": the categories and warnings of TAXONOMY.md, the mapping of every
// provider signal to them, and the precedence rules that decide how a new
// signal changes a connection's recorded health. It is pure: no I/O, no clock.
package health

// Category is a connection's primary state: working, or why not.
type Category string

// The categories of TAXONOMY.md §2, plus Unknown for a registered connection
// that no signal has reached yet.
const (
	Unknown             Category = "unknown"
	Healthy             Category = "healthy"
	LoginRequired       Category = "login_required"
	MFARequired         Category = "mfa_required"
	AccountLocked       Category = "account_locked"
	PasswordExpired     Category = "password_expired"
	ActionAtInstitution Category = "action_at_institution"
	ConsentExpired      Category = "consent_expired"
	ConsentInsufficient Category = "consent_insufficient"
	PermissionRevoked   Category = "permission_revoked"
	Incomplete          Category = "incomplete"
	NotFound            Category = "not_found"
	Unsupported         Category = "unsupported"
	InstitutionDown     Category = "institution_down"
	RateLimited         Category = "rate_limited"
	ProviderError       Category = "provider_error"
	IntegrationError    Category = "integration_error"
	Other               Category = "other"
)

// Warning overlays a working connection that will break at a known time.
type Warning string

// The warnings of TAXONOMY.md §2.
const (
	NoWarning             Warning = ""
	ConsentExpiring       Warning = "consent_expiring"
	PasswordChangeWarning Warning = "password_change_warning"
	AccountRevokedPartial Warning = "account_revoked_partial"
)

// Info is what the taxonomy says about one category.
type Info struct {
	Rank       int  // severity: higher is worse; "worst signal wins"
	NeedsUser  bool // only the end user can fix it
	UpdateMode bool // a provider update-mode link is (part of) the fix
	Remind     bool // eligible for automated reminders
	Transient  bool // an outage or throttle: never hides a user-actionable state
	Title      string
}

var infos = map[Category]Info{
	Unknown:             {Rank: 0, Title: "Not checked yet"},
	Healthy:             {Rank: 0, Title: "Healthy"},
	PermissionRevoked:   {Rank: 90, NeedsUser: true, UpdateMode: true, Remind: false, Title: "Permission revoked"},
	AccountLocked:       {Rank: 85, NeedsUser: true, UpdateMode: true, Remind: true, Title: "Account locked"},
	PasswordExpired:     {Rank: 80, NeedsUser: true, UpdateMode: true, Remind: true, Title: "Password expired"},
	LoginRequired:       {Rank: 75, NeedsUser: true, UpdateMode: true, Remind: true, Title: "Login required"},
	ConsentExpired:      {Rank: 75, NeedsUser: true, UpdateMode: true, Remind: true, Title: "Consent expired"},
	MFARequired:         {Rank: 70, NeedsUser: true, UpdateMode: true, Remind: true, Title: "MFA required"},
	ActionAtInstitution: {Rank: 70, NeedsUser: true, UpdateMode: true, Remind: true, Title: "Action at institution"},
	ConsentInsufficient: {Rank: 60, NeedsUser: true, UpdateMode: true, Remind: false, Title: "Consent insufficient"},
	Incomplete:          {Rank: 55, NeedsUser: true, UpdateMode: false, Remind: true, Title: "Setup incomplete"},
	NotFound:            {Rank: 50, Title: "Not found"},
	Unsupported:         {Rank: 45, Title: "Unsupported"},
	IntegrationError:    {Rank: 40, Title: "Integration error"},
	InstitutionDown:     {Rank: 20, Transient: true, Title: "Institution down"},
	RateLimited:         {Rank: 10, Transient: true, Title: "Rate limited"},
	ProviderError:       {Rank: 10, Transient: true, Title: "Provider error"},
	Other:               {Rank: 5, Title: "Other"},
}

var ordered = []Category{
	PermissionRevoked, AccountLocked, PasswordExpired, LoginRequired, ConsentExpired,
	MFARequired, ActionAtInstitution, ConsentInsufficient, Incomplete, NotFound,
	Unsupported, IntegrationError, InstitutionDown, RateLimited, ProviderError, Other,
	Healthy, Unknown,
}

// Categories lists every category, worst first (TAXONOMY.md rank), then
// healthy and unknown. The slice is a fresh copy.
func Categories() []Category { return append([]Category(nil), ordered...) }

// Info returns the taxonomy's facts about c; an unknown value gets Other's.
func (c Category) Info() Info {
	if i, ok := infos[c]; ok {
		return i
	}
	return infos[Other]
}

// Rank is c's severity.
func (c Category) Rank() int { return c.Info().Rank }

// Valid reports whether c is one of the defined categories.
func (c Category) Valid() bool { _, ok := infos[c]; return ok }

// Failing reports whether a connection in c is not working.
func (c Category) Failing() bool { return c != Healthy && c != Unknown && c.Valid() }

// Transient reports whether c is an outage or throttle that will pass by itself.
func (c Category) Transient() bool { return c.Info().Transient }

// UserActionable reports whether only the end user can fix c.
func (c Category) UserActionable() bool { return c.Info().NeedsUser }

// Remindable reports whether a connection in c may get automated reminders.
func (c Category) Remindable() bool { return c.Info().Remind }

// Valid reports whether w is one of the defined warnings (or none).
func (w Warning) Valid() bool {
	switch w {
	case NoWarning, ConsentExpiring, PasswordChangeWarning, AccountRevokedPartial:
		return true
	}
	return false
}

// Remindable reports whether a connection with warning w may be reminded.
func (w Warning) Remindable() bool { return w == ConsentExpiring || w == PasswordChangeWarning }

// Title is the warning's human name.
func (w Warning) Title() string {
	switch w {
	case ConsentExpiring:
		return "Consent expiring"
	case PasswordChangeWarning:
		return "Password change due"
	case AccountRevokedPartial:
		return "Account partly revoked"
	}
	return ""
}

// Topics are what a reminder can be about and what the reconnect funnel
// counts: the failing categories, worst first, then the warnings reminders
// go out for (Warning.Remindable). The slice is a fresh copy.
func Topics() []string {
	var out []string
	for _, c := range ordered {
		if c.Failing() {
			out = append(out, string(c))
		}
	}
	return append(out, string(ConsentExpiring), string(PasswordChangeWarning))
}
