package calendar

import (
	"testing"
	"time"
	_ "time/tzdata" // the tests need America/Los_Angeles and Europe/Paris wherever they run

	"github.com/stretchr/testify/require"
)

func loadLocation(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// at is y-m-d hh:mm in UTC.
func at(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, time.UTC)
}

// eod is the end of the day y-m-d in loc: 23:59:59.999.
func eod(y int, m time.Month, d int, loc *time.Location) time.Time {
	return time.Date(y, m, d, 23, 59, 59, 999_000_000, loc)
}

func TestAddMonths(t *testing.T) {
	paris := loadLocation(t, "Europe/Paris")
	tests := []struct {
		name string
		in   time.Time
		n    int
		want time.Time
	}{
		{"31 January to 28 February", at(2026, 1, 31, 10, 0), 1, at(2026, 2, 28, 10, 0)},
		{"31 January to 29 February in a leap year", at(2028, 1, 31, 10, 0), 1, at(2028, 2, 29, 10, 0)},
		{"29 February to 29 March", at(2028, 2, 29, 10, 0), 1, at(2028, 3, 29, 10, 0)},
		{"30 April to 30 May", at(2026, 4, 30, 10, 0), 1, at(2026, 5, 30, 10, 0)},
		{"31 March to 30 April", at(2026, 3, 31, 10, 0), 1, at(2026, 4, 30, 10, 0)},
		{"30 September plus two to 30 November", at(2026, 9, 30, 10, 0), 2, at(2026, 11, 30, 10, 0)},
		{"across the year end", at(2026, 12, 31, 10, 0), 2, at(2027, 2, 28, 10, 0)},
		{"backwards", at(2026, 3, 31, 10, 0), -1, at(2026, 2, 28, 10, 0)},
		{"zero", at(2026, 3, 31, 10, 0), 0, at(2026, 3, 31, 10, 0)},
		{"keeps the wall clock across a DST change", time.Date(2026, 3, 10, 9, 30, 0, 0, paris), 1,
			time.Date(2026, 4, 10, 9, 30, 0, 0, paris)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AddMonths(tt.in, tt.n)
			require.True(t, got.Equal(tt.want), "got %s, want %s", got, tt.want)
			require.Equal(t, tt.in.Location(), got.Location())
		})
	}
}

func TestDeadline(t *testing.T) {
	la := loadLocation(t, "America/Los_Angeles")
	paris := loadLocation(t, "Europe/Paris")
	tests := []struct {
		name  string
		clock Clock
		want  time.Time
	}{
		{"GDPR 31 January 2026", Clock{Regime: GDPR, Received: at(2026, 1, 31, 10, 0)}, eod(2026, 2, 28, time.UTC)},
		{"GDPR 31 January 2028, leap year", Clock{Regime: GDPR, Received: at(2028, 1, 31, 10, 0)}, eod(2028, 2, 29, time.UTC)},
		{"GDPR 29 February 2028", Clock{Regime: GDPR, Received: at(2028, 2, 29, 10, 0)}, eod(2028, 3, 29, time.UTC)},
		{"GDPR 30 April", Clock{Regime: GDPR, Received: at(2026, 4, 30, 10, 0)}, eod(2026, 5, 30, time.UTC)},
		{"GDPR 31 March", Clock{Regime: GDPR, Received: at(2026, 3, 31, 10, 0)}, eod(2026, 4, 30, time.UTC)},
		{"GDPR received one millisecond before midnight", Clock{Regime: GDPR, Received: eod(2026, 3, 31, time.UTC)}, eod(2026, 4, 30, time.UTC)},
		{"UK GDPR 31 January", Clock{Regime: UKGDPR, Received: at(2026, 1, 31, 10, 0)}, eod(2026, 2, 28, time.UTC)},
		{"GDPR 31 August extended to 30 November", Clock{Regime: GDPR, Received: at(2026, 8, 31, 10, 0), Extended: true}, eod(2026, 11, 30, time.UTC)},
		{"GDPR extension counts from the clamped deadline", Clock{Regime: GDPR, Received: at(2026, 1, 31, 10, 0), Extended: true}, eod(2026, 4, 28, time.UTC)},
		{"GDPR in the controller's zone", Clock{Regime: GDPR, Received: at(2026, 3, 31, 23, 30), Location: paris}, eod(2026, 5, 1, paris)},
		// 20 February 23:30 PST + 45 calendar days = 6 April 23:30 PDT, past
		// the end of February, of March and the 8 March DST change; 45×24h
		// would have reached 7 April 00:30 PDT.
		{"CCPA 45 days across month ends and DST", Clock{Regime: CCPA, Received: at(2026, 2, 21, 7, 30), Location: la}, eod(2026, 4, 6, la)},
		{"CCPA counted in UTC when no zone is given", Clock{Regime: CCPA, Received: at(2026, 2, 21, 7, 30)}, eod(2026, 4, 7, time.UTC)},
		{"CCPA extended by 45 days", Clock{Regime: CCPA, Received: at(2026, 2, 21, 7, 30), Location: la, Extended: true}, eod(2026, 5, 21, la)},
		{"CCPA ignores pauses", Clock{Regime: CCPA, Received: at(2026, 3, 1, 10, 0),
			Pauses: []Interval{{Start: at(2026, 3, 2, 10, 0), End: at(2026, 3, 7, 10, 0)}}}, eod(2026, 4, 15, time.UTC)},
		{"LGPD 15 days", Clock{Regime: LGPD, Received: at(2026, 3, 1, 10, 0)}, eod(2026, 3, 16, time.UTC)},
		{"PIPA 10 days", Clock{Regime: PIPA, Received: at(2026, 3, 1, 10, 0)}, eod(2026, 3, 11, time.UTC)},
		{"PIPEDA 30 days", Clock{Regime: PIPEDA, Received: at(2026, 3, 1, 10, 0)}, eod(2026, 3, 31, time.UTC)},
		{"PIPEDA extended by 30 days", Clock{Regime: PIPEDA, Received: at(2026, 3, 1, 10, 0), Extended: true}, eod(2026, 4, 30, time.UTC)},
		{"Swiss FADP 30 days", Clock{Regime: FADP, Received: at(2026, 3, 1, 10, 0)}, eod(2026, 3, 31, time.UTC)},
		{"extension flag ignored where the law has none", Clock{Regime: LGPD, Received: at(2026, 3, 1, 10, 0), Extended: true}, eod(2026, 3, 16, time.UTC)},
		{"promise of 30 days earlier than one month", Clock{Regime: GDPR, Received: at(2026, 1, 1, 10, 0), PromisedDays: 30}, eod(2026, 1, 31, time.UTC)},
		{"promise of 30 days later than one month", Clock{Regime: GDPR, Received: at(2026, 1, 31, 10, 0), PromisedDays: 30}, eod(2026, 2, 28, time.UTC)},
		{"extension after a promise counts from the promised day", Clock{Regime: GDPR, Received: at(2026, 1, 1, 10, 0), PromisedDays: 30, Extended: true}, eod(2026, 3, 31, time.UTC)},
		{"unknown regime is due the day it was received", Clock{Regime: "hipaa", Received: at(2026, 3, 1, 10, 0)}, eod(2026, 3, 1, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.clock.Deadline()
			require.True(t, got.Equal(tt.want), "got %s, want %s", got, tt.want)
		})
	}
}

func TestDeadlinePauses(t *testing.T) {
	received := at(2026, 1, 10, 10, 0) // nominal GDPR deadline: end of 10 February
	pause := func(from, to time.Time) Interval { return Interval{Start: from, End: to} }
	tests := []struct {
		name   string
		regime Regime
		pauses []Interval
		now    time.Time
		want   time.Time
	}{
		{"no pause", GDPR, nil, time.Time{}, eod(2026, 2, 10, time.UTC)},
		{"one pause of 5 days", GDPR, []Interval{pause(at(2026, 1, 12, 10, 0), at(2026, 1, 17, 10, 0))}, time.Time{}, eod(2026, 2, 15, time.UTC)},
		{"two pauses of 2 and 3 days", GDPR, []Interval{
			pause(at(2026, 1, 20, 9, 0), at(2026, 1, 23, 9, 0)),
			pause(at(2026, 1, 11, 8, 0), at(2026, 1, 13, 8, 0)),
		}, time.Time{}, eod(2026, 2, 15, time.UTC)},
		{"overlapping pauses count once", GDPR, []Interval{
			pause(at(2026, 1, 12, 10, 0), at(2026, 1, 15, 10, 0)),
			pause(at(2026, 1, 14, 10, 0), at(2026, 1, 17, 10, 0)),
		}, time.Time{}, eod(2026, 2, 15, time.UTC)},
		{"verification from receipt", GDPR, []Interval{pause(received, at(2026, 1, 13, 9, 0))}, time.Time{}, eod(2026, 2, 13, time.UTC)},
		{"a pause before receipt is clipped", GDPR, []Interval{pause(at(2026, 1, 8, 10, 0), at(2026, 1, 12, 10, 0))}, time.Time{}, eod(2026, 2, 12, time.UTC)},
		{"an hour's pause keeps the day", GDPR, []Interval{pause(at(2026, 1, 12, 10, 0), at(2026, 1, 12, 11, 0))}, time.Time{}, eod(2026, 2, 10, time.UTC)},
		{"a 14-hour pause crosses midnight", GDPR, []Interval{pause(at(2026, 1, 12, 10, 0), at(2026, 1, 13, 0, 0))}, time.Time{}, eod(2026, 2, 11, time.UTC)},
		{"a pause started on the deadline day counts whole", GDPR, []Interval{pause(at(2026, 2, 10, 12, 0), at(2026, 2, 13, 12, 0))}, time.Time{}, eod(2026, 2, 13, time.UTC)},
		{"a pause after the deadline revives nothing", GDPR, []Interval{pause(at(2026, 2, 11, 0, 0), at(2026, 2, 20, 0, 0))}, time.Time{}, eod(2026, 2, 10, time.UTC)},
		{"a pause ending before it starts is ignored", GDPR, []Interval{pause(at(2026, 1, 17, 10, 0), at(2026, 1, 12, 10, 0))}, time.Time{}, eod(2026, 2, 10, time.UTC)},
		{"an open pause adds nothing to Deadline", GDPR, []Interval{{Start: at(2026, 1, 15, 10, 0)}}, time.Time{}, eod(2026, 2, 10, time.UTC)},
		{"an open pause runs until now", GDPR, []Interval{{Start: at(2026, 1, 15, 10, 0)}}, at(2026, 1, 20, 10, 0), eod(2026, 2, 15, time.UTC)},
		{"an open pause not yet begun adds nothing", GDPR, []Interval{{Start: at(2026, 1, 15, 10, 0)}}, at(2026, 1, 14, 10, 0), eod(2026, 2, 10, time.UTC)},
		{"an open pause after a closed one", GDPR, []Interval{
			pause(at(2026, 1, 11, 10, 0), at(2026, 1, 13, 10, 0)),
			{Start: at(2026, 1, 20, 10, 0)},
		}, at(2026, 1, 23, 10, 0), eod(2026, 2, 15, time.UTC)},
		{"PIPA 10 days plus a 5-day pause", PIPA, []Interval{pause(at(2026, 1, 12, 10, 0), at(2026, 1, 17, 10, 0))}, time.Time{}, eod(2026, 1, 25, time.UTC)},
		{"CCPA runs through verification", CCPA, []Interval{pause(received, at(2026, 1, 20, 10, 0))}, time.Time{}, eod(2026, 2, 24, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Clock{Regime: tt.regime, Received: received, Pauses: tt.pauses}
			got := c.DeadlineAt(tt.now)
			require.True(t, got.Equal(tt.want), "got %s, want %s", got, tt.want)
			if tt.now.IsZero() {
				require.True(t, c.Deadline().Equal(got), "Deadline() is DeadlineAt(zero)")
			}
		})
	}

	t.Run("extension then pause", func(t *testing.T) {
		c := Clock{Regime: GDPR, Received: at(2026, 8, 31, 10, 0), Extended: true,
			Pauses: []Interval{{Start: at(2026, 9, 1, 10, 0), End: at(2026, 9, 4, 10, 0)}}}
		got := c.Deadline()
		require.True(t, got.Equal(eod(2026, 12, 3, time.UTC)), "got %s", got)
	})
}

func TestExtend(t *testing.T) {
	received := at(2026, 1, 10, 10, 0) // GDPR deadline: end of 10 February
	deadline := eod(2026, 2, 10, time.UTC)
	tests := []struct {
		name     string
		clock    Clock
		reason   string
		noticeAt time.Time
		wantErr  error // nil: accepted
		wantDue  time.Time
	}{
		{"GDPR within the month", Clock{Regime: GDPR, Received: received}, "complex request", at(2026, 2, 1, 9, 0), nil, eod(2026, 4, 10, time.UTC)},
		{"GDPR one millisecond before the deadline", Clock{Regime: GDPR, Received: received}, "complex request", deadline.Add(-time.Millisecond), nil, eod(2026, 4, 10, time.UTC)},
		{"GDPR at the deadline", Clock{Regime: GDPR, Received: received}, "complex request", deadline, ErrExtensionTooLate, time.Time{}},
		{"GDPR after the deadline", Clock{Regime: GDPR, Received: received}, "complex request", at(2026, 2, 11, 0, 0), ErrExtensionTooLate, time.Time{}},
		{"GDPR after the nominal deadline while the clock is stopped", Clock{Regime: GDPR, Received: received,
			Pauses: []Interval{{Start: at(2026, 2, 1, 10, 0)}}}, "waiting for the requester", at(2026, 2, 12, 10, 0), nil, eod(2026, 4, 10, time.UTC)},
		{"CCPA", Clock{Regime: CCPA, Received: received}, "volume", at(2026, 2, 20, 9, 0), nil, eod(2026, 4, 10, time.UTC)},
		{"PIPEDA", Clock{Regime: PIPEDA, Received: received}, "consultations", at(2026, 2, 1, 9, 0), nil, eod(2026, 3, 11, time.UTC)},
		{"empty reason", Clock{Regime: GDPR, Received: received}, "", at(2026, 2, 1, 9, 0), ErrNoReason, time.Time{}},
		{"blank reason", Clock{Regime: GDPR, Received: received}, " \t\n", at(2026, 2, 1, 9, 0), ErrNoReason, time.Time{}},
		{"already extended", Clock{Regime: GDPR, Received: received, Extended: true, ExtendedReason: "complex request"}, "more", at(2026, 2, 1, 9, 0), ErrAlreadyExtended, time.Time{}},
		{"LGPD has no extension", Clock{Regime: LGPD, Received: received}, "complex request", at(2026, 1, 11, 9, 0), ErrNotExtendable, time.Time{}},
		{"PIPA has no extension", Clock{Regime: PIPA, Received: received}, "complex request", at(2026, 1, 11, 9, 0), ErrNotExtendable, time.Time{}},
		{"FADP has no extension", Clock{Regime: FADP, Received: received}, "complex request", at(2026, 1, 11, 9, 0), ErrNotExtendable, time.Time{}},
		{"unknown regime", Clock{Regime: "hipaa", Received: received}, "complex request", at(2026, 1, 11, 9, 0), ErrUnknownRegime, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.clock.Extend(tt.reason, tt.noticeAt)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Equal(t, tt.clock, got, "a refused extension changes nothing")
				return
			}
			require.NoError(t, err)
			require.True(t, got.Extended)
			require.Equal(t, tt.reason, got.ExtendedReason)
			require.True(t, got.ExtendedAt.Equal(tt.noticeAt))
			require.False(t, tt.clock.Extended, "the original clock is not changed")
			require.True(t, got.Deadline().Equal(tt.wantDue), "got %s, want %s", got.Deadline(), tt.wantDue)

			_, err = got.Extend("again", tt.noticeAt)
			require.ErrorIs(t, err, ErrAlreadyExtended)
		})
	}

	t.Run("notice before receipt", func(t *testing.T) {
		_, err := Clock{Regime: GDPR, Received: received}.Extend("complex request", at(2026, 1, 9, 0, 0))
		require.Error(t, err)
	})

	t.Run("the reason is trimmed", func(t *testing.T) {
		got, err := Clock{Regime: GDPR, Received: received}.Extend("  complex request\n", at(2026, 1, 11, 0, 0))
		require.NoError(t, err)
		require.Equal(t, "complex request", got.ExtendedReason)
	})

	t.Run("the extended clock does not share its pauses", func(t *testing.T) {
		c := Clock{Regime: GDPR, Received: received, Pauses: make([]Interval, 1, 4)}
		c.Pauses[0] = Interval{Start: at(2026, 1, 12, 10, 0), End: at(2026, 1, 13, 10, 0)}
		got, err := c.Extend("complex request", at(2026, 1, 20, 0, 0))
		require.NoError(t, err)
		got.Pauses = append(got.Pauses, Interval{Start: at(2026, 1, 21, 0, 0)})
		_ = append(c.Pauses, Interval{Start: at(2026, 1, 22, 0, 0)})
		require.True(t, got.Pauses[1].Start.Equal(at(2026, 1, 21, 0, 0)))
	})
}

func TestDaysLeft(t *testing.T) {
	la := loadLocation(t, "America/Los_Angeles")
	received := at(2026, 1, 15, 10, 0) // GDPR deadline: end of 15 February UTC
	tests := []struct {
		name  string
		clock Clock
		now   time.Time
		want  int
	}{
		{"on receipt", Clock{Regime: GDPR, Received: received}, received, 31},
		{"three days before, midday", Clock{Regime: GDPR, Received: received}, at(2026, 2, 12, 12, 0), 3},
		{"the evening before", Clock{Regime: GDPR, Received: received}, time.Date(2026, 2, 14, 23, 59, 59, 999_000_000, time.UTC), 1},
		{"midnight starting the deadline day", Clock{Regime: GDPR, Received: received}, at(2026, 2, 15, 0, 0), 0},
		{"the deadline itself", Clock{Regime: GDPR, Received: received}, eod(2026, 2, 15, time.UTC), 0},
		{"midnight after the deadline", Clock{Regime: GDPR, Received: received}, at(2026, 2, 16, 0, 0), -1},
		{"ten days overdue", Clock{Regime: GDPR, Received: received}, at(2026, 2, 25, 18, 0), -10},
		{"an open pause moves the deadline", Clock{Regime: GDPR, Received: received,
			Pauses: []Interval{{Start: at(2026, 2, 10, 10, 0)}}}, at(2026, 2, 20, 10, 0), 5},
		// 7 April 06:00 UTC is still 6 April 23:00 in Los Angeles.
		{"read in the clock's zone", Clock{Regime: CCPA, Received: at(2026, 2, 21, 7, 30), Location: la}, at(2026, 4, 7, 6, 0), 0},
		{"midnight in the clock's zone", Clock{Regime: CCPA, Received: at(2026, 2, 21, 7, 30), Location: la}, at(2026, 4, 7, 7, 0), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.clock.DaysLeft(tt.now))
		})
	}
}
