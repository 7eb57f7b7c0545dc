// Package webhooks holds the activity that applies stored TikTok events to
// posts and channels. An event only ever touches posts on a channel of the
// account that sent it.
package webhooks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/grants"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/tiktok"
	postingwf "github.com/loomcast/loomcast/workflows/posting"
	wf "github.com/loomcast/loomcast/workflows/webhooks"
)

// Activities apply webhook events.
type Activities struct {
	Store  *models.Store
	Grants *grants.Manager
	Now    func() time.Time
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now().UTC()
	}
	return time.Now().UTC()
}

// ApplyTikTokEvents applies each event and records its outcome on the
// stored event. Applying is idempotent: the same event twice changes a
// post once.
func (a *Activities) ApplyTikTokEvents(ctx context.Context, in wf.ApplyInput) (wf.ApplyResult, error) {
	var res wf.ApplyResult
	restricted := restrictions{}
	for _, d := range in.Events {
		outcome, detail, postID, err := a.applyOne(ctx, in.OpenID, d, in.GiveUp, restricted)
		if postID != "" {
			// The post's publication follows TikTok's verdict: tell it,
			// rather than let it wait for its next poll.
			if id := postingwf.PublishWorkflowID(postID); !slices.Contains(res.Notify, id) {
				res.Notify = append(res.Notify, id)
			}
		}
		if err != nil {
			return res, fmt.Errorf("event %s: %w", d.EventID, err)
		}
		status := map[string]string{wf.OutcomeApplied: models.WebhookApplied, wf.OutcomeHeld: models.WebhookHeld, wf.OutcomeDeferred: models.WebhookDeferred,
			wf.OutcomeIgnored: models.WebhookIgnored, wf.OutcomeFailed: models.WebhookFailed}[outcome]
		if err := a.Store.SetWebhookOutcome(ctx, d.EventID, status, detail, a.now()); err != nil {
			return res, err
		}
		res.Outcomes = append(res.Outcomes, wf.Outcome{EventID: d.EventID, Outcome: outcome})
	}
	return res, nil
}

// restrictions remember, for one batch, whether each post owner restricts
// processing: a batch is mostly one account's, so the owner is read once.
type restrictions map[string]bool

// of reports whether the user restricts processing; a user who is gone
// does not.
func (r restrictions) of(ctx context.Context, store *models.Store, userID string) (bool, error) {
	if v, ok := r[userID]; ok {
		return v, nil
	}
	u, err := store.UserByID(ctx, userID)
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return false, err
	}
	r[userID] = err == nil && u.RestrictedAt != nil
	return r[userID], nil
}

// applyOne applies one event; postID names the post whose publication
// should look at TikTok again now (its outcome was reported).
func (a *Activities) applyOne(ctx context.Context, openID string, d wf.Delivery, giveUp bool, restricted restrictions) (outcome, detail, postID string, err error) {
	outcome, detail, p, err := a.applyEvent(ctx, openID, d, giveUp, restricted)
	if err == nil && outcome == wf.OutcomeApplied && p != nil && p.event != "" {
		switch p.event {
		case "post.publish.complete", "post.publish.failed", "post.publish.publicly_available":
			if p.status == loomcast.PostPublishing || p.status == loomcast.PostProcessing {
				postID = p.id
			}
		}
	}
	return outcome, detail, postID, err
}

// appliedTo is the post an event was applied to, as it was before.
type appliedTo struct {
	id, status, event string
}

func (a *Activities) applyEvent(ctx context.Context, openID string, d wf.Delivery, giveUp bool, restricted restrictions) (outcome, detail string, post *appliedTo, err error) {
	stored, err := a.Store.WebhookEventByID(ctx, d.EventID)
	if errors.Is(err, models.ErrNotFound) {
		return wf.OutcomeIgnored, "the stored event is gone", nil, nil
	}
	if err != nil {
		return "", "", nil, err
	}
	if stored.Account != openID {
		return wf.OutcomeFailed, "event of another account", nil, nil
	}
	ev, err := tiktok.ParseWebhook([]byte(stored.Payload))
	if err != nil {
		return wf.OutcomeFailed, "unreadable event", nil, nil
	}
	if ev.Event == "authorization.removed" {
		outcome, detail, err := a.authorizationRemoved(ctx, openID)
		return outcome, detail, nil, err
	}
	content, err := ev.PostContent()
	if err != nil || content.PublishID == "" {
		return wf.OutcomeFailed, "the event names no publish_id", nil, nil
	}
	p, err := a.Store.PostByPublishID(ctx, openID, content.PublishID)
	if errors.Is(err, models.ErrNotFound) {
		if giveUp {
			return wf.OutcomeFailed, fmt.Sprintf("no post with publish_id %s appeared within %s", content.PublishID, wf.HoldFor), nil, nil
		}
		return wf.OutcomeHeld, "waiting for a post with publish_id " + content.PublishID, nil, nil
	}
	if err != nil {
		return "", "", nil, err
	}
	// Only storage while the owner restricts processing (GDPR art. 18).
	if r, err := restricted.of(ctx, a.Store, p.UserID); err != nil {
		return "", "", nil, err
	} else if r {
		return wf.OutcomeDeferred, "the account's processing is restricted: applied when the restriction is lifted", nil, nil
	}
	post = &appliedTo{id: p.ID, status: p.Status, event: ev.Event}
	change, detail := postChange(ev.Event, content, p, a.now())
	if change == nil {
		return wf.OutcomeApplied, detail, post, nil
	}
	if _, err := a.Store.ApplyPostChange(ctx, p.ID, *change); err != nil {
		return "", "", nil, err
	}
	return wf.OutcomeApplied, detail, post, nil
}

// postChange is what an event does to a post; nil when nothing changes
// (a settled post is not moved back).
func postChange(event string, c tiktok.PostEventContent, p models.Post, now time.Time) (*models.PostChange, string) {
	settled := p.Status == loomcast.PostPublished || p.Status == loomcast.PostCancelled
	switch event {
	case "post.publish.complete":
		if settled {
			return nil, "post already " + p.Status
		}
		fields := models.PostFields{FailureReason: models.Ptr("")}
		if p.PublishedAt == nil {
			fields.PublishedAt = &now
		}
		return &models.PostChange{Status: loomcast.PostPublished, Detail: "TikTok confirmed the post", Set: fields}, "post published"
	case "post.publish.failed":
		if settled || p.Status == loomcast.PostFailed {
			return nil, "post already " + p.Status
		}
		reason := "TikTok could not publish the video: " + c.Reason
		return &models.PostChange{Status: loomcast.PostFailed, Detail: reason, Set: models.PostFields{FailureReason: &reason}}, "post failed"
	case "post.publish.publicly_available":
		fields := models.PostFields{PublicState: models.Ptr("public")}
		if c.PostID != "" {
			fields.PlatformPostID = &c.PostID
			fields.PublicURL = models.Ptr(tiktok.PostURL(p.PlatformUsername, c.PostID))
		}
		return &models.PostChange{Detail: "public on TikTok as " + c.PostID, Set: fields}, "post public"
	case "post.publish.no_longer_publicaly_available":
		return &models.PostChange{Detail: "TikTok no longer shows the post publicly", Set: models.PostFields{PublicState: models.Ptr("removed"), PublicURL: models.Ptr("")}}, "post removed from public view"
	case "post.publish.inbox_delivered":
		return &models.PostChange{Detail: "delivered to the creator's TikTok inbox"}, "post delivered to inbox"
	}
	return nil, "nothing to do for " + event
}

// authorizationRemoved: the creator removed Loomcast in TikTok. Every
// channel of that account loses its tokens and needs reconnecting.
func (a *Activities) authorizationRemoved(ctx context.Context, openID string) (string, string, error) {
	chs, err := a.Store.ChannelsByExternalID(ctx, loomcast.TikTok, openID)
	if err != nil {
		return "", "", err
	}
	for _, ch := range chs {
		if ch.Status != loomcast.ChannelActive {
			continue
		}
		if err := a.Grants.MarkReauthRequired(ctx, ch, "access was removed in TikTok"); err != nil {
			return "", "", err
		}
	}
	return wf.OutcomeApplied, fmt.Sprintf("%d channels need reconnecting", len(chs)), nil
}
