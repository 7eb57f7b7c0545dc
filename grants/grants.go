// Package grants manages connected channels' OAuth grants: it seals tokens
// with the vault, opens them for a platform call, refreshes them (storing a
// rotated refresh token in the same write that drops the old one), and
// marks a channel reauth_required when its grant is revoked.
package grants

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/tiktok"
	"github.com/loomcast/loomcast/vault"
	"github.com/loomcast/loomcast/youtube"
)

// ErrReauthRequired is returned when a channel's grant is gone.
var ErrReauthRequired = errors.New("the channel must be reconnected")

// Manager opens, refreshes and seals channel tokens.
type Manager struct {
	Store   *models.Store
	Vault   *vault.Keyring
	TikTok  *tiktok.Client
	YouTube *youtube.Client
	// Retention starts the 30-day clock of a YouTube channel's data when
	// access is revoked at Google.
	Retention Clocks
	Now       func() time.Time
}

func (t *Manager) now() time.Time {
	if t.Now != nil {
		return t.Now().UTC()
	}
	return time.Now().UTC()
}

// Clocks starts retention clocks; retention/scheduler's Scheduler is one.
type Clocks interface {
	Start(ctx context.Context, category retention.Category, objectID, userID string, start time.Time) error
}

// SealContext binds a sealed token to its channel and kind.
func SealContext(channelID, kind string) string { return "channel:" + channelID + ":" + kind }

// Seal returns the sealed tokens of a channel for the store.
func (t *Manager) Seal(channelID, access, refresh string, accessExpires time.Time, refreshExpires *time.Time) (models.ChannelTokens, error) {
	a, err := t.Vault.Seal(access, SealContext(channelID, "access"))
	if err != nil {
		return models.ChannelTokens{}, err
	}
	r, err := t.Vault.Seal(refresh, SealContext(channelID, "refresh"))
	if err != nil {
		return models.ChannelTokens{}, err
	}
	return models.ChannelTokens{AccessSealed: a, RefreshSealed: r, AccessExpiresAt: accessExpires, RefreshExpiresAt: refreshExpires}, nil
}

// Access returns a usable access token of the channel, refreshing it first
// when it has expired or is about to.
func (t *Manager) Access(ctx context.Context, channelID string) (string, error) {
	ch, err := t.Store.ChannelByID(ctx, channelID)
	if err != nil {
		return "", err
	}
	if ch.Status != loomcast.ChannelActive || ch.AccessTokenSealed == nil {
		return "", ErrReauthRequired
	}
	if ch.AccessExpiresAt != nil && ch.AccessExpiresAt.Sub(t.now()) < time.Minute {
		if ch, err = t.Refresh(ctx, channelID); err != nil {
			return "", err
		}
	}
	return t.Vault.Open(*ch.AccessTokenSealed, SealContext(ch.ID, "access"))
}

// Refresh trades the refresh token for new tokens and stores them. When
// the platform answers invalid_grant and no concurrent refresh has stored a
// newer refresh token meanwhile, the channel becomes reauth_required and
// ErrReauthRequired is returned.
func (t *Manager) Refresh(ctx context.Context, channelID string) (models.Channel, error) {
	ch, err := t.Store.ChannelByID(ctx, channelID)
	if err != nil {
		return models.Channel{}, err
	}
	if ch.Status != loomcast.ChannelActive || ch.RefreshTokenSealed == nil {
		return ch, ErrReauthRequired
	}
	refresh, err := t.Vault.Open(*ch.RefreshTokenSealed, SealContext(ch.ID, "refresh"))
	if err != nil {
		return ch, fmt.Errorf("open refresh token: %w", err)
	}
	var sealed models.ChannelTokens
	switch ch.Platform {
	case loomcast.TikTok:
		tok, err := t.TikTok.Refresh(ctx, refresh)
		if err != nil {
			return t.refreshFailed(ctx, ch, err, errors.Is(err, tiktok.ErrInvalidGrant))
		}
		re := tok.RefreshExpiresAt
		sealed, err = t.Seal(ch.ID, tok.AccessToken, tok.RefreshToken, tok.ExpiresAt, &re)
		if err != nil {
			return ch, err
		}
	case loomcast.YouTube:
		tok, err := t.YouTube.Refresh(ctx, refresh)
		if err != nil {
			return t.refreshFailed(ctx, ch, err, errors.Is(err, youtube.ErrInvalidGrant))
		}
		sealed, err = t.Seal(ch.ID, tok.AccessToken, tok.RefreshToken, tok.ExpiresAt, nil)
		if err != nil {
			return ch, err
		}
	default:
		return ch, fmt.Errorf("channel %s: unknown platform %q", ch.ID, ch.Platform)
	}
	if err := t.Store.StoreChannelTokens(ctx, ch.ID, sealed); err != nil {
		return ch, err
	}
	return t.Store.ChannelByID(ctx, ch.ID)
}

func (t *Manager) refreshFailed(ctx context.Context, ch models.Channel, err error, invalidGrant bool) (models.Channel, error) {
	if !invalidGrant {
		return ch, fmt.Errorf("refresh %s token: %w", ch.Platform, err)
	}
	// A concurrent refresh may have rotated the token we used: then the
	// channel is fine.
	now, lerr := t.Store.ChannelByID(ctx, ch.ID)
	if lerr == nil && now.RefreshTokenSealed != nil && ch.RefreshTokenSealed != nil && *now.RefreshTokenSealed != *ch.RefreshTokenSealed {
		return now, nil
	}
	if err := t.MarkReauthRequired(ctx, ch, "access was revoked or expired at "+platformName(ch.Platform)); err != nil {
		return ch, err
	}
	return ch, ErrReauthRequired
}

// MarkReauthRequired deletes the channel's tokens, marks it
// reauth_required and tells each of its scheduled posts.
func (t *Manager) MarkReauthRequired(ctx context.Context, ch models.Channel, reason string) error {
	if err := t.Store.SetChannelStatus(ctx, ch.ID, loomcast.ChannelReauthRequired, reason); err != nil {
		return err
	}
	if ch.Platform == loomcast.YouTube {
		if err := t.Retention.Start(ctx, retention.YouTubeDataRevoked, ch.ID, ch.UserID, t.now()); err != nil {
			return err
		}
	}
	ids, err := t.Store.ScheduledPostsOfChannel(ctx, ch.ID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		detail := fmt.Sprintf("Reconnect your %s channel %q: %s. This post cannot be published until you do.", platformName(ch.Platform), ch.DisplayName, reason)
		if _, err := t.Store.ApplyPostChange(ctx, id, models.PostChange{Detail: detail}); err != nil {
			return err
		}
	}
	return nil
}

func platformName(p string) string {
	switch p {
	case loomcast.TikTok:
		return "TikTok"
	case loomcast.YouTube:
		return "YouTube"
	}
	return p
}

// RotationResult counts what Reseal did.
type RotationResult struct {
	Resealed int
	Current  int
	// Skipped were changed concurrently (by a refresh, already under the
	// current key).
	Skipped int
}

// Reseal re-encrypts every channel token not sealed with the current key,
// one channel at a time with a compare-and-swap, so it runs while the
// system serves: a concurrent refresh simply wins.
func (t *Manager) Reseal(ctx context.Context) (RotationResult, error) {
	var res RotationResult
	chs, err := t.Store.SealedChannelTokens(ctx)
	if err != nil {
		return res, err
	}
	current := t.Vault.CurrentKeyID()
	for _, ch := range chs {
		newAccess, changedA, err := t.reseal(ch.AccessTokenSealed, SealContext(ch.ID, "access"), current)
		if err != nil {
			return res, fmt.Errorf("channel %s: %w", ch.ID, err)
		}
		newRefresh, changedR, err := t.reseal(ch.RefreshTokenSealed, SealContext(ch.ID, "refresh"), current)
		if err != nil {
			return res, fmt.Errorf("channel %s: %w", ch.ID, err)
		}
		if !changedA && !changedR {
			res.Current++
			continue
		}
		ok, err := t.Store.ResealChannelTokens(ctx, ch.ID, ch.AccessTokenSealed, ch.RefreshTokenSealed, newAccess, newRefresh)
		if err != nil {
			return res, err
		}
		if ok {
			res.Resealed++
		} else {
			res.Skipped++
		}
	}
	return res, nil
}

func (t *Manager) reseal(sealed *string, context, current string) (*string, bool, error) {
	if sealed == nil || vault.KeyID(*sealed) == current {
		return sealed, false, nil
	}
	plain, err := t.Vault.Open(*sealed, context)
	if err != nil {
		return nil, false, err
	}
	out, err := t.Vault.Seal(plain, context)
	if err != nil {
		return nil, false, err
	}
	return &out, true, nil
}

// RevokeAtPlatform asks the channel's platform to revoke its grant, so that
// deleting the tokens here also ends them there. A channel without tokens
// has nothing to revoke.
func (t *Manager) RevokeAtPlatform(ctx context.Context, ch models.Channel) error {
	if ch.AccessTokenSealed == nil {
		return nil
	}
	access, err := t.Vault.Open(*ch.AccessTokenSealed, SealContext(ch.ID, "access"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	switch ch.Platform {
	case loomcast.TikTok:
		return t.TikTok.Revoke(ctx, access)
	case loomcast.YouTube:
		return t.YouTube.Revoke(ctx, access)
	}
	return nil
}
