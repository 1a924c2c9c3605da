package health

import "testing"

// "No problem reported" (a clean read of Cobalt's event history) settles an
// unchecked connection and refreshes a healthy one, but a recorded
// login_required stays until a completed Link session or a newer event
// (issue 14, point 3).
func TestCobaltQuietNeverClearsALoginProblem(t *testing.T) {
	h, chs := run(t, CobaltQuiet(at(1)))
	if h.Category != Healthy || h.Source != SourceHistory || !h.ObservedAt.Equal(at(1)) || chs[0].Cleared {
		t.Fatalf("an unchecked connection with a quiet history: %+v %+v", h, chs[0])
	}
	h, _ = Apply(h, CobaltQuiet(at(2)))
	if !h.ObservedAt.Equal(at(2)) {
		t.Errorf("a second quiet read does not refresh the freshness: %v", h.ObservedAt)
	}

	broken := CobaltEventSignal(CobaltEvent{Type: "access_token.login_required", ErrorType: "password_expired"}, at(3))
	for _, c := range []struct {
		name string
		sig  Signal
	}{
		{"the login_required event", broken},
		{"a 403 login_required", CobaltHTTPSignal(403, "login_required", "m", at(3))},
	} {
		h, chs := run(t, CobaltQuiet(at(1)), c.sig, CobaltQuiet(at(10)), CobaltQuiet(at(20)))
		if !h.Category.Failing() || !h.ObservedAt.Equal(at(3)) || chs[2].Changed || chs[2].Ignored == "" {
			t.Errorf("%s: a quiet read cleared it: %+v %+v", c.name, h, chs[2])
		}
	}

	// A completed Link session clears; later quiet reads keep it healthy
	// and fresh, and the old event read again changes nothing.
	h, chs = run(t, broken, CobaltOK(SourceLinkResult, at(5)), CobaltQuiet(at(10)), broken)
	if h.Category != Healthy || !chs[1].Cleared || h.Source != SourceHistory || !h.ObservedAt.Equal(at(10)) {
		t.Errorf("after Link: %+v %+v", h, chs)
	}
	// A newer event breaks it again.
	h, _ = Apply(h, CobaltEventSignal(CobaltEvent{Type: "access_token.login_required"}, at(11)))
	if h.Category != LoginRequired {
		t.Errorf("a newer login_required after a quiet read: %s", h.Category)
	}

	// What is not the user's to fix is settled by a clean read.
	for _, cat := range []Category{ProviderError, RateLimited, IntegrationError, Other} {
		h, _ := run(t, sig(cat, SourceAPIError, 1), CobaltQuiet(at(2)))
		if h.Category != Healthy {
			t.Errorf("%s after a clean read: %s", cat, h.Category)
		}
	}
	// A warning stays: only the completed session ends it.
	warn := CobaltEventSignal(CobaltEvent{Type: "access_token.password_change_warning"}, at(1))
	h, _ = run(t, warn, CobaltQuiet(at(2)))
	if h.Category != Healthy || h.Warning != PasswordChangeWarning {
		t.Errorf("warning after a quiet read: %+v", h)
	}
}
