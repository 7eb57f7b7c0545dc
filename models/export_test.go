package models

import "time"

// SetClock sets the store's clock, for tests of time-driven rules.
func SetClock(s *Store, now func() time.Time) { s.now = now }
