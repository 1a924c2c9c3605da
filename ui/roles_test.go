package ui

import (
	"strings"
	"testing"
)

// lastLine is the footer: the screen's last line.
func (h *harness) lastLine() string {
	lines := strings.Split(h.screen(), "\n")
	return lines[len(lines)-1]
}

// helpText opens the ? help, returns its screen and closes it.
func (h *harness) helpText() string {
	h.t.Helper()
	h.press("?")
	s := h.screen()
	h.press("esc")
	return s
}

// paletteNames are the action names the palette offers.
func (h *harness) paletteNames() []string {
	h.t.Helper()
	h.press(":")
	p, ok := h.m.overlay.(*paletteOverlay)
	if !ok {
		h.t.Fatalf("no palette: %T", h.m.overlay)
	}
	var out []string
	for _, a := range p.entries(&h.m.c) {
		out = append(out, a.name)
	}
	h.press("esc")
	return out
}

func roleHarness(t *testing.T, role Role, limit int) *harness {
	t.Helper()
	st := newStore(t)
	var h *harness
	rem, _ := testReminders(t, st, fixedClock)
	h = newHarness(t, st, Options{Actions: rem, Reminders: rem, Operator: "sam", Role: role, BulkLimit: limit, Remote: true}, 120, 35)
	return h
}

// A viewer's r, c and ctrl+r say why on the status line and do nothing;
// help, footer and palette show none of them.
func TestViewerMayNotActAndIsToldWhy(t *testing.T) {
	h := roleHarness(t, RoleViewer, 25)
	for _, k := range []struct{ key, why string }{
		{"r", "viewers cannot remind; ask a lead"},
		{"c", "viewers cannot copy links; ask a lead"},
		{"C", "viewers cannot copy links; ask a lead"},
		{"o", "viewers cannot open links; ask a lead"},
		{"Q", "viewers cannot show links as QR codes; ask a lead"},
		{"ctrl+r", "viewers cannot sync on demand; ask a lead"},
		{"X", "viewers cannot revoke links; ask a lead"},
	} {
		h.press(k.key)
		if h.m.overlay != nil || len(h.m.tasks) != 0 || h.m.planning != 0 || h.m.syncRunning != 0 || len(h.m.links) != 0 || h.clipboard != "" {
			t.Fatalf("%s did something: overlay %T, tasks %+v, links %v", k.key, h.m.overlay, h.m.tasks, h.m.links)
		}
		mustContain(t, h.screen(), k.why)
	}
	foot := h.lastLine()
	for _, hidden := range []string{"copy link", "remind", "sync"} {
		if strings.Contains(foot, hidden) {
			t.Errorf("the viewer's footer offers %q: %s", hidden, foot)
		}
	}
	mustContain(t, foot, "filter", "open", "? help")
	help := h.helpText()
	mustContain(t, help, "next row", "filter rows", "open details", "reconnect funnel")
	for _, hidden := range []string{"copy direct link", "copy durable link", "open link in browser", "remind users", "sync now", "QR", "revoke"} {
		if strings.Contains(help, hidden) {
			t.Errorf("the viewer's help offers %q", hidden)
		}
	}
	for _, n := range h.paletteNames() {
		if n == "remind" || n == "copy_link" || n == "copy_durable_link" || n == "sync" || n == "open_browser" || n == "show_qr" || n == "revoke_links" {
			t.Errorf("the viewer's palette offers %s", n)
		}
	}
	// What a viewer may do still works.
	h.press("F")
	if _, ok := h.m.overlay.(*funnelOverlay); !ok {
		t.Fatalf("F: %T", h.m.overlay)
	}
	h.press("esc", "enter")
	if !h.m.detailOpen {
		t.Fatal("enter did not open the details")
	}
}

// An agent copies and reminds, but may not sync on demand; over SSH, o
// says to copy instead, as the browser would start on the hub.
func TestAgentMayCopyAndRemindButNotSync(t *testing.T) {
	h := roleHarness(t, RoleAgent, 25)
	foot := h.lastLine()
	mustContain(t, foot, "copy link", "remind")
	if strings.Contains(foot, "sync") {
		t.Errorf("the agent's footer offers sync: %s", foot)
	}
	help := h.helpText()
	mustContain(t, help, "copy direct link", "copy durable link", "remind users", "show QR code")
	if strings.Contains(help, "sync now") || strings.Contains(help, "open link in browser") || strings.Contains(help, "revoke") {
		t.Errorf("the agent's help offers sync, the browser or revoking:\n%s", help)
	}
	h.press("ctrl+r")
	if h.m.syncRunning != 0 {
		t.Fatal("an agent's ctrl+r synced")
	}
	mustContain(t, h.screen(), "agents cannot sync on demand; ask a lead")
	h.press("o")
	mustContain(t, h.screen(), "the browser would open on the hub, not here; copy the link with c instead")
}

// An agent reminding more users than the bulk limit is refused with the
// limit named; the same marks by a lead open the preview.
func TestAgentBulkLimit(t *testing.T) {
	h := roleHarness(t, RoleAgent, 5)
	h.press("A", "r")
	if h.m.overlay != nil {
		t.Fatalf("an agent over the limit got %T", h.m.overlay)
	}
	mustContain(t, h.screen(), "agents remind at most 5 users at once (reminders.agent_bulk_limit); this would remind 12")
	if len(h.m.marks) != 29 {
		t.Fatalf("the refusal dropped the marks: %d", len(h.m.marks))
	}

	within := roleHarness(t, RoleAgent, 12)
	within.press("A", "r")
	if _, ok := within.m.overlay.(*previewOverlay); !ok {
		t.Fatalf("an agent at the limit: %T", within.m.overlay)
	}

	lead := roleHarness(t, RoleLead, 5)
	lead.press("A", "r")
	if _, ok := lead.m.overlay.(*previewOverlay); !ok {
		t.Fatalf("a lead past the agents' limit: %T", lead.m.overlay)
	}
	mustContain(t, lead.screen(), "To 12 users")
}

func TestParseRole(t *testing.T) {
	for _, r := range []Role{RoleViewer, RoleAgent, RoleLead} {
		if got, err := ParseRole(r.String()); err != nil || got != r {
			t.Errorf("%s: %v %v", r, got, err)
		}
	}
	if _, err := ParseRole("admin"); err == nil {
		t.Error("admin is not a role")
	}
	var local Options
	if local.Role != RoleLead {
		t.Error("the zero Options must keep the local dashboard's full rights")
	}
}
