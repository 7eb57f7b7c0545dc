// Package accounts owns the durable processes of a Loomcast account's life.
// AccountClosure keeps a closed account for its 30-day export grace, then
// purges it (policy 004 section 10: "plus a 30-day grace period after
// closure for export").
package accounts

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/workflows"
	"github.com/loomcast/loomcast/workflows/channels"
	"github.com/loomcast/loomcast/workflows/expiry"
)

// Grace is how long a closed account is kept so that its owner can export
// it (the retention table: 30 days, policy 004 section 10).
var Grace = retention.Fixed(retention.ClosedAccounts)

// ClosureWorkflowID is the one closure process of a user.
func ClosureWorkflowID(userID string) string { return "account-closure-" + userID }

// ClosureInput starts an account closure.
type ClosureInput struct {
	UserID   string
	ClosedAt time.Time
}

// ClosureResult reports when the account was purged (runs before the
// retention engine) or is due to be.
type ClosureResult struct {
	PurgedAt time.Time
	PurgeDue time.Time
}

// QueryPurgeDue answers with the time at which the account will be purged.
const QueryPurgeDue = "purge-due"

// RecordClosureInput is the input of the RecordAccountClosure activity.
type RecordClosureInput struct {
	UserID   string
	ClosedAt time.Time
}

// PurgeInput is the input of the PurgeAccount activity.
type PurgeInput struct {
	UserID string
}

// Activity names, as the worker registers them.
const (
	RecordAccountClosureActivity = "RecordAccountClosure"
	PurgeAccountActivity         = "PurgeAccount"
	ConnectedChannelsActivity    = "ConnectedChannels"
)

// ConnectedChannelsInput asks for an account's channels not yet
// disconnected.
type ConnectedChannelsInput struct {
	UserID string
}

// ConnectedChannels lists them by ID.
type ConnectedChannels struct {
	ChannelIDs []string
}

// StopProcessingVersion is the change ID under which a closure stops the
// account's processing at once: each channel is disconnected (grants
// revoked at the platform, token refresh ended, scheduled posts cancelled).
const StopProcessingVersion = "closure-stops-processing"

// ClosedReason is what a closed account's channels and cancelled posts
// show.
const ClosedReason = "the account was closed"

// AccountClosure records the closure and starts the account's retention
// clock: the retention engine purges it when the 30-day grace ends.
func AccountClosure(ctx workflow.Context, in ClosureInput) (ClosureResult, error) {
	c := &closure{in: in, purgeDue: in.ClosedAt.Add(Grace)}
	if err := c.setup(ctx); err != nil {
		return ClosureResult{}, err
	}
	return c.run(ctx)
}

type closure struct {
	in       ClosureInput
	purgeDue time.Time
}

func (c *closure) setup(ctx workflow.Context) error {
	return workflow.SetQueryHandler(ctx, QueryPurgeDue, func() (time.Time, error) { return c.purgeDue, nil })
}

func (c *closure) run(ctx workflow.Context) (ClosureResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 5 * time.Minute},
	})
	if err := workflow.ExecuteActivity(ctx, RecordAccountClosureActivity,
		RecordClosureInput(c.in)).Get(ctx, nil); err != nil {
		return ClosureResult{}, fmt.Errorf("record closure: %w", err)
	}
	if workflow.GetVersion(ctx, StopProcessingVersion, workflow.DefaultVersion, 1) == 1 {
		if err := c.stopProcessing(ctx); err != nil {
			return ClosureResult{}, err
		}
	}
	if workflow.GetVersion(ctx, expiry.RetentionVersion, workflow.DefaultVersion, 1) == 1 {
		// The retention engine purges the account when its grace ends
		// (unless a legal hold defers it).
		clock := expiry.Clock{Category: retention.ClosedAccounts, ObjectID: c.in.UserID, UserID: c.in.UserID, Start: c.in.ClosedAt}
		if err := workflow.ExecuteActivity(ctx, expiry.ScheduleActivity, expiry.ScheduleInput{Clocks: []expiry.Clock{clock}}).Get(ctx, nil); err != nil {
			return ClosureResult{}, fmt.Errorf("start closure retention: %w", err)
		}
		return ClosureResult{PurgeDue: c.purgeDue}, nil
	}
	// Runs started before the retention engine wait and purge themselves.
	if err := c.waitForGraceToEnd(ctx); err != nil {
		return ClosureResult{}, err
	}
	if err := workflow.ExecuteActivity(ctx, PurgeAccountActivity, PurgeInput{UserID: c.in.UserID}).Get(ctx, nil); err != nil {
		return ClosureResult{}, fmt.Errorf("purge account: %w", err)
	}
	return ClosureResult{PurgedAt: workflow.Now(ctx)}, nil
}

// stopProcessing disconnects each of the account's channels, all at once
// and each in its own DisconnectChannel process, and waits for them: a
// closed account publishes nothing and keeps no grant at a platform. A
// disconnect already running for a channel (the person disconnected it
// just before) is left to finish on its own.
func (c *closure) stopProcessing(ctx workflow.Context) error {
	var chs ConnectedChannels
	if err := workflow.ExecuteActivity(ctx, ConnectedChannelsActivity, ConnectedChannelsInput{UserID: c.in.UserID}).Get(ctx, &chs); err != nil {
		return fmt.Errorf("list channels: %w", err)
	}
	runs := make([]workflow.ChildWorkflowFuture, 0, len(chs.ChannelIDs))
	for _, id := range chs.ChannelIDs {
		childCtx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:            channels.DisconnectWorkflowID(id),
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			TypedSearchAttributes: workflows.SearchAttributes(c.in.UserID, workflows.KindChannelDisconnect, id),
		})
		runs = append(runs, workflow.ExecuteChildWorkflow(childCtx, channels.DisconnectChannel,
			channels.DisconnectInput{ChannelID: id, UserID: c.in.UserID, Reason: ClosedReason, PostReason: ClosedReason}))
	}
	for i, run := range runs {
		err := run.Get(ctx, nil)
		var started *temporal.ChildWorkflowExecutionAlreadyStartedError
		if err != nil && !errors.As(err, &started) {
			return fmt.Errorf("disconnect channel %s: %w", chs.ChannelIDs[i], err)
		}
	}
	return nil
}

func (c *closure) waitForGraceToEnd(ctx workflow.Context) error {
	if d := c.purgeDue.Sub(workflow.Now(ctx)); d > 0 {
		if err := workflow.Sleep(ctx, d); err != nil {
			return fmt.Errorf("wait for grace period: %w", err)
		}
	}
	return nil
}
