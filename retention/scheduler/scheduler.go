// Package scheduler starts retention clocks: it gives data a due time in the
// database (retention_items) and wakes the category's expiry workflow when
// the new item is due before the workflow means to wake. The API and the
// activities call it when the event that starts a clock happens (an upload,
// a post, a disconnect, a closure, a request...).
package scheduler

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/workflows/expiry"
)

// Waker wakes a category's expiry workflow, starting it if it is not
// running.
type Waker interface {
	Wake(ctx context.Context, c retention.Category) error
}

// TemporalWaker wakes expiry workflows with signal-with-start.
type TemporalWaker struct {
	Client client.Client
}

// Wake signals the category's workflow, starting it first if needed.
func (w TemporalWaker) Wake(ctx context.Context, c retention.Category) error {
	_, err := w.Client.SignalWithStartWorkflow(ctx, expiry.WorkflowID(c), expiry.SignalWake, nil, expiry.StartOptions(c),
		expiry.RetentionExpiry, expiry.Input{Category: c})
	if err != nil {
		return fmt.Errorf("wake retention %s: %w", c, err)
	}
	return nil
}

// Scheduler starts retention clocks.
type Scheduler struct {
	Store *models.Store
	Waker Waker
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (s *Scheduler) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Item is data whose retention clock starts: it is due when its category's
// period, counted from Start, ends.
type Item struct {
	Category retention.Category
	ObjectID string
	// UserID owns the data, for legal holds on a user; empty for data of
	// no one user.
	UserID string
	Start  time.Time
}

// Due is when the item's retention ends.
func (it Item) Due() time.Time { return retention.Due(it.Category, it.Start, "") }

// Start starts one item's retention clock: Schedule for a single item.
func (s *Scheduler) Start(ctx context.Context, category retention.Category, objectID, userID string, start time.Time) error {
	return s.Schedule(ctx, Item{Category: category, ObjectID: objectID, UserID: userID, Start: start})
}

// Schedule stores the items' due times (moving those already stored) and
// wakes each category whose workflow would otherwise sleep past them.
func (s *Scheduler) Schedule(ctx context.Context, items ...Item) error {
	rows := make([]models.RetentionItem, len(items))
	earliest := map[string]time.Time{}
	for i, it := range items {
		due := it.Due()
		rows[i] = models.RetentionItem{Category: string(it.Category), ObjectID: it.ObjectID, UserID: it.UserID, DueAt: due}
		if e, ok := earliest[string(it.Category)]; !ok || due.Before(e) {
			earliest[string(it.Category)] = due
		}
	}
	if err := s.Store.ScheduleRetention(ctx, rows); err != nil {
		return err
	}
	return s.wakeIfSooner(ctx, earliest)
}

// wakeIfSooner wakes the categories whose workflow is idle, has never run,
// or sleeps past the earliest new due time. It runs after the items are
// stored; the workflow records its wake time before it reads the due times
// one last time, so between the two one of them sees the other.
func (s *Scheduler) wakeIfSooner(ctx context.Context, earliest map[string]time.Time) error {
	cats := make([]string, 0, len(earliest))
	for c := range earliest {
		cats = append(cats, c)
	}
	wakes, err := s.Store.RetentionWakes(ctx, cats)
	if err != nil {
		return err
	}
	for c, due := range earliest {
		at, armed := wakes[c]
		if armed && at != nil && !due.Before(*at) {
			continue
		}
		if err := s.Waker.Wake(ctx, retention.Category(c)); err != nil {
			return err
		}
	}
	return nil
}

// Reevaluate wakes the categories in which a released hold kept items, and
// for a user's hold sweeps the bucketed categories (logs, sessions) at once
// for the rows the hold kept.
func (s *Scheduler) Reevaluate(ctx context.Context, h models.LegalHold) error {
	cats, err := s.Store.RetentionCategoriesOf(ctx, h)
	if err != nil {
		return err
	}
	now := s.now()
	if h.UserID != "" {
		var sweeps []Item
		for _, b := range Bucketed {
			// A sweep item is due now and covers every row older than
			// the category's period.
			sweeps = append(sweeps, Item{Category: b.Category, ObjectID: SweepPrefix + h.ID, Start: retention.Lookup(b.Category).Period.Before(now)})
		}
		if err := s.Schedule(ctx, sweeps...); err != nil {
			return err
		}
	}
	for _, c := range cats {
		if err := s.Waker.Wake(ctx, retention.Category(c)); err != nil {
			return err
		}
	}
	return nil
}

// EnsureRunning wakes the workflow of every category the engine enforces,
// so that each runs and re-reads its due times. A worker calls it once at
// start: it decides no deletion, it only makes sure the processes exist,
// after bringing forward the bucket items stored by earlier versions.
func (s *Scheduler) EnsureRunning(ctx context.Context) error {
	if err := s.alignBuckets(ctx); err != nil {
		return err
	}
	for _, c := range Enforced {
		if err := s.Waker.Wake(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// alignBuckets moves bucket items that earlier versions made due when the
// period of the bucket's END ran (up to a bucket width after its first
// rows' periods) to when the period of its start runs. Items already
// moved by the engine, or failing, keep their time.
func (s *Scheduler) alignBuckets(ctx context.Context) error {
	for _, b := range Bucketed {
		items, err := s.Store.RetentionItemsOf(ctx, string(b.Category))
		if err != nil {
			return err
		}
		var early []models.RetentionItem
		for _, it := range items {
			start, end, ok := BucketSpan(it)
			if !ok || it.Attempts > 0 || !it.DueAt.Equal(retention.Due(b.Category, end, "")) {
				continue
			}
			it.DueAt = retention.Due(b.Category, start, "")
			early = append(early, it)
		}
		if err := s.Store.ScheduleRetention(ctx, early); err != nil {
			return err
		}
	}
	return nil
}

// Enforced lists the categories whose deletions the engine carries out.
var Enforced = []retention.Category{
	retention.Uploads, retention.PostMetadata, retention.ServerLogs, retention.WebhookDeliveries, retention.StripeDeliveries,
	retention.SecurityLogs, retention.Sessions, retention.YouTubeDataDisconnected, retention.YouTubeDataRevoked,
	retention.ChannelData, retention.ClosedAccounts, retention.Marketing, retention.PrivacyExports,
	retention.IdempotencyRecords, retention.EmailChanges, retention.Registrations,
}

// Elsewhere says how the categories the engine does not run are kept to
// their period, for the staff view: each is enforced where its data lives,
// or has no data yet.
var Elsewhere = map[retention.Category]string{
	retention.OAuthFlowState:       "state and PKCE verifier live only in cookies with a 10-minute Max-Age; the server keeps none",
	retention.PlatformTokens:       "deleted at once when a channel is disconnected, revoked or needs reconnecting",
	retention.CloudConnections:     "no data yet: cloud storage connections are not built",
	retention.LibraryMedia:         "no data yet: the media library is not built",
	retention.BundleLedger:         "no data yet: billing is not built",
	retention.SubscriptionRecords:  "no data yet: billing is not built",
	retention.SupportCommunication: "no data yet: support messages are not stored by Loomcast",
}

// SweepPrefix marks a bucket item that covers every row older than its
// category's period (scheduled when a hold is released).
const SweepPrefix = "sweep:"

// Bucket describes a category whose rows are too many to schedule one by
// one. The rows whose clocks fall within the same Width share one item,
// due when the period of the bucket's start ends. Each run of the item
// deletes every row of Table whose own period has ended and moves the item
// to the end of the next row's period, until the bucket is empty: every
// row goes at its own due time, and a bucket wakes the engine at most once
// per row time, however many rows it holds.
type Bucket struct {
	Category retention.Category
	Table    string
	Width    time.Duration
}

// Bucketed lists the bucketed categories.
var Bucketed = []Bucket{
	{retention.ServerLogs, models.ExpireRequestLogs, time.Hour},
	{retention.WebhookDeliveries, models.ExpireWebhookEvents, time.Hour},
	{retention.StripeDeliveries, models.ExpireStripeEvents, time.Hour},
	{retention.SecurityLogs, models.ExpireSecurityEvents, 24 * time.Hour},
	{retention.Sessions, models.ExpireSessions, 5 * time.Minute},
	{retention.IdempotencyRecords, models.ExpireIdempotency, time.Hour},
	{retention.EmailChanges, models.ExpireEmailChanges, time.Hour},
	{retention.Registrations, models.ExpireRegistrations, time.Hour},
}

// BucketOf returns the bucket description of a category.
func BucketOf(c retention.Category) (Bucket, bool) {
	for _, b := range Bucketed {
		if b.Category == c {
			return b, true
		}
	}
	return Bucket{}, false
}

// Buckets schedules the bucket items of rows as they are written, once per
// bucket and process.
type Buckets struct {
	s    *Scheduler
	mu   sync.Mutex
	seen map[retention.Category]time.Time
}

// NewBuckets returns a Buckets scheduling through s.
func NewBuckets(s *Scheduler) *Buckets {
	return &Buckets{s: s, seen: map[retention.Category]time.Time{}}
}

// Note makes sure the bucket holding a row of category c whose clock is t
// has its item. The item is named after the bucket's end and starts its
// clock at the bucket's start: no row of the bucket is due sooner, and the
// first is due then.
func (b *Buckets) Note(ctx context.Context, c retention.Category, t time.Time) error {
	desc, ok := BucketOf(c)
	if !ok {
		return fmt.Errorf("retention: %s is not bucketed", c)
	}
	start := t.UTC().Truncate(desc.Width)
	end := start.Add(desc.Width)
	b.mu.Lock()
	known := b.seen[c].Equal(end)
	b.mu.Unlock()
	if known {
		return nil
	}
	if err := b.s.Schedule(ctx, Item{Category: c, ObjectID: end.Format(time.RFC3339), Start: start}); err != nil {
		return err
	}
	b.mu.Lock()
	if end.After(b.seen[c]) {
		b.seen[c] = end
	}
	b.mu.Unlock()
	return nil
}

// BucketSpan returns the clock times a bucket item covers, from start
// (included) to end (excluded); ok is false for a sweep, which covers
// every row and runs once.
func BucketSpan(it models.RetentionItem) (start, end time.Time, ok bool) {
	desc, bucketed := BucketOf(retention.Category(it.Category))
	end, err := time.Parse(time.RFC3339, it.ObjectID)
	if !bucketed || err != nil {
		return time.Time{}, time.Time{}, false
	}
	return end.Add(-desc.Width), end, true
}

// Cutoff returns the latest clock of a row of category c whose period has
// ended at now: rows at or before it are due. Months are counted back
// from now; a day that has no match months later (29 February, 12 months
// on) is past from the start of the next day, 1 March.
func Cutoff(c retention.Category, now time.Time) time.Time {
	return retention.Lookup(c).Period.Before(now)
}
