package models

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// SetPendingTOTP stores a sealed TOTP secret waiting for its first code,
// replacing any other waiting one; a confirmed secret stays until the new
// one is confirmed.
func (s *Store) SetPendingTOTP(ctx context.Context, userID, sealed string) error {
	res := s.db.WithContext(ctx).Model(&User{}).Where("id = ?", userID).
		Updates(map[string]any{"totp_pending_sealed": sealed, "updated_at": s.now()})
	if res.Error != nil {
		return fmt.Errorf("set pending totp: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("user %s: %w", userID, ErrNotFound)
	}
	return nil
}

// EnableTOTP makes the waiting secret sealed the account's second factor,
// with its first step used and new recovery code hashes, at at. A waiting
// secret that changed meanwhile is ErrNotFound.
func (s *Store) EnableTOTP(ctx context.Context, userID, sealed string, step int64, recoveryHashes []string, at time.Time) error {
	res := s.db.WithContext(ctx).Model(&User{}).Where("id = ? AND totp_pending_sealed = ? AND totp_pending_sealed <> ''", userID, sealed).
		Updates(map[string]any{"totp_secret_sealed": sealed, "totp_pending_sealed": "", "totp_enabled_at": at.UTC(),
			"totp_last_step": step, "recovery_codes_hash": strings.Join(recoveryHashes, ","), "updated_at": s.now()})
	if res.Error != nil {
		return fmt.Errorf("enable totp: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("pending totp of %s: %w", userID, ErrNotFound)
	}
	return nil
}

// UseTOTPStep records that the time step of a right code was used, only
// if it is later than the last one used: false means the step (or a later
// one) was used already, by this or a concurrent request.
func (s *Store) UseTOTPStep(ctx context.Context, userID string, step int64) (bool, error) {
	res := s.db.WithContext(ctx).Model(&User{}).Where("id = ? AND totp_last_step < ?", userID, step).
		Update("totp_last_step", step)
	if res.Error != nil {
		return false, fmt.Errorf("use totp step: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// UseRecoveryCode removes a used recovery code's hash, only if the hashes
// are still those read (was): false means a concurrent request changed
// them, and the code may have been used.
func (s *Store) UseRecoveryCode(ctx context.Context, userID string, was, now []string) (bool, error) {
	res := s.db.WithContext(ctx).Model(&User{}).Where("id = ? AND recovery_codes_hash = ?", userID, strings.Join(was, ",")).
		Update("recovery_codes_hash", strings.Join(now, ","))
	if res.Error != nil {
		return false, fmt.Errorf("use recovery code: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// RecoveryHashes splits the stored recovery code hashes.
func (u User) RecoveryHashes() []string {
	if u.RecoveryCodesHash == "" {
		return nil
	}
	return strings.Split(u.RecoveryCodesHash, ",")
}

// ResetSecondFactor removes an account's second factor (what an admin does
// for a member of staff who lost theirs) and ends its sessions at at, in
// one transaction: they sign in again and enrol anew.
func (s *Store) ResetSecondFactor(ctx context.Context, userID string, at time.Time) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&User{}).Where("id = ?", userID).
			Updates(map[string]any{"totp_secret_sealed": "", "totp_pending_sealed": "", "totp_enabled_at": gorm.Expr("NULL"),
				"totp_last_step": 0, "recovery_codes_hash": "", "updated_at": s.now()})
		if res.Error != nil {
			return fmt.Errorf("reset second factor: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("user %s: %w", userID, ErrNotFound)
		}
		if err := tx.Model(&Session{}).Where("user_id = ? AND revoked_at IS NULL", userID).Update("revoked_at", at.UTC()).Error; err != nil {
			return fmt.Errorf("revoke sessions: %w", err)
		}
		return nil
	})
}

// MarkSecondFactor records that a session's holder gave a second factor.
func (s *Store) MarkSecondFactor(ctx context.Context, sessionID string, at time.Time) error {
	err := s.db.WithContext(ctx).Model(&Session{}).Where("id = ? AND revoked_at IS NULL", sessionID).
		Update("second_factor_at", at.UTC()).Error
	if err != nil {
		return fmt.Errorf("mark second factor: %w", err)
	}
	return nil
}
