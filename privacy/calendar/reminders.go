package calendar

import "time"

// Reminder kinds.
const (
	KindReminder7d = "reminder_7d"
	KindReminder2d = "reminder_2d"
	KindOverdue    = "overdue"
)

// Reminder is a staff notification about a deadline.
type Reminder struct {
	At   time.Time
	Kind string
}

// Reminders returns the staff reminders for deadline, in time order:
// KindReminder7d and KindReminder2d at the start (00:00) of the local day 7
// and 2 calendar days before the deadline's day (the days on which DaysLeft
// first reads 7 and 2), and KindOverdue one millisecond after the deadline,
// the first instant at which it has passed (for an end-of-day deadline,
// midnight starting the next day). Days are read in the deadline's location.
// Reminders already in the past are included: the caller skips or sends them.
func Reminders(deadline time.Time) []Reminder {
	y, m, d := deadline.Date()
	loc := deadline.Location()
	return []Reminder{
		{At: time.Date(y, m, d-7, 0, 0, 0, 0, loc), Kind: KindReminder7d},
		{At: time.Date(y, m, d-2, 0, 0, 0, 0, loc), Kind: KindReminder2d},
		{At: deadline.Add(time.Millisecond), Kind: KindOverdue},
	}
}
