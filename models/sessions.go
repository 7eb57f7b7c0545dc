package models

import (
	"context"
	"fmt"
	"time"
)

// Session is a signed-in browser session. The cookie carries its ID; the row
// lets logout, a password change or account closure end it at once.
type Session struct {
	ID         string
	UserID     string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	RevokedAt  *time.Time
	// SecondFactorAt is when the session's holder gave a second factor
	// (a TOTP or recovery code); nil when they have not.
	SecondFactorAt *time.Time
}

// Active reports whether the session may still be used at time now.
func (s Session) Active(now time.Time) bool {
	return s.RevokedAt == nil && now.Before(s.ExpiresAt)
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, sess Session) error {
	sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.LastSeenAt.UTC(), sess.ExpiresAt.UTC()
	if err := s.db.WithContext(ctx).Create(&sess).Error; err != nil {
		return fmt.Errorf("create session: %w", translate(err))
	}
	return nil
}

// SessionByID loads a session.
func (s *Store) SessionByID(ctx context.Context, id string) (Session, error) {
	var sess Session
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&sess).Error; err != nil {
		return Session{}, fmt.Errorf("session: %w", translate(err))
	}
	return sess, nil
}

// TouchSession slides a live session's expiry forward.
func (s *Store) TouchSession(ctx context.Context, id string, seen, expires time.Time) error {
	err := s.db.WithContext(ctx).Model(&Session{}).Where("id = ? AND revoked_at IS NULL", id).
		Updates(map[string]any{"last_seen_at": seen.UTC(), "expires_at": expires.UTC()}).Error
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// RevokeSession ends one session of a user.
func (s *Store) RevokeSession(ctx context.Context, userID, id string, at time.Time) error {
	err := s.db.WithContext(ctx).Model(&Session{}).Where("id = ? AND user_id = ? AND revoked_at IS NULL", id, userID).
		Update("revoked_at", at.UTC()).Error
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}

// RevokeSessions ends every session of a user except keepID (which may be empty).
func (s *Store) RevokeSessions(ctx context.Context, userID, keepID string, at time.Time) error {
	err := s.db.WithContext(ctx).Model(&Session{}).Where("user_id = ? AND id <> ? AND revoked_at IS NULL", userID, keepID).
		Update("revoked_at", at.UTC()).Error
	if err != nil {
		return fmt.Errorf("revoke sessions: %w", err)
	}
	return nil
}
