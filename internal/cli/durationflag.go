package cli

import (
	"time"

	"github.com/relink/relink/config"
)

// durationFlag is a --since-style flag that takes days and weeks as the
// config does ("7d", "2w", "36h").
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return "0s"
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	v, err := config.ParseDuration(s)
	if err != nil {
		return err
	}
	*f.d = v
	return nil
}

func (durationFlag) Type() string { return "duration" }
