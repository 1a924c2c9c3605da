package ui

import (
	"fmt"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// KeyMap is every remappable binding of the dashboard (DESIGN.md, Keys). The
// footer and the ? help are both built from it, so a rebinding shows there.
type KeyMap struct {
	Up, Down, Top, Bottom, PageDown, PageUp key.Binding
	HalfPageDown, HalfPageUp                key.Binding // half a page (vim's, less's ctrl+d / ctrl+u)
	NextGroup, PrevGroup                    key.Binding
	JumpGroup, Everyone                     key.Binding // a group by its number; find anyone
	Filter, Open, Back, Mark, MarkAll       key.Binding
	Sort, SortReverse                       key.Binding
	CopyLink, CopyDurable, OpenBrowser, QR  key.Binding
	Revoke                                  key.Binding // revoke the durable links of the connection
	Remind, Sync, Funnel                    key.Binding
	Messages                                key.Binding // the messages log: every status-line result, whole
	Palette, Help, Quit                     key.Binding

	Dialog DialogKeyMap // what the keys do while a dialog is open
}

// DialogKeyMap is the keys of the dialogs: the questions (quit while work
// runs, the reminder preview, revoking links), the views (help, the funnel,
// the messages log, a notice) and the palette. A dialog reads only these,
// besides the key that opened it (? closes the help, F the funnel, L the
// messages) and the quit keys none of these claims (ctrl+c), which do what
// quit does on the main screen.
//
// Choose may share keys with the scroll keys: a question reads its answers
// first, a view its scrolling, so by default space presses the focused
// button of a question and pages down a view.
type DialogKeyMap struct {
	Yes, No, Toggle, Choose, Close key.Binding
	ScrollDown, ScrollUp           key.Binding
	ScrollPageDown, ScrollPageUp   key.Binding
	ScrollHalfDown, ScrollHalfUp   key.Binding
	ScrollTop, ScrollBottom        key.Binding
}

// binding is one named binding, as [keys] in the config calls it.
type binding struct {
	name, desc string
	get        func(*KeyMap) *key.Binding
}

// action is a binding of the main screen, what it does, and the least
// role that may do it (roles.go).
type action struct {
	binding
	run  func(*Model) tea.Cmd
	need Role
}

// actions lists the main screen's bindings in help order, each with its
// handler and the role it needs.
var actions = []action{
	{binding{"down", "next row", func(k *KeyMap) *key.Binding { return &k.Down }}, (*Model).rowDown, RoleViewer},
	{binding{"up", "previous row", func(k *KeyMap) *key.Binding { return &k.Up }}, (*Model).rowUp, RoleViewer},
	{binding{"top", "first row", func(k *KeyMap) *key.Binding { return &k.Top }}, (*Model).firstRow, RoleViewer},
	{binding{"bottom", "last row", func(k *KeyMap) *key.Binding { return &k.Bottom }}, (*Model).lastRow, RoleViewer},
	{binding{"page_down", "page down", func(k *KeyMap) *key.Binding { return &k.PageDown }}, (*Model).pageDown, RoleViewer},
	{binding{"page_up", "page up", func(k *KeyMap) *key.Binding { return &k.PageUp }}, (*Model).pageUp, RoleViewer},
	{binding{"half_page_down", "half a page down", func(k *KeyMap) *key.Binding { return &k.HalfPageDown }}, (*Model).halfPageDown, RoleViewer},
	{binding{"half_page_up", "half a page up", func(k *KeyMap) *key.Binding { return &k.HalfPageUp }}, (*Model).halfPageUp, RoleViewer},
	{binding{"next_group", "next group", func(k *KeyMap) *key.Binding { return &k.NextGroup }}, (*Model).nextGroup, RoleViewer},
	{binding{"prev_group", "previous group", func(k *KeyMap) *key.Binding { return &k.PrevGroup }}, (*Model).prevGroup, RoleViewer},
	{binding{"jump_group", "go to group 1-9", func(k *KeyMap) *key.Binding { return &k.JumpGroup }}, (*Model).jumpGroup, RoleViewer},
	{binding{"everyone", "find anyone, in any state", func(k *KeyMap) *key.Binding { return &k.Everyone }}, (*Model).toEveryone, RoleViewer},
	{binding{"filter", "filter rows", func(k *KeyMap) *key.Binding { return &k.Filter }}, (*Model).focusFilter, RoleViewer},
	{binding{"open", "open details", func(k *KeyMap) *key.Binding { return &k.Open }}, (*Model).toggleDetail, RoleViewer},
	{binding{"back", "back / close / clear", func(k *KeyMap) *key.Binding { return &k.Back }}, (*Model).back, RoleViewer},
	{binding{"mark", "mark row", func(k *KeyMap) *key.Binding { return &k.Mark }}, (*Model).markAndMove, RoleViewer},
	{binding{"mark_all", "mark all in view", func(k *KeyMap) *key.Binding { return &k.MarkAll }}, (*Model).markAll, RoleViewer},
	{binding{"sort", "cycle sort", func(k *KeyMap) *key.Binding { return &k.Sort }}, (*Model).cycleSort, RoleViewer},
	{binding{"sort_reverse", "reverse sort", func(k *KeyMap) *key.Binding { return &k.SortReverse }}, (*Model).reverseSort, RoleViewer},
	{binding{"copy_link", "copy direct link", func(k *KeyMap) *key.Binding { return &k.CopyLink }}, (*Model).copyDirect, RoleAgent},
	{binding{"copy_durable_link", "copy durable link", func(k *KeyMap) *key.Binding { return &k.CopyDurable }}, (*Model).copyDurable, RoleAgent},
	{binding{"open_browser", "open link in browser", func(k *KeyMap) *key.Binding { return &k.OpenBrowser }}, (*Model).openLink, RoleAgent},
	{binding{"show_qr", "show QR code", func(k *KeyMap) *key.Binding { return &k.QR }}, (*Model).toggleQR, RoleAgent},
	{binding{"remind", "remind users", func(k *KeyMap) *key.Binding { return &k.Remind }}, (*Model).planRemind, RoleAgent},
	{binding{"revoke_links", "revoke durable links", func(k *KeyMap) *key.Binding { return &k.Revoke }}, (*Model).askRevoke, RoleLead},
	{binding{"sync", "sync now", func(k *KeyMap) *key.Binding { return &k.Sync }}, (*Model).syncNow, RoleLead},
	{binding{"funnel", "what works: reconnect funnel", func(k *KeyMap) *key.Binding { return &k.Funnel }}, (*Model).openFunnel, RoleViewer},
	{binding{"messages", "messages: every result in full", func(k *KeyMap) *key.Binding { return &k.Messages }}, (*Model).openLog, RoleViewer},
	{binding{"palette", "command palette", func(k *KeyMap) *key.Binding { return &k.Palette }}, (*Model).openPalette, RoleViewer},
	{binding{"help", "help", func(k *KeyMap) *key.Binding { return &k.Help }}, (*Model).openHelp, RoleViewer},
	{binding{"quit", "quit", func(k *KeyMap) *key.Binding { return &k.Quit }}, (*Model).quit, RoleViewer},
}

// dialogKeys lists the dialogs' bindings in help order. What they do is up
// to each dialog (overlay.go): a key gives a dialogAction the Model acts on.
var dialogKeys = []binding{
	{"yes", "answer yes", func(k *KeyMap) *key.Binding { return &k.Dialog.Yes }},
	{"no", "answer no / close", func(k *KeyMap) *key.Binding { return &k.Dialog.No }},
	{"toggle", "switch No / Yes", func(k *KeyMap) *key.Binding { return &k.Dialog.Toggle }},
	{"choose", "press the focused button", func(k *KeyMap) *key.Binding { return &k.Dialog.Choose }},
	{"close", "close / cancel", func(k *KeyMap) *key.Binding { return &k.Dialog.Close }},
	{"scroll_down", "scroll down", func(k *KeyMap) *key.Binding { return &k.Dialog.ScrollDown }},
	{"scroll_up", "scroll up", func(k *KeyMap) *key.Binding { return &k.Dialog.ScrollUp }},
	{"scroll_page_down", "scroll a page down", func(k *KeyMap) *key.Binding { return &k.Dialog.ScrollPageDown }},
	{"scroll_page_up", "scroll a page up", func(k *KeyMap) *key.Binding { return &k.Dialog.ScrollPageUp }},
	{"scroll_half_down", "scroll half a page down", func(k *KeyMap) *key.Binding { return &k.Dialog.ScrollHalfDown }},
	{"scroll_half_up", "scroll half a page up", func(k *KeyMap) *key.Binding { return &k.Dialog.ScrollHalfUp }},
	{"scroll_top", "scroll to the top", func(k *KeyMap) *key.Binding { return &k.Dialog.ScrollTop }},
	{"scroll_bottom", "scroll to the bottom", func(k *KeyMap) *key.Binding { return &k.Dialog.ScrollBottom }},
}

// ActionNames lists the main screen's action names [keys] accepts.
func ActionNames() []string {
	out := make([]string, len(actions))
	for i, a := range actions {
		out[i] = a.name
	}
	return out
}

// DialogKeyNames lists the dialog key names [keys] accepts.
func DialogKeyNames() []string {
	out := make([]string, len(dialogKeys))
	for i, b := range dialogKeys {
		out[i] = b.name
	}
	return out
}

// bindings are every named binding: the actions, then the dialog keys.
func bindings() []binding {
	out := make([]binding, 0, len(actions)+len(dialogKeys))
	for _, a := range actions {
		out = append(out, a.binding)
	}
	return append(out, dialogKeys...)
}

// DefaultKeyMap returns the bindings of DESIGN.md's key table.
func DefaultKeyMap() KeyMap {
	defaults := map[string][]string{
		"down": {"j", "down"}, "up": {"k", "up"},
		"top": {"g", "home"}, "bottom": {"G", "end"},
		"page_down": {"pgdown"}, "page_up": {"pgup"},
		"half_page_down": {"ctrl+d"}, "half_page_up": {"ctrl+u"},
		"next_group": {"tab", "l"}, "prev_group": {"shift+tab", "h"},
		"filter": {"/"}, "open": {"enter"}, "back": {"esc"},
		"mark": {"space"}, "mark_all": {"A"},
		"sort": {"s"}, "sort_reverse": {"S"},
		"copy_link": {"c"}, "copy_durable_link": {"C"}, "open_browser": {"o"}, "show_qr": {"Q"},
		"remind": {"r"}, "revoke_links": {"X"}, "sync": {"ctrl+r"}, "funnel": {"F"}, "messages": {"L"},
		"palette": {":", "ctrl+p"}, "help": {"?"}, "quit": {"q", "ctrl+c"},
		"jump_group": {"1", "2", "3", "4", "5", "6", "7", "8", "9"}, "everyone": {"e"},

		"yes": {"y", "Y"}, "no": {"n", "N", "q"},
		"toggle": {"tab", "shift+tab", "left", "right", "h", "l"},
		"choose": {"enter", "space"}, "close": {"esc"},
		"scroll_down": {"j", "down", "ctrl+n"}, "scroll_up": {"k", "up", "ctrl+p"},
		"scroll_page_down": {"pgdown", "space"}, "scroll_page_up": {"pgup"},
		"scroll_half_down": {"ctrl+d"}, "scroll_half_up": {"ctrl+u"},
		"scroll_top": {"g", "home"}, "scroll_bottom": {"G", "end"},
	}
	var k KeyMap
	for _, b := range bindings() {
		kb := b.get(&k)
		*kb = key.NewBinding(key.WithKeys(defaults[b.name]...))
		kb.SetHelp(helpKey(defaults[b.name]), b.desc)
	}
	return k
}

// Rebind applies [keys] overrides, to actions and dialog keys alike. An
// unknown name, a key name that is not one, or a key claimed by two actions
// (or by two dialog keys) is an error that names them. An empty list
// unbinds a binding (except quit and close).
func (k *KeyMap) Rebind(overrides map[string][]string) error {
	names := make([]string, 0, len(overrides))
	for n := range overrides {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b, ok := findBinding(n)
		if !ok {
			return fmt.Errorf("[keys]: unknown action %q (known: %s; in dialogs: %s)", n,
				strings.Join(ActionNames(), ", "), strings.Join(DialogKeyNames(), ", "))
		}
		keys := overrides[n]
		if len(keys) == 0 && (n == "quit" || n == "close") {
			return fmt.Errorf("[keys] %s: needs at least one key", n)
		}
		for _, kk := range keys {
			if err := checkKeyName(kk); err != nil {
				return fmt.Errorf("[keys] %s: %w", n, err)
			}
		}
		kb := b.get(k)
		if len(keys) == 0 {
			kb.Unbind()
			continue
		}
		kb.SetKeys(keys...)
		kb.SetHelp(helpKey(keys), b.desc)
	}
	main := make([]binding, len(actions))
	for i, a := range actions {
		main[i] = a.binding
	}
	if err := k.checkClashes(main, nil); err != nil {
		return err
	}
	return k.checkClashes(dialogKeys, mayShare)
}

// checkClashes fails on a key bound to two of bs, unless shared allows the pair.
func (k *KeyMap) checkClashes(bs []binding, shared func(a, b string) bool) error {
	owners := map[string][]string{}
	for _, b := range bs {
		for _, kk := range b.get(k).Keys() {
			for _, prev := range owners[kk] {
				if shared == nil || !shared(prev, b.name) {
					return fmt.Errorf("[keys]: %q is bound to both %s and %s; rebind one of them", kk, prev, b.name)
				}
			}
			owners[kk] = append(owners[kk], b.name)
		}
	}
	return nil
}

// mayShare says which dialog keys may share a key: choose and a scroll key,
// as no dialog reads both at once (DialogKeyMap).
func mayShare(a, b string) bool {
	scroll := func(n string) bool { return strings.HasPrefix(n, "scroll_") }
	return a == "choose" && scroll(b) || b == "choose" && scroll(a)
}

func findBinding(name string) (binding, bool) {
	for _, b := range bindings() {
		if b.name == name {
			return b, true
		}
	}
	return binding{}, false
}

// named are the key names Bubble Tea reports, besides single characters.
var named = map[string]bool{
	"enter": true, "tab": true, "backspace": true, "esc": true, "space": true,
	"up": true, "down": true, "left": true, "right": true, "insert": true, "delete": true,
	"pgup": true, "pgdown": true, "home": true, "end": true,
}

var aliases = map[string]string{
	"pgdn": "pgdown", "pagedown": "pgdown", "pageup": "pgup", "escape": "esc", "return": "enter",
	"del": "delete", "ins": "insert", "bs": "backspace", " ": "space", "arrowup": "up", "arrowdown": "down",
}

// checkKeyName accepts what tea.KeyPressMsg.String() produces: a character,
// or modifiers (ctrl+, alt+, shift+, meta+, super+, hyper+) and a key name.
func checkKeyName(s string) error {
	if s == "" {
		return fmt.Errorf("empty key name")
	}
	parts := strings.Split(s, "+")
	base := parts[len(parts)-1]
	mods := parts[:len(parts)-1]
	if base == "" && len(parts) > 1 { // "ctrl++" or "+"
		base, mods = "+", parts[:len(parts)-2]
	}
	for _, m := range mods {
		switch m {
		case "ctrl", "alt", "shift", "meta", "super", "hyper":
		default:
			return fmt.Errorf("%q: %q is not a modifier (ctrl, alt, shift, meta, super, hyper)", s, m)
		}
	}
	if len([]rune(base)) == 1 || named[base] || isFKey(base) {
		return nil
	}
	if a, ok := aliases[strings.ToLower(base)]; ok {
		return fmt.Errorf("%q is not a key name; did you mean %q?", s, strings.TrimSuffix(s, base)+a)
	}
	return fmt.Errorf("%q is not a key name (use a character, or one of enter, tab, esc, space, backspace, up, down, left, right, home, end, pgup, pgdown, insert, delete, f1-f20, with ctrl+/alt+/shift+)", s)
}

func isFKey(s string) bool {
	var n int
	if _, err := fmt.Sscanf(s, "f%d", &n); err != nil {
		return false
	}
	return n >= 1 && n <= 20 && s == fmt.Sprintf("f%d", n)
}

// helpKey is how a binding's keys read in help: its first two, prettified;
// a run of digits as "1-9".
func helpKey(keys []string) string {
	if run := len(keys) > 2; run {
		for i, k := range keys {
			if len(k) != 1 || k[0] != keys[0][0]+byte(i) || k[0] < '0' || k[0] > '9' {
				run = false
			}
		}
		if run {
			return keys[0] + "-" + keys[len(keys)-1]
		}
	}
	pretty := map[string]string{"down": "↓", "up": "↑", "left": "←", "right": "→", "pgdown": "pgdn"}
	var out []string
	for i, k := range keys {
		if i == 2 {
			break
		}
		if p, ok := pretty[k]; ok {
			k = p
		}
		out = append(out, k)
	}
	return strings.Join(out, "/")
}

// ShortHelp is the footer's list, most useful first, each with its first
// key and a short name; ? help is pinned by the footer itself.
func (k KeyMap) ShortHelp() []key.Binding {
	short := func(b key.Binding, desc string) key.Binding {
		if len(b.Keys()) > 0 {
			b.SetHelp(helpKey(b.Keys()[:1]), desc)
		}
		return b
	}
	return []key.Binding{k.moveHint(), short(k.NextGroup, "group"), short(k.Filter, "filter"), short(k.Open, "open"),
		short(k.CopyLink, "copy link"), short(k.Remind, "remind"), short(k.Mark, "mark"), short(k.Sync, "sync"),
		short(k.Sort, "sort"), short(k.Quit, "quit")}
}

// moveHint merges down and up into one footer item.
func (k KeyMap) moveHint() key.Binding {
	b := key.NewBinding(key.WithKeys(append(append([]string{}, k.Down.Keys()...), k.Up.Keys()...)...))
	var parts []string
	if k.Down.Enabled() && len(k.Down.Keys()) > 0 {
		parts = append(parts, k.Down.Keys()[0])
	}
	if k.Up.Enabled() && len(k.Up.Keys()) > 0 {
		parts = append(parts, k.Up.Keys()[0])
	}
	b.SetHelp(strings.Join(parts, "/"), "move")
	b.SetEnabled(len(parts) > 0)
	return b
}

// FullHelp is the ? help, one column per group.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Down, k.Up, k.Top, k.Bottom, k.PageDown, k.PageUp, k.HalfPageDown, k.HalfPageUp, k.NextGroup, k.PrevGroup, k.JumpGroup},
		{k.Filter, k.Everyone, k.Open, k.Back, k.Mark, k.MarkAll, k.Sort, k.SortReverse},
		{k.CopyLink, k.CopyDurable, k.OpenBrowser, k.QR, k.Remind, k.Revoke},
		{k.Sync, k.Funnel, k.Messages, k.Palette, k.Help, k.Quit},
		k.dialogBindings(),
	}
}

// dialogBindings are the dialog keys in help order.
func (k KeyMap) dialogBindings() []key.Binding {
	out := make([]key.Binding, len(dialogKeys))
	for i, b := range dialogKeys {
		out[i] = *b.get(&k)
	}
	return out
}

// dialogClaims says whether a dialog key has kp: such a key is never a quit
// key in a dialog.
func (k KeyMap) dialogClaims(kp tea.KeyPressMsg) bool { return key.Matches(kp, k.dialogBindings()...) }

// helpTitles name FullHelp's columns.
var helpTitles = []string{"Move", "Rows", "Act", "App", "Dialogs"}
