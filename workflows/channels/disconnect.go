package channels

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// DisconnectWorkflowID is the one disconnect process of a channel. A
// finished run's ID may be reused: every step is idempotent, so running it
// again (after a failure, or for a channel connected again) is harmless.
func DisconnectWorkflowID(channelID string) string { return "channel-disconnect-" + channelID }

// DisconnectInput starts a channel's disconnect. It carries IDs only: the
// activities load the tokens they revoke.
type DisconnectInput struct {
	ChannelID string
	UserID    string
	// Reason is the channel's status reason ("disconnected by you").
	Reason string
	// PostReason, when set, is the reason each cancelled post shows; by
	// default it names the disconnected channel.
	PostReason string
}

// DisconnectResult is what the disconnect did.
type DisconnectResult struct {
	// CancelledPosts are the scheduled posts the disconnect cancelled;
	// AlreadySettled those that had started publishing or had ended.
	CancelledPosts []string
	AlreadySettled []string
}

// DisconnectStepInput names the channel a disconnect step works on. At is
// when the disconnect started (the retention clock's start).
type DisconnectStepInput struct {
	ChannelID string
	UserID    string
	Reason    string
	At        time.Time
}

// ChannelPosts lists the channel's scheduled posts.
type ChannelPosts struct {
	PostIDs []string
}

// CancelChannelPostInput cancels one post of a disconnected channel.
type CancelChannelPostInput struct {
	ChannelID string
	PostID    string
	// Reason, when set, is the post's cancellation reason.
	Reason string
}

// CancelChannelPostResult says whether the post was cancelled or had
// already started publishing (or ended).
type CancelChannelPostResult struct {
	Cancelled bool
}

// Activity names of the disconnect.
const (
	RevokeGrantActivity             = "RevokeChannelGrant"
	MarkDisconnectedActivity        = "MarkChannelDisconnected"
	ScheduleChannelRetentionAct     = "ScheduleChannelRetention"
	ScheduledPostsOfChannelActivity = "ScheduledPostsOfChannel"
	CancelChannelPostActivity       = "CancelChannelPost"
)

// DisconnectChannel revokes the channel's grant at the platform (a failure
// is tolerated: the tokens are deleted regardless and the platform expires
// them), marks it disconnected, starts its data's retention clock, ends its
// token refresh process and cancels its scheduled posts.
func DisconnectChannel(ctx workflow.Context, in DisconnectInput) (DisconnectResult, error) {
	d := &disconnect{in: in}
	d.setup(ctx)
	return d.run()
}

type disconnect struct {
	in  DisconnectInput
	ctx workflow.Context
	res DisconnectResult
}

func (d *disconnect) setup(ctx workflow.Context) {
	d.ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
		},
	})
}

func (d *disconnect) run() (DisconnectResult, error) {
	step := DisconnectStepInput{ChannelID: d.in.ChannelID, UserID: d.in.UserID, Reason: d.in.Reason, At: workflow.Now(d.ctx)}
	for _, name := range []string{RevokeGrantActivity, MarkDisconnectedActivity, ScheduleChannelRetentionAct} {
		if err := workflow.ExecuteActivity(d.ctx, name, step).Get(d.ctx, nil); err != nil {
			return d.res, err
		}
	}
	d.stopTokenRefresh()
	return d.res, d.cancelScheduledPosts()
}

// stopTokenRefresh signals the refresh process to end. A refresh process
// that has already ended is fine, and one that misses the signal ends by
// itself: it finds the channel no longer active.
func (d *disconnect) stopTokenRefresh() {
	err := workflow.SignalExternalWorkflow(d.ctx, TokenRefreshWorkflowID(d.in.ChannelID), "", SignalDisconnect, nil).Get(d.ctx, nil)
	if err != nil {
		workflow.GetLogger(d.ctx).Info("token refresh already ended", "channel_id", d.in.ChannelID, "error", err)
	}
}

func (d *disconnect) cancelScheduledPosts() error {
	var posts ChannelPosts
	if err := workflow.ExecuteActivity(d.ctx, ScheduledPostsOfChannelActivity, ChannelInput{ChannelID: d.in.ChannelID}).Get(d.ctx, &posts); err != nil {
		return err
	}
	for _, id := range posts.PostIDs {
		var r CancelChannelPostResult
		in := CancelChannelPostInput{ChannelID: d.in.ChannelID, PostID: id, Reason: d.in.PostReason}
		if err := workflow.ExecuteActivity(d.ctx, CancelChannelPostActivity, in).Get(d.ctx, &r); err != nil {
			return err
		}
		if r.Cancelled {
			d.res.CancelledPosts = append(d.res.CancelledPosts, id)
		} else {
			d.res.AlreadySettled = append(d.res.AlreadySettled, id)
		}
	}
	return nil
}
