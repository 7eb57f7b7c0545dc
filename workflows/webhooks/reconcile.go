// Package webhooks owns the reconciliation of platform events: one
// ReconcileTikTok workflow per TikTok account receives its stored events by
// signal-with-start, applies each once (delivery is at least once), holds
// events for a publish ID not yet recorded for up to 24 hours, and
// continues as new to keep its history bounded.
package webhooks

import (
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// ReconcileWorkflowID is the one reconciliation process of a TikTok account.
func ReconcileWorkflowID(openID string) string { return "reconcile-tiktok-" + openID }

// Signal names.
const (
	// SignalEvent carries a Delivery.
	SignalEvent = "event"
	// SignalPostKnown carries a publish ID that a post has just recorded.
	SignalPostKnown = "post-known"
)

// HoldFor is how long an event waits for its post to appear.
const HoldFor = 24 * time.Hour

// Delivery is a stored event handed to the workflow; IDs only.
type Delivery struct {
	EventID   string
	Type      string
	PublishID string
	// Replay asks to apply an event even if it was applied before.
	Replay bool
}

// HeldEvent waits for its post until Until.
type HeldEvent struct {
	Delivery
	Until time.Time
}

// ReconcileInput starts (or continues) an account's reconciliation.
type ReconcileInput struct {
	OpenID string
	// Seen are the IDs of the most recently applied events (bounded).
	Seen []string
	Held []HeldEvent
	// Applied counts events handled across runs.
	Applied int
}

// Outcomes of applying an event.
const (
	OutcomeApplied = "applied"
	OutcomeHeld    = "held"
	// OutcomeDeferred: the post's owner restricted processing; the event
	// is stored and applied when the restriction is lifted (it comes back
	// as a replay).
	OutcomeDeferred = "deferred"
	OutcomeIgnored  = "ignored"
	OutcomeFailed   = "failed"
)

// ApplyInput is the input of the ApplyTikTokEvents activity.
type ApplyInput struct {
	OpenID string
	Events []Delivery
	// GiveUp marks events whose post never appeared as failed.
	GiveUp bool
}

// Outcome is what happened to one event.
type Outcome struct {
	EventID string
	Outcome string
}

// ApplyResult is the result of ApplyTikTokEvents.
type ApplyResult struct {
	Outcomes []Outcome
	// Notify are the publication processes whose post TikTok has just
	// settled (published, failed, or made public): they are signalled
	// (SignalPlatformSettled) to look at the post now rather than at
	// their next poll.
	Notify []string `json:",omitempty"`
}

// SignalPlatformSettled tells a post's publication process that TikTok
// reported an outcome for the post; it carries nothing.
const SignalPlatformSettled = "platform-settled"

// NotifyPostsVersion is the change ID under which the reconciliation
// signals the publication processes of the posts TikTok settled.
const NotifyPostsVersion = "notify-settled-posts"

// ApplyEventsActivity is the activity's registered name.
const ApplyEventsActivity = "ApplyTikTokEvents"

const (
	maxSeen        = 1000
	maxBatch       = 200
	eventsPerRun   = 2000
	recheckHeldIn  = 10 * time.Minute
	applyTimeout   = time.Minute
	maxHeldCarried = 5000
)

// ReconcileTikTok applies an account's TikTok events to its posts.
func ReconcileTikTok(ctx workflow.Context, in ReconcileInput) error {
	r := &reconciler{in: in, seen: map[string]bool{}}
	for _, id := range in.Seen {
		r.seen[id] = true
	}
	return r.run(ctx)
}

type reconciler struct {
	in   ReconcileInput
	seen map[string]bool
}

func (r *reconciler) run(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: applyTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	events := workflow.GetSignalChannel(ctx, SignalEvent)
	known := workflow.GetSignalChannel(ctx, SignalPostKnown)
	handled := 0
	var recheck workflow.Future
	for {
		var batch []Delivery
		var knownIDs []string
		recheckDue := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(events, func(c workflow.ReceiveChannel, _ bool) {
			var d Delivery
			c.Receive(ctx, &d)
			batch = append(batch, d)
		})
		sel.AddReceive(known, func(c workflow.ReceiveChannel, _ bool) {
			var id string
			c.Receive(ctx, &id)
			knownIDs = append(knownIDs, id)
		})
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
		if len(r.in.Held) > 0 {
			if recheck == nil {
				recheck = workflow.NewTimer(ctx, recheckHeldIn)
			}
			sel.AddFuture(recheck, func(workflow.Future) { recheck, recheckDue = nil, true })
		}
		sel.Select(ctx)
		if err := ctx.Err(); err != nil {
			return err // cancelled by staff
		}
		batch, knownIDs = r.drain(events, known, batch, knownIDs, maxBatch*5)

		if err := r.apply(ctx, batch); err != nil {
			return err
		}
		handled += len(batch)
		if err := r.retryHeld(ctx, knownIDs, recheckDue); err != nil {
			return err
		}
		if handled >= eventsPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// Handle every signal received so far: one left unread would be
			// lost with this run. Applying blocks, and more may arrive
			// meanwhile, so drain until nothing waits; nothing blocks between
			// the last empty drain and continuing as new.
			for {
				batch, knownIDs = r.drain(events, known, nil, nil, 0)
				if len(batch) == 0 && len(knownIDs) == 0 {
					return workflow.NewContinueAsNewError(ctx, ReconcileTikTok, r.carry())
				}
				if err := r.apply(ctx, batch); err != nil {
					return err
				}
				if err := r.retryHeld(ctx, knownIDs, false); err != nil {
					return err
				}
			}
		}
	}
}

// drain takes signals already waiting, without blocking: up to limit
// events (0: all of them).
func (r *reconciler) drain(events, known workflow.ReceiveChannel, batch []Delivery, knownIDs []string, limit int) ([]Delivery, []string) {
	for limit == 0 || len(batch) < limit {
		var d Delivery
		if !events.ReceiveAsync(&d) {
			break
		}
		batch = append(batch, d)
	}
	for {
		var id string
		if !known.ReceiveAsync(&id) {
			break
		}
		knownIDs = append(knownIDs, id)
	}
	return batch, knownIDs
}

// apply applies new events in batches; an event already applied is
// skipped unless replayed.
func (r *reconciler) apply(ctx workflow.Context, batch []Delivery) error {
	var fresh []Delivery
	for _, d := range batch {
		if r.seen[d.EventID] && !d.Replay {
			continue
		}
		fresh = append(fresh, d)
	}
	for start := 0; start < len(fresh); start += maxBatch {
		part := fresh[start:min(start+maxBatch, len(fresh))]
		var res ApplyResult
		if err := workflow.ExecuteActivity(ctx, ApplyEventsActivity, ApplyInput{OpenID: r.in.OpenID, Events: part}).Get(ctx, &res); err != nil {
			return err
		}
		r.record(ctx, part, res)
		r.notify(ctx, res.Notify)
	}
	return nil
}

// notify signals the publication processes of the posts TikTok settled.
// A process that has ended (it saw the outcome by polling) cannot be
// signalled, which is fine.
func (r *reconciler) notify(ctx workflow.Context, ids []string) {
	if len(ids) == 0 || workflow.GetVersion(ctx, NotifyPostsVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	futures := make([]workflow.Future, 0, len(ids))
	for _, id := range ids {
		futures = append(futures, workflow.SignalExternalWorkflow(ctx, id, "", SignalPlatformSettled, nil))
	}
	for _, f := range futures {
		_ = f.Get(ctx, nil)
	}
}

func (r *reconciler) record(ctx workflow.Context, part []Delivery, res ApplyResult) {
	byID := map[string]string{}
	for _, o := range res.Outcomes {
		byID[o.EventID] = o.Outcome
	}
	for _, d := range part {
		switch byID[d.EventID] {
		case OutcomeHeld:
			if !slices.ContainsFunc(r.in.Held, func(h HeldEvent) bool { return h.EventID == d.EventID }) && len(r.in.Held) < maxHeldCarried {
				r.in.Held = append(r.in.Held, HeldEvent{Delivery: d, Until: workflow.Now(ctx).Add(HoldFor)})
			}
		default:
			r.remember(d.EventID)
			r.in.Applied++
		}
	}
}

func (r *reconciler) remember(id string) {
	if r.seen[id] {
		return
	}
	r.seen[id] = true
	r.in.Seen = append(r.in.Seen, id)
	if len(r.in.Seen) > maxSeen {
		delete(r.seen, r.in.Seen[0])
		r.in.Seen = r.in.Seen[1:]
	}
}

// retryHeld applies held events whose post is now known, or all of them
// on the periodic recheck, and gives up on those held for 24 hours.
func (r *reconciler) retryHeld(ctx workflow.Context, knownIDs []string, all bool) error {
	if len(r.in.Held) == 0 || (len(knownIDs) == 0 && !all) {
		return nil
	}
	now := workflow.Now(ctx)
	var retry, expired, keep []HeldEvent
	for _, h := range r.in.Held {
		switch {
		case !now.Before(h.Until):
			expired = append(expired, h)
		case all || slices.Contains(knownIDs, h.PublishID):
			retry = append(retry, h)
		default:
			keep = append(keep, h)
		}
	}
	r.in.Held = keep
	if len(expired) > 0 {
		var res ApplyResult
		if err := workflow.ExecuteActivity(ctx, ApplyEventsActivity, ApplyInput{OpenID: r.in.OpenID, Events: deliveries(expired), GiveUp: true}).Get(ctx, &res); err != nil {
			return err
		}
		for _, h := range expired {
			r.remember(h.EventID)
		}
	}
	for start := 0; start < len(retry); start += maxBatch {
		part := retry[start:min(start+maxBatch, len(retry))]
		var res ApplyResult
		if err := workflow.ExecuteActivity(ctx, ApplyEventsActivity, ApplyInput{OpenID: r.in.OpenID, Events: deliveries(part)}).Get(ctx, &res); err != nil {
			return err
		}
		held := map[string]bool{}
		for _, o := range res.Outcomes {
			held[o.EventID] = o.Outcome == OutcomeHeld
		}
		for _, h := range part {
			if held[h.EventID] {
				r.in.Held = append(r.in.Held, h) // keeps its original deadline
			} else {
				r.remember(h.EventID)
				r.in.Applied++
			}
		}
	}
	return nil
}

func deliveries(hs []HeldEvent) []Delivery {
	out := make([]Delivery, len(hs))
	for i, h := range hs {
		out[i] = h.Delivery
	}
	return out
}

func (r *reconciler) carry() ReconcileInput {
	return ReconcileInput{OpenID: r.in.OpenID, Seen: r.in.Seen, Held: r.in.Held, Applied: r.in.Applied}
}
