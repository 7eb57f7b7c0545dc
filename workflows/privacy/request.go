// Package privacy holds the durable process of a data-subject request: one
// PrivacyRequest workflow per request (dsr-<id>) takes it from received
// through verification, staff review where the law allows a refusal or asks
// for judgement, execution and the answer, to closed, refused or withdrawn,
// against a deadline from the legal calendar. Every step is written to the
// request's append-only audit log by the RecordStep activity.
package privacy

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/privacy/calendar"
)

type request struct {
	in       Input
	state    State
	clock    calendar.Clock
	changed  workflow.Channel
	withdraw *WithdrawRequest
	review   *ReviewDecision
	// askedAt is when staff asked for clarification, while they wait.
	askedAt time.Time
}

// PrivacyRequest is the process of one data-subject request.
func PrivacyRequest(ctx workflow.Context, in Input) error {
	r := &request{in: in, state: State{Status: loomcast.PrivacyReceived}, changed: workflow.NewChannel(ctx)}
	r.clock = NewClock(in.Regime, in.ReceivedAt)
	if !in.Verified {
		r.state.Status = loomcast.PrivacyVerifying
	}
	if err := r.handlers(ctx); err != nil {
		return err
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 5 * time.Minute},
	})
	if err := r.run(ctx); err != nil {
		return err
	}
	// An Update accepted just before the end (a clarification, an
	// extension) finishes its activities before the process completes.
	if workflow.GetVersion(ctx, HandlersFinishedVersion, workflow.DefaultVersion, 1) == 1 {
		return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	}
	return nil
}

func (r *request) handlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (State, error) { return r.state, nil }); err != nil {
		return err
	}
	err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateReview, func(ctx workflow.Context, d ReviewDecision) error {
		r.review = &d
		return nil
	}, workflow.UpdateHandlerOptions{Validator: func(d ReviewDecision) error {
		if r.state.Status != loomcast.PrivacyInReview || r.review != nil {
			return notNow("the request is %s, not waiting for review", r.state.Status)
		}
		if !d.Approve && strings.TrimSpace(d.Reason) == "" {
			return invalid("a refusal needs its reasons: they are sent to the requester")
		}
		return nil
	}})
	if err != nil {
		return err
	}
	err = workflow.SetUpdateHandlerWithOptions(ctx, UpdateExtend, r.extend, workflow.UpdateHandlerOptions{Validator: func(e ExtendRequest) error {
		if !r.open() || r.state.Deadline == nil {
			return notNow("the request is %s", r.state.Status)
		}
		if _, err := r.clock.Extend(e.Reason, workflow.Now(ctx)); errors.Is(err, calendar.ErrNoReason) {
			return invalid(err.Error())
		} else if err != nil {
			return notNow("%s", err.Error())
		}
		return nil
	}})
	if err != nil {
		return err
	}
	err = workflow.SetUpdateHandlerWithOptions(ctx, UpdateClarify, r.clarify, workflow.UpdateHandlerOptions{Validator: func(q ClarifyRequest) error {
		if r.state.Status != loomcast.PrivacyInReview || r.review != nil {
			return notNow("the request is %s; clarification is asked during review", r.state.Status)
		}
		if strings.TrimSpace(q.Question) == "" {
			return invalid("say what the requester must clarify: the question is sent to them")
		}
		return nil
	}})
	if err != nil {
		return err
	}
	err = workflow.SetUpdateHandlerWithOptions(ctx, UpdateClarified, r.clarified, workflow.UpdateHandlerOptions{Validator: func(a Clarification) error {
		if r.state.Status != loomcast.PrivacyClarifying {
			return notNow("no question is waiting for an answer")
		}
		if strings.TrimSpace(a.Answer) == "" {
			return invalid("the answer is empty")
		}
		return nil
	}})
	if err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateWithdraw, func(ctx workflow.Context, w WithdrawRequest) error {
		r.withdraw = &w
		return nil
	}, workflow.UpdateHandlerOptions{Validator: func(WithdrawRequest) error {
		if r.state.Status == loomcast.PrivacyExecuting || !r.open() || r.withdraw != nil {
			return notNow("the request is %s and can no longer be withdrawn", r.state.Status)
		}
		return nil
	}})
}

func (r *request) open() bool {
	return loomcast.PrivacyIsOpen(r.state.Status)
}

// clarify sends staff's question; the clock stops until the answer.
func (r *request) clarify(ctx workflow.Context, q ClarifyRequest) error {
	ctx = workflow.WithActivityOptions(ctx, shortActivity)
	if err := r.step(ctx, Step{Status: loomcast.PrivacyClarifying, Actor: q.By, Action: "asked for clarification", Detail: q.Question}); err != nil {
		return err
	}
	r.askedAt = workflow.Now(ctx)
	return r.notify(ctx, NoticeClarify, q.Question)
}

// clarified records the answer, and moves the deadline by the time the
// clock stood still.
func (r *request) clarified(ctx workflow.Context, a Clarification) error {
	ctx = workflow.WithActivityOptions(ctx, shortActivity)
	clock := r.clock
	clock.Pauses = append(clock.Pauses, calendar.Interval{Start: r.askedAt, End: workflow.Now(ctx)})
	deadline := clock.Deadline()
	if err := r.step(ctx, Step{Status: loomcast.PrivacyInReview, Actor: a.By, Action: "clarified", Detail: a.Answer,
		Set: Fields{DeadlineAt: &deadline}}); err != nil {
		return err
	}
	r.clock, r.state.Deadline = clock, &deadline
	r.changed.SendAsync(true)
	return nil
}

var shortActivity = workflow.ActivityOptions{StartToCloseTimeout: time.Minute,
	RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute}}

// extend moves the deadline and sends the requester the notice with its
// reasons, before the original deadline (the validator checked).
func (r *request) extend(ctx workflow.Context, e ExtendRequest) error {
	clock, err := r.clock.Extend(e.Reason, workflow.Now(ctx))
	if err != nil {
		return err
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute}})
	deadline := clock.Deadline()
	if err := r.step(ctx, Step{Actor: e.By, Action: "extended", Detail: e.Reason,
		Set: Fields{DeadlineAt: &deadline, ExtendedAt: at(workflow.Now(ctx)), ExtensionReason: e.Reason}}); err != nil {
		return err
	}
	if err := workflow.ExecuteActivity(ctx, NotifyActivity, Notice{RequestID: r.in.RequestID, Kind: NoticeExtended, Deadline: deadline, Reason: e.Reason}).Get(ctx, nil); err != nil {
		return err
	}
	r.clock, r.state.Deadline, r.state.Extended = clock, &deadline, true
	r.changed.SendAsync(true)
	return nil
}

func (r *request) run(ctx workflow.Context) error {
	if !r.in.Verified {
		verified, err := r.awaitVerification(ctx)
		if err != nil || !verified {
			return err
		}
	}
	deadline := r.clock.Deadline()
	r.state.Deadline = &deadline
	if err := r.step(ctx, Step{Status: loomcast.PrivacyReceived, Actor: "system", Action: "received",
		Detail: "deadline " + deadline.Format(time.RFC3339), Set: Fields{DeadlineAt: &deadline}}); err != nil {
		return err
	}
	if err := r.notify(ctx, NoticeAcknowledged, ""); err != nil {
		return err
	}
	remindersCtx, stopReminders := workflow.WithCancel(ctx)
	defer stopReminders()
	workflow.Go(remindersCtx, r.remind)

	if r.in.NeedsReview {
		if err := r.step(ctx, Step{Status: loomcast.PrivacyInReview, Actor: "system", Action: "sent to review"}); err != nil {
			return err
		}
		if approved, err := r.decide(ctx); err != nil || !approved {
			return err
		}
	} else if r.withdraw != nil {
		return r.withdrawn(ctx)
	}
	return r.execute(ctx)
}

// awaitVerification waits for the email proof; the legal clock stands
// still meanwhile.
func (r *request) awaitVerification(ctx workflow.Context) (bool, error) {
	var verifiedAt time.Time
	timedOut := false
	waitCtx, stop := workflow.WithCancel(ctx)
	defer stop()
	workflow.Go(waitCtx, func(ctx workflow.Context) {
		workflow.GetSignalChannel(ctx, SignalVerified).Receive(ctx, &verifiedAt)
	})
	workflow.Go(waitCtx, func(ctx workflow.Context) {
		if workflow.Sleep(ctx, VerifyWithin) == nil {
			timedOut = true
		}
	})
	if err := workflow.Await(ctx, func() bool { return !verifiedAt.IsZero() || timedOut || r.withdraw != nil }); err != nil {
		return false, err
	}
	switch {
	case r.withdraw != nil:
		return false, r.withdrawn(ctx)
	case verifiedAt.IsZero():
		err := r.step(ctx, Step{Status: loomcast.PrivacyClosed, Actor: "system", Action: "closed unverified",
			Detail: "the email address was not confirmed within 30 days", Set: Fields{ClosedAt: at(workflow.Now(ctx))}})
		return false, err
	}
	if verifiedAt.Before(r.in.ReceivedAt) {
		verifiedAt = r.in.ReceivedAt
	}
	r.clock.Pauses = append(r.clock.Pauses, calendar.Interval{Start: r.in.ReceivedAt, End: verifiedAt})
	return true, r.step(ctx, Step{Actor: "requester", Action: "verified", Detail: "email confirmed with a code",
		Set: Fields{VerifiedAt: &verifiedAt}})
}

func (r *request) withdrawn(ctx workflow.Context) error {
	if err := r.step(ctx, Step{Status: loomcast.PrivacyWithdrawn, Actor: r.withdraw.By, Action: "withdrawn",
		Set: Fields{ClosedAt: at(workflow.Now(ctx))}}); err != nil {
		return err
	}
	return r.notify(ctx, NoticeWithdrawn, "")
}

// decide waits for staff's decision on a request in review (or for the
// requester to withdraw it) and records it; it reports whether the request
// goes on.
func (r *request) decide(ctx workflow.Context) (bool, error) {
	if err := workflow.Await(ctx, func() bool { return r.review != nil || r.withdraw != nil }); err != nil {
		return false, err
	}
	if r.withdraw != nil {
		return false, r.withdrawn(ctx)
	}
	if !r.review.Approve {
		if err := r.step(ctx, Step{Status: loomcast.PrivacyRefused, Actor: r.review.By, Action: "refused", Detail: r.review.Reason,
			Set: Fields{Answer: r.review.Reason, ClosedAt: at(workflow.Now(ctx))}}); err != nil {
			return false, err
		}
		return false, r.notify(ctx, NoticeRefused, r.review.Reason)
	}
	if err := r.step(ctx, Step{Actor: r.review.By, Action: "approved", Detail: r.review.Reason}); err != nil {
		return false, err
	}
	return true, nil
}

// executeAttempts bounds the tries of a request's execution: about half an
// hour of backoff, then staff are asked, instead of retrying for ever.
const executeAttempts = 10

func (r *request) execute(ctx workflow.Context) error {
	v := workflow.GetVersion(ctx, ExecutionReviewVersion, workflow.DefaultVersion, 1)
	policy := &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: 10 * time.Minute}
	if v == 1 {
		policy.MaximumAttempts = executeAttempts
		policy.NonRetryableErrorTypes = []string{ErrTypeErasureIncomplete}
	}
	execCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Hour,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         policy,
	})
	res, done, err := r.carryOut(ctx, execCtx, v == 1, Step{Status: loomcast.PrivacyExecuting, Actor: "system", Action: "executing"})
	if err != nil || !done {
		return err
	}
	if err := r.step(ctx, Step{Status: loomcast.PrivacyAnswered, Actor: "system", Action: "answered", Detail: strings.Join(res.Restricted, "; "),
		Set: Fields{Answer: res.Answer}}); err != nil {
		return err
	}
	if err := r.notify(ctx, NoticeAnswer, ""); err != nil {
		return err
	}
	// A legal hold kept the person's records: the answer said what was
	// erased and what is kept; the rest is erased when the hold ends.
	if res.Held && workflow.GetVersion(ctx, ErasureAfterHoldVersion, workflow.DefaultVersion, 1) == 1 {
		if done, err := r.eraseAfterHold(ctx, execCtx); err != nil || !done {
			return err
		}
	}
	return r.step(ctx, Step{Status: loomcast.PrivacyClosed, Actor: "system", Action: "closed", Set: Fields{ClosedAt: at(workflow.Now(ctx))}})
}

// carryOut runs the request's execution, recording s before each try. It
// reports whether the request was carried out; when staff refuse it after
// a failure, or the requester withdraws it, it was not. Without bounded
// (a history from before ExecutionReviewVersion) a failure ends the
// process.
func (r *request) carryOut(ctx, execCtx workflow.Context, bounded bool, s Step) (ExecuteResult, bool, error) {
	for {
		if err := r.step(ctx, s); err != nil {
			return ExecuteResult{}, false, err
		}
		var res ExecuteResult
		err := workflow.ExecuteActivity(execCtx, ExecuteActivity, ExecuteInput{RequestID: r.in.RequestID}).Get(ctx, &res)
		if err == nil {
			return res, true, nil
		}
		if !bounded {
			return ExecuteResult{}, false, fmt.Errorf("execute request: %w", err)
		}
		// Nobody is left waiting on a request stuck in executing: staff
		// get the findings, and decide to try again or to refuse.
		if goOn, err := r.reviewFailure(ctx, err); err != nil || !goOn {
			return ExecuteResult{}, false, err
		}
	}
}

// eraseAfterHold waits for the legal hold that kept the person's records
// to be released (the API signals each release; a weekly check covers a
// lost signal), then erases the rest and sends the final answer. It
// reports whether the erasure completed (not when staff refused it after
// a failure).
func (r *request) eraseAfterHold(ctx, execCtx workflow.Context) (bool, error) {
	if err := r.step(ctx, Step{Actor: "system", Action: "waiting for the legal hold's release",
		Detail: "the held records are restricted; they are erased when the hold is released"}); err != nil {
		return false, err
	}
	released := workflow.GetSignalChannel(ctx, SignalHoldReleased)
	checkCtx := workflow.WithActivityOptions(ctx, shortActivity)
	for {
		timerCtx, cancel := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(released, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.AddFuture(workflow.NewTimer(timerCtx, HoldRecheck), func(workflow.Future) {})
		sel.Select(ctx)
		cancel()
		for released.ReceiveAsync(nil) {
		}
		var held bool
		if err := workflow.ExecuteActivity(checkCtx, HeldActivity, ExecuteInput{RequestID: r.in.RequestID}).Get(ctx, &held); err != nil {
			return false, fmt.Errorf("check hold: %w", err)
		}
		if held {
			continue
		}
		res, done, err := r.carryOut(ctx, execCtx, true, Step{Actor: "system", Action: "erasing what the hold kept"})
		if err != nil || !done {
			return false, err
		}
		if res.Held {
			continue // a new hold came first
		}
		if err := r.step(ctx, Step{Actor: "system", Action: "erased after the hold's release", Detail: strings.Join(res.Restricted, "; "),
			Set: Fields{Answer: res.Answer}}); err != nil {
			return false, err
		}
		return true, r.notify(ctx, NoticeAnswer, "")
	}
}

// reviewFailure sends a request that could not be carried out to staff
// review, with what was found, and reports whether staff want it tried
// again.
func (r *request) reviewFailure(ctx workflow.Context, err error) (bool, error) {
	findings := "the request could not be carried out after several attempts; the process history has the errors"
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == ErrTypeErasureIncomplete {
		findings = appErr.Message()
	}
	r.review = nil
	if err := r.step(ctx, Step{Status: loomcast.PrivacyInReview, Actor: "system", Action: "sent to review: could not be carried out", Detail: findings}); err != nil {
		return false, err
	}
	if err := r.notify(ctx, NoticeNeedsReview, findings); err != nil {
		return false, err
	}
	return r.decide(ctx)
}

// remind sends staff reminders 7 and 2 days before the deadline and an
// alert when it passes, following extensions.
func (r *request) remind(ctx workflow.Context) {
	sent := map[string]bool{}
	for {
		if r.state.Deadline == nil {
			return
		}
		var next *calendar.Reminder
		for _, rem := range calendar.Reminders(*r.state.Deadline) {
			if !sent[rem.Kind+rem.At.String()] {
				next = &rem
				break
			}
		}
		if next == nil {
			return
		}
		timerCtx, cancel := workflow.WithCancel(ctx)
		fired := false
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(workflow.NewTimer(timerCtx, max(next.At.Sub(workflow.Now(ctx)), 0)), func(workflow.Future) { fired = true })
		sel.AddReceive(r.changed, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
		sel.Select(ctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if !fired {
			continue // the deadline moved: recompute
		}
		sent[next.Kind+next.At.String()] = true
		// While the requester owes an answer the clock stands still: the
		// reminders come again for the deadline the answer sets.
		if r.open() && r.state.Status != loomcast.PrivacyClarifying {
			_ = r.notify(ctx, next.Kind, "")
		}
	}
}

func (r *request) step(ctx workflow.Context, s Step) error {
	s.RequestID = r.in.RequestID
	if err := workflow.ExecuteActivity(ctx, RecordStepActivity, s).Get(ctx, nil); err != nil {
		return fmt.Errorf("record %s: %w", s.Action, err)
	}
	if s.Status != "" {
		r.state.Status = s.Status
	}
	return nil
}

func (r *request) notify(ctx workflow.Context, kind, reason string) error {
	n := Notice{RequestID: r.in.RequestID, Kind: kind, Reason: reason}
	if r.state.Deadline != nil {
		n.Deadline = *r.state.Deadline
	}
	if err := workflow.ExecuteActivity(ctx, NotifyActivity, n).Get(ctx, nil); err != nil {
		return fmt.Errorf("notify %s: %w", kind, err)
	}
	return nil
}
