package posting

import (
	"errors"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/workflows/webhooks"
)

func platformActivityOptions(timeout time.Duration) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        2 * time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        5 * time.Minute,
			MaximumAttempts:        12,
			NonRetryableErrorTypes: []string{ErrTypePlatformRejected, ErrTypeChannelUnusable, ErrTypeOutcomeUnknown},
		},
	}
}

func (p *publisher) publishTikTok(ctx workflow.Context) PublishResult {
	if len(p.in.PhotoUploadIDs) > 0 {
		return p.publishTikTokPhotos(ctx)
	}
	// Init is never retried blindly: its activity retries only failures
	// known to have happened before TikTok accepted anything.
	initCtx := workflow.WithActivityOptions(ctx, platformActivityOptions(time.Minute))
	var init TikTokInit
	if err := workflow.ExecuteActivity(initCtx, InitTikTokPostActivity, PostInput{PostID: p.in.PostID}).Get(ctx, &init); err != nil {
		return failed(err)
	}
	if v := workflow.GetVersion(ctx, SignalReconcileVersion, workflow.DefaultVersion, 1); v == 1 && init.OpenID != "" {
		p.tellReconciliation(ctx, init)
	}
	uploadOpts := platformActivityOptions(30 * time.Minute)
	uploadOpts.HeartbeatTimeout = time.Minute
	uploadCtx := workflow.WithActivityOptions(ctx, uploadOpts)
	if err := workflow.ExecuteActivity(uploadCtx, UploadTikTokActivity, TikTokUploadInput{PostID: p.in.PostID, Init: init}).Get(ctx, nil); err != nil {
		return failed(err)
	}
	p.status = loomcast.PostProcessing
	dbCtx := workflow.WithActivityOptions(ctx, dbActivityOptions)
	if err := p.apply(dbCtx, ApplyChangeInput{PostID: p.in.PostID, Status: loomcast.PostProcessing, Detail: "uploaded; TikTok is processing the video"}); err != nil {
		return failed(err)
	}
	return p.followTikTok(ctx)
}

// tellReconciliation hands the publish ID to the account's reconciliation
// process, which holds the events that arrived before it was recorded. The
// process may not exist yet.
func (p *publisher) tellReconciliation(ctx workflow.Context, init TikTokInit) {
	_ = workflow.SignalExternalWorkflow(ctx, webhooks.ReconcileWorkflowID(init.OpenID), "", webhooks.SignalPostKnown, init.PublishID).Get(ctx, nil)
}

// publishTikTokPhotos posts a photo post: one init, after which TikTok
// pulls the images from signed links of ours, then the same following
// as a video.
func (p *publisher) publishTikTokPhotos(ctx workflow.Context) PublishResult {
	initCtx := workflow.WithActivityOptions(ctx, platformActivityOptions(time.Minute))
	var init TikTokInit
	if err := workflow.ExecuteActivity(initCtx, InitTikTokPhotosAct, PostInput{PostID: p.in.PostID}).Get(ctx, &init); err != nil {
		return failed(err)
	}
	if init.OpenID != "" {
		p.tellReconciliation(ctx, init)
	}
	p.status = loomcast.PostProcessing
	dbCtx := workflow.WithActivityOptions(ctx, dbActivityOptions)
	if err := p.apply(dbCtx, ApplyChangeInput{PostID: p.in.PostID, Status: loomcast.PostProcessing, Detail: "TikTok is fetching and processing the photos"}); err != nil {
		return failed(err)
	}
	return p.followTikTok(ctx)
}

// maxStatusPollingDuration is how long a post follows TikTok's verdict
// before it fails as unconfirmed.
const maxStatusPollingDuration = 24 * time.Hour

// FollowWebhooksVersion is the change ID under which a post follows
// TikTok's verdict by webhook first: the account's reconciliation signals
// it (webhooks.SignalPlatformSettled) and polling is a slower fallback.
const FollowWebhooksVersion = "follow-tiktok-webhooks"

// followTikTok asks status/fetch where the post is until TikTok settles
// it. TikTok's webhooks lead: when the account's reconciliation reports an
// outcome for the post, the post asks at once; otherwise it polls with a
// backoff from 2 seconds to 5 minutes (a minute in runs from before the
// webhooks led), every call paced under the account's shared limit of 30
// a minute.
func (p *publisher) followTikTok(ctx workflow.Context) PublishResult {
	pollCtx := workflow.WithActivityOptions(ctx, platformActivityOptions(time.Minute))
	deadline := workflow.Now(ctx).Add(maxStatusPollingDuration)
	byWebhook := workflow.GetVersion(ctx, FollowWebhooksVersion, workflow.DefaultVersion, 1) == 1
	settled := workflow.GetSignalChannel(ctx, webhooks.SignalPlatformSettled)
	wait, maxWait := 2*time.Second, time.Minute
	if byWebhook {
		maxWait = 5 * time.Minute
	}
	for workflow.Now(ctx).Before(deadline) {
		if err := p.waitForTikTok(ctx, wait, byWebhook, settled); err != nil {
			return failed(err)
		}
		var st TikTokStatus
		if err := workflow.ExecuteActivity(pollCtx, FetchTikTokStatusAct, PostInput{PostID: p.in.PostID}).Get(ctx, &st); err != nil {
			return failed(err)
		}
		switch st.Status {
		case "PUBLISH_COMPLETE", "SEND_TO_USER_INBOX":
			id := ""
			if len(st.PublicPostIDs) > 0 {
				id = st.PublicPostIDs[0]
			}
			return PublishResult{Status: loomcast.PostPublished, PlatformPostID: id}
		case "FAILED":
			return PublishResult{Status: loomcast.PostFailed, FailureReason: "TikTok could not publish the video: " + st.FailReason}
		}
		wait = min(wait*2, maxWait)
	}
	return PublishResult{Status: loomcast.PostFailed, FailureReason: "TikTok did not confirm the post within 24 hours"}
}

// waitForTikTok sleeps for wait, or, when webhooks lead, until TikTok's
// outcome is reported, whichever comes first.
func (p *publisher) waitForTikTok(ctx workflow.Context, wait time.Duration, byWebhook bool, settled workflow.ReceiveChannel) error {
	if !byWebhook {
		return workflow.Sleep(ctx, wait)
	}
	timerCtx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	var err error
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(workflow.NewTimer(timerCtx, wait), func(f workflow.Future) { err = f.Get(ctx, nil) })
	sel.AddReceive(settled, func(c workflow.ReceiveChannel, _ bool) {
		for c.ReceiveAsync(nil) { // one look answers every report so far
		}
	})
	sel.Select(ctx)
	return err
}

func (p *publisher) publishYouTube(ctx workflow.Context) PublishResult {
	opts := platformActivityOptions(2 * time.Hour)
	opts.HeartbeatTimeout = 2 * time.Minute
	upCtx := workflow.WithActivityOptions(ctx, opts)
	var v PublishedVideo
	if err := workflow.ExecuteActivity(upCtx, UploadYouTubeActivity, PostInput{PostID: p.in.PostID}).Get(ctx, &v); err != nil {
		return failed(err)
	}
	return PublishResult{Status: loomcast.PostPublished, PlatformPostID: v.VideoID}
}

// failed turns an activity failure into the reason shown to the user:
// the platform's own reason for the failures the activities raise on
// purpose, and a plain sentence for anything else (its text, a network
// error's for instance, stays in the history for support).
func failed(err error) PublishResult {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && slices.Contains(userFacingErrTypes, appErr.Type()) {
		return PublishResult{Status: loomcast.PostFailed, FailureReason: appErr.Message()}
	}
	var timeoutErr *temporal.TimeoutError
	if errors.As(err, &timeoutErr) {
		return PublishResult{Status: loomcast.PostFailed, FailureReason: "the platform did not answer in time; try again later"}
	}
	return PublishResult{Status: loomcast.PostFailed, FailureReason: FailedAfterRetries}
}

// userFacingErrTypes are the failures whose message is written for the
// user (the platform's reason, or what to do next).
var userFacingErrTypes = []string{ErrTypePlatformRejected, ErrTypeChannelUnusable, ErrTypeOutcomeUnknown}
