package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Registration is a sign-up waiting for the code mailed to its address:
// the account exists only once the code comes back, so nobody holds an
// account, a password or a token for an address they have not proved.
// An address may have several (each person who tried holds their own,
// with its own code); the first confirmed makes the account and voids the
// rest. A registration for an address that already has an account is kept
// the same way, without a password, so that it answers as any other; its
// code is never mailed (the owner gets a notice instead).
type Registration struct {
	ID    string
	Email string
	// PasswordHash is the password chosen at sign-up; empty for an
	// address in use.
	PasswordHash  string
	DisplayName   string
	Timezone      string
	CreatedAt     time.Time
	CodeHash      string
	CodeExpiresAt *time.Time
	CodeAttempts  int
}

// CreateRegistration stores a sign-up waiting for its code.
func (s *Store) CreateRegistration(ctx context.Context, r *Registration) error {
	if r.ID == "" {
		r.ID = NewID()
	}
	r.Email = NormalizeEmail(r.Email)
	r.CreatedAt = r.CreatedAt.UTC()
	if r.CodeExpiresAt != nil {
		r.CodeExpiresAt = Ptr(r.CodeExpiresAt.UTC())
	}
	if err := s.db.WithContext(ctx).Create(r).Error; err != nil {
		return fmt.Errorf("create registration: %w", translate(err))
	}
	return nil
}

// RegistrationByID loads a sign-up waiting for its code.
func (s *Store) RegistrationByID(ctx context.Context, id string) (Registration, error) {
	var r Registration
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return Registration{}, fmt.Errorf("registration %s: %w", id, translate(err))
	}
	return r, nil
}

// SetRegistrationCode stores a new code for a sign-up, voiding the old one
// and its attempts.
func (s *Store) SetRegistrationCode(ctx context.Context, id, hash string, expires time.Time) error {
	res := s.db.WithContext(ctx).Model(&Registration{}).Where("id = ?", id).
		Updates(map[string]any{"code_hash": hash, "code_expires_at": expires.UTC(), "code_attempts": 0})
	if res.Error != nil {
		return fmt.Errorf("set registration code: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("registration %s: %w", id, ErrNotFound)
	}
	return nil
}

// CountRegistrationAttempt records one attempt at a sign-up's code and
// returns the attempts made so far.
func (s *Store) CountRegistrationAttempt(ctx context.Context, id string) (int, error) {
	if err := s.countCodeAttempt(ctx, &Registration{}, "id", id); err != nil {
		return 0, err
	}
	r, err := s.RegistrationByID(ctx, id)
	return r.CodeAttempts, err
}

// CompleteRegistration turns a confirmed sign-up into u (its address
// verified at verifiedAt) and drops every sign-up of that address, in one
// transaction. A sign-up that is gone is ErrNotFound; an address that has
// an account meanwhile is ErrConflict, and the sign-up is dropped.
func (s *Store) CompleteRegistration(ctx context.Context, id string, u *User, verifiedAt time.Time) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r Registration
		if err := tx.Where("id = ?", id).Take(&r).Error; err != nil {
			return fmt.Errorf("registration %s: %w", id, translate(err))
		}
		if err := tx.Where("email = ?", r.Email).Delete(&Registration{}).Error; err != nil {
			return fmt.Errorf("complete registration: %w", err)
		}
		if r.PasswordHash == "" {
			return fmt.Errorf("registration %s: the address has an account: %w", id, ErrConflict)
		}
		now := s.now()
		*u = User{ID: NewID(), Email: r.Email, PasswordHash: Ptr(r.PasswordHash), DisplayName: r.DisplayName,
			Timezone: r.Timezone, Role: RoleUser, CreatedAt: now, UpdatedAt: now, EmailVerifiedAt: Ptr(verifiedAt.UTC())}
		if err := tx.Create(u).Error; err != nil {
			return fmt.Errorf("create user: %w", translate(err))
		}
		return nil
	})
	if errors.Is(err, ErrConflict) {
		// The transaction rolled back the deletion: drop this sign-up,
		// which can no longer become an account.
		if derr := s.db.WithContext(ctx).Where("id = ?", id).Delete(&Registration{}).Error; derr != nil {
			return errors.Join(err, fmt.Errorf("drop registration: %w", derr))
		}
	}
	return err
}

// DropRegistrations deletes every sign-up waiting for an address (it has
// an account now, made another way).
func (s *Store) DropRegistrations(ctx context.Context, email string) error {
	if err := s.db.WithContext(ctx).Where("email = ?", NormalizeEmail(email)).Delete(&Registration{}).Error; err != nil {
		return fmt.Errorf("drop registrations: %w", err)
	}
	return nil
}

// SetVerifyCode stores the code mailed to verify an account's address,
// voiding the old one and its attempts.
func (s *Store) SetVerifyCode(ctx context.Context, userID, hash string, expires time.Time) error {
	res := s.db.WithContext(ctx).Model(&User{}).Where("id = ? AND email_verified_at IS NULL", userID).
		Updates(map[string]any{"verify_code_hash": hash, "verify_code_expires_at": expires.UTC(), "verify_code_attempts": 0})
	if res.Error != nil {
		return fmt.Errorf("set verify code: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("unverified user %s: %w", userID, ErrNotFound)
	}
	return nil
}

// CountVerifyAttempt records one attempt at an account's verify code and
// returns the attempts made so far.
func (s *Store) CountVerifyAttempt(ctx context.Context, userID string) (int, error) {
	err := s.db.WithContext(ctx).Model(&User{}).Where("id = ?", userID).
		Update("verify_code_attempts", gorm.Expr("verify_code_attempts + 1")).Error
	if err != nil {
		return 0, fmt.Errorf("count verify attempt: %w", err)
	}
	u, err := s.UserByID(ctx, userID)
	return u.VerifyCodeAttempts, err
}

// VerifyEmail marks an account's current address as proven at at and
// voids its code. An account whose address changed meanwhile (email is
// no longer its address) is ErrNotFound.
func (s *Store) VerifyEmail(ctx context.Context, userID, email string, at time.Time) (User, error) {
	res := s.db.WithContext(ctx).Model(&User{}).Where("id = ? AND email = ?", userID, NormalizeEmail(email)).
		Updates(map[string]any{"email_verified_at": at.UTC(), "verify_code_hash": "", "verify_code_expires_at": gorm.Expr("NULL"),
			"verify_code_attempts": 0, "updated_at": s.now()})
	if res.Error != nil {
		return User{}, fmt.Errorf("verify email: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return User{}, fmt.Errorf("verify email of %s: %w", userID, ErrNotFound)
	}
	return s.UserByID(ctx, userID)
}

// ClaimByGoogle hands an account whose address was never proven to the
// Google identity that proves it: the address is verified now, the Google
// subject linked, and the password, every session and every access token
// set by whoever made the account end, in one transaction, since nobody
// showed that they held the address. The account's other data stays.
func (s *Store) ClaimByGoogle(ctx context.Context, userID, sub, avatarURL string, at time.Time) (User, error) {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&User{}).Where("id = ? AND email_verified_at IS NULL", userID).
			Updates(map[string]any{"google_sub": sub, "password_hash": gorm.Expr("NULL"), "email_verified_at": at.UTC(),
				"totp_secret_sealed": "", "totp_pending_sealed": "", "totp_enabled_at": gorm.Expr("NULL"), "totp_last_step": 0, "recovery_codes_hash": "",
				"verify_code_hash": "", "verify_code_expires_at": gorm.Expr("NULL"), "verify_code_attempts": 0, "updated_at": s.now()})
		if res.Error != nil {
			return fmt.Errorf("claim by google: %w", translate(res.Error))
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("unverified user %s: %w", userID, ErrNotFound)
		}
		if avatarURL != "" {
			if err := tx.Model(&User{}).Where("id = ? AND avatar_url = ''", userID).Update("avatar_url", avatarURL).Error; err != nil {
				return fmt.Errorf("set avatar: %w", err)
			}
		}
		if err := tx.Model(&Session{}).Where("user_id = ? AND revoked_at IS NULL", userID).Update("revoked_at", at.UTC()).Error; err != nil {
			return fmt.Errorf("revoke sessions: %w", err)
		}
		if err := tx.Model(&AccessToken{}).Where("user_id = ? AND revoked_at IS NULL", userID).Update("revoked_at", at.UTC()).Error; err != nil {
			return fmt.Errorf("revoke access tokens: %w", err)
		}
		if err := tx.Where("user_id = ?", userID).Delete(&EmailChange{}).Error; err != nil {
			return fmt.Errorf("drop email change: %w", err)
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	return s.UserByID(ctx, userID)
}
