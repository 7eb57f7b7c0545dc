package models

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Roles a user can hold. Staff roles open /v1/admin routes.
const (
	RoleUser    = "user"
	RoleSupport = "support"
	RolePrivacy = "privacy"
	RoleAdmin   = "admin"
)

// Roles lists every valid role.
var Roles = []string{RoleUser, RoleSupport, RolePrivacy, RoleAdmin}

// User is a Loomcast account (policy 000 section 2.1).
type User struct {
	ID           string
	Email        string
	PasswordHash *string
	GoogleSub    *string
	DisplayName  string
	AvatarURL    string
	Timezone     string
	Role         string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	ClosedAt     *time.Time
	// LastActiveAt is the last sign-in or request, to the day; marketing
	// data ends after 24 months without activity.
	LastActiveAt *time.Time
	// MarketingEmails is the user's consent to marketing email, set when
	// MarketingUpdatedAt says.
	MarketingEmails    bool
	MarketingUpdatedAt *time.Time
	// RestrictedAt marks an account whose processing the person had
	// restricted: only storage happens (no publishing, no marketing).
	RestrictedAt *time.Time
	// EmailVerifiedAt is when the holder of Email proved it (a code
	// mailed there, or Google's verified email); nil for an account made
	// before addresses were verified that has not proved it yet.
	EmailVerifiedAt *time.Time
	// The code mailed to verify Email, for such an account.
	VerifyCodeHash      string
	VerifyCodeExpiresAt *time.Time
	VerifyCodeAttempts  int
	// The second factor (staff): the sealed TOTP secret once confirmed,
	// one waiting for its first code, when it was confirmed, the last
	// time step used (each works once), and the hashes of the unused
	// recovery codes, comma-separated.
	TOTPSecretSealed  string     `gorm:"column:totp_secret_sealed"`
	TOTPPendingSealed string     `gorm:"column:totp_pending_sealed"`
	TOTPEnabledAt     *time.Time `gorm:"column:totp_enabled_at"`
	TOTPLastStep      int64      `gorm:"column:totp_last_step"`
	RecoveryCodesHash string     `gorm:"column:recovery_codes_hash"`
}

// SecondFactor reports whether the account has a confirmed second factor.
func (u User) SecondFactor() bool { return u.TOTPEnabledAt != nil }

// Verified reports whether the account's address is proven.
func (u User) Verified() bool { return u.EmailVerifiedAt != nil }

// NewID returns a new time-ordered identifier (UUIDv7), so that IDs sort by
// creation and serve as pagination cursors.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// NormalizeEmail is the one canonical form of an email address used as a key.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// CreateUser inserts a user; a taken email (or Google subject) is ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u *User) error {
	if u.ID == "" {
		u.ID = NewID()
	}
	u.Email = NormalizeEmail(u.Email)
	if u.Role == "" {
		u.Role = RoleUser
	}
	if u.Timezone == "" {
		u.Timezone = "UTC"
	}
	now := s.now()
	u.CreatedAt, u.UpdatedAt = now, now
	if err := s.db.WithContext(ctx).Create(u).Error; err != nil {
		return fmt.Errorf("create user: %w", translate(err))
	}
	return nil
}

// UserByID loads a user.
func (s *Store) UserByID(ctx context.Context, id string) (User, error) {
	var u User
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&u).Error; err != nil {
		return User{}, fmt.Errorf("user %s: %w", id, translate(err))
	}
	return u, nil
}

// UserByEmail loads a user by email, case-insensitively.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	var u User
	if err := s.db.WithContext(ctx).Where("email = ?", NormalizeEmail(email)).Take(&u).Error; err != nil {
		return User{}, fmt.Errorf("user by email: %w", translate(err))
	}
	return u, nil
}

// UserByGoogleSub loads the user linked to a Google account subject.
func (s *Store) UserByGoogleSub(ctx context.Context, sub string) (User, error) {
	var u User
	if err := s.db.WithContext(ctx).Where("google_sub = ?", sub).Take(&u).Error; err != nil {
		return User{}, fmt.Errorf("user by google subject: %w", translate(err))
	}
	return u, nil
}

// ProfileUpdate names the profile fields to change; nil means unchanged.
type ProfileUpdate struct {
	DisplayName *string
	AvatarURL   *string
	Timezone    *string
}

// UpdateProfile changes the named profile fields and returns the new row.
func (s *Store) UpdateProfile(ctx context.Context, id string, p ProfileUpdate) (User, error) {
	fields := map[string]any{"updated_at": s.now()}
	if p.DisplayName != nil {
		fields["display_name"] = *p.DisplayName
	}
	if p.AvatarURL != nil {
		fields["avatar_url"] = *p.AvatarURL
	}
	if p.Timezone != nil {
		fields["timezone"] = *p.Timezone
	}
	res := s.db.WithContext(ctx).Model(&User{}).Where("id = ? AND closed_at IS NULL", id).Updates(fields)
	if res.Error != nil {
		return User{}, fmt.Errorf("update profile: %w", translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return User{}, fmt.Errorf("update profile of %s: %w", id, ErrNotFound)
	}
	return s.UserByID(ctx, id)
}

// SetPasswordHash stores a new password hash.
func (s *Store) SetPasswordHash(ctx context.Context, id, hash string) error {
	res := s.db.WithContext(ctx).Model(&User{}).Where("id = ?", id).
		Updates(map[string]any{"password_hash": hash, "updated_at": s.now()})
	if res.Error != nil {
		return fmt.Errorf("set password: %w", translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("set password of %s: %w", id, ErrNotFound)
	}
	return nil
}

// LinkGoogle links a Google subject to an account, filling an empty avatar.
func (s *Store) LinkGoogle(ctx context.Context, id, sub, avatarURL string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&User{}).Where("id = ?", id).Updates(map[string]any{"google_sub": sub, "updated_at": s.now()})
		if res.Error != nil {
			return fmt.Errorf("link google: %w", translate(res.Error))
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("link google to %s: %w", id, ErrNotFound)
		}
		if avatarURL != "" {
			if err := tx.Model(&User{}).Where("id = ? AND avatar_url = ''", id).Update("avatar_url", avatarURL).Error; err != nil {
				return fmt.Errorf("set avatar: %w", err)
			}
		}
		return nil
	})
}

// SetRole changes a user's role.
func (s *Store) SetRole(ctx context.Context, id, role string) error {
	res := s.db.WithContext(ctx).Model(&User{}).Where("id = ?", id).Updates(map[string]any{"role": role, "updated_at": s.now()})
	if res.Error != nil {
		return fmt.Errorf("set role: %w", translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("set role of %s: %w", id, ErrNotFound)
	}
	return nil
}

// CloseUser records the account's closure time and ends every session and
// access token it holds, in one transaction. Closing twice keeps the first
// closure time.
func (s *Store) CloseUser(ctx context.Context, id string, at time.Time) (User, error) {
	at = at.UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var u User
		if err := tx.Where("id = ?", id).Take(&u).Error; err != nil {
			return fmt.Errorf("close user %s: %w", id, translate(err))
		}
		if u.ClosedAt == nil {
			if err := tx.Model(&User{}).Where("id = ?", id).Updates(map[string]any{"closed_at": at, "updated_at": at}).Error; err != nil {
				return fmt.Errorf("close user: %w", err)
			}
		}
		if err := tx.Model(&Session{}).Where("user_id = ? AND revoked_at IS NULL", id).Update("revoked_at", at).Error; err != nil {
			return fmt.Errorf("end sessions: %w", err)
		}
		if err := tx.Model(&AccessToken{}).Where("user_id = ? AND revoked_at IS NULL", id).Update("revoked_at", at).Error; err != nil {
			return fmt.Errorf("revoke access tokens: %w", err)
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	return s.UserByID(ctx, id)
}

// PurgeUser deletes a closed account and every row that hangs off it. It is
// idempotent: purging an absent account succeeds. It refuses an open account.
func (s *Store) PurgeUser(ctx context.Context, id string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var u User
		err := tx.Where("id = ?", id).Take(&u).Error
		if translate(err) == ErrNotFound {
			return nil
		}
		if err != nil {
			return fmt.Errorf("purge user %s: %w", id, err)
		}
		if u.ClosedAt == nil {
			return fmt.Errorf("purge user %s: account is not closed", id)
		}
		var postIDs []string
		if err := tx.Model(&Post{}).Where("user_id = ?", id).Pluck("id", &postIDs).Error; err != nil {
			return fmt.Errorf("purge user %s: %w", id, err)
		}
		if len(postIDs) > 0 {
			if err := tx.Where("post_id IN ?", postIDs).Delete(&PostEvent{}).Error; err != nil {
				return fmt.Errorf("purge user %s: %w", id, err)
			}
		}
		for _, model := range []any{&Session{}, &AccessToken{}, &Post{}, &Upload{}, &Channel{}, &RequestLog{}, &SecurityEvent{}, &IdempotencyRecord{}, &EmailChange{}} {
			if err := tx.Where("user_id = ?", id).Delete(model).Error; err != nil {
				return fmt.Errorf("purge user %s: %w", id, err)
			}
		}
		if err := tx.Where("id = ?", id).Delete(&User{}).Error; err != nil {
			return fmt.Errorf("purge user %s: %w", id, err)
		}
		if err := s.moveAnnouncementCursors(tx, id); err != nil {
			return fmt.Errorf("purge user %s: %w", id, err)
		}
		// What was due later is gone now; the account's own item is
		// completed by the retention engine that called us.
		if err := tx.Where("user_id = ? AND category <> ?", id, "closed_accounts").Delete(&RetentionItem{}).Error; err != nil {
			return fmt.Errorf("purge user %s: %w", id, err)
		}
		return nil
	})
}

// TouchActivity records that the user was active at, to the day, and
// reports whether the stored day changed (so that the marketing clock
// needs moving).
func (s *Store) TouchActivity(ctx context.Context, id string, at time.Time) (bool, error) {
	day := at.UTC().Truncate(24 * time.Hour)
	res := s.db.WithContext(ctx).Model(&User{}).Where("id = ? AND (last_active_at IS NULL OR last_active_at < ?)", id, day).
		Update("last_active_at", day)
	if res.Error != nil {
		return false, fmt.Errorf("touch activity: %w", res.Error)
	}
	return res.RowsAffected > 0, nil
}

// EndMarketing withdraws marketing consent after 24 months of inactivity,
// forgets when it was given, and deletes the user's consent records of the
// given purposes, in one transaction. Idempotent.
func (s *Store) EndMarketing(ctx context.Context, id string, at time.Time, purposes []string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Model(&User{}).Where("id = ? AND (marketing_emails OR marketing_updated_at IS NOT NULL)", id).
			Updates(map[string]any{"marketing_emails": false, "marketing_updated_at": gorm.Expr("NULL"), "updated_at": at.UTC()}).Error
		if err != nil {
			return fmt.Errorf("end marketing: %w", err)
		}
		if len(purposes) > 0 {
			if err := tx.Where("user_id = ? AND purpose IN ?", id, purposes).Delete(&Consent{}).Error; err != nil {
				return fmt.Errorf("end marketing: %w", err)
			}
		}
		return nil
	})
}

// UserFilter narrows a staff listing of users.
type UserFilter struct {
	// Email matches a prefix of the normalized address.
	Email string
	// After is the last ID of the previous page.
	After string
	Limit int
}

// Users lists accounts for staff, ordered by ID (creation order).
func (s *Store) Users(ctx context.Context, f UserFilter) ([]User, error) {
	q := s.db.WithContext(ctx).Order("id")
	if f.Email != "" {
		q = q.Where("email LIKE ? ESCAPE '\\'", likePrefix(NormalizeEmail(f.Email)))
	}
	if f.After != "" {
		q = q.Where("id > ?", f.After)
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	var out []User
	if err := q.Limit(f.Limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}
