package health

import (
	"testing"
	"time"
)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

func sig(cat Category, src Source, min int) Signal {
	return Signal{Effect: SetPrimary, Category: cat, ProviderCode: string(cat), Source: src, ObservedAt: at(min)}
}

// run applies signals in order from an unchecked connection.
func run(t *testing.T, sigs ...Signal) (Health, []Change) {
	t.Helper()
	h := Health{Category: Unknown}
	var chs []Change
	for _, s := range sigs {
		var ch Change
		h, ch = Apply(h, s)
		chs = append(chs, ch)
	}
	return h, chs
}

func TestWebhookThenOlderPollDoesNotRollBack(t *testing.T) {
	h, chs := run(t, sig(LoginRequired, SourceWebhook, 10), sig(Healthy, SourcePoll, 5))
	if h.Category != LoginRequired {
		t.Fatalf("an older poll rolled back a newer webhook: %s", h.Category)
	}
	if chs[1].Changed || chs[1].Ignored == "" {
		t.Fatalf("the stale poll should be ignored with a reason: %+v", chs[1])
	}
}

func TestFreshPollBeatsOlderWebhook(t *testing.T) {
	h, chs := run(t, sig(LoginRequired, SourceWebhook, 10), sig(Healthy, SourcePoll, 20))
	if h.Category != Healthy || !chs[1].Cleared {
		t.Fatalf("a fresh clean poll must clear: %s %+v", h.Category, chs[1])
	}
	if h.FirstFailedAt != nil {
		t.Fatal("first_failed_at must reset when healthy")
	}
}

func TestOutageOnTopOfLoginRequiredIsKeptAside(t *testing.T) {
	h, chs := run(t, sig(LoginRequired, SourceWebhook, 10), sig(InstitutionDown, SourcePoll, 20))
	if h.Category != LoginRequired {
		t.Fatalf("a bank outage hid a bad password: %s", h.Category)
	}
	if h.LastTransient != InstitutionDown || h.LastTransientAt == nil || !h.LastTransientAt.Equal(at(20)) {
		t.Fatalf("the outage must be kept as last transient error: %+v", h)
	}
	if !chs[1].TransientKept || chs[1].Primary {
		t.Fatalf("change: %+v", chs[1])
	}
	if !h.FirstFailedAt.Equal(at(10)) {
		t.Fatalf("failing since must stay at the login failure: %v", h.FirstFailedAt)
	}
}

func TestOutageOnHealthyConnectionShows(t *testing.T) {
	h, _ := run(t, sig(Healthy, SourcePoll, 1), sig(InstitutionDown, SourcePoll, 2))
	if h.Category != InstitutionDown || h.LastTransient != InstitutionDown {
		t.Fatalf("outage on a healthy connection: %+v", h)
	}
	h, ch := Apply(h, sig(LoginRequired, SourceWebhook, 3))
	if h.Category != LoginRequired || !ch.Primary {
		t.Fatalf("a user-actionable signal replaces a transient one: %+v", h)
	}
}

func TestRepairedClearsAndStopsReminders(t *testing.T) {
	deadline := at(60 * 24)
	warn := Signal{Effect: SetWarning, Warning: ConsentExpiring, Deadline: &deadline, Source: SourceWebhook, ObservedAt: at(5)}
	repaired := PlaidWebhookSignal(PlaidWebhook{Type: "ITEM", Code: "LOGIN_REPAIRED"}, at(30))
	h, chs := run(t, sig(LoginRequired, SourceWebhook, 1), warn, repaired)
	if h.Category != Healthy || !chs[2].Cleared {
		t.Fatalf("LOGIN_REPAIRED must clear: %+v %+v", h, chs[2])
	}
	if h.Warning != NoWarning || h.Deadline != nil {
		t.Fatalf("re-authentication ends the consent warning: %+v", h)
	}
	if h.ProviderCode != "LOGIN_REPAIRED" {
		t.Fatalf("provider code of the clearing signal: %q", h.ProviderCode)
	}
}

func TestSimultaneousSignalsHigherRankWins(t *testing.T) {
	h, chs := run(t, sig(AccountLocked, SourceWebhook, 10), sig(MFARequired, SourceWebhook, 10))
	if h.Category != AccountLocked || chs[1].Changed {
		t.Fatalf("lower rank at the same moment must lose: %s", h.Category)
	}
	h, _ = run(t, sig(MFARequired, SourceWebhook, 10), sig(AccountLocked, SourceWebhook, 10))
	if h.Category != AccountLocked {
		t.Fatalf("higher rank at the same moment must win: %s", h.Category)
	}
}

func TestNewerSignalReplacesOlderFailure(t *testing.T) {
	h, _ := run(t, sig(AccountLocked, SourceWebhook, 10), sig(MFARequired, SourceWebhook, 20))
	if h.Category != MFARequired {
		t.Fatalf("a newer failure describes the connection now: %s", h.Category)
	}
	if !h.FirstFailedAt.Equal(at(10)) {
		t.Fatalf("still failing since the first failure: %v", h.FirstFailedAt)
	}
}

func TestFailedAttemptKeepsPriorState(t *testing.T) {
	attempt := PlaidErrorSignal(PlaidError{Type: "ITEM_ERROR", Code: "INVALID_MFA"}, SourceLinkResult, at(20))
	h, chs := run(t, sig(LoginRequired, SourceWebhook, 10), attempt)
	if h.Category != LoginRequired || chs[1].Changed {
		t.Fatalf("a failed re-auth attempt must keep the prior state: %s", h.Category)
	}
	h, _ = run(t, sig(Healthy, SourcePoll, 1), attempt)
	if h.Category != MFARequired {
		t.Fatalf("an attempt failing on a healthy connection records it: %s", h.Category)
	}
}

func TestWarningsOverlayHealthy(t *testing.T) {
	deadline := at(7 * 24 * 60)
	w := PlaidWebhookSignal(PlaidWebhook{Type: "ITEM", Code: "PENDING_DISCONNECT", Reason: "INSTITUTION_TOKEN_EXPIRATION", DisconnectTime: &deadline}, at(2))
	h, _ := run(t, sig(Healthy, SourcePoll, 1), w)
	if h.Category != Healthy || h.Warning != ConsentExpiring || !h.Deadline.Equal(deadline) {
		t.Fatalf("healthy and consent_expiring together: %+v", h)
	}
	// A later clean poll without consent data keeps the webhook's warning.
	h, _ = Apply(h, sig(Healthy, SourcePoll, 3))
	if h.Warning != ConsentExpiring {
		t.Fatalf("a clean poll dropped a pending disconnect: %+v", h)
	}
}

func TestInformationalSignalsChangeNothing(t *testing.T) {
	info := PlaidWebhookSignal(PlaidWebhook{Type: "ITEM", Code: "NEW_ACCOUNTS_AVAILABLE"}, at(20))
	h, chs := run(t, sig(LoginRequired, SourceWebhook, 10), info)
	if h.Category != LoginRequired || chs[1].Changed {
		t.Fatalf("informational webhook changed health: %+v", h)
	}
}

func TestGenericBelvoPollKeepsARefinedLoginFailure(t *testing.T) {
	hook := BelvoWebhookSignal(BelvoWebhook{Type: "LINK", Code: "invalid_credentials", ErrorCode: "login_error",
		ErrorMessage: "Your account is locked"}, DefaultLoginRules(), at(10))
	poll := BelvoLink("invalid", "", DefaultLoginRules(), at(20))
	h, chs := run(t, hook, poll)
	if h.Category != AccountLocked || chs[1].StateChanged {
		t.Fatalf("a message-less poll undid the refinement: %s %+v", h.Category, chs[1])
	}
	if !h.ObservedAt.Equal(at(20)) {
		t.Fatal("the poll still counts as the latest observation")
	}
	h, _ = Apply(h, BelvoLink("valid", "", DefaultLoginRules(), at(30)))
	if h.Category != Healthy {
		t.Fatalf("valid clears: %s", h.Category)
	}
	h, _ = Apply(h, BelvoLink("invalid", "", DefaultLoginRules(), at(40)))
	if h.Category != LoginRequired {
		t.Fatalf("a generic failure on a healthy link is login_required: %s", h.Category)
	}
}

func TestCobaltCallSuccessKeepsPasswordWarning(t *testing.T) {
	warn := CobaltEventSignal(CobaltEvent{Type: "access_token.password_change_warning"}, at(1))
	h, _ := run(t, CobaltOK(SourcePoll, at(0)), warn, CobaltOK(SourcePoll, at(5)))
	if h.Warning != PasswordChangeWarning {
		t.Fatal("a working call ended the password change warning")
	}
	h, _ = Apply(h, CobaltOK(SourceLinkResult, at(6)))
	if h.Warning != NoWarning {
		t.Fatal("a completed update-mode session ends the warning")
	}
}
