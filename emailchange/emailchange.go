// Package emailchange moves an account to a new email address the one way
// Loomcast allows: a 6-digit code (package mailcode) is mailed to the new
// address, and the address changes only when the code comes back. Both
// ways of asking use it: the profile (the API, after a password re-entry)
// and a rectification request (the privacy activities, after staff
// review). The pending change is a row of its own, deleted when it is
// confirmed, replaced by a new one, or by retention a day after it was
// asked (retention.EmailChanges).
package emailchange

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/mailcode"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/retention/scheduler"
)

// Lifetime is how long an asked change waits for its code: codes can be
// sent again until then, each valid for mailcode.Lifetime.
var Lifetime = retention.Fixed(retention.EmailChanges)

// purpose keys the codes of email changes apart from other codes.
const purpose = "email-change"

// MailKind is the kind of the mail that carries the code.
const MailKind = "email_change_code"

// Refusals of the operations, for the caller to word.
var (
	// ErrNone: no change is waiting (none was asked, it was confirmed,
	// or it is older than Lifetime).
	ErrNone = errors.New("no email change is waiting")
	// ErrSame: the new address is already the account's.
	ErrSame = errors.New("the new address is the account's already")
	// ErrTaken: another account holds the new address; the change is
	// dropped.
	ErrTaken = errors.New("another account holds the new address")
	// ErrTooSoon: the last code went out less than mailcode.ResendAfter
	// ago.
	ErrTooSoon = errors.New("a code was sent less than a minute ago")
	// ErrNotSent: the code could not be mailed (the error wraps why);
	// asking again is safe.
	ErrNotSent = errors.New("the code could not be mailed")
)

// Changes asks for, resends and confirms email changes.
type Changes struct {
	Store *models.Store
	Mail  mail.Sender
	// Buckets schedules the deletion of pending changes.
	Buckets *scheduler.Buckets
	// Key keys the stored hashes of codes: the session key, which the API
	// (that checks codes) and the worker (that sends some) share.
	Key []byte
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (c *Changes) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

// subject binds a code to the account and the address it confirms.
func subject(userID, email string) string { return userID + "|" + email }

func stored(p models.EmailChange) mailcode.Stored {
	return mailcode.Stored{Hash: p.CodeHash, ExpiresAt: p.CodeExpiresAt, Attempts: p.CodeAttempts}
}

// Start asks for u's address to become newEmail, replacing any change u
// asked before, and mails a code to newEmail. requestID names the
// rectification request that asks, empty from the profile. Whether
// another account holds newEmail is not checked here: the code goes out
// either way and Confirm refuses, so that asking tells nobody who has an
// account.
func (c *Changes) Start(ctx context.Context, u models.User, newEmail, requestID string) error {
	newEmail = models.NormalizeEmail(newEmail)
	if newEmail == u.Email {
		return ErrSame
	}
	now := c.now()
	// The deletion first, as for every bucketed row: the change is never
	// stored without it.
	if err := c.Buckets.Note(ctx, retention.EmailChanges, now); err != nil {
		return err
	}
	code, err := mailcode.Issue(c.Key, purpose, subject(u.ID, newEmail), now)
	if err != nil {
		return err
	}
	p := models.EmailChange{UserID: u.ID, NewEmail: newEmail, RequestID: requestID, CreatedAt: now,
		CodeHash: code.Hash, CodeExpiresAt: &code.ExpiresAt}
	if err := c.Store.PutEmailChange(ctx, p); err != nil {
		return err
	}
	return c.sendCode(ctx, p, code.Code)
}

// Pending returns u's change waiting for its code, or ErrNone.
func (c *Changes) Pending(ctx context.Context, userID string) (models.EmailChange, error) {
	p, err := c.Store.EmailChangeOf(ctx, userID)
	if errors.Is(err, models.ErrNotFound) || (err == nil && !c.now().Before(p.CreatedAt.Add(Lifetime))) {
		return models.EmailChange{}, ErrNone
	}
	return p, err
}

// Resend mails a new code for u's pending change; the old one stops
// working.
func (c *Changes) Resend(ctx context.Context, u models.User) error {
	p, err := c.Pending(ctx, u.ID)
	if err != nil {
		return err
	}
	now := c.now()
	if stored(p).TooSoon(now) {
		return ErrTooSoon
	}
	code, err := mailcode.Issue(c.Key, purpose, subject(u.ID, p.NewEmail), now)
	if err != nil {
		return err
	}
	if err := c.Store.SetEmailChangeCode(ctx, u.ID, code.Hash, code.ExpiresAt); err != nil {
		return err
	}
	return c.sendCode(ctx, p, code.Code)
}

// Confirmed is what a confirmed change did.
type Confirmed struct {
	// User is the account with its new address.
	User models.User
	// OldEmail is the address it had.
	OldEmail string
	// RequestID is the rectification request that asked, if any.
	RequestID string
	// GoogleUnlinked says that the account's Google sign-in link ended.
	GoogleUnlinked bool
}

// Confirm checks the code of u's pending change and, when it is right,
// gives u the new address. It returns ErrNone, mailcode.ErrVoid, a
// *mailcode.WrongError or ErrTaken when it changes nothing.
//
// An account with a password loses its Google sign-in link: the link was
// made through the old address (Google sign-in links an account by its
// verified email), and whoever holds the Google account of an address the
// person is leaving must not keep a way in. Signing in with Google as the
// new address links again. An account without a password keeps it: it is
// its only way in, and the Google sign-in that just authenticated the
// change.
func (c *Changes) Confirm(ctx context.Context, u models.User, code string) (Confirmed, error) {
	p, err := c.Pending(ctx, u.ID)
	if err != nil {
		return Confirmed{}, err
	}
	count := func(ctx context.Context) (int, error) { return c.Store.CountEmailChangeAttempt(ctx, u.ID) }
	if err := mailcode.Check(ctx, c.Key, purpose, subject(u.ID, p.NewEmail), code, stored(p), c.now(), count); err != nil {
		return Confirmed{}, err
	}
	unlink := u.PasswordHash != nil && u.GoogleSub != nil
	nu, err := c.Store.ApplyEmailChange(ctx, u.ID, p.NewEmail, unlink)
	if errors.Is(err, models.ErrConflict) {
		if err := c.Store.DeleteEmailChange(ctx, u.ID); err != nil {
			return Confirmed{}, err
		}
		return Confirmed{}, ErrTaken
	}
	if errors.Is(err, models.ErrNotFound) {
		return Confirmed{}, ErrNone // confirmed or replaced meanwhile
	}
	if err != nil {
		return Confirmed{}, err
	}
	return Confirmed{User: nu, OldEmail: u.Email, RequestID: p.RequestID, GoogleUnlinked: unlink}, nil
}

func (c *Changes) sendCode(ctx context.Context, p models.EmailChange, code string) error {
	err := c.Mail.Send(ctx, mail.Message{To: p.NewEmail, Kind: MailKind, RequestID: p.RequestID,
		Subject: "Your Loomcast email change code: " + code,
		Text: "Someone, we hope you, asked to use this address for a Loomcast account.\n\n" +
			"Your code is " + code + ". It is valid for 10 minutes and 3 attempts: enter it in your Loomcast account, signed in " +
			"(POST /v1/me/email/verify). The address changes only then; POST /v1/me/email/code sends a new code, for 24 hours.\n\n" +
			"If it was not you, ignore this message: nothing will change.\n"})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	return nil
}
