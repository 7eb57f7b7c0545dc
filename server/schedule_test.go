package server

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestResolveSchedule(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, raw, tz string
		want          time.Time
		bad           bool
	}{
		{"RFC 3339 with offset", "2026-03-29T18:00:00+02:00", "UTC", time.Date(2026, 3, 29, 16, 0, 0, 0, time.UTC), false},
		{"now", "now", "UTC", now, false},
		{"local time in Paris, winter", "2026-03-28T18:00", "Europe/Paris", time.Date(2026, 3, 28, 17, 0, 0, 0, time.UTC), false},
		{"local time in Paris, summer (after the change)", "2026-03-29T18:00", "Europe/Paris", time.Date(2026, 3, 29, 16, 0, 0, 0, time.UTC), false},
		{"skipped by spring forward", "2026-03-29T02:30", "Europe/Paris", time.Time{}, true},
		{"twice at fall back: the first", "2026-10-25T02:30", "Europe/Paris", time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), false},
		{"New York fall back: the first", "2026-11-01T01:30", "America/New_York", time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), false},
		{"with seconds", "2026-05-01 09:15:30", "Asia/Seoul", time.Date(2026, 5, 1, 0, 15, 30, 0, time.UTC), false},
		{"garbage", "next tuesday", "UTC", time.Time{}, true},
		{"empty", "", "UTC", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, msg := resolveSchedule(tt.raw, tt.tz, now)
			if tt.bad {
				require.NotEmpty(t, msg)
				return
			}
			require.Empty(t, msg)
			require.True(t, got.Equal(tt.want), "got %s want %s", got, tt.want)
		})
	}
}
