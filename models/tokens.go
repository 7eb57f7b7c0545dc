package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// AccessToken is a personal access token for API clients. Only a hash of the
// secret is stored; the secret is shown once, at creation.
type AccessToken struct {
	ID         string
	UserID     string
	Name       string
	TokenHash  string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	ExpiresAt  *time.Time
	RevokedAt  *time.Time
}

// Active reports whether the token may be used at time now.
func (t AccessToken) Active(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// CreateAccessToken stores a token.
func (s *Store) CreateAccessToken(ctx context.Context, t *AccessToken) error {
	if t.ID == "" {
		t.ID = NewID()
	}
	t.CreatedAt = t.CreatedAt.UTC()
	if err := s.db.WithContext(ctx).Create(t).Error; err != nil {
		return fmt.Errorf("create access token: %w", translate(err))
	}
	return nil
}

// AccessTokenByHash finds a token by the hash of its secret.
func (s *Store) AccessTokenByHash(ctx context.Context, hash string) (AccessToken, error) {
	var t AccessToken
	if err := s.db.WithContext(ctx).Where("token_hash = ?", hash).Take(&t).Error; err != nil {
		return AccessToken{}, fmt.Errorf("access token: %w", translate(err))
	}
	return t, nil
}

// AccessTokens lists a user's tokens, newest first.
func (s *Store) AccessTokens(ctx context.Context, userID string) ([]AccessToken, error) {
	var out []AccessToken
	if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("id DESC").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list access tokens: %w", err)
	}
	return out, nil
}

// TouchAccessToken records a use of the token.
func (s *Store) TouchAccessToken(ctx context.Context, id string, at time.Time) error {
	if err := s.db.WithContext(ctx).Model(&AccessToken{}).Where("id = ?", id).Update("last_used_at", at.UTC()).Error; err != nil {
		return fmt.Errorf("touch access token: %w", err)
	}
	return nil
}

// RevokeAccessToken revokes one of the user's tokens; another user's token
// is ErrNotFound. Revoking twice keeps the first revocation time.
func (s *Store) RevokeAccessToken(ctx context.Context, userID, id string, at time.Time) error {
	res := s.db.WithContext(ctx).Model(&AccessToken{}).Where("id = ? AND user_id = ?", id, userID).
		Update("revoked_at", gorm.Expr("COALESCE(revoked_at, ?)", at.UTC()))
	if res.Error != nil {
		return fmt.Errorf("revoke access token: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("access token %s: %w", id, ErrNotFound)
	}
	return nil
}
