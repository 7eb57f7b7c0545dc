// Package relay hands stored webhook events to Temporal: the outbox of the
// webhook ingest. It signals-with-start each account's reconciliation
// workflow, marks events delivered, and retries until it succeeds, so an
// event stored while the worker or Temporal is down is delivered once they
// are back. It runs in the worker process (and in loomcast dev).
package relay

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/tiktok"
	"github.com/loomcast/loomcast/workflows/webhooks"
)

// Relay delivers stored TikTok events.
type Relay struct {
	Store    *models.Store
	Temporal client.Client
	Logger   *slog.Logger
	// Wake, when set, delivers at once after a store in this process.
	Wake <-chan struct{}
	// Idle is how long to wait between looks when nothing waits (default 1 s).
	Idle time.Duration
}

const (
	batchSize = 500
	parallel  = 16
)

// Run delivers until ctx ends, backing off while Temporal is unreachable.
func (r *Relay) Run(ctx context.Context) error {
	idle := r.Idle
	if idle <= 0 {
		idle = time.Second
	}
	backoff := time.Duration(0)
	for {
		n, err := r.DeliverOnce(ctx)
		wait := idle
		switch {
		case err != nil:
			backoff = min(max(2*backoff, time.Second), 30*time.Second)
			wait = backoff
			r.Logger.Warn("webhook relay: delivery failed; retrying", slog.String("error", err.Error()), slog.Duration("in", wait))
		case n == batchSize:
			backoff, wait = 0, 0
		default:
			backoff = 0
		}
		if wait == 0 {
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-r.Wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// DeliverOnce delivers one batch of waiting events, several at a time,
// and returns how many it handed on. Order does not matter: the
// reconciliation workflow accepts events in any order, as TikTok sends them.
func (r *Relay) DeliverOnce(ctx context.Context) (int, error) {
	events, err := r.Store.WebhookEventsToDeliver(ctx, models.SourceTikTok, batchSize)
	if err != nil || len(events) == 0 {
		return 0, err
	}
	owners := map[string]string{}
	for _, e := range events {
		if _, ok := owners[e.Account]; !ok {
			owners[e.Account] = r.ownerOf(ctx, e.Account)
		}
	}
	var (
		mu        sync.Mutex
		delivered []string
		firstErr  error
		wg        sync.WaitGroup
		sem       = make(chan struct{}, parallel)
	)
	for _, e := range events {
		wg.Add(1)
		sem <- struct{}{}
		go func(e models.WebhookEvent) {
			defer func() { <-sem; wg.Done() }()
			err := r.signal(ctx, e.Account, owners[e.Account], e)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				_ = r.Store.MarkWebhookAttempt(context.WithoutCancel(ctx), e.ID, "delivery failed: "+err.Error())
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			delivered = append(delivered, e.ID)
		}(e)
	}
	wg.Wait()
	if err := r.Store.MarkWebhooksDelivered(context.WithoutCancel(ctx), delivered, time.Now()); err != nil {
		return len(delivered), err
	}
	return len(delivered), firstErr
}

func (r *Relay) ownerOf(ctx context.Context, openID string) string {
	chs, err := r.Store.ChannelsByExternalID(ctx, loomcast.TikTok, openID)
	if err != nil || len(chs) == 0 {
		return ""
	}
	return chs[0].UserID
}

func (r *Relay) signal(ctx context.Context, openID, userID string, e models.WebhookEvent) error {
	d := webhooks.Delivery{EventID: e.ID, Type: e.EventType, Replay: e.Replay}
	if ev, err := tiktok.ParseWebhook([]byte(e.Payload)); err == nil {
		if c, err := ev.PostContent(); err == nil {
			d.PublishID = c.PublishID
		}
	}
	_, err := r.Temporal.SignalWithStartWorkflow(ctx, webhooks.ReconcileWorkflowID(openID), webhooks.SignalEvent, d,
		webhooks.ReconcileStartOptions(openID, userID), webhooks.ReconcileTikTok, webhooks.ReconcileInput{OpenID: openID})
	return err
}
