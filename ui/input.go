package ui

import (
	"strings"
	"unicode"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/relink/relink/internal/textfmt"
)

// lineInput is a one-line text field (the filter, the palette's query). It
// is small on purpose: bubbles' textinput pulls in a native clipboard
// library we do not otherwise need.
type lineInput struct {
	prompt, placeholder string
	value               []rune
	pos                 int
	focused             bool
}

func (in *lineInput) Value() string { return string(in.value) }
func (in *lineInput) Reset()        { in.value, in.pos = nil, 0 }
func (in *lineInput) Focus()        { in.focused = true }
func (in *lineInput) Blur()         { in.focused = false }

// SetValue replaces the text and puts the cursor at its end.
func (in *lineInput) SetValue(s string) { in.value = []rune(s); in.pos = len(in.value) }

// insert adds text at the cursor, newlines and tabs as spaces.
func (in *lineInput) insert(s string) {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || r == '\r' {
			return ' '
		}
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, s)
	rs := []rune(s)
	in.value = append(in.value[:in.pos], append(rs, in.value[in.pos:]...)...)
	in.pos += len(rs)
}

// update edits the text for a key or a paste; it reports whether it used the message.
func (in *lineInput) update(msg tea.Msg) bool {
	if p, ok := msg.(tea.PasteMsg); ok {
		in.insert(p.Content)
		return true
	}
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return false
	}
	switch k.String() {
	case "backspace", "ctrl+h":
		if in.pos > 0 {
			in.value = append(in.value[:in.pos-1], in.value[in.pos:]...)
			in.pos--
		}
	case "delete", "ctrl+d":
		if in.pos < len(in.value) {
			in.value = append(in.value[:in.pos], in.value[in.pos+1:]...)
		}
	case "left", "ctrl+b":
		in.pos = max(0, in.pos-1)
	case "right", "ctrl+f":
		in.pos = min(len(in.value), in.pos+1)
	case "home", "ctrl+a":
		in.pos = 0
	case "end", "ctrl+e":
		in.pos = len(in.value)
	case "ctrl+u":
		in.value, in.pos = in.value[in.pos:], 0
	case "ctrl+k":
		in.value = in.value[:in.pos]
	case "ctrl+w", "alt+backspace":
		i := in.pos
		for i > 0 && in.value[i-1] == ' ' {
			i--
		}
		for i > 0 && in.value[i-1] != ' ' {
			i--
		}
		in.value, in.pos = append(in.value[:i], in.value[in.pos:]...), i
	case "space":
		in.insert(" ")
	default:
		if k.Text == "" || k.Mod&(tea.ModCtrl|tea.ModAlt) != 0 {
			return false
		}
		in.insert(k.Text)
	}
	return true
}

// view draws the prompt and the text in w cells, scrolled to keep the
// cursor visible; the cursor is a reverse-video cell.
func (in *lineInput) view(c *Context, w int) string {
	s := c.Styles
	prompt := s.InputPrompt.Render(in.prompt)
	room := max(1, w-ansi.StringWidth(in.prompt))
	if len(in.value) == 0 && !in.focused {
		return prompt + s.Subtle.Render(textfmt.Truncate(in.placeholder, room, textfmt.Ellipsis))
	}
	start := max(0, in.pos-room+1)
	end := min(len(in.value), start+room)
	before := string(in.value[start:in.pos])
	out := prompt + s.InputText.Render(before)
	if !in.focused {
		return out + s.InputText.Render(string(in.value[in.pos:end]))
	}
	under, after := " ", ""
	if in.pos < len(in.value) {
		under = string(in.value[in.pos])
		after = string(in.value[in.pos+1 : end])
	}
	out += s.InputText.Reverse(true).Render(under) + s.InputText.Render(after)
	if len(in.value) == 0 && in.placeholder != "" {
		out += s.Subtle.Render(textfmt.Truncate(in.placeholder, room-1, textfmt.Ellipsis))
	}
	return out
}
