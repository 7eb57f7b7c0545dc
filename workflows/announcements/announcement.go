package announcements

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// batchBudget bounds one batch's running time; the activity's timeout
// leaves it room for the last mail (30 seconds at most).
const batchBudget = 5 * time.Minute

// batchesPerRun bounds one run's history: each batch is a few events.
var batchesPerRun = 500

// SendAnnouncement mails an announcement to every account whose person
// permits its purpose, batch after batch, and then ends it. A batch that
// fails is retried with a growing backoff, without end: it resumes after
// the last account whose turn came, so nobody is mailed twice.
func SendAnnouncement(ctx workflow.Context, in Input) (Result, error) {
	size := in.BatchSize
	if size <= 0 {
		size = DefaultBatchSize
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: batchBudget + 2*time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 10 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 10 * time.Minute},
	})
	for batch := 0; ; batch++ {
		if batch >= batchesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// The cursor is in the database: the next run goes on from it.
			return Result{}, workflow.NewContinueAsNewError(ctx, SendAnnouncement, in)
		}
		var res BatchResult
		err := workflow.ExecuteActivity(ctx, SendBatchActivity,
			BatchInput{AnnouncementID: in.AnnouncementID, Size: size, Budget: batchBudget}).Get(ctx, &res)
		if err != nil {
			return Result{}, fmt.Errorf("send announcement batch: %w", err)
		}
		if res.Done {
			break
		}
	}
	var out Result
	if err := workflow.ExecuteActivity(ctx, FinishActivity, FinishInput{AnnouncementID: in.AnnouncementID}).Get(ctx, &out); err != nil {
		return Result{}, fmt.Errorf("finish announcement: %w", err)
	}
	return out, nil
}
