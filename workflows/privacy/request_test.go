package privacy

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/privacy/calendar"
)

// harness runs a request's process on the time-skipping environment with
// stand-in activities that record what they were asked.
type harness struct {
	t       *testing.T
	env     *testsuite.TestWorkflowEnvironment
	mu      sync.Mutex
	steps   []Step
	notices []sentNotice
	execs   int
	// execute, when set, answers the nth execution (from 1).
	execute func(n int) (ExecuteResult, error)
	// held answers the nth check of a legal hold (from 1); nil: released.
	held   func(n int) bool
	checks []time.Time
}

type sentNotice struct {
	Notice
	At time.Time
}

func newHarness(t *testing.T, start time.Time) *harness {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	h := &harness{t: t, env: env}
	env.RegisterWorkflowWithOptions(PrivacyRequest, workflow.RegisterOptions{Name: WorkflowName})
	env.RegisterActivityWithOptions(func(_ context.Context, s Step) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.steps = append(h.steps, s)
		return nil
	}, activity.RegisterOptions{Name: RecordStepActivity})
	env.RegisterActivityWithOptions(func(_ context.Context, n Notice) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.notices = append(h.notices, sentNotice{Notice: n, At: env.Now()})
		return nil
	}, activity.RegisterOptions{Name: NotifyActivity})
	env.RegisterActivityWithOptions(func(context.Context, ExecuteInput) (ExecuteResult, error) {
		h.execs++
		if h.execute != nil {
			return h.execute(h.execs)
		}
		return ExecuteResult{Answer: "done"}, nil
	}, activity.RegisterOptions{Name: ExecuteActivity})
	env.RegisterActivityWithOptions(func(context.Context, ExecuteInput) (bool, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.checks = append(h.checks, env.Now())
		return h.held != nil && h.held(len(h.checks)), nil
	}, activity.RegisterOptions{Name: HeldActivity})
	return h
}

func (h *harness) deadline() time.Time {
	for _, s := range h.steps {
		if s.Set.DeadlineAt != nil && s.Action == "received" {
			return *s.Set.DeadlineAt
		}
	}
	h.t.Fatal("no deadline recorded")
	return time.Time{}
}

func (h *harness) notice(kind string) (sentNotice, bool) {
	for _, n := range h.notices {
		if n.Kind == kind {
			return n, true
		}
	}
	return sentNotice{}, false
}

func endOfDay(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 23, 59, 59, int(999*time.Millisecond), time.UTC)
}

// The deadline comes from the legal calendar: one month to the same date,
// clamped to the month's end, and never later than the 30 days promised
// (000 section 7.9).
func TestDeadlinesFromTheLegalCalendar(t *testing.T) {
	for name, tc := range map[string]struct {
		received time.Time
		regime   calendar.Regime
		want     time.Time
	}{
		"31 January → 28 February":           {time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC), calendar.GDPR, endOfDay(2026, 2, 28)},
		"31 January of a leap year → 29 Feb": {time.Date(2028, 1, 31, 9, 0, 0, 0, time.UTC), calendar.GDPR, endOfDay(2028, 2, 29)},
		"29 February → 29 March":             {time.Date(2028, 2, 29, 9, 0, 0, 0, time.UTC), calendar.GDPR, endOfDay(2028, 3, 29)},
		"30 April → 30 May":                  {time.Date(2026, 4, 30, 9, 0, 0, 0, time.UTC), calendar.UKGDPR, endOfDay(2026, 5, 30)},
		"10 January: 30 days promised":       {time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC), calendar.GDPR, endOfDay(2026, 2, 9)},
		"CCPA: 45 days":                      {time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), calendar.CCPA, endOfDay(2026, 4, 15)},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, tc.received)
			h.env.ExecuteWorkflow(PrivacyRequest, Input{RequestID: "r1", UserID: "u1", Type: TypeAccess, Regime: tc.regime,
				ReceivedAt: tc.received, Verified: true})
			require.NoError(t, h.env.GetWorkflowError())
			require.True(t, h.deadline().Equal(tc.want), "deadline %s, want %s", h.deadline(), tc.want)
			require.Equal(t, 1, h.execs)
			_, answered := h.notice(NoticeAnswer)
			require.True(t, answered)
			require.Equal(t, loomcast.PrivacyClosed, h.steps[len(h.steps)-1].Status)
		})
	}
}

// The clock stands still while the requester owes us verification.
func TestClockPausedWhileVerifying(t *testing.T) {
	received := time.Date(2026, 1, 10, 10, 0, 0, 0, time.UTC)
	h := newHarness(t, received)
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(SignalVerified, received.Add(5*24*time.Hour)) }, 5*24*time.Hour)
	h.env.ExecuteWorkflow(PrivacyRequest, Input{RequestID: "r1", Type: TypeAccess, Regime: calendar.GDPR, ReceivedAt: received})
	require.NoError(t, h.env.GetWorkflowError())
	// 30 days promised from 10 January is 9 February; five days paused.
	require.True(t, h.deadline().Equal(endOfDay(2026, 2, 14)), "deadline %s", h.deadline())
	require.Equal(t, "verified", h.steps[0].Action)
}

// A request never verified closes after 30 days without being carried out.
func TestUnverifiedRequestCloses(t *testing.T) {
	received := time.Date(2026, 1, 10, 10, 0, 0, 0, time.UTC)
	h := newHarness(t, received)
	h.env.ExecuteWorkflow(PrivacyRequest, Input{RequestID: "r1", Type: TypeErasure, Regime: calendar.GDPR, ReceivedAt: received})
	require.NoError(t, h.env.GetWorkflowError())
	require.Zero(t, h.execs)
	require.Equal(t, "closed unverified", h.steps[len(h.steps)-1].Action)
}

// Staff are reminded 7 and 2 days before the deadline and alerted when it
// passes; an extension sends the requester its notice before the original
// deadline and moves the reminders.
func TestRemindersExtensionAndOverdue(t *testing.T) {
	received := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // due end of 1 April (30 days)
	h := newHarness(t, received)
	original := endOfDay(2026, 4, 1)
	var extendErr, lateErr error
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(UpdateExtend, "1", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { extendErr = err }, OnAccept: func() {}, OnComplete: func(any, error) {}},
			ExtendRequest{Reason: "the request covers five years of posts", By: "staff:1"})
	}, 20*24*time.Hour)
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(UpdateExtend, "2", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { lateErr = err }, OnAccept: func() {}, OnComplete: func(any, error) {}},
			ExtendRequest{Reason: "again", By: "staff:1"})
	}, 21*24*time.Hour)
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(UpdateReview, "3", &testsuite.TestUpdateCallback{
			OnReject: func(error) {}, OnAccept: func() {}, OnComplete: func(any, error) {}},
			ReviewDecision{Approve: true, By: "staff:1"})
	}, 100*24*time.Hour)
	h.env.ExecuteWorkflow(PrivacyRequest, Input{RequestID: "r1", UserID: "u1", Type: TypeObjection, Regime: calendar.GDPR,
		ReceivedAt: received, Verified: true, NeedsReview: true})
	require.NoError(t, h.env.GetWorkflowError())
	require.NoError(t, extendErr)
	require.Error(t, lateErr, "one extension only")

	ext, ok := h.notice(NoticeExtended)
	require.True(t, ok, "the requester is told")
	require.True(t, ext.At.Before(original), "before the original deadline")
	require.Equal(t, "the request covers five years of posts", ext.Reason)
	extended := ext.Deadline
	require.True(t, extended.Equal(endOfDay(2026, 6, 1)), "two further months: %s", extended)

	for kind, want := range map[string]time.Time{
		NoticeReminder7: endOfDay(2026, 5, 25).Add(time.Millisecond - 24*time.Hour),
		NoticeReminder2: endOfDay(2026, 5, 30).Add(time.Millisecond - 24*time.Hour),
		NoticeOverdue:   extended.Add(time.Millisecond),
	} {
		n, ok := h.notice(kind)
		require.True(t, ok, "%s sent", kind)
		require.True(t, n.At.Equal(want), "%s at %s, want %s", kind, n.At, want)
	}
	for _, n := range h.notices {
		if n.Kind == NoticeReminder7 {
			require.True(t, n.At.After(original), "no reminder for the superseded deadline")
		}
	}
	require.Equal(t, 1, h.execs, "approved on day 100, then carried out")
}

// Staff refuse with reasons; the requester withdraws; neither executes.
func TestRefusalAndWithdrawal(t *testing.T) {
	received := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	t.Run("refused", func(t *testing.T) {
		h := newHarness(t, received)
		var rejected error
		h.env.RegisterDelayedCallback(func() {
			h.env.UpdateWorkflow(UpdateReview, "1", &testsuite.TestUpdateCallback{
				OnReject: func(err error) { rejected = err }, OnAccept: func() {}, OnComplete: func(any, error) {}},
				ReviewDecision{Approve: false, By: "staff:1"})
		}, time.Hour)
		h.env.RegisterDelayedCallback(func() {
			h.env.UpdateWorkflow(UpdateReview, "2", &testsuite.TestUpdateCallback{
				OnReject: func(error) {}, OnAccept: func() {}, OnComplete: func(any, error) {}},
				ReviewDecision{Approve: false, Reason: "the profile is accurate as it stands", By: "staff:1"})
		}, 2*time.Hour)
		h.env.ExecuteWorkflow(PrivacyRequest, Input{RequestID: "r1", UserID: "u1", Type: TypeRectification, Regime: calendar.GDPR,
			ReceivedAt: received, Verified: true, NeedsReview: true})
		require.NoError(t, h.env.GetWorkflowError())
		require.Error(t, rejected, "a refusal needs reasons")
		require.Zero(t, h.execs)
		n, ok := h.notice(NoticeRefused)
		require.True(t, ok)
		require.Equal(t, "the profile is accurate as it stands", n.Reason)
	})
	t.Run("withdrawn", func(t *testing.T) {
		h := newHarness(t, received)
		h.env.RegisterDelayedCallback(func() {
			h.env.UpdateWorkflow(UpdateWithdraw, "1", &testsuite.TestUpdateCallback{
				OnReject: func(error) {}, OnAccept: func() {}, OnComplete: func(any, error) {}}, WithdrawRequest{By: "requester"})
		}, time.Hour)
		h.env.ExecuteWorkflow(PrivacyRequest, Input{RequestID: "r1", Type: TypeErasure, Regime: calendar.GDPR, ReceivedAt: received})
		require.NoError(t, h.env.GetWorkflowError())
		require.Zero(t, h.execs)
		require.Equal(t, loomcast.PrivacyWithdrawn, h.steps[len(h.steps)-1].Status)
	})
}

// While the requester owes staff a clarification the clock stands still:
// the deadline moves by the time it took them to answer.
func TestClockPausedWhileClarifying(t *testing.T) {
	received := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // due end of 1 April
	h := newHarness(t, received)
	update := func(at time.Duration, name string, arg any, rejected *error) {
		h.env.RegisterDelayedCallback(func() {
			h.env.UpdateWorkflow(name, name+at.String(), &testsuite.TestUpdateCallback{
				OnReject: func(err error) {
					if rejected != nil {
						*rejected = err
					}
				}, OnAccept: func() {}, OnComplete: func(any, error) {}}, arg)
		}, at)
	}
	var earlyAnswer, reviewWhileWaiting error
	update(time.Hour, UpdateClarified, Clarification{Answer: "too soon", By: "requester"}, &earlyAnswer)
	update(2*24*time.Hour, UpdateClarify, ClarifyRequest{Question: "Which channel do you mean?", By: "staff:1"}, nil)
	update(5*24*time.Hour, UpdateReview, ReviewDecision{Approve: true, By: "staff:1"}, &reviewWhileWaiting)
	update(12*24*time.Hour, UpdateClarified, Clarification{Answer: "The YouTube one", By: "requester"}, nil)
	update(13*24*time.Hour, UpdateReview, ReviewDecision{Approve: true, By: "staff:1"}, nil)
	h.env.ExecuteWorkflow(PrivacyRequest, Input{RequestID: "r1", UserID: "u1", Type: TypeObjection, Regime: calendar.GDPR,
		ReceivedAt: received, Verified: true, NeedsReview: true})
	require.NoError(t, h.env.GetWorkflowError())
	require.Error(t, earlyAnswer, "no question was asked yet")
	require.Error(t, reviewWhileWaiting, "staff wait for the answer")
	q, ok := h.notice(NoticeClarify)
	require.True(t, ok)
	require.Equal(t, "Which channel do you mean?", q.Reason)
	var moved *time.Time
	for _, s := range h.steps {
		if s.Action == "clarified" {
			moved = s.Set.DeadlineAt
		}
	}
	require.NotNil(t, moved)
	require.True(t, moved.Equal(endOfDay(2026, 4, 11)), "ten days paused: %s", moved)
	require.Equal(t, 1, h.execs)
}

// A request that cannot be carried out never stays in executing unseen:
// an unexplained trace at once, or a failure after a bounded number of
// attempts, sends it to staff review with the findings and mails the
// privacy team; staff then try again or refuse.
func TestExecutionFailureGoesToStaff(t *testing.T) {
	received := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	incomplete := temporal.NewNonRetryableApplicationError("erasure incomplete: 1 traces remain (stray_notes.body row n1 holds the email)", ErrTypeErasureIncomplete, nil)
	tests := []struct {
		name      string
		execute   func(n int) (ExecuteResult, error)
		decision  ReviewDecision
		wantExecs int
		wantFinal string
		findings  string
	}{
		{
			name: "an unexplained trace, then staff try again",
			execute: func(n int) (ExecuteResult, error) {
				if n == 1 {
					return ExecuteResult{}, incomplete
				}
				return ExecuteResult{Answer: "done"}, nil
			},
			decision:  ReviewDecision{Approve: true, Reason: "the stray table is gone", By: "staff:1"},
			wantExecs: 2, wantFinal: loomcast.PrivacyClosed, findings: "stray_notes",
		},
		{
			name:      "an unexplained trace, then staff refuse",
			execute:   func(int) (ExecuteResult, error) { return ExecuteResult{}, incomplete },
			decision:  ReviewDecision{Approve: false, Reason: "kept under a court order", By: "staff:1"},
			wantExecs: 1, wantFinal: loomcast.PrivacyRefused, findings: "stray_notes",
		},
		{
			name:      "a failure that outlasts its retries",
			execute:   func(int) (ExecuteResult, error) { return ExecuteResult{}, errors.New("database unreachable") },
			decision:  ReviewDecision{Approve: false, Reason: "we will file it again once the outage is over", By: "staff:1"},
			wantExecs: executeAttempts, wantFinal: loomcast.PrivacyRefused, findings: "could not be carried out after several attempts",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, received)
			h.execute = tt.execute
			var reviewErr error
			h.env.RegisterDelayedCallback(func() {
				h.env.UpdateWorkflow(UpdateReview, "1", &testsuite.TestUpdateCallback{
					OnReject: func(err error) { reviewErr = err }, OnAccept: func() {}, OnComplete: func(any, error) {}},
					tt.decision)
			}, 24*time.Hour)
			h.env.ExecuteWorkflow(PrivacyRequest, Input{RequestID: "r1", UserID: "u1", Type: TypeErasure, Regime: calendar.GDPR,
				ReceivedAt: received, Verified: true})
			require.NoError(t, h.env.GetWorkflowError())
			require.NoError(t, reviewErr, "the request waits for review when staff decide")
			require.Equal(t, tt.wantExecs, h.execs)
			n, ok := h.notice(NoticeNeedsReview)
			require.True(t, ok, "the privacy team is mailed")
			require.Contains(t, n.Reason, tt.findings)
			var review *Step
			for i := range h.steps {
				if h.steps[i].Status == loomcast.PrivacyInReview {
					review = &h.steps[i]
				}
			}
			require.NotNil(t, review, "the request went to review")
			require.Contains(t, review.Detail, tt.findings)
			require.Equal(t, tt.wantFinal, h.steps[len(h.steps)-1].Status)
		})
	}
}

// An erasure that a legal hold keeps from completing is answered with what
// was erased and what is kept, waits for the hold's release (a signal per
// release, a weekly check for a lost one) and then completes by itself.
func TestErasureCompletesWhenTheHoldIsReleased(t *testing.T) {
	received := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	heldFirst := func(n int) (ExecuteResult, error) {
		if n == 1 {
			return ExecuteResult{Answer: "erased around the hold", Restricted: []string{"held records"}, Held: true}, nil
		}
		return ExecuteResult{Answer: "all erased", Restricted: []string{"this request"}}, nil
	}
	t.Run("signalled", func(t *testing.T) {
		h := newHarness(t, received)
		h.execute = heldFirst
		// Two holds: the first release leaves the second in place.
		h.held = func(n int) bool { return n == 1 }
		h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(SignalHoldReleased, nil) }, 3*24*time.Hour)
		h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(SignalHoldReleased, nil) }, 5*24*time.Hour)
		h.env.ExecuteWorkflow(PrivacyRequest, Input{RequestID: "r1", UserID: "u1", Type: TypeErasure, Regime: calendar.GDPR,
			ReceivedAt: received, Verified: true})
		require.NoError(t, h.env.GetWorkflowError())
		require.Equal(t, 2, h.execs, "erased around the hold, then the rest")
		require.Len(t, h.checks, 2)
		require.True(t, h.checks[1].Equal(received.Add(5*24*time.Hour)), "completed on the second release, before the weekly check: %s", h.checks[1])
		var answers []string
		var statuses []string
		for _, s := range h.steps {
			if s.Set.Answer != "" {
				answers = append(answers, s.Set.Answer)
			}
			if s.Status != "" {
				statuses = append(statuses, s.Status)
			}
		}
		require.Equal(t, []string{"erased around the hold", "all erased"}, answers)
		require.Equal(t, []string{loomcast.PrivacyReceived, loomcast.PrivacyExecuting, loomcast.PrivacyAnswered, loomcast.PrivacyClosed}, statuses)
		n := 0
		for _, x := range h.notices {
			if x.Kind == NoticeAnswer {
				n++
			}
		}
		require.Equal(t, 2, n, "the person hears of both answers")
	})
	t.Run("signal lost", func(t *testing.T) {
		h := newHarness(t, received)
		h.execute = heldFirst
		h.env.ExecuteWorkflow(PrivacyRequest, Input{RequestID: "r1", UserID: "u1", Type: TypeErasure, Regime: calendar.GDPR,
			ReceivedAt: received, Verified: true})
		require.NoError(t, h.env.GetWorkflowError())
		require.Equal(t, 2, h.execs)
		require.Len(t, h.checks, 1)
		require.True(t, h.checks[0].Equal(received.Add(HoldRecheck)), "checked a week later: %s", h.checks[0])
		require.Equal(t, loomcast.PrivacyClosed, h.steps[len(h.steps)-1].Status)
	})
}
