package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/grants"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/tiktok"
	"github.com/loomcast/loomcast/workflows/posting"
)

// liveCreatorInfo asks TikTok for the creator's capabilities, refreshing
// the token once if TikTok says it expired.
func (s *creators) liveCreatorInfo(ctx context.Context, ch models.Channel) (tiktok.CreatorInfo, error) {
	if ch.Status != loomcast.ChannelActive {
		return tiktok.CreatorInfo{}, errorf(CodeConflict, "The channel %q is %s; reconnect it first.", ch.DisplayName, ch.Status)
	}
	var info tiktok.CreatorInfo
	call := func() error {
		token, err := s.grants.Access(ctx, ch.ID)
		if err != nil {
			return err
		}
		info, err = s.tiktok.CreatorInfo(ctx, token)
		return err
	}
	err := call()
	var apiErr *tiktok.APIError
	if errors.As(err, &apiErr) && apiErr.AuthExpired() {
		if _, err = s.grants.Refresh(ctx, ch.ID); err == nil {
			err = call()
		}
	}
	switch {
	case err == nil:
		return info, nil
	case errors.Is(err, grants.ErrReauthRequired):
		return info, errorf(CodeConflict, "TikTok no longer accepts this channel's authorization; reconnect %q.", ch.DisplayName)
	case errors.As(err, &apiErr) && apiErr.Retryable():
		return info, &Error{Code: CodeUnavailable, Message: "TikTok is busy; try again in a minute.", RetryAfter: 60}
	}
	return info, fmt.Errorf("creator info: %w", err)
}

// tiktokCapabilities reads a creator's live TikTok creator info.
func tiktokCapabilities(info tiktok.CreatorInfo) posting.Capabilities {
	return posting.Capabilities{PrivacyOptions: info.PrivacyLevelOptions, CommentDisabled: info.CommentDisabled,
		DuetDisabled: info.DuetDisabled, StitchDisabled: info.StitchDisabled, MaxDurationSec: info.MaxVideoPostDurationSec}
}
