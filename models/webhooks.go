package models

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/loomcast/loomcast"
	"gorm.io/gorm/clause"
)

// Webhook sources.
const (
	SourceTikTok = loomcast.TikTok
	SourceStripe = "stripe"
)

// Webhook event statuses: received (stored, acknowledged), delivered
// (handed to its reconciliation workflow), then applied, held (waiting for
// its post to appear), deferred (its account's processing is restricted:
// applied when the restriction is lifted), ignored (nothing to do, e.g.
// an unknown type) or failed (with a reason).
const (
	WebhookReceived  = "received"
	WebhookDelivered = "delivered"
	WebhookApplied   = "applied"
	WebhookHeld      = "held"
	WebhookDeferred  = "deferred"
	WebhookIgnored   = "ignored"
	WebhookFailed    = "failed"
)

// settledWebhooks are the statuses of events nothing works on any more.
var settledWebhooks = []string{WebhookApplied, WebhookIgnored, WebhookFailed}

// WebhookEvent is a platform event stored before it is acknowledged.
type WebhookEvent struct {
	ID          string
	Source      string
	EventKey    string
	EventType   string
	Account     string
	Payload     string
	Status      string
	Detail      string
	Replay      bool
	Attempts    int
	ReceivedAt  time.Time
	DeliveredAt *time.Time
	AppliedAt   *time.Time
}

// InsertWebhookEvent stores an event once per (source, key): a duplicate is
// not an error, and reports stored = false.
func (s *Store) InsertWebhookEvent(ctx context.Context, e *WebhookEvent) (stored bool, err error) {
	if e.ID == "" {
		e.ID = NewID()
	}
	e.ReceivedAt = e.ReceivedAt.UTC()
	if e.Status == "" {
		e.Status = WebhookReceived
	}
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(e)
	if res.Error != nil {
		return false, fmt.Errorf("store webhook event: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// WebhookEventsToDeliver lists the oldest events of a source waiting to be
// handed to their workflow.
func (s *Store) WebhookEventsToDeliver(ctx context.Context, source string, limit int) ([]WebhookEvent, error) {
	var out []WebhookEvent
	err := s.db.WithContext(ctx).Where("source = ? AND status = ?", source, WebhookReceived).Order("id").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("webhook events to deliver: %w", err)
	}
	return out, nil
}

// MarkWebhooksDelivered records that events reached their workflow.
func (s *Store) MarkWebhooksDelivered(ctx context.Context, ids []string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.db.WithContext(ctx).Model(&WebhookEvent{}).Where("id IN ? AND status = ?", ids, WebhookReceived).
		Updates(map[string]any{"status": WebhookDelivered, "delivered_at": at.UTC(), "replay": false}).Error
	if err != nil {
		return fmt.Errorf("mark webhooks delivered: %w", err)
	}
	return nil
}

// MarkWebhookAttempt counts a failed delivery attempt.
func (s *Store) MarkWebhookAttempt(ctx context.Context, id, detail string) error {
	err := s.db.WithContext(ctx).Model(&WebhookEvent{}).Where("id = ?", id).
		Updates(map[string]any{"attempts": clause.Expr{SQL: "attempts + 1"}, "detail": detail}).Error
	if err != nil {
		return fmt.Errorf("mark webhook attempt: %w", err)
	}
	return nil
}

// SetWebhookOutcome records what applying the event did.
func (s *Store) SetWebhookOutcome(ctx context.Context, id, status, detail string, at time.Time) error {
	fields := map[string]any{"status": status, "detail": detail}
	if status == WebhookApplied || status == WebhookIgnored {
		fields["applied_at"] = at.UTC()
	}
	if err := s.db.WithContext(ctx).Model(&WebhookEvent{}).Where("id = ?", id).Updates(fields).Error; err != nil {
		return fmt.Errorf("set webhook outcome: %w", err)
	}
	return nil
}

// WebhookEventByID loads an event.
func (s *Store) WebhookEventByID(ctx context.Context, id string) (WebhookEvent, error) {
	var e WebhookEvent
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&e).Error; err != nil {
		return WebhookEvent{}, fmt.Errorf("webhook event %s: %w", id, translate(err))
	}
	return e, nil
}

// ReplayWebhookEvent sends an event through delivery again.
func (s *Store) ReplayWebhookEvent(ctx context.Context, id string) error {
	res := s.db.WithContext(ctx).Model(&WebhookEvent{}).Where("id = ?", id).
		Updates(map[string]any{"status": WebhookReceived, "replay": true, "detail": "replayed by staff"})
	if res.Error != nil {
		return fmt.Errorf("replay webhook: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("webhook event %s: %w", id, ErrNotFound)
	}
	return nil
}

// ResumeDeferredWebhooks sends the events of the accounts that were
// deferred while their owner restricted processing through delivery
// again, and returns how many.
func (s *Store) ResumeDeferredWebhooks(ctx context.Context, source string, accounts []string) (int64, error) {
	if len(accounts) == 0 {
		return 0, nil
	}
	res := s.db.WithContext(ctx).Model(&WebhookEvent{}).Where("source = ? AND status = ? AND account IN ?", source, WebhookDeferred, accounts).
		Updates(map[string]any{"status": WebhookReceived, "replay": true, "detail": "the restriction of processing was lifted"})
	if res.Error != nil {
		return 0, fmt.Errorf("resume deferred webhooks: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// WebhookFilter narrows the staff listing.
type WebhookFilter struct {
	Source  string
	Status  string
	Account string
	Before  string
	Limit   int
}

// WebhookEvents lists events newest first, for staff.
func (s *Store) WebhookEvents(ctx context.Context, f WebhookFilter) ([]WebhookEvent, error) {
	q := s.db.WithContext(ctx).Order("id DESC")
	if f.Source != "" {
		q = q.Where("source = ?", f.Source)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.Account != "" {
		q = q.Where("account = ?", f.Account)
	}
	if f.Before != "" {
		q = q.Where("id < ?", f.Before)
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	var out []WebhookEvent
	if err := q.Limit(f.Limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list webhook events: %w", err)
	}
	return out, nil
}

// CountWebhookEvents counts a source's events by status.
func (s *Store) CountWebhookEvents(ctx context.Context, source, status string) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&WebhookEvent{}).Where("source = ? AND status = ?", source, status).Count(&n).Error
	return n, err
}

// PostByPublishID finds the post a TikTok publish ID belongs to, on a
// channel of that TikTok account: an event never reaches another
// account's post.
func (s *Store) PostByPublishID(ctx context.Context, openID, publishID string) (Post, error) {
	var p Post
	err := s.db.WithContext(ctx).Table("posts").Select("posts.*").
		Joins("JOIN channels ON channels.id = posts.channel_id").
		Where("posts.publish_id = ? AND posts.platform = ? AND channels.external_id = ?", publishID, loomcast.TikTok, openID).
		Take(&p).Error
	if err != nil {
		return Post{}, fmt.Errorf("post with publish id: %w", translate(err))
	}
	return p, nil
}

// ChannelsByExternalID lists the channels of a platform account (one per
// Loomcast user who connected it).
func (s *Store) ChannelsByExternalID(ctx context.Context, platform, externalID string) ([]Channel, error) {
	var out []Channel
	err := s.db.WithContext(ctx).Where("platform = ? AND external_id = ?", platform, externalID).Order("id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("channels by external id: %w", err)
	}
	return out, nil
}

// DeleteWebhookEventsNaming deletes the stored deliveries of a source
// whose body contains one of the values, compared without case (erasure of
// a person a Stripe event names by email or by user ID).
func (s *Store) DeleteWebhookEventsNaming(ctx context.Context, source string, values []string) (int64, error) {
	var n int64
	for _, v := range values {
		if v == "" {
			continue
		}
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(v))
		res := s.db.WithContext(ctx).Where(`source = ? AND LOWER(payload) LIKE ? ESCAPE '\'`, source, "%"+esc+"%").Delete(&WebhookEvent{})
		if res.Error != nil {
			return n, fmt.Errorf("delete webhook events naming a person: %w", res.Error)
		}
		n += res.RowsAffected
	}
	return n, nil
}

// DeleteWebhookEventsOf deletes every stored delivery of a platform account
// (erasure of its owner).
func (s *Store) DeleteWebhookEventsOf(ctx context.Context, source, account string) error {
	if account == "" {
		return nil
	}
	if err := s.db.WithContext(ctx).Where("source = ? AND account = ?", source, account).Delete(&WebhookEvent{}).Error; err != nil {
		return fmt.Errorf("delete webhook events: %w", err)
	}
	return nil
}
