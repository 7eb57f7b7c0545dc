// Package posting owns the publication of a post: one PublishPost workflow
// per post waits for the scheduled time (rescheduled, edited or cancelled
// through Updates), publishes exactly once on TikTok or YouTube, follows the
// platform until it settles the post, deletes the upload, and hands the
// post's metadata to its 90-day expiry.
package posting

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/workflows"
	"github.com/loomcast/loomcast/workflows/expiry"
)

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
	// cancelling is set once a cancellation is accepted: later changes
	// are refused. changing counts accepted changes still being written,
	// which a cancellation waits for, so that the post's history is the
	// order in which they were accepted.
	cancelling bool
	changing   int
}

// LinearizableUpdatesVersion is the change ID under which a cancellation
// refuses the changes that arrive after it and waits for those accepted
// before it.
const LinearizableUpdatesVersion = "linearizable-updates"

func (p *publisher) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (State, error) {
		return State{Status: p.status, ScheduledAt: p.scheduledAt}, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateReschedule,
		func(ctx workflow.Context, req RescheduleRequest) (State, error) {
			p.changing++
			defer func() { p.changing-- }()
			fields := PostFields{ScheduledAt: ptr(req.ScheduledAt.UTC())}
			if req.Timezone != "" {
				fields.Timezone = ptr(req.Timezone)
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
			p.changing++
			defer func() { p.changing-- }()
			if err := p.apply(workflow.WithActivityOptions(ctx, dbActivityOptions), ApplyChangeInput{PostID: p.in.PostID, Detail: "edited", Fields: editFields(req)}); err != nil {
				return State{}, err
			}
			return State{Status: p.status, ScheduledAt: p.scheduledAt}, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req EditRequest) error {
			if err := p.mustBeScheduled(); err != nil {
				return err
			}
			if editFields(req) == (PostFields{}) {
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
			if workflow.GetVersion(ctx, LinearizableUpdatesVersion, workflow.DefaultVersion, 1) == 1 {
				p.cancelling = true
				if err := workflow.Await(ctx, func() bool { return p.changing == 0 }); err != nil {
					p.cancelling = false
					return State{}, err
				}
			}
			if err := p.apply(workflow.WithActivityOptions(ctx, dbActivityOptions), ApplyChangeInput{PostID: p.in.PostID, Status: loomcast.PostCancelled,
				Detail: reason + " (by " + req.By + ")", Fields: PostFields{FailureReason: ptr(reason)}}); err != nil {
				p.cancelling = false
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
	if p.cancelling && !p.cancelled {
		return temporal.NewApplicationError("the post is being cancelled: it can no longer be changed", ErrTypePublishingStarted)
	}
	if p.status != loomcast.PostScheduled || p.cancelled {
		return temporal.NewApplicationError(fmt.Sprintf("the post is %s: it can no longer be changed", p.status), ErrTypePublishingStarted)
	}
	return nil
}

func editFields(req EditRequest) PostFields {
	return PostFields{Caption: req.Caption, Privacy: req.Privacy, AllowComment: req.AllowComment,
		AllowDuet: req.AllowDuet, AllowStitch: req.AllowStitch, BrandOrganic: req.BrandOrganic, BrandContent: req.BrandContent}
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

// finish records the outcome, deletes the upload once the post is
// published, and starts the metadata's retention clock.
func (p *publisher) finish(ctx workflow.Context, res PublishResult) (PublishResult, error) {
	p.status = res.Status
	dbCtx := workflow.WithActivityOptions(ctx, dbActivityOptions)
	now := workflow.Now(ctx)
	if res.Status != loomcast.PostCancelled {
		fields := PostFields{FailureReason: ptr(res.FailureReason)}
		detail := res.FailureReason
		if res.Status == loomcast.PostPublished {
			fields = PostFields{PublishedAt: ptr(now), FailureReason: ptr("")}
			detail = "published; the platform has not given the post's public ID yet"
			if res.PlatformPostID != "" {
				// An ID a webhook recorded first is not cleared by an empty one.
				fields.PlatformPostID = ptr(res.PlatformPostID)
				detail = "published as " + res.PlatformPostID
			}
		}
		if err := p.apply(dbCtx, ApplyChangeInput{PostID: p.in.PostID, Status: res.Status, Detail: detail, Fields: fields}); err != nil {
			return res, err
		}
	}
	if res.Status == loomcast.PostPublished {
		if err := workflow.ExecuteActivity(dbCtx, DeleteUploadActivity, DeleteUploadInput{UploadID: p.in.UploadID, Reason: ReasonPublished}).Get(ctx, nil); err != nil {
			return res, err
		}
		for _, id := range p.in.PhotoUploadIDs { // a photo post's other images (the first is UploadID)
			if id == p.in.UploadID {
				continue
			}
			if err := workflow.ExecuteActivity(dbCtx, DeleteUploadActivity, DeleteUploadInput{UploadID: id, Reason: ReasonPublished}).Get(ctx, nil); err != nil {
				return res, err
			}
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
