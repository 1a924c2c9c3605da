package server

import (
	"io"
	"log/slog"
	"os"

	"golang.org/x/term"
)

// NewLogger logs to w: as human-readable text when w is a terminal, as
// JSON lines otherwise (a service manager, a file, a pipe).
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
