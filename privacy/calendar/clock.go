package calendar

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Errors returned by Clock.Extend.
var (
	ErrUnknownRegime    = errors.New("unknown regime")
	ErrNotExtendable    = errors.New("the law allows no extension")
	ErrAlreadyExtended  = errors.New("the deadline has already been extended")
	ErrNoReason         = errors.New("an extension needs its reasons: they are sent to the requester")
	ErrExtensionTooLate = errors.New("an extension must be notified before the current deadline")
)

// Interval is a span of time [Start, End). A zero End means the interval is
// still open.
type Interval struct {
	Start time.Time
	End   time.Time
}

// Clock is the legal clock of one request. The zero Location means UTC.
//
// The deadline is computed in three steps:
//
//  1. The nominal due instant: the received time, in Location, plus the
//     regime's period in calendar months (AddMonths, so 31 January + 1 month
//     is 28 or 29 February) or calendar days (DST-safe: same wall clock), and
//     the extension, when Extended, counted from that nominal instant in the
//     same way (31 August → 30 September → 30 November).
//  2. Plus the paused time: the clock stands still while the requester owes
//     us verification or clarification, so each pause's real duration is
//     added. Pauses are clipped to start no earlier than Received and merged
//     where they overlap; one that starts only after the running deadline has
//     passed adds nothing (a lapsed deadline is not revived). CCPA ignores
//     pauses: 11 CCR §7021(b) runs its 45 days "regardless of time required to
//     verify the request".
//  3. The deadline is the end of the local day (23:59:59.999 in Location) on
//     which that instant falls: periods are counted in whole days, ending "with
//     the expiry of the last hour of the day" (Regulation 1182/71 Art.
//     3(2)(c)). Milliseconds, not nanoseconds, so the instant survives
//     PostgreSQL and JSON unchanged.
//
// So a GDPR request received 2026-01-10 10:00 with one 5-day pause is due at
// the end of 2026-02-15 (10 February 10:00 + 5 days). A pause of a few hours
// moves the deadline only if it pushes that instant past midnight.
//
// Weekends and public holidays are not skipped, although Regulation 1182/71
// Art. 3(4) would let a GDPR period ending on one run to the next working
// day: the earlier date is always safe.
type Clock struct {
	Regime   Regime
	Received time.Time
	Pauses   []Interval
	// Extended is set by Extend, with the reasons sent to the requester and
	// when that notice was sent.
	Extended       bool
	ExtendedReason string
	ExtendedAt     time.Time
	// PromisedDays, when positive, caps the initial period at that many
	// calendar days from receipt, for a policy that promises less than the
	// law: seed 000 §7.9 promises GDPR requesters "We will respond to your
	// request within 30 days.", earlier than one month after a 31-day month.
	// Zero means the law alone.
	PromisedDays int
	Location     *time.Location
}

func (c Clock) location() *time.Location {
	if c.Location == nil {
		return time.UTC
	}
	return c.Location
}

// Deadline returns the deadline counting only closed pauses: an open pause
// adds nothing yet, so this is the earliest the deadline can be.
func (c Clock) Deadline() time.Time {
	return c.DeadlineAt(time.Time{})
}

// DeadlineAt returns the deadline as it stands at now: an open pause counts
// as running until now (the clock is stopped, so the deadline moves later as
// long as the pause lasts). A zero now counts open pauses as nothing.
//
// A Clock with an unknown Regime is due at the end of the day it was
// received, so that it shows up as due at once rather than never.
func (c Clock) DeadlineAt(now time.Time) time.Time {
	loc := c.location()
	received := c.Received.In(loc)
	ru, ok := rules[c.Regime]
	if !ok {
		return endOfDay(received)
	}
	due := c.nominal(ru, received)
	if ru.pausable {
		for _, p := range c.pauses(now) {
			if !p.Start.Before(endOfDay(due)) {
				break
			}
			due = due.Add(p.End.Sub(p.Start))
		}
	}
	return endOfDay(due)
}

// nominal is step 1: the due instant before pauses.
func (c Clock) nominal(ru rule, received time.Time) time.Time {
	due := ru.period(received)
	if c.PromisedDays > 0 {
		if promised := received.AddDate(0, 0, c.PromisedDays); promised.Before(due) {
			due = promised
		}
	}
	if c.Extended && (ru.extMonths > 0 || ru.extDays > 0) {
		due = ru.extend(due)
	}
	return due
}

// pauses returns the pauses clipped to Received, open ones closed at now (or
// dropped when now is zero), empty ones dropped, sorted and merged.
func (c Clock) pauses(now time.Time) []Interval {
	var ps []Interval
	for _, p := range c.Pauses {
		if p.Start.Before(c.Received) {
			p.Start = c.Received
		}
		if p.End.IsZero() {
			p.End = now
		}
		if p.End.After(p.Start) {
			ps = append(ps, p)
		}
	}
	slices.SortFunc(ps, func(a, b Interval) int { return a.Start.Compare(b.Start) })
	var merged []Interval
	for _, p := range ps {
		if n := len(merged); n > 0 && !p.Start.After(merged[n-1].End) {
			if p.End.After(merged[n-1].End) {
				merged[n-1].End = p.End
			}
			continue
		}
		merged = append(merged, p)
	}
	return merged
}

// Extend returns the clock extended by the regime's extension (GDPR and UK
// GDPR: two further months, Art. 12(3) and seed 004 §12; CCPA: 45 days,
// §1798.130(a)(2); PIPEDA: 30 days, s. 8(4)(a)), counted from the original
// nominal deadline. All three laws want the notice, with its reasons, sent
// within the original period, so noticeAt must be before the deadline as it
// stands at noticeAt, and at or after Received. A clock is extended at most
// once; LGPD, PIPA and the Swiss FADP have no fixed-length extension and are
// refused with ErrNotExtendable. c itself is not changed.
func (c Clock) Extend(reason string, noticeAt time.Time) (Clock, error) {
	if !c.Regime.Valid() {
		return c, fmt.Errorf("%w %q", ErrUnknownRegime, c.Regime)
	}
	if !c.Regime.Extendable() {
		return c, fmt.Errorf("%w under %s", ErrNotExtendable, c.Regime)
	}
	if c.Extended {
		return c, ErrAlreadyExtended
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return c, ErrNoReason
	}
	if noticeAt.Before(c.Received) {
		return c, fmt.Errorf("the extension notice at %s is before the request was received", noticeAt.Format(time.RFC3339))
	}
	if deadline := c.DeadlineAt(noticeAt); !noticeAt.Before(deadline) {
		return c, fmt.Errorf("%w (%s)", ErrExtensionTooLate, deadline.Format(time.RFC3339))
	}
	c.Pauses = slices.Clone(c.Pauses)
	c.Extended, c.ExtendedReason, c.ExtendedAt = true, reason, noticeAt
	return c, nil
}

// DaysLeft returns the whole days from now to the deadline as it stands at
// now, counted as a person reads a calendar in the clock's Location: 0 on
// the deadline day ("due today"), 1 the day before ("due tomorrow"), -1 the
// day after ("1 day overdue"). Times of day do not matter: 23:59 the day
// before is still 1, 00:00 on the day is 0.
func (c Clock) DaysLeft(now time.Time) int {
	loc := c.location()
	return daysBetween(now.In(loc), c.DeadlineAt(now).In(loc))
}

// daysBetween counts calendar days from a's date to b's date, each read in
// its own location.
func daysBetween(a, b time.Time) int {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	da := time.Date(ay, am, ad, 0, 0, 0, 0, time.UTC)
	db := time.Date(by, bm, bd, 0, 0, 0, 0, time.UTC)
	return int(db.Sub(da) / (24 * time.Hour))
}

// AddMonths adds n calendar months to t (n may be negative), keeping the day
// of the month and the wall-clock time in t's location, and clamping the day
// to the last day of the target month when that month is shorter: 31 January
// + 1 → 28 February (29 in a leap year), 31 March + 1 → 30 April, 30 April +
// 1 → 30 May. Unlike time.AddDate, it never spills into the following month.
func AddMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	hh, mm, ss := t.Clock()
	first := time.Date(y, m+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	ty, tm, _ := first.Date()
	if last := daysIn(ty, tm); d > last {
		d = last
	}
	return time.Date(ty, tm, d, hh, mm, ss, t.Nanosecond(), t.Location())
}

// daysIn returns the number of days in month m of year y.
func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// endOfDay returns 23:59:59.999 on t's date in t's location.
func endOfDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 23, 59, 59, int(999*time.Millisecond), t.Location())
}
