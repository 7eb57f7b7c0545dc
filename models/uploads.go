package models

import (
	"context"
	"fmt"
	"time"
)

// Upload is a media file uploaded for publishing. It is deleted after its
// post is published or 24 hours after upload, whichever comes first
// (policy 000 section 2.4).
type Upload struct {
	ID          string
	UserID      string
	BlobKey     string
	Size        int64
	ContentType string
	DurationMS  *int64
	// Width and Height are an image's dimensions in pixels; nil for a video.
	Width, Height *int
	CreatedAt     time.Time
	ExpiresAt     time.Time
	DeletedAt     *time.Time
}

// CreateUpload records an upload whose bytes are already stored.
func (s *Store) CreateUpload(ctx context.Context, u *Upload) error {
	u.CreatedAt, u.ExpiresAt = u.CreatedAt.UTC(), u.ExpiresAt.UTC()
	if err := s.db.WithContext(ctx).Create(u).Error; err != nil {
		return fmt.Errorf("create upload: %w", translate(err))
	}
	return nil
}

// UserUpload loads one of the user's uploads; another user's is ErrNotFound.
func (s *Store) UserUpload(ctx context.Context, userID, id string) (Upload, error) {
	var u Upload
	if err := s.db.WithContext(ctx).Where("id = ? AND user_id = ?", id, userID).Take(&u).Error; err != nil {
		return Upload{}, fmt.Errorf("upload %s: %w", id, translate(err))
	}
	return u, nil
}

// UploadByID loads an upload; for workers.
func (s *Store) UploadByID(ctx context.Context, id string) (Upload, error) {
	var u Upload
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&u).Error; err != nil {
		return Upload{}, fmt.Errorf("upload %s: %w", id, translate(err))
	}
	return u, nil
}

// MarkUploadDeleted records that the upload's bytes are gone. Idempotent.
func (s *Store) MarkUploadDeleted(ctx context.Context, id string, at time.Time) error {
	err := s.db.WithContext(ctx).Model(&Upload{}).Where("id = ? AND deleted_at IS NULL", id).Update("deleted_at", at.UTC()).Error
	if err != nil {
		return fmt.Errorf("mark upload deleted: %w", err)
	}
	return nil
}
