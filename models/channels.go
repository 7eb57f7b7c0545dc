package models

import (
	"context"
	"fmt"
	"time"

	"github.com/loomcast/loomcast"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Channel is a connected TikTok or YouTube channel (policy 000 section 2.2).
// Its tokens are sealed by the vault (policy 000 section 2.3).
type Channel struct {
	ID                 string
	UserID             string
	Platform           string
	ExternalID         string
	DisplayName        string
	AvatarURL          string
	Status             string
	StatusReason       string
	AccessTokenSealed  *string
	RefreshTokenSealed *string
	AccessExpiresAt    *time.Time
	RefreshExpiresAt   *time.Time
	Scope              string
	CreatedAt          time.Time
	UpdatedAt          time.Time
	DisconnectedAt     *time.Time
	// RevokedAt is when the platform told us access was revoked there.
	RevokedAt *time.Time
}

// ConnectedPlatforms lists the platforms on which the user has an active channel.
func (s *Store) ConnectedPlatforms(ctx context.Context, userID string) ([]string, error) {
	var out []string
	err := s.db.WithContext(ctx).Model(&Channel{}).Distinct("platform").
		Where("user_id = ? AND status = ?", userID, loomcast.ChannelActive).Order("platform").Pluck("platform", &out).Error
	if err != nil {
		return nil, fmt.Errorf("connected platforms: %w", err)
	}
	return out, nil
}

// UpsertChannel stores a (re)connected channel keyed by owner, platform and
// external ID, and returns it with its ID. Reconnecting reactivates it.
func (s *Store) UpsertChannel(ctx context.Context, ch *Channel) error {
	now := s.now()
	if ch.ID == "" {
		ch.ID = NewID()
	}
	ch.CreatedAt, ch.UpdatedAt, ch.Status, ch.StatusReason, ch.DisconnectedAt = now, now, loomcast.ChannelActive, "", nil
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "user_id"}, {Name: "platform"}, {Name: "external_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"display_name", "avatar_url", "status", "status_reason",
			"access_token_sealed", "refresh_token_sealed", "access_expires_at", "refresh_expires_at", "scope",
			"updated_at", "disconnected_at"}),
	}).Create(ch).Error
	if err != nil {
		return fmt.Errorf("upsert channel: %w", translate(err))
	}
	got, err := s.ChannelByKey(ctx, ch.UserID, ch.Platform, ch.ExternalID)
	if err != nil {
		return err
	}
	*ch = got
	return nil
}

// ChannelByKey loads the user's channel on a platform by its external ID,
// whatever its status.
func (s *Store) ChannelByKey(ctx context.Context, userID, platform, externalID string) (Channel, error) {
	var ch Channel
	err := s.db.WithContext(ctx).Where("user_id = ? AND platform = ? AND external_id = ?", userID, platform, externalID).Take(&ch).Error
	if err != nil {
		return Channel{}, fmt.Errorf("channel: %w", translate(err))
	}
	return ch, nil
}

// OtherAccountHolds says whether an account other than userID has a
// channel on the platform account (a TikTok open_id, a YouTube channel
// ID): an agency and its creator can both connect the same one.
func (s *Store) OtherAccountHolds(ctx context.Context, platform, externalID, userID string) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Channel{}).
		Where("platform = ? AND external_id = ? AND user_id <> ?", platform, externalID, userID).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("other account holds: %w", err)
	}
	return n > 0, nil
}

// ChannelByID loads a channel by ID alone; for workers, never for handlers.
func (s *Store) ChannelByID(ctx context.Context, id string) (Channel, error) {
	var ch Channel
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&ch).Error; err != nil {
		return Channel{}, fmt.Errorf("channel %s: %w", id, translate(err))
	}
	return ch, nil
}

// UserChannel loads one of the user's channels; another user's is ErrNotFound.
func (s *Store) UserChannel(ctx context.Context, userID, id string) (Channel, error) {
	var ch Channel
	if err := s.db.WithContext(ctx).Where("id = ? AND user_id = ?", id, userID).Take(&ch).Error; err != nil {
		return Channel{}, fmt.Errorf("channel %s: %w", id, translate(err))
	}
	return ch, nil
}

// UserChannels lists the user's channels that are not disconnected.
func (s *Store) UserChannels(ctx context.Context, userID string) ([]Channel, error) {
	var out []Channel
	err := s.db.WithContext(ctx).Where("user_id = ? AND status <> ?", userID, loomcast.ChannelDisconnected).Order("id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	return out, nil
}

// ChannelTokens are new sealed tokens of a channel.
type ChannelTokens struct {
	AccessSealed     string
	RefreshSealed    string
	AccessExpiresAt  time.Time
	RefreshExpiresAt *time.Time
}

// StoreChannelTokens replaces a channel's tokens in one write, so a rotated
// refresh token is stored in the same step that drops the old one.
func (s *Store) StoreChannelTokens(ctx context.Context, id string, t ChannelTokens) error {
	fields := map[string]any{
		"access_token_sealed": t.AccessSealed, "refresh_token_sealed": t.RefreshSealed,
		"access_expires_at": t.AccessExpiresAt.UTC(), "updated_at": s.now(),
	}
	if t.RefreshExpiresAt != nil {
		fields["refresh_expires_at"] = t.RefreshExpiresAt.UTC()
	}
	res := s.db.WithContext(ctx).Model(&Channel{}).Where("id = ? AND status = ?", id, loomcast.ChannelActive).Updates(fields)
	if res.Error != nil {
		return fmt.Errorf("store tokens: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("store tokens of channel %s: %w", id, ErrNotFound)
	}
	return nil
}

// SetChannelStatus moves a channel to a status, and for anything but
// active deletes its tokens at once.
func (s *Store) SetChannelStatus(ctx context.Context, id, status, reason string) error {
	fields := map[string]any{"status": status, "status_reason": reason, "updated_at": s.now()}
	if status != loomcast.ChannelActive {
		fields["access_token_sealed"] = gorm.Expr("NULL")
		fields["refresh_token_sealed"] = gorm.Expr("NULL")
		fields["access_expires_at"] = gorm.Expr("NULL")
		fields["refresh_expires_at"] = gorm.Expr("NULL")
	}
	switch status {
	case loomcast.ChannelDisconnected:
		fields["disconnected_at"] = s.now()
	case loomcast.ChannelReauthRequired:
		fields["revoked_at"] = s.now()
	}
	if err := s.db.WithContext(ctx).Model(&Channel{}).Where("id = ?", id).Updates(fields).Error; err != nil {
		return fmt.Errorf("set channel status: %w", err)
	}
	return nil
}

// SealedChannelTokens lists every channel holding tokens, for key rotation.
func (s *Store) SealedChannelTokens(ctx context.Context) ([]Channel, error) {
	var out []Channel
	if err := s.db.WithContext(ctx).Where("access_token_sealed IS NOT NULL OR refresh_token_sealed IS NOT NULL").Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list sealed tokens: %w", err)
	}
	return out, nil
}

// ResealChannelTokens swaps sealed values only if they are unchanged since
// they were read, so a rotation never overwrites a concurrent refresh.
func (s *Store) ResealChannelTokens(ctx context.Context, id string, oldAccess, oldRefresh, newAccess, newRefresh *string) (bool, error) {
	q := s.db.WithContext(ctx).Model(&Channel{}).Where("id = ?", id)
	q = whereNullable(q, "access_token_sealed", oldAccess)
	q = whereNullable(q, "refresh_token_sealed", oldRefresh)
	res := q.Updates(map[string]any{"access_token_sealed": newAccess, "refresh_token_sealed": newRefresh})
	if res.Error != nil {
		return false, fmt.Errorf("reseal tokens: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

func whereNullable(q *gorm.DB, col string, v *string) *gorm.DB {
	if v == nil {
		return q.Where(col + " IS NULL")
	}
	return q.Where(col+" = ?", *v)
}

// DeleteChannel deletes a channel that is not active, with its posts and
// their history (the retention of a disconnected or revoked YouTube
// channel's data). An active channel (reconnected meanwhile) is kept;
// deleting one already gone succeeds.
func (s *Store) DeleteChannel(ctx context.Context, id string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ch Channel
		err := tx.Where("id = ?", id).Take(&ch).Error
		if translate(err) == ErrNotFound {
			return nil
		}
		if err != nil {
			return fmt.Errorf("delete channel %s: %w", id, err)
		}
		if ch.Status == loomcast.ChannelActive {
			return nil
		}
		sub := tx.Model(&Post{}).Select("id").Where("channel_id = ?", id)
		if err := tx.Where("post_id IN (?)", sub).Delete(&PostEvent{}).Error; err != nil {
			return fmt.Errorf("delete channel %s: %w", id, err)
		}
		if err := tx.Where("channel_id = ?", id).Delete(&Post{}).Error; err != nil {
			return fmt.Errorf("delete channel %s: %w", id, err)
		}
		if err := tx.Where("id = ?", id).Delete(&Channel{}).Error; err != nil {
			return fmt.Errorf("delete channel %s: %w", id, err)
		}
		return nil
	})
}

// EraseChannelProfile removes what a disconnected channel holds of the
// platform account (name, picture, account ID, tokens), keeping the row its
// posts refer to. An active channel is left alone.
func (s *Store) EraseChannelProfile(ctx context.Context, id string) error {
	err := s.db.WithContext(ctx).Model(&Channel{}).Where("id = ? AND status <> ?", id, loomcast.ChannelActive).Updates(map[string]any{
		"display_name": "", "avatar_url": "", "external_id": "erased:" + id, "scope": "",
		"access_token_sealed": gorm.Expr("NULL"), "refresh_token_sealed": gorm.Expr("NULL"),
		"access_expires_at": gorm.Expr("NULL"), "refresh_expires_at": gorm.Expr("NULL"), "updated_at": s.now(),
	}).Error
	if err != nil {
		return fmt.Errorf("erase channel %s: %w", id, err)
	}
	return nil
}

// AllUserChannels lists every channel of a user, disconnected ones too
// (erasure and its check must know them all).
func (s *Store) AllUserChannels(ctx context.Context, userID string) ([]Channel, error) {
	var out []Channel
	if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	return out, nil
}
