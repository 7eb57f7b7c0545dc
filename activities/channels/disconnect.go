package channels

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/retention/scheduler"
	wf "github.com/loomcast/loomcast/workflows/channels"
	"github.com/loomcast/loomcast/workflows/posting"
)

// RevokeChannelGrant revokes the channel's tokens at the platform while
// the channel still holds them. A platform failure is logged, not
// returned: the tokens are deleted next regardless, and the platform
// expires them. Once the tokens are gone it does nothing.
func (a *Activities) RevokeChannelGrant(ctx context.Context, in wf.DisconnectStepInput) error {
	ch, err := a.Grants.Store.ChannelByID(ctx, in.ChannelID)
	if errors.Is(err, models.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if ch.Status != loomcast.ChannelActive || ch.AccessTokenSealed == nil {
		return nil
	}
	if err := a.Grants.RevokeAtPlatform(ctx, ch); err != nil {
		activity.GetLogger(ctx).Warn("revoke at platform failed", "channel_id", ch.ID, "error", err.Error())
	}
	return nil
}

// MarkChannelDisconnected sets the channel's status, which deletes its
// tokens. Setting it again is harmless.
func (a *Activities) MarkChannelDisconnected(ctx context.Context, in wf.DisconnectStepInput) error {
	err := a.Grants.Store.SetChannelStatus(ctx, in.ChannelID, loomcast.ChannelDisconnected, in.Reason)
	if errors.Is(err, models.ErrNotFound) {
		return nil
	}
	return err
}

// ScheduleChannelRetention starts the clock of the channel's data: a
// YouTube channel's data goes 7 days after disconnect, a TikTok channel's
// profile at once (its posts keep their own 90 days). The item is keyed by
// category and channel, so scheduling it again changes nothing.
func (a *Activities) ScheduleChannelRetention(ctx context.Context, in wf.DisconnectStepInput) error {
	ch, err := a.Grants.Store.ChannelByID(ctx, in.ChannelID)
	if errors.Is(err, models.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	category := retention.ChannelData
	if ch.Platform == loomcast.YouTube {
		category = retention.YouTubeDataDisconnected
	}
	return a.Retention.Schedule(ctx, scheduler.Item{Category: category, ObjectID: ch.ID, UserID: ch.UserID, Start: in.At})
}

// ScheduledPostsOfChannel lists the channel's posts still scheduled.
func (a *Activities) ScheduledPostsOfChannel(ctx context.Context, in wf.ChannelInput) (wf.ChannelPosts, error) {
	ids, err := a.Grants.Store.ScheduledPostsOfChannel(ctx, in.ChannelID)
	if err != nil {
		return wf.ChannelPosts{}, err
	}
	return wf.ChannelPosts{PostIDs: ids}, nil
}

// CancelChannelPost cancels a post of a disconnected channel through its
// PublishPost workflow's cancel Update, the one way a post is cancelled.
// A post that has started publishing, or whose workflow has ended, is not
// an error: it is reported as not cancelled.
func (a *Activities) CancelChannelPost(ctx context.Context, in wf.CancelChannelPostInput) (wf.CancelChannelPostResult, error) {
	reason := in.Reason
	if reason == "" {
		reason = "the channel was disconnected"
		if ch, err := a.Grants.Store.ChannelByID(ctx, in.ChannelID); err == nil && ch.DisplayName != "" {
			reason = "the channel " + ch.DisplayName + " was disconnected"
		}
	}
	h, err := a.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   posting.PublishWorkflowID(in.PostID),
		UpdateName:   posting.UpdateCancel,
		Args:         []any{posting.CancelRequest{Reason: reason, By: "user"}},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		var st posting.State
		err = h.Get(ctx, &st)
	}
	switch {
	case err == nil:
		return wf.CancelChannelPostResult{Cancelled: true}, nil
	case settled(err):
		return wf.CancelChannelPostResult{}, nil
	}
	return wf.CancelChannelPostResult{}, fmt.Errorf("cancel post %s: %w", in.PostID, err)
}

// settled reports an Update refusal meaning the post can no longer be
// cancelled: publishing has started, or the workflow has ended.
func settled(err error) bool {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == posting.ErrTypePublishingStarted {
		return true
	}
	var notFound *serviceerror.NotFound
	return errors.As(err, &notFound)
}
