package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

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
	if err := s.paceCreatorInfo(ctx, ch); err != nil {
		return tiktok.CreatorInfo{}, err
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

// maxCreatorInfoWait is the longest a request waits for a creator_info
// slot before it is refused.
const maxCreatorInfoWait = 3 * time.Second

// paceCreatorInfo takes a slot under TikTok's creator_info limit, shared
// with the channel's publishing posts, waiting a few seconds at most; when
// none is free that soon the request is refused with a 429 that says
// when to come back, and no slot is kept.
func (s *creators) paceCreatorInfo(ctx context.Context, ch models.Channel) error {
	holder := "api/" + models.NewID()
	wait, ok, err := s.pacer.Reserve(ctx, ch.ID, tiktok.EndpointCreatorInfo, holder, maxCreatorInfoWait)
	if err != nil {
		return err
	}
	if !ok {
		secs := int(math.Ceil(wait.Seconds()))
		return &Error{Code: CodeRateLimited, RetryAfter: secs, Message: fmt.Sprintf(
			"TikTok allows %d creator-info requests a minute for this account, and the channel's scheduled posts are using them; try again in %d seconds.",
			s.pacer.Limit(tiktok.EndpointCreatorInfo), secs)}
	}
	if wait > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		// The slot is this request's: taking it now marks it used.
		_, _, err = s.pacer.Reserve(ctx, ch.ID, tiktok.EndpointCreatorInfo, holder, 0)
		return err
	}
	return nil
}

// tiktokCapabilities reads a creator's live TikTok creator info.
func tiktokCapabilities(info tiktok.CreatorInfo) posting.Capabilities {
	return posting.Capabilities{PrivacyOptions: info.PrivacyLevelOptions, CommentDisabled: info.CommentDisabled,
		DuetDisabled: info.DuetDisabled, StitchDisabled: info.StitchDisabled, MaxDurationSec: info.MaxVideoPostDurationSec}
}
