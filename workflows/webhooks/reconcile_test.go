package webhooks_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/loomcast/loomcast/workflows/webhooks"
)

// platform stands in for the database: which publish IDs have a post, and
// how often each event was applied.
type platform struct {
	known   map[string]bool
	applied map[string]int
	gaveUp  []string
}

func newEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *platform) {
	s := &testsuite.WorkflowTestSuite{}
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	p := &platform{known: map[string]bool{"p_known": true}, applied: map[string]int{}}
	env.RegisterWorkflowWithOptions(webhooks.ReconcileTikTok, workflow.RegisterOptions{Name: "ReconcileTikTok"})
	env.RegisterActivityWithOptions(func(_ context.Context, in webhooks.ApplyInput) (webhooks.ApplyResult, error) {
		var res webhooks.ApplyResult
		for _, d := range in.Events {
			switch {
			case in.GiveUp:
				p.gaveUp = append(p.gaveUp, d.EventID)
				res.Outcomes = append(res.Outcomes, webhooks.Outcome{EventID: d.EventID, Outcome: webhooks.OutcomeFailed})
			case p.known[d.PublishID]:
				p.applied[d.EventID]++
				res.Outcomes = append(res.Outcomes, webhooks.Outcome{EventID: d.EventID, Outcome: webhooks.OutcomeApplied})
				if d.Type == "post.publish.complete" {
					res.Notify = append(res.Notify, "post-of-"+d.PublishID)
				}
			default:
				res.Outcomes = append(res.Outcomes, webhooks.Outcome{EventID: d.EventID, Outcome: webhooks.OutcomeHeld})
			}
		}
		return res, nil
	}, activity.RegisterOptions{Name: webhooks.ApplyEventsActivity})
	return env, p
}

func signal(env *testsuite.TestWorkflowEnvironment, at time.Duration, d webhooks.Delivery) {
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(webhooks.SignalEvent, d) }, at)
}

func TestRedeliveredEventsApplyOnce(t *testing.T) {
	env, p := newEnv(t)
	for i := 0; i < 5; i++ {
		signal(env, time.Duration(i+1)*time.Second, webhooks.Delivery{EventID: "e1", PublishID: "p_known"})
	}
	signal(env, 10*time.Second, webhooks.Delivery{EventID: "e1", PublishID: "p_known", Replay: true})
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Minute)
	env.ExecuteWorkflow(webhooks.ReconcileTikTok, webhooks.ReconcileInput{OpenID: "o1"})
	require.Equal(t, 2, p.applied["e1"], "once, plus once for the staff replay")
}

// An event that settles a post is passed on to the post's publication,
// which then looks at TikTok at once instead of at its next poll.
func TestSettledPostsAreTold(t *testing.T) {
	env, _ := newEnv(t)
	env.OnSignalExternalWorkflow(mock.Anything, "post-of-p_known", "", webhooks.SignalPlatformSettled, mock.Anything).Return(nil).Once()
	signal(env, time.Second, webhooks.Delivery{EventID: "e1", Type: "post.publish.complete", PublishID: "p_known"})
	signal(env, 2*time.Second, webhooks.Delivery{EventID: "e2", Type: "post.publish.inbox_delivered", PublishID: "p_known"})
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Minute)
	env.ExecuteWorkflow(webhooks.ReconcileTikTok, webhooks.ReconcileInput{OpenID: "o1"})
	env.AssertExpectations(t)
}

func TestHeldEventsWaitForTheirPost(t *testing.T) {
	env, p := newEnv(t)
	signal(env, time.Second, webhooks.Delivery{EventID: "early", PublishID: "p_later"})
	signal(env, time.Second, webhooks.Delivery{EventID: "never", PublishID: "p_never"})
	env.RegisterDelayedCallback(func() {
		p.known["p_later"] = true
		env.SignalWorkflow(webhooks.SignalPostKnown, "p_later")
	}, time.Hour)
	var appliedBefore int
	env.RegisterDelayedCallback(func() { appliedBefore = p.applied["early"] }, time.Hour-time.Minute)
	env.RegisterDelayedCallback(env.CancelWorkflow, 25*time.Hour)
	env.ExecuteWorkflow(webhooks.ReconcileTikTok, webhooks.ReconcileInput{OpenID: "o1"})
	require.Zero(t, appliedBefore, "held until the post appears")
	require.Equal(t, 1, p.applied["early"], "applied when the post appears")
	require.Equal(t, []string{"never"}, p.gaveUp, "given up after 24 hours")
}

func TestContinuesAsNewWithoutLosingEvents(t *testing.T) {
	env, p := newEnv(t)
	const n = 2500
	sent := 0
	for burst := 0; burst < 5; burst++ {
		env.RegisterDelayedCallback(func() {
			for i := burst * n / 5; i < (burst+1)*n/5; i++ {
				env.SignalWorkflow(webhooks.SignalEvent, webhooks.Delivery{EventID: "e" + strconv.Itoa(i), PublishID: "p_known"})
				sent++
			}
		}, time.Duration(burst+1)*time.Second)
	}
	env.ExecuteWorkflow(webhooks.ReconcileTikTok, webhooks.ReconcileInput{OpenID: "o1"})
	err := env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &can), "continued as new, got %v", err)
	require.GreaterOrEqual(t, sent, 2000)
	require.Len(t, p.applied, sent, "every event signalled to this run is applied before it continues as new")
	for id, times := range p.applied {
		require.Equal(t, 1, times, id)
	}
}
