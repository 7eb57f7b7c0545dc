package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// EmailChange is a new email address an account asked for, waiting for
// the code mailed to it: the address changes only once the code is given
// back. An account has at most one; asking again replaces it.
type EmailChange struct {
	UserID   string `gorm:"primaryKey"`
	NewEmail string
	// RequestID is the rectification request that asked for it, empty
	// when the person asked in their profile.
	RequestID     string
	CreatedAt     time.Time
	CodeHash      string
	CodeExpiresAt *time.Time
	CodeAttempts  int
}

// PutEmailChange stores a pending email change, replacing the account's
// previous one (and its code).
func (s *Store) PutEmailChange(ctx context.Context, c EmailChange) error {
	c.NewEmail = NormalizeEmail(c.NewEmail)
	c.CreatedAt = c.CreatedAt.UTC()
	if c.CodeExpiresAt != nil {
		c.CodeExpiresAt = Ptr(c.CodeExpiresAt.UTC())
	}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "user_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"new_email", "request_id", "created_at", "code_hash", "code_expires_at", "code_attempts"})}).
		Create(&c).Error
	if err != nil {
		return fmt.Errorf("put email change: %w", translate(err))
	}
	return nil
}

// EmailChangeOf loads an account's pending email change.
func (s *Store) EmailChangeOf(ctx context.Context, userID string) (EmailChange, error) {
	var c EmailChange
	if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Take(&c).Error; err != nil {
		return EmailChange{}, fmt.Errorf("email change of %s: %w", userID, translate(err))
	}
	return c, nil
}

// SetEmailChangeCode stores a new code for a pending change, voiding the
// old one and its attempts.
func (s *Store) SetEmailChangeCode(ctx context.Context, userID, hash string, expires time.Time) error {
	res := s.db.WithContext(ctx).Model(&EmailChange{}).Where("user_id = ?", userID).
		Updates(map[string]any{"code_hash": hash, "code_expires_at": expires.UTC(), "code_attempts": 0})
	if res.Error != nil {
		return fmt.Errorf("set email change code: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("email change of %s: %w", userID, ErrNotFound)
	}
	return nil
}

// CountEmailChangeAttempt records one attempt at a pending change's code
// and returns the attempts made so far.
func (s *Store) CountEmailChangeAttempt(ctx context.Context, userID string) (int, error) {
	if err := s.countCodeAttempt(ctx, &EmailChange{}, "user_id", userID); err != nil {
		return 0, err
	}
	c, err := s.EmailChangeOf(ctx, userID)
	return c.CodeAttempts, err
}

// countCodeAttempt adds one to the code_attempts of the row of model whose
// key column is id, in one statement so that concurrent guesses are all
// counted.
func (s *Store) countCodeAttempt(ctx context.Context, model any, key, id string) error {
	err := s.db.WithContext(ctx).Model(model).Where(key+" = ?", id).
		Update("code_attempts", gorm.Expr("code_attempts + 1")).Error
	if err != nil {
		return fmt.Errorf("count code attempt: %w", err)
	}
	return nil
}

// DeleteEmailChange drops an account's pending change. Dropping none is
// fine.
func (s *Store) DeleteEmailChange(ctx context.Context, userID string) error {
	if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Delete(&EmailChange{}).Error; err != nil {
		return fmt.Errorf("delete email change: %w", err)
	}
	return nil
}

// ApplyEmailChange gives an open account the new address of its pending
// change and drops the change, in one transaction; with unlinkGoogle it
// also ends the account's Google sign-in link. A pending change that is
// gone or names another address is ErrNotFound; an address another
// account holds is ErrConflict (and nothing changes).
func (s *Store) ApplyEmailChange(ctx context.Context, userID, newEmail string, unlinkGoogle bool) (User, error) {
	newEmail = NormalizeEmail(newEmail)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("user_id = ? AND new_email = ?", userID, newEmail).Delete(&EmailChange{})
		if res.Error != nil {
			return fmt.Errorf("apply email change: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("email change of %s: %w", userID, ErrNotFound)
		}
		// The code came back from the new address: it is proven.
		fields := map[string]any{"email": newEmail, "email_verified_at": s.now(), "updated_at": s.now(),
			"verify_code_hash": "", "verify_code_expires_at": gorm.Expr("NULL"), "verify_code_attempts": 0}
		if unlinkGoogle {
			fields["google_sub"] = gorm.Expr("NULL")
		}
		res = tx.Model(&User{}).Where("id = ? AND closed_at IS NULL", userID).Updates(fields)
		if res.Error != nil {
			return fmt.Errorf("apply email change: %w", translate(res.Error))
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("apply email change to %s: %w", userID, ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	return s.UserByID(ctx, userID)
}
