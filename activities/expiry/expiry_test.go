package expiry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/retention/scheduler"
	wf "github.com/loomcast/loomcast/workflows/expiry"
)

// fixture runs one category's expiry workflow on the time-skipping test
// environment, with the real activities over a real database.
type fixture struct {
	t       *testing.T
	ctx     context.Context
	store   *models.Store
	blob    *blob.Local
	env     *testsuite.TestWorkflowEnvironment
	sched   *scheduler.Scheduler
	buckets *scheduler.Buckets
	acts    *Activities
	execs   *recordedExecutions
	start   time.Time
	wakes   int
	running bool
}

// recordedExecutions stands in for Temporal's execution deletion (the
// server tests delete real executions).
type recordedExecutions struct {
	mu    sync.Mutex
	users []string
}

func (r *recordedExecutions) DeleteUserExecutions(_ context.Context, userID string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.users = append(r.users, userID)
	return 1, nil
}

// Wake signals the workflow under test once it runs; before, it will read
// the due times when it starts.
func (f *fixture) Wake(_ context.Context, _ retention.Category) error {
	f.wakes++
	if f.running {
		f.env.SignalWorkflow(wf.SignalWake, nil)
	}
	return nil
}

func newFixture(t *testing.T, store *models.Store) *fixture {
	return newFixtureAt(t, store, time.Time{})
}

// newFixtureAt starts the test's clock at start (now when zero).
func newFixtureAt(t *testing.T, store *models.Store, start time.Time) *fixture {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := suite.NewTestWorkflowEnvironment()
	env.SetTestTimeout(time.Minute)
	if !start.IsZero() {
		env.SetStartTime(start)
	}
	b, err := blob.NewLocal(t.TempDir())
	require.NoError(t, err)
	f := &fixture{t: t, ctx: context.Background(), store: store, blob: b, env: env, execs: &recordedExecutions{}, start: env.Now().UTC()}
	f.sched = &scheduler.Scheduler{Store: store, Waker: f, Now: env.Now}
	f.buckets = scheduler.NewBuckets(f.sched)
	f.acts = &Activities{Store: store, Blob: b, Executions: f.execs, Scheduler: f.sched}
	env.RegisterWorkflowWithOptions(wf.RetentionExpiry, workflow.RegisterOptions{Name: wf.WorkflowName})
	env.RegisterActivityWithOptions(f.acts.ArmRetention, activity.RegisterOptions{Name: wf.ArmActivity})
	env.RegisterActivityWithOptions(f.acts.ExpireDue, activity.RegisterOptions{Name: wf.ExpireActivity})
	return f
}

// at runs fn when the test's clock is d after the start.
func (f *fixture) at(d time.Duration, fn func()) { f.env.RegisterDelayedCallback(fn, d) }

// run runs the category's workflow until d after the start, then stops it.
func (f *fixture) run(c retention.Category, d time.Duration) {
	f.env.RegisterDelayedCallback(func() { f.env.CancelWorkflow() }, d)
	f.running = true
	f.env.ExecuteWorkflow(wf.RetentionExpiry, wf.Input{Category: c})
	err := f.env.GetWorkflowError()
	var canceled *temporal.CanceledError
	require.True(f.t, errors.As(err, &canceled), "the workflow runs until stopped: %v", err)
}

func (f *fixture) schedule(items ...scheduler.Item) {
	require.NoError(f.t, f.sched.Schedule(f.ctx, items...))
}

func (f *fixture) user(email string) models.User {
	u := &models.User{Email: email}
	require.NoError(f.t, f.store.CreateUser(f.ctx, u))
	return *u
}

func (f *fixture) channel(u models.User, platform, status string) models.Channel {
	ch := &models.Channel{UserID: u.ID, Platform: platform, ExternalID: "ext-" + models.NewID(), DisplayName: "Creator", AvatarURL: "https://example.com/a.png", Status: loomcast.ChannelActive}
	require.NoError(f.t, f.store.UpsertChannel(f.ctx, ch))
	if status != loomcast.ChannelActive {
		require.NoError(f.t, f.store.SetChannelStatus(f.ctx, ch.ID, status, "test"))
	}
	return *ch
}

func (f *fixture) post(u models.User, ch models.Channel) models.Post {
	p := &models.Post{UserID: u.ID, ChannelID: ch.ID, UploadID: models.NewID(), Platform: ch.Platform, Caption: "hello",
		Privacy: "PUBLIC_TO_EVERYONE", ScheduledAt: f.start, Status: loomcast.PostPublished}
	require.NoError(f.t, f.store.CreatePost(f.ctx, p))
	return *p
}

func (f *fixture) upload(u models.User) models.Upload {
	id := models.NewID()
	key := "uploads/" + u.ID + "/" + id
	_, err := f.blob.Put(f.ctx, key, strings.NewReader("video bytes"))
	require.NoError(f.t, err)
	up := &models.Upload{ID: id, UserID: u.ID, BlobKey: key, Size: 11, ContentType: "video/mp4", CreatedAt: f.start, ExpiresAt: f.start.Add(24 * time.Hour)}
	require.NoError(f.t, f.store.CreateUpload(f.ctx, up))
	return *up
}

func (f *fixture) fileExists(key string) bool {
	r, err := f.blob.Open(f.ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		return false
	}
	require.NoError(f.t, err)
	_ = r.Close()
	return true
}

func (f *fixture) postExists(id string) bool {
	_, err := f.store.PostByID(f.ctx, id)
	if errors.Is(err, models.ErrNotFound) {
		return false
	}
	require.NoError(f.t, err)
	return true
}

func (f *fixture) channelOf(id string) (models.Channel, bool) {
	ch, err := f.store.ChannelByID(f.ctx, id)
	if errors.Is(err, models.ErrNotFound) {
		return ch, false
	}
	require.NoError(f.t, err)
	return ch, true
}

func (f *fixture) userExists(id string) bool {
	_, err := f.store.UserByID(f.ctx, id)
	if errors.Is(err, models.ErrNotFound) {
		return false
	}
	require.NoError(f.t, err)
	return true
}

func (f *fixture) count(model any, where string, args ...any) int64 {
	var n int64
	require.NoError(f.t, f.store.DB().Model(model).Where(where, args...).Count(&n).Error)
	return n
}

// period is a category's period from the start, as a duration on the
// test's clock.
func (f *fixture) period(c retention.Category) time.Duration {
	return retention.Due(c, f.start, "").Sub(f.start)
}

// checkKeptThenDeleted checks gone() a minute before and a minute after d.
func (f *fixture) checkKeptThenDeleted(d time.Duration, gone func() bool) {
	var before, after bool
	f.at(d-time.Minute, func() { before = gone() })
	f.at(d+time.Minute, func() { after = gone() })
	f.t.Cleanup(func() {
		if !f.t.Failed() {
			require.False(f.t, before, "kept until its period ends")
			require.True(f.t, after, "deleted when its period ends")
		}
	})
}

// TestEveryCategoryIsDeletedWhenItsPeriodEnds follows one item of each
// enforced category to the end of its period.
func TestEveryCategoryIsDeletedWhenItsPeriodEnds(t *testing.T) {
	cases := map[retention.Category]func(f *fixture) func() bool{
		retention.Uploads: func(f *fixture) func() bool {
			up := f.upload(f.user("u@example.com"))
			f.schedule(scheduler.Item{Category: retention.Uploads, ObjectID: up.ID, UserID: up.UserID, Start: f.start})
			return func() bool {
				got, err := f.store.UploadByID(f.ctx, up.ID)
				require.NoError(f.t, err)
				return !f.fileExists(up.BlobKey) && got.DeletedAt != nil
			}
		},
		retention.PostMetadata: func(f *fixture) func() bool {
			u := f.user("p@example.com")
			p := f.post(u, f.channel(u, loomcast.TikTok, loomcast.ChannelActive))
			f.schedule(scheduler.Item{Category: retention.PostMetadata, ObjectID: p.ID, UserID: u.ID, Start: f.start})
			return func() bool { return !f.postExists(p.ID) && f.count(&models.PostEvent{}, "post_id = ?", p.ID) == 0 }
		},
		retention.ServerLogs: func(f *fixture) func() bool {
			require.NoError(f.t, f.store.InsertRequestLogs(f.ctx, []models.RequestLog{{At: f.start, Method: "GET", Path: "/v1/me", Status: 200, UserID: "u1", IP: "192.0.2.1"}}))
			require.NoError(f.t, f.buckets.Note(f.ctx, retention.ServerLogs, f.start))
			return func() bool { return f.count(&models.RequestLog{}, "1 = 1") == 0 }
		},
		retention.WebhookDeliveries: func(f *fixture) func() bool {
			e := &models.WebhookEvent{Source: models.SourceTikTok, EventKey: "k1", EventType: "post.publish.complete", Account: "open-1", Payload: "{}", ReceivedAt: f.start}
			_, err := f.store.InsertWebhookEvent(f.ctx, e)
			require.NoError(f.t, err)
			require.NoError(f.t, f.store.SetWebhookOutcome(f.ctx, e.ID, models.WebhookApplied, "", f.start))
			require.NoError(f.t, f.buckets.Note(f.ctx, retention.WebhookDeliveries, f.start))
			return func() bool { return f.count(&models.WebhookEvent{}, "1 = 1") == 0 }
		},
		retention.SecurityLogs: func(f *fixture) func() bool {
			require.NoError(f.t, f.store.InsertSecurityEvent(f.ctx, &models.SecurityEvent{At: f.start, Kind: "login", UserID: "u1", IP: "192.0.2.1"}))
			require.NoError(f.t, f.buckets.Note(f.ctx, retention.SecurityLogs, f.start))
			return func() bool { return f.count(&models.SecurityEvent{}, "1 = 1") == 0 }
		},
		retention.Sessions: func(f *fixture) func() bool {
			u := f.user("s@example.com")
			require.NoError(f.t, f.store.CreateSession(f.ctx, models.Session{ID: models.NewID(), UserID: u.ID, CreatedAt: f.start, LastSeenAt: f.start, ExpiresAt: f.start.Add(30 * time.Minute)}))
			require.NoError(f.t, f.buckets.Note(f.ctx, retention.Sessions, f.start))
			return func() bool { return f.count(&models.Session{}, "user_id = ?", u.ID) == 0 }
		},
		retention.IdempotencyRecords: func(f *fixture) func() bool {
			r := &models.IdempotencyRecord{Scope: "u1", Endpoint: "POST /v1/tokens", Key: "k1", RequestHash: "h", UserID: "u1", CreatedAt: f.start}
			_, _, err := f.store.ReserveIdempotencyKey(f.ctx, r, f.start.Add(-time.Hour), f.start.Add(-time.Hour))
			require.NoError(f.t, err)
			require.NoError(f.t, f.buckets.Note(f.ctx, retention.IdempotencyRecords, f.start))
			return func() bool { return f.count(&models.IdempotencyRecord{}, "1 = 1") == 0 }
		},
		retention.EmailChanges: func(f *fixture) func() bool {
			u := f.user("moving@example.com")
			require.NoError(f.t, f.store.PutEmailChange(f.ctx, models.EmailChange{UserID: u.ID, NewEmail: "moved@example.com", CreatedAt: f.start}))
			require.NoError(f.t, f.buckets.Note(f.ctx, retention.EmailChanges, f.start))
			return func() bool { return f.count(&models.EmailChange{}, "user_id = ?", u.ID) == 0 }
		},
		retention.Registrations: func(f *fixture) func() bool {
			r := &models.Registration{Email: "signing-up@example.com", PasswordHash: "h", CreatedAt: f.start}
			require.NoError(f.t, f.store.CreateRegistration(f.ctx, r))
			require.NoError(f.t, f.buckets.Note(f.ctx, retention.Registrations, f.start))
			return func() bool { return f.count(&models.Registration{}, "id = ?", r.ID) == 0 }
		},
		retention.YouTubeDataDisconnected: func(f *fixture) func() bool {
			u := f.user("yt@example.com")
			ch := f.channel(u, loomcast.YouTube, loomcast.ChannelDisconnected)
			p := f.post(u, ch)
			f.schedule(scheduler.Item{Category: retention.YouTubeDataDisconnected, ObjectID: ch.ID, UserID: u.ID, Start: f.start})
			return func() bool { _, ok := f.channelOf(ch.ID); return !ok && !f.postExists(p.ID) }
		},
		retention.YouTubeDataRevoked: func(f *fixture) func() bool {
			u := f.user("ytr@example.com")
			ch := f.channel(u, loomcast.YouTube, loomcast.ChannelReauthRequired)
			f.schedule(scheduler.Item{Category: retention.YouTubeDataRevoked, ObjectID: ch.ID, UserID: u.ID, Start: f.start})
			return func() bool { _, ok := f.channelOf(ch.ID); return !ok }
		},
		retention.Marketing: func(f *fixture) func() bool {
			u := f.user("m@example.com")
			require.NoError(f.t, f.store.RecordConsent(f.ctx, models.Consent{UserID: u.ID, Purpose: models.PurposeMarketingEmails, Granted: true, At: f.start, Source: "test"}))
			f.schedule(scheduler.Item{Category: retention.Marketing, ObjectID: u.ID, UserID: u.ID, Start: f.start})
			return func() bool {
				got, err := f.store.UserByID(f.ctx, u.ID)
				require.NoError(f.t, err)
				return !got.MarketingEmails && got.MarketingUpdatedAt == nil && f.count(&models.Consent{}, "user_id = ?", u.ID) == 0
			}
		},
	}
	for c, setup := range cases {
		t.Run(string(c), func(t *testing.T) {
			modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
				f := newFixture(t, store)
				gone := setup(f)
				d := f.period(c)
				f.checkKeptThenDeleted(d, gone)
				f.run(c, d+time.Hour)
			})
		})
	}
}

// A TikTok channel's profile goes when it is disconnected; its row stays
// for its posts, whose metadata keeps its own 90 days. A channel
// reconnected before its clock ends is kept.
func TestDisconnectedChannels(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		f := newFixture(t, store)
		u := f.user("tt@example.com")
		gone := f.channel(u, loomcast.TikTok, loomcast.ChannelDisconnected)
		p := f.post(u, gone)
		back := f.channel(u, loomcast.YouTube, loomcast.ChannelDisconnected)
		f.schedule(
			scheduler.Item{Category: retention.ChannelData, ObjectID: gone.ID, UserID: u.ID, Start: f.start},
			scheduler.Item{Category: retention.ChannelData, ObjectID: back.ID, UserID: u.ID, Start: f.start.Add(time.Hour)},
		)
		f.at(30*time.Minute, func() {
			ch := back
			ch.Status = loomcast.ChannelActive
			require.NoError(t, store.UpsertChannel(f.ctx, &ch), "reconnected")
		})
		f.run(retention.ChannelData, 2*time.Hour)

		ch, ok := f.channelOf(gone.ID)
		require.True(t, ok)
		require.Empty(t, ch.DisplayName)
		require.Empty(t, ch.AvatarURL)
		require.Equal(t, "erased:"+gone.ID, ch.ExternalID)
		require.Nil(t, ch.AccessTokenSealed)
		require.True(t, f.postExists(p.ID), "post metadata keeps its own period")
		kept, ok := f.channelOf(back.ID)
		require.True(t, ok)
		require.Equal(t, "Creator", kept.DisplayName, "a reconnected channel is kept")
	})
}

// A closed account can still be exported on day 29; on day 31 it is gone
// with its files, sessions, logs, posts and workflow executions.
func TestClosedAccountPurgedAfterGrace(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		f := newFixture(t, store)
		u := f.user("closing@example.com")
		other := f.user("stays@example.com")
		ch := f.channel(u, loomcast.TikTok, loomcast.ChannelActive)
		p := f.post(u, ch)
		up := f.upload(u)
		otherUp := f.upload(other)
		require.NoError(t, store.InsertSecurityEvent(f.ctx, &models.SecurityEvent{At: f.start, Kind: "login", UserID: u.ID}))
		require.NoError(t, store.InsertRequestLogs(f.ctx, []models.RequestLog{{At: f.start, Method: "GET", Path: "/v1/me", Status: 200, UserID: u.ID}}))
		_, err := store.CloseUser(f.ctx, u.ID, f.start)
		require.NoError(t, err)
		f.schedule(scheduler.Item{Category: retention.ClosedAccounts, ObjectID: u.ID, UserID: u.ID, Start: f.start})

		var day29 bool
		f.at(29*24*time.Hour, func() {
			day29 = f.userExists(u.ID) && f.postExists(p.ID) && f.fileExists(up.BlobKey)
		})
		f.run(retention.ClosedAccounts, 31*24*time.Hour)

		require.True(t, day29, "everything can still be exported on day 29")
		require.False(t, f.userExists(u.ID))
		require.False(t, f.postExists(p.ID))
		_, ok := f.channelOf(ch.ID)
		require.False(t, ok)
		require.False(t, f.fileExists(up.BlobKey))
		require.Zero(t, f.count(&models.SecurityEvent{}, "user_id = ?", u.ID))
		require.Zero(t, f.count(&models.RequestLog{}, "user_id = ?", u.ID))
		require.Zero(t, f.count(&models.RetentionItem{}, "user_id = ?", u.ID))
		require.Equal(t, []string{u.ID}, f.execs.users, "the account's workflow executions are deleted")
		require.True(t, f.userExists(other.ID), "another account is untouched")
		require.True(t, f.fileExists(otherUp.BlobKey))
	})
}

// A new item due sooner than the workflow's timer wakes it.
func TestSoonerItemWakesTheWorkflow(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		f := newFixture(t, store)
		u := f.user("w@example.com")
		late, soon := f.upload(u), f.upload(u)
		f.schedule(scheduler.Item{Category: retention.Uploads, ObjectID: late.ID, UserID: u.ID, Start: f.start})
		// At one hour, an upload due at two hours (its clock started 22
		// hours before): sooner than the 24 hours the workflow sleeps for.
		f.at(time.Hour, func() {
			f.schedule(scheduler.Item{Category: retention.Uploads, ObjectID: soon.ID, UserID: u.ID, Start: f.start.Add(2*time.Hour - 24*time.Hour)})
		})
		var soonGone, lateKept bool
		f.at(2*time.Hour+time.Minute, func() { soonGone, lateKept = !f.fileExists(soon.BlobKey), f.fileExists(late.BlobKey) })
		wakesBefore := 0
		f.at(time.Hour-time.Minute, func() { wakesBefore = f.wakes })
		f.run(retention.Uploads, 3*time.Hour)
		require.True(t, soonGone, "the sooner item is deleted on time")
		require.True(t, lateKept)
		require.Equal(t, wakesBefore+1, f.wakes, "one wake for the sooner item")
	})
}

// A held user's data outlives its due time; releasing the hold deletes it
// at once. A hold on one record holds that record only.
func TestLegalHoldAndRelease(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		f := newFixture(t, store)
		held, free := f.user("held@example.com"), f.user("free@example.com")
		heldUp, freeUp, recordUp := f.upload(held), f.upload(free), f.upload(free)
		for _, up := range []models.Upload{heldUp, freeUp, recordUp} {
			f.schedule(scheduler.Item{Category: retention.Uploads, ObjectID: up.ID, UserID: up.UserID, Start: f.start})
		}
		userHold := &models.LegalHold{UserID: held.ID, Reason: "litigation 2026-17", PlacedBy: "staff-1"}
		require.NoError(t, store.PlaceHold(f.ctx, userHold))
		recordHold := &models.LegalHold{Category: string(retention.Uploads), ObjectID: recordUp.ID, Reason: "evidence", PlacedBy: "staff-1"}
		require.NoError(t, store.PlaceHold(f.ctx, recordHold))

		var atDue struct{ held, record, free bool }
		f.at(25*time.Hour, func() {
			atDue.held, atDue.record, atDue.free = f.fileExists(heldUp.BlobKey), f.fileExists(recordUp.BlobKey), f.fileExists(freeUp.BlobKey)
		})
		f.at(48*time.Hour, func() {
			h, err := store.ReleaseHold(f.ctx, userHold.ID, "staff-2")
			require.NoError(t, err)
			require.NoError(t, f.sched.Reevaluate(f.ctx, h))
		})
		var afterRelease struct{ held, record bool }
		f.at(48*time.Hour+time.Minute, func() {
			afterRelease.held, afterRelease.record = f.fileExists(heldUp.BlobKey), f.fileExists(recordUp.BlobKey)
		})
		f.run(retention.Uploads, 72*time.Hour)

		require.True(t, atDue.held, "a held user's upload outlives its due time")
		require.True(t, atDue.record, "a held record outlives its due time")
		require.False(t, atDue.free, "the rest is deleted on time")
		require.False(t, afterRelease.held, "releasing the hold deletes the overdue data at once")
		require.True(t, afterRelease.record, "the record hold still holds")
	})
}

// A held user's log lines survive their bucket; the release sweeps them.
func TestLegalHoldOnBucketedLogs(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		f := newFixture(t, store)
		held := f.user("held@example.com")
		require.NoError(t, store.InsertRequestLogs(f.ctx, []models.RequestLog{
			{At: f.start, Method: "GET", Path: "/v1/me", Status: 200, UserID: held.ID},
			{At: f.start, Method: "GET", Path: "/v1/me", Status: 200, UserID: "someone-else"},
		}))
		require.NoError(t, f.buckets.Note(f.ctx, retention.ServerLogs, f.start))
		hold := &models.LegalHold{UserID: held.ID, Reason: "regulator inquiry", PlacedBy: "staff-1"}
		require.NoError(t, store.PlaceHold(f.ctx, hold))
		var afterDue int64
		f.at(32*24*time.Hour, func() { afterDue = f.count(&models.RequestLog{}, "1 = 1") })
		f.at(33*24*time.Hour, func() {
			h, err := store.ReleaseHold(f.ctx, hold.ID, "staff-2")
			require.NoError(t, err)
			require.NoError(t, f.sched.Reevaluate(f.ctx, h))
		})
		var afterRelease int64 = -1
		f.at(33*24*time.Hour+time.Minute, func() { afterRelease = f.count(&models.RequestLog{}, "1 = 1") })
		f.run(retention.ServerLogs, 34*24*time.Hour)
		require.Equal(t, int64(1), afterDue, "only the held user's line outlives the bucket")
		require.Zero(t, afterRelease, "the release sweeps it")
	})
}

// A crash between two batches repeats nothing and misses nothing: each
// item's data is deleted once and counted once.
func TestCrashBetweenBatches(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		f := newFixture(t, store)
		const n = 2500 // three batches of at most 1000
		u := f.user("many@example.com")
		ch := f.channel(u, loomcast.TikTok, loomcast.ChannelActive)
		var items []scheduler.Item
		for i := range n {
			p := &models.Post{ID: fmt.Sprintf("post-%05d", i), UserID: u.ID, ChannelID: ch.ID, UploadID: "up", Platform: loomcast.TikTok,
				Privacy: "SELF_ONLY", ScheduledAt: f.start, Status: loomcast.PostPublished, CreatedAt: f.start, UpdatedAt: f.start}
			require.NoError(t, store.DB().Create(p).Error)
			items = append(items, scheduler.Item{Category: retention.PostMetadata, ObjectID: p.ID, UserID: u.ID, Start: f.start})
		}
		f.schedule(items...)

		var mu sync.Mutex
		handled := map[string]int{}
		real := handlers[retention.PostMetadata]
		handlers[retention.PostMetadata] = func(ctx context.Context, a *Activities, its []models.RetentionItem, now time.Time) outcome {
			mu.Lock()
			for _, it := range its {
				handled[it.ObjectID]++
			}
			mu.Unlock()
			return real(ctx, a, its, now)
		}
		t.Cleanup(func() { handlers[retention.PostMetadata] = real })
		crashed := false
		f.acts.afterBatch = func(batch int) error {
			if batch == 1 && !crashed {
				crashed = true
				return errors.New("worker killed between batches")
			}
			return nil
		}
		f.run(retention.PostMetadata, f.period(retention.PostMetadata)+time.Hour)

		require.True(t, crashed)
		require.Len(t, handled, n, "no item missed")
		for id, times := range handled {
			require.Equal(t, 1, times, "item %s handled once", id)
		}
		require.Zero(t, f.count(&models.Post{}, "1 = 1"))
		batches, err := store.RetentionBatches(f.ctx, string(retention.PostMetadata), f.start)
		require.NoError(t, err)
		total := 0
		for _, b := range batches {
			total += b.Deleted
		}
		require.Equal(t, n, total, "each deletion counted once")
		require.GreaterOrEqual(t, len(batches), 3, "bounded batches")
	})
}

// An item whose deletion fails is retried later and counted as a failure;
// the others are not held up.
func TestFailedItemIsRetried(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		f := newFixture(t, store)
		u := f.user("f@example.com")
		bad, good := f.upload(u), f.upload(u)
		f.schedule(scheduler.Item{Category: retention.Uploads, ObjectID: bad.ID, UserID: u.ID, Start: f.start},
			scheduler.Item{Category: retention.Uploads, ObjectID: good.ID, UserID: u.ID, Start: f.start})
		real := handlers[retention.Uploads]
		failures := 0
		handlers[retention.Uploads] = func(ctx context.Context, a *Activities, its []models.RetentionItem, now time.Time) outcome {
			out := real(ctx, a, slices.DeleteFunc(slices.Clone(its), func(it models.RetentionItem) bool { return it.ObjectID == bad.ID && failures < 2 }), now)
			for _, it := range its {
				if it.ObjectID == bad.ID && failures < 2 {
					failures++
					out.failed[it.ObjectID] = errors.New("object storage unavailable")
				}
			}
			return out
		}
		t.Cleanup(func() { handlers[retention.Uploads] = real })
		var failing int64
		f.at(24*time.Hour+30*time.Second, func() {
			st, err := store.RetentionStatuses(f.ctx, f.start)
			require.NoError(t, err)
			failing = st[string(retention.Uploads)].Failing
		})
		f.run(retention.Uploads, 26*time.Hour)
		require.Equal(t, int64(1), failing, "staff see the failing item")
		require.False(t, f.fileExists(good.BlobKey))
		require.False(t, f.fileExists(bad.BlobKey), "deleted on a later attempt")
		st, err := store.RetentionStatuses(f.ctx, f.start)
		require.NoError(t, err)
		require.Equal(t, int64(2), st[string(retention.Uploads)].FailedSince)
		require.Equal(t, int64(2), st[string(retention.Uploads)].DeletedSince)
		require.Zero(t, st[string(retention.Uploads)].Pending)
	})
}

// Every enforced category has a handler, and the other way round.
func TestEveryEnforcedCategoryHasAHandler(t *testing.T) {
	got := Handlers()
	slices.Sort(got)
	want := slices.Clone(scheduler.Enforced)
	slices.Sort(want)
	require.Equal(t, want, got)
}

// An access archive is deleted when its 7-day link expires.
func TestExportArchiveDeletedAfterSevenDays(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		f := newFixture(t, store)
		u := f.user("reader@example.com")
		r := &models.PrivacyRequest{UserID: u.ID, Email: u.Email, Type: "access", FiledAs: "access", Regime: "gdpr", Source: "account",
			Status: loomcast.PrivacyClosed, ReceivedAt: f.start, ExportKey: "exports/r1.zip"}
		_, err := store.CreatePrivacyRequest(f.ctx, r)
		require.NoError(t, err)
		_, err = f.blob.Put(f.ctx, r.ExportKey, strings.NewReader("zip"))
		require.NoError(t, err)
		f.schedule(scheduler.Item{Category: retention.PrivacyExports, ObjectID: r.ID, UserID: u.ID, Start: f.start})
		f.checkKeptThenDeleted(f.period(retention.PrivacyExports), func() bool {
			got, err := store.PrivacyRequestByID(f.ctx, r.ID)
			require.NoError(t, err)
			return !f.fileExists("exports/r1.zip") && got.ExportKey == ""
		})
		f.run(retention.PrivacyExports, f.period(retention.PrivacyExports)+time.Hour)
	})
}
