package channels_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/loomcast/loomcast/workflows/channels"
)

// fakeDisconnect records the steps a disconnect took.
type fakeDisconnect struct {
	steps     []string
	posts     []string
	settled   map[string]bool
	failMark  int
	failPosts int
	// refreshEnded makes the signal to the refresh process fail.
	refreshEnded bool
}

func setupDisconnect(t *testing.T, f *fakeDisconnect) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	s := &testsuite.WorkflowTestSuite{}
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(channels.DisconnectChannel, workflow.RegisterOptions{Name: "DisconnectChannel"})
	step := func(name string, fail *int) func(context.Context, channels.DisconnectStepInput) error {
		return func(_ context.Context, in channels.DisconnectStepInput) error {
			require.Equal(t, "ch1", in.ChannelID)
			if fail != nil && *fail > 0 {
				*fail--
				return errors.New("database is restarting")
			}
			f.steps = append(f.steps, name)
			return nil
		}
	}
	env.RegisterActivityWithOptions(step("revoke", nil), activity.RegisterOptions{Name: channels.RevokeGrantActivity})
	env.RegisterActivityWithOptions(step("mark", &f.failMark), activity.RegisterOptions{Name: channels.MarkDisconnectedActivity})
	env.RegisterActivityWithOptions(step("retention", nil), activity.RegisterOptions{Name: channels.ScheduleChannelRetentionAct})
	env.RegisterActivityWithOptions(func(context.Context, channels.ChannelInput) (channels.ChannelPosts, error) {
		if f.failPosts > 0 {
			f.failPosts--
			return channels.ChannelPosts{}, errors.New("database is restarting")
		}
		f.steps = append(f.steps, "list")
		return channels.ChannelPosts{PostIDs: f.posts}, nil
	}, activity.RegisterOptions{Name: channels.ScheduledPostsOfChannelActivity})
	env.RegisterActivityWithOptions(func(_ context.Context, in channels.CancelChannelPostInput) (channels.CancelChannelPostResult, error) {
		f.steps = append(f.steps, "cancel "+in.PostID)
		return channels.CancelChannelPostResult{Cancelled: !f.settled[in.PostID]}, nil
	}, activity.RegisterOptions{Name: channels.CancelChannelPostActivity})
	var signalErr error
	if f.refreshEnded {
		signalErr = errors.New("unknown external workflow execution")
	}
	env.OnSignalExternalWorkflow(mock.Anything, channels.TokenRefreshWorkflowID("ch1"), "", channels.SignalDisconnect, mock.Anything).
		Return(func(string, string, string, string, any) error {
			f.steps = append(f.steps, "signal")
			return signalErr
		})
	return env
}

func TestDisconnectChannel(t *testing.T) {
	tests := []struct {
		name      string
		fake      fakeDisconnect
		wantSteps []string
		want      channels.DisconnectResult
	}{
		{
			name:      "a channel without posts",
			wantSteps: []string{"revoke", "mark", "retention", "signal", "list"},
		},
		{
			name:      "cancels each scheduled post, tolerating one that started publishing",
			fake:      fakeDisconnect{posts: []string{"p1", "p2", "p3"}, settled: map[string]bool{"p2": true}},
			wantSteps: []string{"revoke", "mark", "retention", "signal", "list", "cancel p1", "cancel p2", "cancel p3"},
			want:      channels.DisconnectResult{CancelledPosts: []string{"p1", "p3"}, AlreadySettled: []string{"p2"}},
		},
		{
			name:      "retries a failing step instead of stopping half done",
			fake:      fakeDisconnect{posts: []string{"p1"}, failMark: 2, failPosts: 1},
			wantSteps: []string{"revoke", "mark", "retention", "signal", "list", "cancel p1"},
			want:      channels.DisconnectResult{CancelledPosts: []string{"p1"}},
		},
		{
			name:      "a refresh process that already ended is fine",
			fake:      fakeDisconnect{posts: []string{"p1"}, refreshEnded: true},
			wantSteps: []string{"revoke", "mark", "retention", "signal", "list", "cancel p1"},
			want:      channels.DisconnectResult{CancelledPosts: []string{"p1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.fake
			env := setupDisconnect(t, &f)
			env.ExecuteWorkflow(channels.DisconnectChannel, channels.DisconnectInput{ChannelID: "ch1", UserID: "u1", Reason: "disconnected by you"})
			require.True(t, env.IsWorkflowCompleted())
			require.NoError(t, env.GetWorkflowError())
			var got channels.DisconnectResult
			require.NoError(t, env.GetWorkflowResult(&got))
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.wantSteps, f.steps)
		})
	}
}

func TestDisconnectWorkflowID(t *testing.T) {
	require.Equal(t, channels.DisconnectWorkflowID("ch1"), channels.DisconnectWorkflowID("ch1"))
	require.NotEqual(t, channels.DisconnectWorkflowID("ch1"), channels.TokenRefreshWorkflowID("ch1"))
}
