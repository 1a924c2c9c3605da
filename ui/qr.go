package ui

import (
	"strings"

	"charm.land/lipgloss/v2"
	"rsc.io/qr"
)

// qrQuiet is the light margin drawn around a QR code, in modules. The
// standard asks for 4; 2 keeps a link of ~100 characters within a 44-cell
// pane, and phone cameras read it.
const qrQuiet = 2

// qrImage is a link drawn as a QR code: two modules a cell, stacked with
// the half-block characters, so that modules are about square.
type qrImage struct {
	lines []string // styled, each w cells wide
	w, h  int
	err   error
}

// renderQR encodes url and draws it. The ink (the modules drawn with the
// foreground colour) is the light modules on a dark background and the dark
// ones on a light background, so that with colours off (NO_COLOR) the
// terminal's own colours still draw dark on light. With colours the code is
// black on white, as scanners want it whatever the theme.
func renderQR(url string, darkBackground, colour bool) qrImage {
	code, err := qr.Encode(url, qr.L)
	if err != nil {
		return qrImage{err: err}
	}
	n := code.Size + 2*qrQuiet
	on := func(x, y int) bool { // is module (x, y), quiet zone included, ink?
		x, y = x-qrQuiet, y-qrQuiet
		if y >= code.Size+qrQuiet { // the half row under an odd last one is the pane's own
			return false
		}
		dark := x >= 0 && y >= 0 && x < code.Size && y < code.Size && code.Black(x, y)
		return dark != darkBackground
	}
	st := lipgloss.NewStyle()
	if colour {
		fg, bg := lipgloss.Color("#000000"), lipgloss.Color("#ffffff")
		if darkBackground {
			fg, bg = bg, fg
		}
		st = st.Foreground(fg).Background(bg)
	}
	img := qrImage{w: n, h: (n + 1) / 2}
	var b strings.Builder
	for y := 0; y < n; y += 2 {
		b.Reset()
		for x := 0; x < n; x++ {
			top, bottom := on(x, y), on(x, y+1)
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		img.lines = append(img.lines, st.Render(b.String()))
	}
	return img
}
