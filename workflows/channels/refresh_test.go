package channels_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/loomcast/loomcast/workflows/channels"
)

// fakeChannel stands in for the channel's row and the platform.
type fakeChannel struct {
	env        *testsuite.TestWorkflowEnvironment
	expiresAt  time.Time
	active     bool
	refreshAt  []time.Time
	failNext   int
	revokeNext bool
	maxRefresh int
}

func setup(t *testing.T) (*testsuite.TestWorkflowEnvironment, *fakeChannel) {
	s := &testsuite.WorkflowTestSuite{}
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	f := &fakeChannel{env: env, expiresAt: env.Now().Add(24 * time.Hour), active: true, maxRefresh: 3}
	env.RegisterWorkflowWithOptions(channels.TokenRefresh, workflow.RegisterOptions{Name: "TokenRefresh"})
	env.RegisterActivityWithOptions(func(context.Context, channels.ChannelInput) (channels.TokenState, error) {
		return channels.TokenState{Active: f.active, AccessExpiresAt: f.expiresAt}, nil
	}, activity.RegisterOptions{Name: channels.TokenStateActivity})
	env.RegisterActivityWithOptions(func(context.Context, channels.ChannelInput) (channels.TokenState, error) {
		if f.failNext > 0 {
			f.failNext--
			return channels.TokenState{}, errors.New("tiktok: 503 service unavailable")
		}
		if f.revokeNext {
			f.active = false
			return channels.TokenState{}, nil
		}
		f.refreshAt = append(f.refreshAt, env.Now())
		f.expiresAt = env.Now().Add(24 * time.Hour)
		if len(f.refreshAt) >= f.maxRefresh {
			f.active = false // end the test: as if disconnected afterwards
		}
		return channels.TokenState{Active: true, AccessExpiresAt: f.expiresAt}, nil
	}, activity.RegisterOptions{Name: channels.RefreshTokenActivity})
	return env, f
}

func TestRefreshesShortlyBeforeExpiry(t *testing.T) {
	env, f := setup(t)
	start := env.Now()
	env.ExecuteWorkflow(channels.TokenRefresh, channels.RefreshInput{ChannelID: "c1", UserID: "u1"})
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, f.refreshAt, 3)
	for i, at := range f.refreshAt {
		due := start.Add(time.Duration(i+1)*24*time.Hour - time.Duration(i+1)*channels.RefreshMargin)
		require.WithinDuration(t, due, at, time.Second, "refresh %d happens %s before expiry", i+1, channels.RefreshMargin)
	}
}

func TestTransientFailuresRetryAndNeverEndTheProcess(t *testing.T) {
	env, f := setup(t)
	f.failNext = 4
	env.ExecuteWorkflow(channels.TokenRefresh, channels.RefreshInput{ChannelID: "c1"})
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, f.refreshAt, 3, "after the failures, refreshing goes on")
}

func TestRevokedGrantEndsTheProcess(t *testing.T) {
	env, f := setup(t)
	f.revokeNext = true
	env.ExecuteWorkflow(channels.TokenRefresh, channels.RefreshInput{ChannelID: "c1"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Empty(t, f.refreshAt)
}

func TestDisconnectEndsTheProcess(t *testing.T) {
	env, f := setup(t)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(channels.SignalDisconnect, nil) }, time.Hour)
	env.ExecuteWorkflow(channels.TokenRefresh, channels.RefreshInput{ChannelID: "c1"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Empty(t, f.refreshAt, "no refresh after the disconnect")
}
