package server

import (
	"sync"
	"time"
)

// Login throttling. Failed sign-ins are counted per account and all
// attempts per client IP, in sliding windows.
const (
	limitWindow         = 15 * time.Minute
	maxAccountFailures  = 5
	maxAttemptsPerIP    = 30
	maxRegistersPerIP   = 20
	maxPrivacyMailPerIP = 10
	maxEmailChangeMail  = 10
	maxSignUpMail       = 5
	limiterSweepEntries = 10000
)

// window counts events in a sliding time window per key.
type window struct {
	mu     sync.Mutex
	now    func() time.Time
	size   time.Duration
	max    int
	events map[string][]time.Time
}

func newWindow(now func() time.Time, size time.Duration, max int) *window {
	return &window{now: now, size: size, max: max, events: map[string][]time.Time{}}
}

// recent returns the key's events still inside the window.
func (w *window) recent(key string, now time.Time) []time.Time {
	ev := w.events[key]
	i := 0
	for i < len(ev) && now.Sub(ev[i]) >= w.size {
		i++
	}
	return ev[i:]
}

// blocked reports whether the key is over its limit, and for how long.
func (w *window) blocked(key string) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	ev := w.recent(key, now)
	if len(ev) < w.max {
		return 0, false
	}
	return w.size - now.Sub(ev[len(ev)-w.max]), true
}

// add records one event for the key.
func (w *window) add(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	if len(w.events) > limiterSweepEntries {
		for k := range w.events {
			if len(w.recent(k, now)) == 0 {
				delete(w.events, k)
			}
		}
	}
	w.events[key] = append(w.recent(key, now), now)
}

// reset forgets the key.
func (w *window) reset(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.events, key)
}

// loginLimits holds the throttles of the sign-in endpoints. They live in the
// process: with several API replicas each enforces its own share.
type loginLimits struct {
	accountFailures *window
	ipAttempts      *window
	ipRegistrations *window
	// ipPrivacyMail counts public privacy requests and code resends per
	// IP: each mails an address the caller merely typed.
	ipPrivacyMail *window
	// accountEmailChangeMail counts the codes an account asks to be
	// mailed to a new address (asking and resending), so that a session
	// cannot be used to flood someone's mailbox.
	accountEmailChangeMail *window
	// addressSignUpMail counts the codes and notices signing up mails to
	// an address (sign-ups, resends, verifications).
	addressSignUpMail *window
}

func newLoginLimits(now func() time.Time, attemptsPerIP, signUpsPerIP int) *loginLimits {
	if attemptsPerIP <= 0 {
		attemptsPerIP = maxAttemptsPerIP
	}
	if signUpsPerIP <= 0 {
		signUpsPerIP = maxRegistersPerIP
	}
	return &loginLimits{
		accountFailures:        newWindow(now, limitWindow, maxAccountFailures),
		ipAttempts:             newWindow(now, limitWindow, attemptsPerIP),
		ipRegistrations:        newWindow(now, time.Hour, signUpsPerIP),
		ipPrivacyMail:          newWindow(now, time.Hour, maxPrivacyMailPerIP),
		accountEmailChangeMail: newWindow(now, time.Hour, maxEmailChangeMail),
		addressSignUpMail:      newWindow(now, time.Hour, maxSignUpMail),
	}
}

// retryAfterSeconds rounds a wait up to whole seconds.
func retryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}
