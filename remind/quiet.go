package remind

import (
	"fmt"
	"time"

	"github.com/relink/relink/config"
)

// QuietHours is a daily window, in the operator's zone, when no reminder is
// sent. The zero value is no window.
type QuietHours struct {
	From, To int // minutes after midnight; From > To wraps past midnight
	Location *time.Location
}

// ParseQuietHours reads reminders.quiet_hours ("21:00-08:00"; "" is none)
// in loc (time.Local when nil).
func ParseQuietHours(s string, loc *time.Location) (QuietHours, error) {
	if loc == nil {
		loc = time.Local
	}
	if s == "" {
		return QuietHours{Location: loc}, nil
	}
	from, to, err := config.ParseQuietHours(s)
	if err != nil {
		return QuietHours{}, fmt.Errorf("reminders.quiet_hours: %w", err)
	}
	return QuietHours{From: from, To: to, Location: loc}, nil
}

// Set reports whether there is a window at all.
func (q QuietHours) Set() bool { return q.From != q.To }

func (q QuietHours) loc() *time.Location {
	if q.Location == nil {
		return time.Local
	}
	return q.Location
}

// Contains reports whether t falls in the window.
func (q QuietHours) Contains(t time.Time) bool {
	if !q.Set() {
		return false
	}
	lt := t.In(q.loc())
	m := lt.Hour()*60 + lt.Minute()
	if q.From < q.To {
		return m >= q.From && m < q.To
	}
	return m >= q.From || m < q.To
}

// End is when the window that contains t ends (t itself outside it).
func (q QuietHours) End(t time.Time) time.Time {
	if !q.Contains(t) {
		return t
	}
	lt := t.In(q.loc())
	end := time.Date(lt.Year(), lt.Month(), lt.Day(), q.To/60, q.To%60, 0, 0, q.loc())
	if !end.After(lt) {
		end = end.AddDate(0, 0, 1)
	}
	return end
}

// String is "21:00–08:00 Europe/Lisbon", or "none".
func (q QuietHours) String() string {
	if !q.Set() {
		return "none"
	}
	return fmt.Sprintf("%02d:%02d–%02d:%02d %s", q.From/60, q.From%60, q.To/60, q.To%60, q.loc())
}
