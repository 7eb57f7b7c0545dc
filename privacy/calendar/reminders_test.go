package calendar

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestReminders(t *testing.T) {
	la := loadLocation(t, "America/Los_Angeles")
	tests := []struct {
		name     string
		deadline time.Time
		want     []Reminder
	}{
		{"UTC", eod(2026, 2, 15, time.UTC), []Reminder{
			{At: at(2026, 2, 8, 0, 0), Kind: KindReminder7d},
			{At: at(2026, 2, 13, 0, 0), Kind: KindReminder2d},
			{At: at(2026, 2, 16, 0, 0), Kind: KindOverdue},
		}},
		{"across a month start", eod(2026, 3, 3, time.UTC), []Reminder{
			{At: at(2026, 2, 24, 0, 0), Kind: KindReminder7d},
			{At: at(2026, 3, 1, 0, 0), Kind: KindReminder2d},
			{At: at(2026, 3, 4, 0, 0), Kind: KindOverdue},
		}},
		// DST starts in Los Angeles at 02:00 on 8 March 2026: local midnights
		// before it are 08:00 UTC, after it 07:00 UTC.
		{"local midnights across DST", eod(2026, 3, 10, la), []Reminder{
			{At: at(2026, 3, 3, 8, 0), Kind: KindReminder7d},
			{At: at(2026, 3, 8, 8, 0), Kind: KindReminder2d},
			{At: at(2026, 3, 11, 7, 0), Kind: KindOverdue},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Reminders(tt.deadline)
			require.Len(t, got, len(tt.want))
			for i := range tt.want {
				require.Equal(t, tt.want[i].Kind, got[i].Kind)
				require.True(t, got[i].At.Equal(tt.want[i].At), "%s: got %s, want %s", got[i].Kind, got[i].At, tt.want[i].At)
			}
		})
	}

	t.Run("agrees with DaysLeft", func(t *testing.T) {
		c := Clock{Regime: CCPA, Received: at(2026, 1, 24, 20, 0), Location: la} // due 10 March
		deadline := c.Deadline()
		require.True(t, deadline.Equal(eod(2026, 3, 10, la)), "deadline %s", deadline)
		want := map[string]int{KindReminder7d: 7, KindReminder2d: 2, KindOverdue: -1}
		reminders := Reminders(deadline)
		require.Len(t, reminders, len(want))
		for _, r := range reminders {
			require.Contains(t, want, r.Kind)
			require.Equal(t, want[r.Kind], c.DaysLeft(r.At), r.Kind)
			require.Equal(t, want[r.Kind]+1, c.DaysLeft(r.At.Add(-time.Millisecond)), "just before %s", r.Kind)
		}
	})
}
