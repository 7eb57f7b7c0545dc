// Package mailcode issues and checks the 6-digit codes that Loomcast mails
// to an address to prove that whoever asks controls it: a public privacy
// request's address, or the new address of an email change. A code is
// valid for 10 minutes and 3 attempts, then void; a new one may be asked a
// minute after the last and voids it. Only a keyed hash of a code is
// stored, so a copy of the database does not give the codes away.
package mailcode

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// The limits of a code.
const (
	// Lifetime is how long a code works after it is sent.
	Lifetime = 10 * time.Minute
	// MaxAttempts is how many tries a code takes, right or wrong; the
	// last wrong one voids it.
	MaxAttempts = 3
	// ResendAfter is how soon after a code a new one may be sent.
	ResendAfter = time.Minute
)

// Issued is a new code: what to mail, and what to store.
type Issued struct {
	// Code is the 6 digits to mail; it is never stored.
	Code string
	// Hash is what to store in its place.
	Hash      string
	ExpiresAt time.Time
}

// Issue makes a new code for purpose and subject (what the code is about,
// such as a request ID), valid from now for Lifetime. key is the server's
// secret that keys the stored hash.
func Issue(key []byte, purpose, subject string, now time.Time) (Issued, error) {
	return IssueFor(key, purpose, subject, now, Lifetime)
}

// IssueFor is Issue for a code valid for lifetime instead of Lifetime,
// such as a sign-up's, which waits a day for its person to read the mail.
func IssueFor(key []byte, purpose, subject string, now time.Time, lifetime time.Duration) (Issued, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return Issued{}, fmt.Errorf("new code: %w", err)
	}
	code := fmt.Sprintf("%06d", n.Int64())
	return Issued{Code: code, Hash: Hash(key, purpose, subject, code), ExpiresAt: now.Add(lifetime)}, nil
}

// Hash is the stored form of a code: an HMAC under key of the purpose, the
// subject and the code, so that a code for one thing never works for
// another.
func Hash(key []byte, purpose, subject, code string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose + "|" + subject + "|" + code))
	return hex.EncodeToString(m.Sum(nil))
}

// Stored is a code as it is kept: its hash (empty once used), when it
// expires and how many attempts were made at it.
type Stored struct {
	Hash      string
	ExpiresAt *time.Time
	Attempts  int
}

// TooSoon reports whether a new code, at now, would follow the last one by
// less than ResendAfter.
func (s Stored) TooSoon(now time.Time) bool { return s.TooSoonFor(now, Lifetime) }

// TooSoonFor is TooSoon for a code issued for lifetime (IssueFor).
func (s Stored) TooSoonFor(now time.Time, lifetime time.Duration) bool {
	return s.ExpiresAt != nil && now.Before(s.ExpiresAt.Add(-lifetime+ResendAfter))
}

// ErrVoid says that the code can no longer be used: none was sent, it was
// used, it expired or its attempts are spent. Only a new code helps.
var ErrVoid = errors.New("the code is no longer valid")

// WrongError says that the code given is not the one sent.
type WrongError struct {
	// Left is how many attempts remain.
	Left int
}

func (e *WrongError) Error() string {
	return fmt.Sprintf("the code is wrong; %d attempt(s) left", e.Left)
}

// Check checks the code given against the stored one at now. count
// records one attempt and returns the attempts made so far, in one
// statement, so that concurrent guesses are all counted. It returns nil
// for the right code, ErrVoid, a *WrongError, or count's error.
func Check(ctx context.Context, key []byte, purpose, subject, given string, s Stored, now time.Time,
	count func(context.Context) (int, error)) error {
	if s.Hash == "" || s.ExpiresAt == nil || !now.Before(*s.ExpiresAt) || s.Attempts >= MaxAttempts {
		return ErrVoid
	}
	attempts, err := count(ctx)
	if err != nil {
		return err
	}
	if attempts > MaxAttempts {
		return ErrVoid
	}
	if !hmac.Equal([]byte(Hash(key, purpose, subject, strings.TrimSpace(given))), []byte(s.Hash)) {
		left := MaxAttempts - attempts
		if left <= 0 {
			return ErrVoid
		}
		return &WrongError{Left: left}
	}
	return nil
}
