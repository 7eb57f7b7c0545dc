// Package expiry is Loomcast's retention engine: one durable Expiry
// workflow per retention category deletes that category's items when they
// fall due. Each item has its due time in the database (retention_items);
// the workflow sleeps on a durable timer until the earliest one, deletes
// what is due in bounded, idempotent batches, and sleeps again. A new item
// due sooner than the workflow's wake time wakes it with a signal. No cron,
// ticker or schedule decides when data dies: the data's own due times do.
//
// A million pending items are a million rows and one workflow; the history
// stays bounded because the workflow continues as new.
package expiry

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/workflows"
)

// WorkflowName is the registered name of the workflow.
const WorkflowName = "RetentionExpiry"

// WorkflowID is the one expiry process of a category.
func WorkflowID(c retention.Category) string { return "retention-" + string(c) }

// SignalWake asks the workflow to read its next due time again: an item
// due sooner than its timer was scheduled, or a hold was released.
const SignalWake = "wake"

// QueryState answers with the workflow's State.
const QueryState = "state"

// Activity names, as the worker registers them.
const (
	ArmActivity    = "ArmRetention"
	ExpireActivity = "ExpireDue"
	// ScheduleActivity starts retention clocks from a workflow.
	ScheduleActivity = "ScheduleRetention"
)

// Clock starts the retention clock of one object: it is due when its
// category's period, counted from Start, ends.
type Clock struct {
	Category retention.Category
	ObjectID string
	UserID   string
	Start    time.Time
}

// ScheduleInput is the input of the ScheduleRetention activity.
type ScheduleInput struct {
	Clocks []Clock
}

// RetentionVersion is the change ID under which workflows start retention
// clocks with ScheduleRetention instead of a timer workflow of their own.
const RetentionVersion = "retention-engine"

// Input starts (or continues) a category's expiry process.
type Input struct {
	Category retention.Category
	// Deleted counts the items this process has deleted, across runs.
	Deleted int64
}

// ArmInput asks for the category's next due time.
type ArmInput struct {
	Category retention.Category
}

// ArmResult is the next due time; Due is nil when nothing is pending
// (held items do not count: releasing their hold wakes the workflow).
type ArmResult struct {
	Due *time.Time
}

// ExpireInput asks to delete the category's due items, in batches of
// BatchSize, for at most Budget.
type ExpireInput struct {
	Category retention.Category
	// Now is the workflow's time when it asked; the activity takes the
	// later of it (advanced by its own running time) and the clock.
	Now       time.Time
	BatchSize int
	Budget    time.Duration
}

// ExpireResult reports one call's work; More means items were still due
// when the budget ran out.
type ExpireResult struct {
	Deleted int
	Failed  int
	Batches int
	More    bool
}

// State is what the workflow is doing, for staff.
type State struct {
	Category retention.Category
	WakeAt   *time.Time
	Deleted  int64
}

const (
	batchSize = 1000
	budget    = 20 * time.Second
)

// cyclesPerRun bounds one run's history: each cycle is a few events.
var cyclesPerRun = 500

// RetentionExpiry is the retention process of one category.
func RetentionExpiry(ctx workflow.Context, in Input) error {
	state := State{Category: in.Category, Deleted: in.Deleted}
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (State, error) { return state, nil }); err != nil {
		return err
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		ScheduleToCloseTimeout: 15 * time.Minute,
		StartToCloseTimeout:    budget + time.Minute,
		HeartbeatTimeout:       time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	wake := workflow.GetSignalChannel(ctx, SignalWake)
	for cycle := 0; ; cycle++ {
		if cycle >= cyclesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// Wake signals carry nothing: the next run reads the due times
			// from the database, so none left unread is lost.
			return workflow.NewContinueAsNewError(ctx, RetentionExpiry, Input{Category: in.Category, Deleted: state.Deleted})
		}
		var armed ArmResult
		if err := workflow.ExecuteActivity(ctx, ArmActivity, ArmInput{Category: in.Category}).Get(ctx, &armed); err != nil {
			if err := pause(ctx, fmt.Errorf("arm %s: %w", in.Category, err), wake); err != nil {
				return err
			}
			continue
		}
		state.WakeAt = armed.Due
		if armed.Due != nil && !armed.Due.After(workflow.Now(ctx)) {
			var res ExpireResult
			err := workflow.ExecuteActivity(ctx, ExpireActivity, ExpireInput{Category: in.Category, Now: workflow.Now(ctx), BatchSize: batchSize, Budget: budget}).Get(ctx, &res)
			if err != nil {
				if err := pause(ctx, fmt.Errorf("expire %s: %w", in.Category, err), wake); err != nil {
					return err
				}
				continue
			}
			state.Deleted += int64(res.Deleted)
			for wake.ReceiveAsync(nil) {
				// The next arm reads every due time anyway.
			}
			continue
		}
		if err := sleepUntil(ctx, armed.Due, wake); err != nil {
			return err
		}
	}
}

// pause outlives an activity that failed for longer than its retries
// last (the database down for a quarter of an hour): the process must not
// end, or nothing of its category would be deleted any more. It logs the
// failure and waits a minute, or less if woken. Cancellation ends it.
func pause(ctx workflow.Context, err error, wake workflow.ReceiveChannel) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	workflow.GetLogger(ctx).Error("retention expiry failed; trying again in a minute", "error", err.Error())
	retry := workflow.Now(ctx).Add(time.Minute)
	return sleepUntil(ctx, &retry, wake)
}

// sleepUntil waits for due (forever when nil) or a wake signal.
func sleepUntil(ctx workflow.Context, due *time.Time, wake workflow.ReceiveChannel) error {
	timerCtx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(wake, func(c workflow.ReceiveChannel, _ bool) {
		c.Receive(ctx, nil)
		for c.ReceiveAsync(nil) {
		}
	})
	sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
	if due != nil {
		sel.AddFuture(workflow.NewTimer(timerCtx, due.Sub(workflow.Now(ctx))), func(workflow.Future) {})
	}
	sel.Select(ctx)
	return ctx.Err()
}

// SearchAttributes are those of a category's process: it is visible in the
// staff workflow view by kind and category.
func SearchAttributes(c retention.Category) temporal.SearchAttributes {
	return workflows.SearchAttributes("", workflows.KindRetention, string(c))
}
