// Package expiry holds the activities of the retention engine: arming a
// category's timer and deleting its due items in bounded batches, with one
// handler per category saying what "delete" means for its data. Every
// handler is idempotent: an item whose data is already gone succeeds, so a
// batch repeated after a crash repeats nothing harmful.
package expiry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/privacy/export"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/retention/scheduler"
	wf "github.com/loomcast/loomcast/workflows/expiry"
)

// Executions deletes the Temporal executions that carry a user's data.
type Executions interface {
	DeleteUserExecutions(ctx context.Context, userID string) (int, error)
}

// Activities are the retention activities with their dependencies.
type Activities struct {
	Store      *models.Store
	Blob       blob.Store
	Executions Executions
	Scheduler  *scheduler.Scheduler
	// afterBatch, when set, runs after each committed batch (tests use it
	// to crash between batches).
	afterBatch func(batch int) error
}

// ArmRetention returns the category's next due time and records it as the
// workflow's wake time.
func (a *Activities) ArmRetention(ctx context.Context, in wf.ArmInput) (wf.ArmResult, error) {
	due, err := a.Store.ArmRetention(ctx, string(in.Category))
	if err != nil {
		return wf.ArmResult{}, err
	}
	return wf.ArmResult{Due: due}, nil
}

// ScheduleRetention starts the retention clocks a workflow asks for.
// Scheduling is idempotent: the same object keeps one item.
func (a *Activities) ScheduleRetention(ctx context.Context, in wf.ScheduleInput) error {
	items := make([]scheduler.Item, len(in.Clocks))
	for i, c := range in.Clocks {
		items[i] = scheduler.Item(c)
	}
	return a.Scheduler.Schedule(ctx, items...)
}

// minStep is the least time after a batch at which an item it moved is due
// again. It bounds how late a bucketed row can go (the next row of a busy
// bucket goes at most this long after its due time, plus the engine's own
// lateness) and how often a bucket wakes the engine (once per step).
const minStep = time.Second

// retryAfter is how long a failed item waits before its next attempt.
func retryAfter(attempts int) time.Duration {
	d := time.Minute << min(attempts, 6)
	return min(d, time.Hour)
}

// ExpireDue deletes the category's due items in batches until none is due
// or the budget is spent. Each batch is committed with the removal of its
// items, so a crash repeats at most the batch in flight, whose handlers are
// idempotent.
func (a *Activities) ExpireDue(ctx context.Context, in wf.ExpireInput) (wf.ExpireResult, error) {
	handle, ok := handlers[in.Category]
	if !ok {
		return wf.ExpireResult{}, fmt.Errorf("retention: no handler for %s", in.Category)
	}
	started := time.Now()
	now := func() time.Time {
		// The workflow's time, advanced by our running time, or the
		// clock, whichever is later (time-skipping tests run ahead).
		return maxTime(in.Now.Add(time.Since(started)), time.Now()).UTC()
	}
	var res wf.ExpireResult
	for {
		at := now()
		items, err := a.Store.DueRetentionItems(ctx, string(in.Category), at, in.BatchSize)
		if err != nil {
			return res, err
		}
		if len(items) == 0 {
			break
		}
		out := handle(ctx, a, items, at)
		var (
			done   []models.RetentionItem
			moved  []models.RetentionMove
			failed []models.RetentionFailure
		)
		for _, it := range items {
			if err, bad := out.failed[it.ObjectID]; bad {
				failed = append(failed, models.RetentionFailure{ObjectID: it.ObjectID, Error: err.Error(), RetryAt: at.Add(retryAfter(it.Attempts))})
				continue
			}
			if due, more := out.later[it.ObjectID]; more {
				moved = append(moved, models.RetentionMove{Item: it, DueAt: due})
				continue
			}
			done = append(done, it)
		}
		finished := now()
		for i := range moved {
			// An item never comes back sooner than a step after this
			// batch, so that one whose rest is due at once cannot spin.
			moved[i].DueAt = maxTime(moved[i].DueAt, finished.Add(minStep))
		}
		if err := a.Store.CompleteRetentionBatch(ctx, string(in.Category), finished, done, moved, failed); err != nil {
			return res, err
		}
		res.Deleted += len(done)
		res.Failed += len(failed)
		res.Batches++
		activity.RecordHeartbeat(ctx, res.Deleted)
		if a.afterBatch != nil {
			if err := a.afterBatch(res.Batches); err != nil {
				return res, err
			}
		}
		if time.Since(started) >= in.Budget {
			res.More = true
			break
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
	}
	if err := a.Store.PruneRetentionBatches(ctx, string(in.Category), now().Add(-7*24*time.Hour)); err != nil {
		return res, err
	}
	return res, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// outcome is what a handler did with a batch of items: those it could not
// delete, with why, and those it deleted part of (a bucket whose later
// rows are not due yet), with when the rest is due. Every other item's
// data is gone.
type outcome struct {
	failed map[string]error
	later  map[string]time.Time
}

// handler deletes the data of due items.
type handler func(ctx context.Context, a *Activities, items []models.RetentionItem, now time.Time) outcome

var handlers = map[retention.Category]handler{
	retention.Uploads:                 each(deleteUpload),
	retention.PostMetadata:            postMetadata,
	retention.YouTubeDataDisconnected: each(deleteChannel),
	retention.YouTubeDataRevoked:      each(deleteChannel),
	retention.ChannelData:             each(eraseChannelProfile),
	retention.ClosedAccounts:          each(purgeAccount),
	retention.Marketing:               each(endMarketing),
	retention.PrivacyExports:          each(deleteExport),
	retention.ServerLogs:              bucket,
	retention.WebhookDeliveries:       bucket,
	retention.StripeDeliveries:        bucket,
	retention.SecurityLogs:            bucket,
	retention.Sessions:                bucket,
	retention.IdempotencyRecords:      bucket,
	retention.EmailChanges:            bucket,
	retention.Registrations:           bucket,
}

// Handlers lists the categories the activities can delete, for a test
// that holds them to the scheduler's list.
func Handlers() []retention.Category {
	out := make([]retention.Category, 0, len(handlers))
	for c := range handlers {
		out = append(out, c)
	}
	return out
}

func each(fn func(ctx context.Context, a *Activities, it models.RetentionItem, now time.Time) error) handler {
	return func(ctx context.Context, a *Activities, items []models.RetentionItem, now time.Time) outcome {
		out := outcome{failed: map[string]error{}}
		for _, it := range items {
			if err := fn(ctx, a, it, now); err != nil {
				out.failed[it.ObjectID] = err
			}
		}
		return out
	}
}

func deleteUpload(ctx context.Context, a *Activities, it models.RetentionItem, now time.Time) error {
	up, err := a.Store.UploadByID(ctx, it.ObjectID)
	if errors.Is(err, models.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := a.Blob.Delete(ctx, up.BlobKey); err != nil {
		return fmt.Errorf("delete upload file: %w", err)
	}
	return a.Store.MarkUploadDeleted(ctx, up.ID, now)
}

func deletePostMetadata(ctx context.Context, a *Activities, it models.RetentionItem, _ time.Time) error {
	return a.Store.DeletePostMetadata(ctx, it.ObjectID)
}

// postMetadata deletes a batch's posts in one statement per 500; should
// that fail, one at a time, so that one bad item does not hold back the
// rest.
func postMetadata(ctx context.Context, a *Activities, items []models.RetentionItem, now time.Time) outcome {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ObjectID
	}
	if err := a.Store.DeletePostsMetadata(ctx, ids); err == nil {
		return outcome{}
	}
	return each(deletePostMetadata)(ctx, a, items, now)
}

// deleteChannel deletes a YouTube channel and all that came from YouTube
// with it: its profile, tokens, and the posts (video IDs) made to it.
func deleteChannel(ctx context.Context, a *Activities, it models.RetentionItem, _ time.Time) error {
	return a.Store.DeleteChannel(ctx, it.ObjectID)
}

// eraseChannelProfile removes what a disconnected channel still holds of
// the platform account (its name, picture and ID), keeping the row that
// the channel's posts point to until their own period ends.
func eraseChannelProfile(ctx context.Context, a *Activities, it models.RetentionItem, _ time.Time) error {
	return a.Store.EraseChannelProfile(ctx, it.ObjectID)
}

// purgeAccount deletes a closed account at the end of its grace period:
// every row, its files, and the Temporal executions that carry its data.
// An account reopened meanwhile is left alone.
func purgeAccount(ctx context.Context, a *Activities, it models.RetentionItem, _ time.Time) error {
	u, err := a.Store.UserByID(ctx, it.ObjectID)
	if errors.Is(err, models.ErrNotFound) {
		return a.deleteExecutions(ctx, it.ObjectID)
	}
	if err != nil {
		return err
	}
	if u.ClosedAt == nil {
		return nil
	}
	keys, err := a.Blob.List(ctx, "uploads/"+u.ID+"/")
	if err != nil {
		return fmt.Errorf("list files of %s: %w", u.ID, err)
	}
	for _, k := range keys {
		if err := a.Blob.Delete(ctx, k); err != nil {
			return fmt.Errorf("delete files of %s: %w", u.ID, err)
		}
	}
	if err := export.DeleteArchives(ctx, a.Store, a.Blob, u.ID); err != nil {
		return err
	}
	if err := a.Store.PurgeUser(ctx, u.ID); err != nil {
		return err
	}
	return a.deleteExecutions(ctx, u.ID)
}

func (a *Activities) deleteExecutions(ctx context.Context, userID string) error {
	if _, err := a.Executions.DeleteUserExecutions(ctx, userID); err != nil {
		return fmt.Errorf("delete workflow executions of %s: %w", userID, err)
	}
	return nil
}

// marketingPurposes are the purposes whose consent records are marketing
// data. Policy 004 section 4 counts "your communication preferences (e.g.
// whether you have opted in to product updates)" as marketing data, and
// section 10 keeps marketing data until consent is withdrawn or 24 months
// of inactivity: so the product-update records go with the marketing-email
// ones. Analytics, sale or sharing and sensitive data are other purposes
// and keep their records.
var marketingPurposes = []string{models.PurposeMarketingEmails, models.PurposeProductUpdates}

// endMarketing ends marketing to a user inactive for 24 months: the consent
// goes, and with it every consent record of a marketing purpose.
func endMarketing(ctx context.Context, a *Activities, it models.RetentionItem, now time.Time) error {
	return a.Store.EndMarketing(ctx, it.ObjectID, now, marketingPurposes)
}

// deleteExport deletes the archive made for an access or portability
// request once its 7-day link has expired.
func deleteExport(ctx context.Context, a *Activities, it models.RetentionItem, _ time.Time) error {
	r, err := a.Store.PrivacyRequestByID(ctx, it.ObjectID)
	if errors.Is(err, models.ErrNotFound) || (err == nil && r.ExportKey == "") {
		return nil
	}
	if err != nil {
		return err
	}
	if err := a.Blob.Delete(ctx, r.ExportKey); err != nil {
		return fmt.Errorf("delete export: %w", err)
	}
	return a.Store.UpdatePrivacyRequest(ctx, r.ID, models.PrivacyFields{ExportKey: models.Ptr("")})
}

// bucket deletes every row of the category's table whose own period has
// ended, except those of users under a legal hold, and moves each bucket
// item to when its bucket's next row is due; a bucket with no row left to
// wait for, or a sweep, is done. A held row already due is not waited for:
// releasing its hold sweeps it.
func bucket(ctx context.Context, a *Activities, items []models.RetentionItem, now time.Time) outcome {
	out := outcome{failed: map[string]error{}, later: map[string]time.Time{}}
	failAll := func(err error) outcome {
		for _, it := range items {
			out.failed[it.ObjectID] = err
		}
		return out
	}
	if len(items) == 0 {
		return out
	}
	c := retention.Category(items[0].Category)
	desc, _ := scheduler.BucketOf(c)
	held, err := a.Store.HeldUsers(ctx)
	if err != nil {
		return failAll(err)
	}
	// One cutoff for the whole batch: every row due at now goes, whichever
	// bucket it is in, so one statement serves every item.
	cutoff := scheduler.Cutoff(c, now)
	if _, err := a.Store.DeleteRowsDue(ctx, desc.Table, cutoff, held); err != nil {
		return failAll(err)
	}
	for _, it := range items {
		_, end, ok := scheduler.BucketSpan(it)
		if !ok {
			continue
		}
		next, err := a.Store.NextRowDue(ctx, desc.Table, cutoff, end)
		if err != nil {
			out.failed[it.ObjectID] = err
			continue
		}
		if next != nil {
			out.later[it.ObjectID] = retention.Due(c, *next, "")
		}
	}
	return out
}
