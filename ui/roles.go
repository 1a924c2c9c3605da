package ui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// Role is what a person may do in the dashboard (DESIGN.md, A team on
// one hub). Each action of the actions table names the least role that may
// run it.
type Role int

// The roles, from most to least allowed. The zero value is RoleLead: the
// local dashboard, run by whoever holds the config, may do everything.
const (
	// RoleLead also sends bulk reminders past the agents' limit, syncs
	// on demand (the sync spends every session's provider budget) and
	// revokes durable links.
	RoleLead Role = iota
	// RoleAgent also mints, copies and opens links and reminds the
	// connections they select, at most Options.BulkLimit users at once.
	RoleAgent
	// RoleViewer browses, filters, opens details and the funnel.
	RoleViewer
)

// ParseRole reads a [[people]] role: viewer, agent or lead.
func ParseRole(s string) (Role, error) {
	for _, r := range []Role{RoleViewer, RoleAgent, RoleLead} {
		if r.String() == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("%q is not a role (viewer, agent, lead)", s)
}

func (r Role) String() string {
	switch r {
	case RoleAgent:
		return "agent"
	case RoleViewer:
		return "viewer"
	}
	return "lead"
}

// allows says whether r may do what needs at least need.
func (r Role) allows(need Role) bool { return r <= need }

// refusal is a main-screen binding the role does not allow: its keys say
// why (on the status line) and do nothing.
type refusal struct {
	keys key.Binding
	why  string
}

// withholdByRole disables the bindings of the actions the role does not
// allow, so that they neither run nor show in help, footer or palette, and
// keeps their keys to say why when one is pressed.
func (m *Model) withholdByRole() {
	role := m.opts.Role
	for _, a := range actions {
		if role.allows(a.need) {
			continue
		}
		b := a.get(&m.c.Keys)
		m.refused = append(m.refused, refusal{keys: *b, why: fmt.Sprintf("%ss cannot %s; ask a lead", role, a.verb())})
		b.SetEnabled(false)
	}
	if k := &m.c.Keys.OpenBrowser; m.opts.Remote && k.Enabled() {
		m.refused = append(m.refused, refusal{keys: *k,
			why: "the browser would open on the hub, not here; copy the link with " + helpOf(m.c.Keys.CopyLink) + " instead"})
		k.SetEnabled(false)
	}
}

// verb is what an action does, as a refusal says it ("viewers cannot
// remind; ask a lead").
func (a action) verb() string {
	switch a.name {
	case "copy_link", "copy_durable_link":
		return "copy links"
	case "open_browser":
		return "open links"
	case "show_qr":
		return "show links as QR codes"
	case "remind":
		return "remind"
	case "sync":
		return "sync on demand"
	case "revoke_links":
		return "revoke links"
	}
	return a.desc
}

// withholdReadOnly disables, under --read-only, the actions that send or
// mint (copy and open a link, remind) and revoking links, as a role that
// may not act: they leave help, footer and palette, and their keys say why
// on the status line. Sync stays: it only reads the providers into the
// cache, and neither sends nor mints. An action the role withholds already
// keeps the role's refusal.
func (m *Model) withholdReadOnly() {
	k := &m.c.Keys
	for _, off := range []struct {
		key  *key.Binding
		verb string
	}{
		{&k.CopyLink, "mint links"},
		{&k.CopyDurable, "mint links"},
		{&k.OpenBrowser, "mint links"},
		{&k.Remind, "send reminders"},
		{&k.Revoke, "revoke links"},
	} {
		if !off.key.Enabled() {
			continue
		}
		m.refused = append(m.refused, refusal{keys: *off.key, why: "read-only: this dashboard cannot " + off.verb + " (started with --read-only)"})
		off.key.SetEnabled(false)
	}
}

// refuse says why the role does not allow the key k, if it is one of the
// withheld actions' keys.
func (m *Model) refuse(k tea.KeyPressMsg) (tea.Cmd, bool) {
	for _, r := range m.refused {
		if key.Matches(k, r.keys) {
			return m.report(false, r.why), true
		}
	}
	return nil, false
}
