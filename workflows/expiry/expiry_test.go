package expiry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/loomcast/loomcast/retention"
)

// The workflow continues as new after a bounded number of cycles, carrying
// its count, so its history never grows without end.
func TestContinuesAsNewWithBoundedHistory(t *testing.T) {
	old := cyclesPerRun
	cyclesPerRun = 5
	t.Cleanup(func() { cyclesPerRun = old })

	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(RetentionExpiry, workflow.RegisterOptions{Name: WorkflowName})
	arms, expires := 0, 0
	env.RegisterActivityWithOptions(func(context.Context, ArmInput) (ArmResult, error) {
		arms++
		due := env.Now().Add(-time.Second)
		return ArmResult{Due: &due}, nil
	}, activity.RegisterOptions{Name: ArmActivity})
	env.RegisterActivityWithOptions(func(_ context.Context, in ExpireInput) (ExpireResult, error) {
		expires++
		require.Equal(t, retention.Uploads, in.Category)
		return ExpireResult{Deleted: 10, Batches: 1}, nil
	}, activity.RegisterOptions{Name: ExpireActivity})

	env.ExecuteWorkflow(RetentionExpiry, Input{Category: retention.Uploads, Deleted: 7})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "continues as new: %v", env.GetWorkflowError())
	require.Equal(t, 5, arms)
	require.Equal(t, 5, expires)
	var next Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Equal(t, Input{Category: retention.Uploads, Deleted: 57}, next, "the count is carried over")
}

// An activity that keeps failing does not end the process: it pauses and
// tries again, since nothing else would delete the category's data.
func TestOutlivesFailingActivities(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(RetentionExpiry, workflow.RegisterOptions{Name: WorkflowName})
	calls := 0
	env.RegisterActivityWithOptions(func(context.Context, ArmInput) (ArmResult, error) {
		calls++
		return ArmResult{}, errors.New("database unavailable")
	}, activity.RegisterOptions{Name: ArmActivity})
	env.RegisterActivityWithOptions(func(context.Context, ExpireInput) (ExpireResult, error) {
		return ExpireResult{}, nil
	}, activity.RegisterOptions{Name: ExpireActivity})
	env.RegisterDelayedCallback(env.CancelWorkflow, 2*time.Hour)
	env.ExecuteWorkflow(RetentionExpiry, Input{Category: retention.Uploads})
	require.Error(t, env.GetWorkflowError())
	require.Contains(t, env.GetWorkflowError().Error(), "canceled", "it ran until stopped")
	require.Greater(t, calls, 10, "it kept trying")
}
