// Package signup proves that an address belongs to whoever gives it before
// it identifies them. A sign-up becomes an account only when the 6-digit
// code mailed to its address comes back (package mailcode), so that
// nobody can open an account in someone else's name and wait for them to
// sign in with Google to it. An address that already has an account gets
// a notice instead of a code, and the sign-up answers the same, so that
// signing up tells nobody which addresses have accounts.
//
// Accounts made before addresses were verified prove theirs with a code
// too (Send and Verify), before they publish, connect a channel or are
// linked to an identity provider.
package signup

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

// Lifetime is how long a sign-up, and each code mailed for it, waits: a
// day, for its person to read the mail.
var Lifetime = retention.Fixed(retention.Registrations)

// Purposes key the codes apart from other codes.
const (
	purposeSignUp = "signup"
	purposeVerify = "verify-email"
)

// Kinds of the mails sent.
const (
	// MailCode carries a sign-up's code.
	MailCode = "signup_code"
	// MailInUse tells an address's owner that someone tried to sign up
	// with it.
	MailInUse = "signup_address_in_use"
	// MailVerify carries the code that verifies an existing account.
	MailVerify = "verify_email_code"
)

// Refusals, for the caller to word.
var (
	// ErrNone: no sign-up with this ID is waiting (none was made, it was
	// confirmed, or it is older than Lifetime).
	ErrNone = errors.New("no sign-up is waiting")
	// ErrTooSoon: the last code went out less than mailcode.ResendAfter
	// ago.
	ErrTooSoon = errors.New("a code was sent less than a minute ago")
	// ErrTaken: the address has an account now; the sign-up is dropped.
	ErrTaken = errors.New("the address has an account")
	// ErrVerified: the account's address is verified already.
	ErrVerified = errors.New("the address is verified already")
	// ErrNotSent: the mail could not be sent (the error wraps why);
	// asking again is safe.
	ErrNotSent = errors.New("the mail could not be sent")
)

// SignUps opens accounts through a mailed code and verifies the addresses
// of accounts made before.
type SignUps struct {
	Store *models.Store
	Mail  mail.Sender
	// Buckets schedules the deletion of sign-ups never confirmed.
	Buckets *scheduler.Buckets
	// Key keys the stored hashes of codes (the session key).
	Key []byte
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (s *SignUps) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Request is what a person signing up gives; the password already hashed.
type Request struct {
	Email        string
	PasswordHash string
	DisplayName  string
	Timezone     string
}

// subject binds a sign-up's code to the sign-up and its address.
func subject(id, email string) string { return id + "|" + email }

func stored(r models.Registration) mailcode.Stored {
	return mailcode.Stored{Hash: r.CodeHash, ExpiresAt: r.CodeExpiresAt, Attempts: r.CodeAttempts}
}

// Start stores a sign-up and mails its address: the code when the address
// has no account, a notice to the owner when it has one. Either way the
// sign-up looks the same to the caller; it is returned for its ID and
// times.
func (s *SignUps) Start(ctx context.Context, req Request) (models.Registration, error) {
	now := s.now()
	email := models.NormalizeEmail(req.Email)
	owner, err := s.Store.UserByEmail(ctx, email)
	inUse := err == nil
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return models.Registration{}, err
	}
	// The deletion first, as for every bucketed row: the sign-up is never
	// stored without it.
	if err := s.Buckets.Note(ctx, retention.Registrations, now); err != nil {
		return models.Registration{}, err
	}
	r := models.Registration{ID: models.NewID(), Email: email, DisplayName: req.DisplayName, Timezone: req.Timezone, CreatedAt: now}
	if !inUse {
		r.PasswordHash = req.PasswordHash
	}
	code, err := mailcode.IssueFor(s.Key, purposeSignUp, subject(r.ID, email), now, Lifetime)
	if err != nil {
		return models.Registration{}, err
	}
	r.CodeHash, r.CodeExpiresAt = code.Hash, &code.ExpiresAt
	if err := s.Store.CreateRegistration(ctx, &r); err != nil {
		return models.Registration{}, err
	}
	if inUse {
		return r, s.sendInUse(ctx, owner)
	}
	return r, s.sendCode(ctx, r, code.Code)
}

// Pending returns the sign-up waiting under id, or ErrNone.
func (s *SignUps) Pending(ctx context.Context, id string) (models.Registration, error) {
	r, err := s.Store.RegistrationByID(ctx, id)
	if errors.Is(err, models.ErrNotFound) || (err == nil && !s.now().Before(r.CreatedAt.Add(Lifetime))) {
		return models.Registration{}, ErrNone
	}
	return r, err
}

// Resend mails a new code for a sign-up; the old one stops working. For an
// address in use nothing is mailed again (its owner had the notice), but
// the answer is the same.
func (s *SignUps) Resend(ctx context.Context, id string) (models.Registration, error) {
	r, err := s.Pending(ctx, id)
	if err != nil {
		return models.Registration{}, err
	}
	now := s.now()
	if stored(r).TooSoonFor(now, Lifetime) {
		return models.Registration{}, ErrTooSoon
	}
	code, err := mailcode.IssueFor(s.Key, purposeSignUp, subject(r.ID, r.Email), now, Lifetime)
	if err != nil {
		return models.Registration{}, err
	}
	if err := s.Store.SetRegistrationCode(ctx, r.ID, code.Hash, code.ExpiresAt); err != nil {
		return models.Registration{}, err
	}
	r.CodeHash, r.CodeExpiresAt, r.CodeAttempts = code.Hash, &code.ExpiresAt, 0
	if r.PasswordHash == "" {
		return r, nil
	}
	return r, s.sendCode(ctx, r, code.Code)
}

// Confirm checks a sign-up's code and, when it is right, opens the account
// with the address verified. It returns ErrNone, mailcode.ErrVoid, a
// *mailcode.WrongError or ErrTaken when it opens none.
func (s *SignUps) Confirm(ctx context.Context, id, code string) (models.User, error) {
	r, err := s.Pending(ctx, id)
	if err != nil {
		return models.User{}, err
	}
	count := func(ctx context.Context) (int, error) { return s.Store.CountRegistrationAttempt(ctx, r.ID) }
	if err := mailcode.Check(ctx, s.Key, purposeSignUp, subject(r.ID, r.Email), code, stored(r), s.now(), count); err != nil {
		return models.User{}, err
	}
	var u models.User
	switch err := s.Store.CompleteRegistration(ctx, r.ID, &u, s.now()); {
	case errors.Is(err, models.ErrConflict):
		return models.User{}, ErrTaken
	case errors.Is(err, models.ErrNotFound):
		return models.User{}, ErrNone // confirmed meanwhile
	case err != nil:
		return models.User{}, err
	}
	return u, nil
}

func (s *SignUps) sendCode(ctx context.Context, r models.Registration, code string) error {
	err := s.Mail.Send(ctx, mail.Message{To: r.Email, Kind: MailCode,
		Subject: "Your Loomcast sign-up code: " + code,
		Text: "Someone, we hope you, asked to open a Loomcast account with this address.\n\n" +
			"Your code is " + code + ". Enter it where you signed up (POST /v1/auth/register/" + r.ID + "/verify) " +
			"within 24 hours; it works 3 times. The account is opened only then.\n\n" +
			"If it was not you, ignore this message: no account is opened, and what was typed is deleted within a day.\n"})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	return nil
}

func (s *SignUps) sendInUse(ctx context.Context, owner models.User) error {
	err := s.Mail.Send(ctx, mail.Message{To: owner.Email, Kind: MailInUse,
		Subject: "Someone tried to open a Loomcast account with your address",
		Text: "Someone asked to open a Loomcast account with this address, which already has one. Nothing was changed, " +
			"and no second account is opened.\n\n" +
			"If it was you, sign in instead (POST /v1/auth/login, or Google sign-in).\n\n" +
			"If it was not you, there is nothing to do; you may want to check that your password is one you use nowhere else.\n"})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	return nil
}

// Send mails a code that verifies u's current address, for an account made
// before addresses were verified; the old code stops working.
func (s *SignUps) Send(ctx context.Context, u models.User) (time.Time, error) {
	if u.Verified() {
		return time.Time{}, ErrVerified
	}
	now := s.now()
	if (mailcode.Stored{ExpiresAt: u.VerifyCodeExpiresAt}).TooSoonFor(now, Lifetime) {
		return time.Time{}, ErrTooSoon
	}
	code, err := mailcode.IssueFor(s.Key, purposeVerify, subject(u.ID, u.Email), now, Lifetime)
	if err != nil {
		return time.Time{}, err
	}
	if err := s.Store.SetVerifyCode(ctx, u.ID, code.Hash, code.ExpiresAt); err != nil {
		if errors.Is(err, models.ErrNotFound) {
			return time.Time{}, ErrVerified
		}
		return time.Time{}, err
	}
	err = s.Mail.Send(ctx, mail.Message{To: u.Email, Kind: MailVerify,
		Subject: "Your Loomcast address verification code: " + code.Code,
		Text: "Your code is " + code.Code + ". Enter it in your Loomcast account, signed in (POST /v1/me/email/verification/verify), " +
			"within 24 hours; it works 3 times.\n\n" +
			"Until the address is verified, the account cannot publish, connect a channel or be linked to a Google account.\n\n" +
			"If you have no Loomcast account, ignore this message.\n"})
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	return code.ExpiresAt, nil
}

// Verify checks the code mailed by Send and, when it is right, marks u's
// address verified. It returns ErrVerified, mailcode.ErrVoid or a
// *mailcode.WrongError when it verifies nothing.
func (s *SignUps) Verify(ctx context.Context, u models.User, code string) (models.User, error) {
	if u.Verified() {
		return models.User{}, ErrVerified
	}
	st := mailcode.Stored{Hash: u.VerifyCodeHash, ExpiresAt: u.VerifyCodeExpiresAt, Attempts: u.VerifyCodeAttempts}
	count := func(ctx context.Context) (int, error) { return s.Store.CountVerifyAttempt(ctx, u.ID) }
	if err := mailcode.Check(ctx, s.Key, purposeVerify, subject(u.ID, u.Email), code, st, s.now(), count); err != nil {
		return models.User{}, err
	}
	nu, err := s.Store.VerifyEmail(ctx, u.ID, u.Email, s.now())
	if errors.Is(err, models.ErrNotFound) {
		return models.User{}, mailcode.ErrVoid // the address changed meanwhile
	}
	return nu, err
}
