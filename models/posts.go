package models

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/loomcast/loomcast"
	"gorm.io/gorm"
)

// Post is a scheduled publication on one channel (policy 000 section 2.7).
type Post struct {
	ID        string
	UserID    string
	ChannelID string
	// UploadID is the video, or a photo post's first image.
	UploadID string
	// PhotoUploadIDs are a photo post's images in order, separated by
	// spaces; empty for a video (see Photos).
	PhotoUploadIDs string
	Platform       string
	Caption        string
	Privacy        string
	AllowComment   bool
	AllowDuet      bool
	AllowStitch    bool
	// BrandOrganic and BrandContent disclose commercial content on TikTok:
	// the creator's own business, and a third party's (paid partnership).
	BrandOrganic bool
	BrandContent bool
	ScheduledAt  time.Time
	Timezone     string
	Status       string
	Attempt      int
	PublishID    string
	// UploadSession is the platform upload session (JSON) of the current
	// attempt, so that a retried upload resumes instead of starting over.
	UploadSession  string
	PlatformPostID string
	// PlatformUsername is the account's handle at the platform when the
	// post was published (TikTok's creator_username), for its public URL.
	PlatformUsername string
	PublicURL        string
	// PublicState is "public" once TikTok shows the post publicly and
	// "removed" once it no longer does.
	PublicState    string
	FailureReason  string
	IdempotencyKey *string
	RequestHash    string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	PublishedAt    *time.Time
}

// Photos returns the upload IDs of a photo post's images in order, nil
// for a video post.
func (p Post) Photos() []string { return strings.Fields(p.PhotoUploadIDs) }

// PostEvent is one entry of a post's status history.
type PostEvent struct {
	ID     string
	PostID string
	Status string
	Detail string
	At     time.Time
}

// CreatePost inserts a post with its first history entry. A reused
// idempotency key is ErrConflict.
func (s *Store) CreatePost(ctx context.Context, p *Post) error {
	now := s.now()
	if p.ID == "" {
		p.ID = NewID()
	}
	p.CreatedAt, p.UpdatedAt, p.ScheduledAt = now, now, p.ScheduledAt.UTC()
	if p.Attempt == 0 {
		p.Attempt = 1
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(p).Error; err != nil {
			return fmt.Errorf("create post: %w", translate(err))
		}
		ev := PostEvent{ID: NewID(), PostID: p.ID, Status: p.Status, Detail: "scheduled for " + p.ScheduledAt.Format(time.RFC3339), At: now}
		if err := tx.Create(&ev).Error; err != nil {
			return fmt.Errorf("create post event: %w", err)
		}
		return nil
	})
}

// DeletePost removes a post that never got going (its workflow could not start).
func (s *Store) DeletePost(ctx context.Context, id string) error {
	if err := s.db.WithContext(ctx).Where("id = ?", id).Delete(&Post{}).Error; err != nil {
		return fmt.Errorf("delete post: %w", err)
	}
	return nil
}

// PostByIdempotencyKey finds the user's post created with the key.
func (s *Store) PostByIdempotencyKey(ctx context.Context, userID, key string) (Post, error) {
	var p Post
	if err := s.db.WithContext(ctx).Where("user_id = ? AND idempotency_key = ?", userID, key).Take(&p).Error; err != nil {
		return Post{}, fmt.Errorf("post by idempotency key: %w", translate(err))
	}
	return p, nil
}

// UserPost loads one of the user's posts; another user's is ErrNotFound.
func (s *Store) UserPost(ctx context.Context, userID, id string) (Post, error) {
	var p Post
	if err := s.db.WithContext(ctx).Where("id = ? AND user_id = ?", id, userID).Take(&p).Error; err != nil {
		return Post{}, fmt.Errorf("post %s: %w", id, translate(err))
	}
	return p, nil
}

// PostByID loads a post; for workers and staff.
func (s *Store) PostByID(ctx context.Context, id string) (Post, error) {
	var p Post
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&p).Error; err != nil {
		return Post{}, fmt.Errorf("post %s: %w", id, translate(err))
	}
	return p, nil
}

// PostEvents returns a post's history, oldest first.
func (s *Store) PostEvents(ctx context.Context, postID string) ([]PostEvent, error) {
	var out []PostEvent
	if err := s.db.WithContext(ctx).Where("post_id = ?", postID).Order("at, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("post events: %w", err)
	}
	return out, nil
}

// PostFilter narrows a listing of a user's posts.
type PostFilter struct {
	Status    string
	ChannelID string
	// Before is the ID of the last post of the previous page (newest first).
	Before string
	Limit  int
}

// UserPosts lists the user's posts, newest first, one page at a time.
func (s *Store) UserPosts(ctx context.Context, userID string, f PostFilter) ([]Post, error) {
	q := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("id DESC")
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.ChannelID != "" {
		q = q.Where("channel_id = ?", f.ChannelID)
	}
	if f.Before != "" {
		q = q.Where("id < ?", f.Before)
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	var out []Post
	if err := q.Limit(f.Limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list posts: %w", err)
	}
	return out, nil
}

// PostChange is a change of a post made by its workflow: the new status
// (recorded in the history when it differs) and fields to set.
type PostChange struct {
	Status string
	Detail string
	// Set are the columns to set besides the status.
	Set PostFields
}

// PostFields are the columns of a post that a change sets; nil ones are
// left as they are, and a pointer to a zero value clears a column.
type PostFields struct {
	Caption          *string
	Privacy          *string
	AllowComment     *bool
	AllowDuet        *bool
	AllowStitch      *bool
	BrandOrganic     *bool
	BrandContent     *bool
	ScheduledAt      *time.Time
	Timezone         *string
	Attempt          *int
	PublishID        *string
	UploadSession    *string
	PlatformPostID   *string
	PlatformUsername *string
	PublicURL        *string
	PublicState      *string
	FailureReason    *string
	PublishedAt      *time.Time
}

// columns are the fields as GORM column updates.
func (f PostFields) columns() map[string]any {
	out := map[string]any{}
	set := func(col string, ok bool, v any) {
		if ok {
			out[col] = v
		}
	}
	set("caption", f.Caption != nil, deref(f.Caption))
	set("privacy", f.Privacy != nil, deref(f.Privacy))
	set("allow_comment", f.AllowComment != nil, deref(f.AllowComment))
	set("allow_duet", f.AllowDuet != nil, deref(f.AllowDuet))
	set("allow_stitch", f.AllowStitch != nil, deref(f.AllowStitch))
	set("brand_organic", f.BrandOrganic != nil, deref(f.BrandOrganic))
	set("brand_content", f.BrandContent != nil, deref(f.BrandContent))
	set("scheduled_at", f.ScheduledAt != nil, deref(f.ScheduledAt).UTC())
	set("timezone", f.Timezone != nil, deref(f.Timezone))
	set("attempt", f.Attempt != nil, deref(f.Attempt))
	set("publish_id", f.PublishID != nil, deref(f.PublishID))
	set("upload_session", f.UploadSession != nil, deref(f.UploadSession))
	set("platform_post_id", f.PlatformPostID != nil, deref(f.PlatformPostID))
	set("platform_username", f.PlatformUsername != nil, deref(f.PlatformUsername))
	set("public_url", f.PublicURL != nil, deref(f.PublicURL))
	set("public_state", f.PublicState != nil, deref(f.PublicState))
	set("failure_reason", f.FailureReason != nil, deref(f.FailureReason))
	set("published_at", f.PublishedAt != nil, deref(f.PublishedAt).UTC())
	return out
}

// deref is the value behind p, or the zero value for nil.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Ptr returns a pointer to v, for PostFields and similar change structs.
func Ptr[T any](v T) *T { return &v }

// ApplyPostChange writes the change and, when the status changes or a
// detail is given, appends to the history. Applying the same change twice
// adds no second history entry.
func (s *Store) ApplyPostChange(ctx context.Context, id string, ch PostChange) (Post, error) {
	var out Post
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var p Post
		if err := tx.Where("id = ?", id).Take(&p).Error; err != nil {
			return fmt.Errorf("post %s: %w", id, translate(err))
		}
		now := s.now()
		fields := ch.Set.columns()
		fields["updated_at"] = now
		status := p.Status
		if ch.Status != "" {
			fields["status"] = ch.Status
			status = ch.Status
		}
		if err := tx.Model(&Post{}).Where("id = ?", id).Updates(fields).Error; err != nil {
			return fmt.Errorf("update post: %w", err)
		}
		if status != p.Status || ch.Detail != "" {
			var last PostEvent
			err := tx.Where("post_id = ?", id).Order("at DESC, id DESC").Take(&last).Error
			if err != nil && translate(err) != ErrNotFound {
				return fmt.Errorf("last post event: %w", err)
			}
			if err != nil || last.Status != status || last.Detail != ch.Detail {
				ev := PostEvent{ID: NewID(), PostID: id, Status: status, Detail: ch.Detail, At: now}
				if err := tx.Create(&ev).Error; err != nil {
					return fmt.Errorf("create post event: %w", err)
				}
			}
		}
		return tx.Where("id = ?", id).Take(&out).Error
	})
	return out, err
}

// ScheduledPostsOfChannel lists the IDs of a channel's posts that have not
// started publishing.
func (s *Store) ScheduledPostsOfChannel(ctx context.Context, channelID string) ([]string, error) {
	var ids []string
	err := s.db.WithContext(ctx).Model(&Post{}).Where("channel_id = ? AND status = ?", channelID, loomcast.PostScheduled).Order("id").Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("scheduled posts of channel: %w", err)
	}
	return ids, nil
}

// UploadInUse says whether a post that has not settled yet (scheduled,
// publishing or processing) still needs the upload.
func (s *Store) UploadInUse(ctx context.Context, uploadID string) (bool, error) {
	var n int64
	// Upload IDs are UUIDs: one found in a photo post's list is that upload.
	err := s.db.WithContext(ctx).Model(&Post{}).Where("(upload_id = ? OR photo_upload_ids LIKE ?) AND status IN ?", uploadID, "%"+uploadID+"%",
		[]string{loomcast.PostScheduled, loomcast.PostPublishing, loomcast.PostProcessing}).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("upload in use: %w", err)
	}
	return n > 0, nil
}

// DeletePostMetadata deletes a post and its history (retention, 90 days
// after posting). Idempotent.
func (s *Store) DeletePostMetadata(ctx context.Context, id string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("post_id = ?", id).Delete(&PostEvent{}).Error; err != nil {
			return fmt.Errorf("delete post events: %w", err)
		}
		if err := tx.Where("id = ?", id).Delete(&Post{}).Error; err != nil {
			return fmt.Errorf("delete post: %w", err)
		}
		return nil
	})
}

// DeletePostsMetadata deletes posts and their history in one transaction
// (retention, 90 days after posting). Idempotent.
func (s *Store) DeletePostsMetadata(ctx context.Context, ids []string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for start := 0; start < len(ids); start += 500 {
			chunk := ids[start:min(start+500, len(ids))]
			if err := tx.Where("post_id IN ?", chunk).Delete(&PostEvent{}).Error; err != nil {
				return fmt.Errorf("delete post events: %w", err)
			}
			if err := tx.Where("id IN ?", chunk).Delete(&Post{}).Error; err != nil {
				return fmt.Errorf("delete posts: %w", err)
			}
		}
		return nil
	})
}
