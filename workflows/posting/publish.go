// Package posting owns the publication of a post: one PublishPost workflow
// per post waits for the scheduled time (rescheduled, edited or cancelled
// through Updates), publishes exactly once on TikTok or YouTube, follows the
// platform until it settles the post, deletes the upload, and hands the
// post's metadata to its 90-day expiry.
package posting

import (
	"errors"
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/workflows"
	"github.com/loomcast/loomcast/workflows/expiry"
	"github.com/loomcast/loomcast/workflows/webhooks"
)

// PublishWorkflowID is the one publication process of a post.
func PublishWorkflowID(postID string) string { return "post-" + postID }

// MetadataExpiryWorkflowID is the process that deletes a post's metadata.
func MetadataExpiryWorkflowID(postID string) string { return "post-expiry-" + postID }

// MetadataRetention is how long post metadata is kept after posting
// (the retention table: 90 days, policy 000 section 6).
var MetadataRetention = retention.Fixed(retention.PostMetadata)

// PublishInput starts a post's publication. It carries IDs only: captions
// and tokens stay in the database.
type PublishInput struct {
	PostID      string
	UserID      string
	ChannelID   string
	UploadID    string
	Platform    string
	ScheduledAt time.Time
	Attempt     int
}

// PublishResult is how the publication ended.
type PublishResult struct {
	Status         string
	PlatformPostID string
	FailureReason  string
}

// SignalReconcileVersion is the change ID under which a post tells its
// TikTok account's reconciliation process that its publish ID is known.
const SignalReconcileVersion = "signal-reconcile-post-known"

// Update and query names.
const (
	UpdateReschedule = "reschedule"
	UpdateEdit       = "edit"
	UpdateCancel     = "cancel"
	QueryState       = "state"
)

// RescheduleRequest moves the scheduled time.
type RescheduleRequest struct {
	ScheduledAt time.Time
	// Timezone, when set, becomes the post's timezone (the zone the
	// user's local time was read in).
	Timezone string
}

// EditRequest changes the post's options; nil fields stay. The API checks
// them against the platform before sending them.
type EditRequest struct {
	Caption      *string
	Privacy      *string
	AllowComment *bool
	AllowDuet    *bool
	AllowStitch  *bool
}

// CancelRequest cancels the post.
type CancelRequest struct {
	Reason string
	// By says who cancelled: "user", "support:<id>" or "system".
	By string
}

// State answers QueryState.
type State struct {
	Status      string
	ScheduledAt time.Time
}

// ErrTypePublishingStarted is the application error type an Update is
// refused with once publishing has started (the API answers 409).
const ErrTypePublishingStarted = "PublishingStarted"

// ErrTypeInvalid marks an Update refused for bad input (the API answers 400).
const ErrTypeInvalid = "InvalidRequest"

// Permanent failure types raised by the activities.
const (
	ErrTypePlatformRejected = "PlatformRejected"
	ErrTypeChannelUnusable  = "ChannelUnusable"
	ErrTypeOutcomeUnknown   = "OutcomeUnknown"
)

// Activity names, as the worker registers them.
const (
	ApplyPostChangeActivity  = "ApplyPostChange"
	CheckBeforePublishAct    = "CheckBeforePublish"
	InitTikTokPostActivity   = "InitTikTokPost"
	UploadTikTokActivity     = "UploadTikTokChunks"
	FetchTikTokStatusAct     = "FetchTikTokStatus"
	UploadYouTubeActivity    = "UploadYouTubeVideo"
	DeleteUploadActivity     = "DeleteUpload"
	DeletePostMetadataAct    = "DeletePostMetadata"
	MetadataExpiryWorkflow   = "PostMetadataExpiry"
	maxStatusPollingDuration = 24 * time.Hour
)

// ApplyChangeInput is the input of the ApplyPostChange activity.
type ApplyChangeInput struct {
	PostID string
	Status string
	Detail string
	// Fields are columns to set: "caption", "privacy", "allow_comment",
	// "allow_duet", "allow_stitch", "scheduled_at", "publish_id",
	// "platform_post_id", "public_url", "failure_reason", "published_at".
	Fields map[string]any
}

// PostInput names the post an activity works on.
type PostInput struct {
	PostID string
}

// TikTokInit is the result of InitTikTokPost.
type TikTokInit struct {
	// OpenID is the TikTok account, whose reconciliation process is told
	// about the publish ID.
	OpenID     string
	PublishID  string
	UploadURL  string
	ChunkSize  int64
	ChunkCount int
}

// TikTokUploadInput is the input of UploadTikTokChunks.
type TikTokUploadInput struct {
	PostID string
	Init   TikTokInit
}

// TikTokStatus is the result of FetchTikTokStatus.
type TikTokStatus struct {
	Status        string
	FailReason    string
	PublicPostIDs []string
}

// PublishedVideo is the result of UploadYouTubeVideo.
type PublishedVideo struct {
	VideoID string
}

// MetadataExpiryInput starts a post's metadata expiry.
type MetadataExpiryInput struct {
	PostID string
	DueAt  time.Time
}

// PublishPost is the workflow of one post.
func PublishPost(ctx workflow.Context, in PublishInput) (PublishResult, error) {
	p := &publisher{in: in, scheduledAt: in.ScheduledAt, status: loomcast.PostScheduled}
	if err := p.setup(ctx); err != nil {
		return PublishResult{}, err
	}
	res, err := p.run(ctx)
	if err == nil && workflow.GetVersion(ctx, HandlersFinishedVersion, workflow.DefaultVersion, 1) == 1 {
		err = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	}
	return res, err
}

type publisher struct {
	in          PublishInput
	scheduledAt time.Time
	status      string
	changed     bool
	cancelled   bool
}

func (p *publisher) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (State, error) {
		return State{Status: p.status, ScheduledAt: p.scheduledAt}, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateReschedule,
		func(ctx workflow.Context, req RescheduleRequest) (State, error) {
			fields := map[string]any{"scheduled_at": req.ScheduledAt.UTC()}
			if req.Timezone != "" {
				fields["timezone"] = req.Timezone
			}
			if err := p.apply(workflow.WithActivityOptions(ctx, dbActivityOptions), ApplyChangeInput{PostID: p.in.PostID,
				Detail: "rescheduled to " + req.ScheduledAt.UTC().Format(time.RFC3339), Fields: fields}); err != nil {
				return State{}, err
			}
			p.scheduledAt, p.changed = req.ScheduledAt, true
			return State{Status: p.status, ScheduledAt: p.scheduledAt}, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req RescheduleRequest) error {
			if err := p.mustBeScheduled(); err != nil {
				return err
			}
			if req.ScheduledAt.Before(workflow.Now(ctx).Add(-time.Minute)) {
				return temporal.NewApplicationError("the new time is in the past", ErrTypeInvalid)
			}
			return nil
		}}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateEdit,
		func(ctx workflow.Context, req EditRequest) (State, error) {
			if err := p.apply(workflow.WithActivityOptions(ctx, dbActivityOptions), ApplyChangeInput{PostID: p.in.PostID, Detail: "edited", Fields: editFields(req)}); err != nil {
				return State{}, err
			}
			return State{Status: p.status, ScheduledAt: p.scheduledAt}, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req EditRequest) error {
			if err := p.mustBeScheduled(); err != nil {
				return err
			}
			if len(editFields(req)) == 0 {
				return temporal.NewApplicationError("nothing to change", ErrTypeInvalid)
			}
			return nil
		}}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateCancel,
		func(ctx workflow.Context, req CancelRequest) (State, error) {
			reason := req.Reason
			if reason == "" {
				reason = "cancelled"
			}
			if err := p.apply(workflow.WithActivityOptions(ctx, dbActivityOptions), ApplyChangeInput{PostID: p.in.PostID, Status: loomcast.PostCancelled,
				Detail: reason + " (by " + req.By + ")", Fields: map[string]any{"failure_reason": reason}}); err != nil {
				return State{}, err
			}
			p.status, p.cancelled = loomcast.PostCancelled, true
			return State{Status: p.status, ScheduledAt: p.scheduledAt}, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req CancelRequest) error {
			return p.mustBeScheduled()
		}})
}

func (p *publisher) mustBeScheduled() error {
	if p.status != loomcast.PostScheduled || p.cancelled {
		return temporal.NewApplicationError(fmt.Sprintf("the post is %s: it can no longer be changed", p.status), ErrTypePublishingStarted)
	}
	return nil
}

func editFields(req EditRequest) map[string]any {
	f := map[string]any{}
	if req.Caption != nil {
		f["caption"] = *req.Caption
	}
	if req.Privacy != nil {
		f["privacy"] = *req.Privacy
	}
	if req.AllowComment != nil {
		f["allow_comment"] = *req.AllowComment
	}
	if req.AllowDuet != nil {
		f["allow_duet"] = *req.AllowDuet
	}
	if req.AllowStitch != nil {
		f["allow_stitch"] = *req.AllowStitch
	}
	return f
}

var dbActivityOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
}

func (p *publisher) apply(ctx workflow.Context, in ApplyChangeInput) error {
	return workflow.ExecuteActivity(ctx, ApplyPostChangeActivity, in).Get(ctx, nil)
}

func (p *publisher) run(ctx workflow.Context) (PublishResult, error) {
	if err := p.waitForScheduledTime(ctx); err != nil {
		return PublishResult{}, err
	}
	if p.cancelled {
		return p.finish(ctx, PublishResult{Status: loomcast.PostCancelled})
	}
	res := p.publish(ctx)
	return p.finish(ctx, res)
}

// HandlersFinishedVersion is the change ID under which a process waits
// for its Update and signal handlers to finish before it completes.
const HandlersFinishedVersion = "await-handlers-finished"

// waitForScheduledTime sleeps until the scheduled time, waking up when an
// Update moves it or cancels the post.
func (p *publisher) waitForScheduledTime(ctx workflow.Context) error {
	for !p.cancelled {
		wait := p.scheduledAt.Sub(workflow.Now(ctx))
		if wait > 0 {
			p.changed = false
			if _, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return p.changed || p.cancelled }); err != nil {
				return fmt.Errorf("wait for scheduled time: %w", err)
			}
			continue
		}
		// Due. Let accepted Updates finish writing first; one of them may
		// have moved the time or cancelled the post meanwhile.
		if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
			return err
		}
		if p.cancelled || p.scheduledAt.After(workflow.Now(ctx)) {
			continue
		}
		p.status = loomcast.PostPublishing // from here on, Updates are refused
		return nil
	}
	return nil
}

// publish runs the platform's publication and reports how it ended;
// permanent failures become a failed post with the reason shown to the user.
func (p *publisher) publish(ctx workflow.Context) PublishResult {
	dbCtx := workflow.WithActivityOptions(ctx, dbActivityOptions)
	if err := p.apply(dbCtx, ApplyChangeInput{PostID: p.in.PostID, Status: loomcast.PostPublishing, Detail: "publishing started"}); err != nil {
		return failed(err)
	}
	checkCtx := workflow.WithActivityOptions(ctx, platformActivityOptions(time.Minute))
	if err := workflow.ExecuteActivity(checkCtx, CheckBeforePublishAct, PostInput{PostID: p.in.PostID}).Get(ctx, nil); err != nil {
		return failed(err)
	}
	switch p.in.Platform {
	case loomcast.TikTok:
		return p.publishTikTok(ctx)
	case loomcast.YouTube:
		return p.publishYouTube(ctx)
	}
	return PublishResult{Status: loomcast.PostFailed, FailureReason: "unknown platform " + p.in.Platform}
}

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
	// Init is never retried blindly: its activity retries only failures
	// known to have happened before TikTok accepted anything.
	initCtx := workflow.WithActivityOptions(ctx, platformActivityOptions(time.Minute))
	var init TikTokInit
	if err := workflow.ExecuteActivity(initCtx, InitTikTokPostActivity, PostInput{PostID: p.in.PostID}).Get(ctx, &init); err != nil {
		return failed(err)
	}
	if v := workflow.GetVersion(ctx, SignalReconcileVersion, workflow.DefaultVersion, 1); v == 1 && init.OpenID != "" {
		// Events that arrived before the publish ID was recorded are held by
		// the account's reconciliation process: tell it. It may not exist yet.
		_ = workflow.SignalExternalWorkflow(ctx, webhooks.ReconcileWorkflowID(init.OpenID), "", webhooks.SignalPostKnown, init.PublishID).Get(ctx, nil)
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

// followTikTok polls status/fetch with a backoff from seconds to a minute,
// well inside TikTok's 30 requests per minute per token, until TikTok
// settles the post.
func (p *publisher) followTikTok(ctx workflow.Context) PublishResult {
	pollCtx := workflow.WithActivityOptions(ctx, platformActivityOptions(time.Minute))
	deadline := workflow.Now(ctx).Add(maxStatusPollingDuration)
	wait := 2 * time.Second
	for workflow.Now(ctx).Before(deadline) {
		if err := workflow.Sleep(ctx, wait); err != nil {
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
		wait = min(wait*2, time.Minute)
	}
	return PublishResult{Status: loomcast.PostFailed, FailureReason: "TikTok did not confirm the post within 24 hours"}
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

// FailedAfterRetries is the reason a post shows when publishing failed for
// a reason that is not the platform's verdict.
const FailedAfterRetries = "publishing failed after several attempts; support can see why"

// userFacingErrTypes are the failures whose message is written for the
// user (the platform's reason, or what to do next).
var userFacingErrTypes = []string{ErrTypePlatformRejected, ErrTypeChannelUnusable, ErrTypeOutcomeUnknown, ErrTypeInvalid}

// finish records the outcome, deletes the upload once the post is
// published, and starts the metadata's retention clock.
func (p *publisher) finish(ctx workflow.Context, res PublishResult) (PublishResult, error) {
	p.status = res.Status
	dbCtx := workflow.WithActivityOptions(ctx, dbActivityOptions)
	now := workflow.Now(ctx)
	if res.Status != loomcast.PostCancelled {
		fields := map[string]any{"failure_reason": res.FailureReason}
		detail := res.FailureReason
		if res.Status == loomcast.PostPublished {
			fields = map[string]any{"platform_post_id": res.PlatformPostID, "published_at": now, "failure_reason": ""}
			detail = "published as " + res.PlatformPostID
		}
		if err := p.apply(dbCtx, ApplyChangeInput{PostID: p.in.PostID, Status: res.Status, Detail: detail, Fields: fields}); err != nil {
			return res, err
		}
	}
	if res.Status == loomcast.PostPublished {
		if err := workflow.ExecuteActivity(dbCtx, DeleteUploadActivity, DeleteUploadInput{UploadID: p.in.UploadID, Reason: ReasonPublished}).Get(ctx, nil); err != nil {
			return res, err
		}
	}
	postedAt := p.scheduledAt
	if res.Status == loomcast.PostPublished {
		postedAt = now
	}
	if workflow.GetVersion(ctx, expiry.RetentionVersion, workflow.DefaultVersion, 1) == 1 {
		clock := expiry.Clock{Category: retention.PostMetadata, ObjectID: p.in.PostID, UserID: p.in.UserID, Start: postedAt}
		if err := workflow.ExecuteActivity(dbCtx, expiry.ScheduleActivity, expiry.ScheduleInput{Clocks: []expiry.Clock{clock}}).Get(ctx, nil); err != nil {
			return res, fmt.Errorf("start metadata retention: %w", err)
		}
		return res, nil
	}
	// Runs started before the retention engine keep a timer workflow per
	// post.
	childCtx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            MetadataExpiryWorkflowID(p.in.PostID),
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: workflows.SearchAttributes(p.in.UserID, workflows.KindPostExpiry, p.in.PostID),
	})
	child := workflow.ExecuteChildWorkflow(childCtx, MetadataExpiryWorkflow, MetadataExpiryInput{PostID: p.in.PostID, DueAt: postedAt.Add(MetadataRetention)})
	var exec workflow.Execution
	if err := child.GetChildWorkflowExecution().Get(ctx, &exec); err != nil {
		var started *temporal.ChildWorkflowExecutionAlreadyStartedError
		if !errors.As(err, &started) {
			return res, fmt.Errorf("start metadata expiry: %w", err)
		}
	}
	return res, nil
}

// DeleteUploadInput is the input of the DeleteUpload activity.
type DeleteUploadInput struct {
	UploadID string
	Reason   string
}

// ReasonPublished is the DeleteUpload reason of a published post: the
// upload then stays while another post still needs it (its 24-hour
// retention deletes it regardless).
const ReasonPublished = "post published"

// PostMetadataExpiry deletes a post and its history at its due time
// (90 days after posting), on a durable timer.
func PostMetadataExpiry(ctx workflow.Context, in MetadataExpiryInput) error {
	if d := in.DueAt.Sub(workflow.Now(ctx)); d > 0 {
		if err := workflow.Sleep(ctx, d); err != nil {
			return err
		}
	}
	ctx = workflow.WithActivityOptions(ctx, dbActivityOptions)
	return workflow.ExecuteActivity(ctx, DeletePostMetadataAct, PostInput{PostID: in.PostID}).Get(ctx, nil)
}

// UploadExpiryWorkflowID is the process that deletes an upload.
func UploadExpiryWorkflowID(uploadID string) string { return "upload-expiry-" + uploadID }

// UploadExpiryInput starts an upload's expiry.
type UploadExpiryInput struct {
	UploadID string
	DueAt    time.Time
}

// UploadExpiry deletes an upload 24 hours after it arrived unless its post
// deleted it earlier (deletion is idempotent).
func UploadExpiry(ctx workflow.Context, in UploadExpiryInput) error {
	if d := in.DueAt.Sub(workflow.Now(ctx)); d > 0 {
		if err := workflow.Sleep(ctx, d); err != nil {
			return err
		}
	}
	ctx = workflow.WithActivityOptions(ctx, dbActivityOptions)
	return workflow.ExecuteActivity(ctx, DeleteUploadActivity, DeleteUploadInput{UploadID: in.UploadID, Reason: "24 hours after upload"}).Get(ctx, nil)
}
