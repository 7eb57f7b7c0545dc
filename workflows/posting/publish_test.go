package posting_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/workflows/expiry"
	"github.com/loomcast/loomcast/workflows/posting"
	"github.com/loomcast/loomcast/workflows/webhooks"
)

// recorder stands in for the read model: it keeps what the workflow wrote.
type recorder struct {
	mu       sync.Mutex
	statuses []string
	details  []string
	fields   map[string]any
	deleted  []string
}

func (r *recorder) apply(_ context.Context, in posting.ApplyChangeInput) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if in.Status != "" {
		r.statuses = append(r.statuses, in.Status)
	}
	if in.Detail != "" {
		r.details = append(r.details, in.Detail)
	}
	// The typed fields, by column name, as their JSON says.
	b, err := json.Marshal(in.Fields)
	if err != nil {
		return err
	}
	var cols map[string]any
	if err := json.Unmarshal(b, &cols); err != nil {
		return err
	}
	for k, v := range cols {
		r.fields[k] = v
	}
	return nil
}

func (r *recorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.statuses) == 0 {
		return loomcast.PostScheduled
	}
	return r.statuses[len(r.statuses)-1]
}

// newSuite returns a test suite that keeps the SDK's logs out of the output.
func newSuite() *testsuite.WorkflowTestSuite {
	s := &testsuite.WorkflowTestSuite{}
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	return s
}

type harness struct {
	env     *testsuite.TestWorkflowEnvironment
	rec     *recorder
	start   time.Time
	inits   int
	uploads int
	// photoInits counts photo-post inits.
	photoInits int
	// polls counts status fetches; status, when set, answers them.
	polls  int
	status func() posting.TikTokStatus
	clocks []expiry.Clock
	// noPublicID makes TikTok settle the post without a public post ID
	// (a private post, or one whose ID comes later by webhook).
	noPublicID bool
}

// newHarness registers the workflows with stand-in activities that behave
// like a cooperative TikTok: init, upload, then PUBLISH_COMPLETE on the
// second status poll.
func newHarness(t *testing.T) *harness {
	env := newSuite().NewTestWorkflowEnvironment()
	h := &harness{env: env, rec: &recorder{fields: map[string]any{}}, start: env.Now()}
	env.RegisterWorkflowWithOptions(posting.PublishPost, workflow.RegisterOptions{Name: "PublishPost"})
	env.RegisterWorkflowWithOptions(posting.PostMetadataExpiry, workflow.RegisterOptions{Name: posting.MetadataExpiryWorkflow})
	env.RegisterWorkflowWithOptions(posting.UploadExpiry, workflow.RegisterOptions{Name: "UploadExpiry"})
	reg := func(fn any, name string) { env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg(h.rec.apply, posting.ApplyPostChangeActivity)
	reg(func(context.Context, posting.PostInput) error { return nil }, posting.CheckBeforePublishAct)
	reg(func(context.Context, posting.PostInput) (posting.TikTokInit, error) {
		h.inits++
		return posting.TikTokInit{PublishID: "p_1", UploadURL: "https://upload", ChunkSize: 10, ChunkCount: 2}, nil
	}, posting.InitTikTokPostActivity)
	reg(func(context.Context, posting.PostInput) (posting.TikTokInit, error) {
		h.photoInits++
		return posting.TikTokInit{PublishID: "p_photo_1"}, nil
	}, posting.InitTikTokPhotosAct)
	reg(func(context.Context, posting.TikTokUploadInput) error { h.uploads++; return nil }, posting.UploadTikTokActivity)
	reg(func(context.Context, posting.PostInput) (posting.TikTokStatus, error) {
		h.polls++
		if h.status != nil {
			return h.status(), nil
		}
		polls := h.polls
		if polls < 2 {
			return posting.TikTokStatus{Status: "PROCESSING_DOWNLOAD"}, nil
		}
		if h.noPublicID {
			return posting.TikTokStatus{Status: "PUBLISH_COMPLETE"}, nil
		}
		return posting.TikTokStatus{Status: "PUBLISH_COMPLETE", PublicPostIDs: []string{"7300000000000000001"}}, nil
	}, posting.FetchTikTokStatusAct)
	reg(func(context.Context, posting.PostInput) (posting.PublishedVideo, error) {
		return posting.PublishedVideo{VideoID: "yt-video-1"}, nil
	}, posting.UploadYouTubeActivity)
	reg(func(_ context.Context, in posting.DeleteUploadInput) error {
		h.rec.mu.Lock()
		defer h.rec.mu.Unlock()
		h.rec.deleted = append(h.rec.deleted, in.UploadID+": "+in.Reason)
		return nil
	}, posting.DeleteUploadActivity)
	reg(func(context.Context, posting.PostInput) error { return nil }, posting.DeletePostMetadataAct)
	reg(func(_ context.Context, in expiry.ScheduleInput) error {
		h.rec.mu.Lock()
		defer h.rec.mu.Unlock()
		h.clocks = append(h.clocks, in.Clocks...)
		return nil
	}, expiry.ScheduleActivity)
	return h
}

func (h *harness) input(platform string, in time.Duration) posting.PublishInput {
	return posting.PublishInput{PostID: "post1", UserID: "u1", ChannelID: "c1", UploadID: "up1", Platform: platform,
		ScheduledAt: h.start.Add(in), Attempt: 1}
}

type updateResult struct {
	accepted, completed bool
	err                 error
}

func (h *harness) update(name string, arg any) *updateResult {
	res := &updateResult{}
	h.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
		OnAccept:   func() { res.accepted = true },
		OnReject:   func(err error) { res.err = err },
		OnComplete: func(_ interface{}, err error) { res.completed, res.err = err == nil, err },
	}, arg)
	return res
}

func TestPublishesTikTokAtTheScheduledTime(t *testing.T) {
	h := newHarness(t)
	var statusAtHour *string
	h.env.RegisterDelayedCallback(func() {
		s := h.rec.last()
		statusAtHour = &s
	}, time.Hour-time.Second)
	h.env.ExecuteWorkflow(posting.PublishPost, h.input(loomcast.TikTok, time.Hour))
	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	var res posting.PublishResult
	require.NoError(t, h.env.GetWorkflowResult(&res))

	require.Equal(t, loomcast.PostPublished, res.Status)
	require.Equal(t, "7300000000000000001", res.PlatformPostID)
	require.Equal(t, loomcast.PostScheduled, *statusAtHour, "nothing happens before the scheduled time")
	require.Equal(t, []string{loomcast.PostPublishing, loomcast.PostProcessing, loomcast.PostPublished}, h.rec.statuses)
	require.Equal(t, 1, h.inits, "exactly one init")
	require.Equal(t, []string{"up1: post published"}, h.rec.deleted, "the upload is deleted once published")
}

// A photo post: one photo init (TikTok pulls the images: nothing is
// uploaded), the same following, and every image deleted once published.
func TestPublishesTikTokPhotos(t *testing.T) {
	h := newHarness(t)
	in := h.input(loomcast.TikTok, time.Minute)
	in.PhotoUploadIDs = []string{"up1", "up2", "up3"}
	h.env.ExecuteWorkflow(posting.PublishPost, in)
	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	var res posting.PublishResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	require.Equal(t, loomcast.PostPublished, res.Status)
	require.Equal(t, 1, h.photoInits)
	require.Zero(t, h.inits, "no video init")
	require.Zero(t, h.uploads, "TikTok pulls photos: nothing is uploaded")
	require.Equal(t, []string{loomcast.PostPublishing, loomcast.PostProcessing, loomcast.PostPublished}, h.rec.statuses)
	require.Equal(t, []string{"up1: post published", "up2: post published", "up3: post published"}, h.rec.deleted)
}

// TikTok's webhook leads: once the account's reconciliation reports the
// post settled, the post asks TikTok at once instead of at its next poll,
// and polls in between back off to minutes.
func TestFollowsTikTokByWebhook(t *testing.T) {
	h := newHarness(t)
	done := false
	h.status = func() posting.TikTokStatus {
		if done {
			return posting.TikTokStatus{Status: "PUBLISH_COMPLETE", PublicPostIDs: []string{"7300000000000000009"}}
		}
		return posting.TikTokStatus{Status: "PROCESSING_DOWNLOAD"}
	}
	var reportedAt, publishedAt time.Time
	h.env.RegisterDelayedCallback(func() {
		done, reportedAt = true, h.env.Now()
		h.env.SignalWorkflow(webhooks.SignalPlatformSettled, nil)
	}, 30*time.Minute)
	h.env.ExecuteWorkflow(posting.PublishPost, h.input(loomcast.TikTok, time.Minute))
	require.NoError(t, h.env.GetWorkflowError())
	publishedAt = h.env.Now()
	var res posting.PublishResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	require.Equal(t, loomcast.PostPublished, res.Status)
	require.Equal(t, "7300000000000000009", res.PlatformPostID)
	require.Less(t, publishedAt.Sub(reportedAt), time.Second, "asked at once")
	// 29 minutes of polling backed off from 2 s to 5 min: 2+4+...+256 s, then every 5 min.
	require.LessOrEqual(t, h.polls, 14, "polls back off to minutes")
}

// Changes are linearizable against a cancellation: an edit accepted
// before it is written before it, and one arriving after it, even while
// it is still being written, is refused.
func TestEditRacingCancel(t *testing.T) {
	h := newHarness(t)
	first, second := "before the cancel", "after the cancel"
	var before, cancel, after *updateResult
	h.env.RegisterDelayedCallback(func() {
		before = h.update(posting.UpdateEdit, posting.EditRequest{Caption: &first})
		cancel = h.update(posting.UpdateCancel, posting.CancelRequest{Reason: "no longer", By: "user"})
		after = h.update(posting.UpdateEdit, posting.EditRequest{Caption: &second})
	}, time.Minute)
	h.env.ExecuteWorkflow(posting.PublishPost, h.input(loomcast.TikTok, time.Hour))
	require.NoError(t, h.env.GetWorkflowError())
	require.True(t, before.completed, "the edit accepted first is written: %v", before.err)
	require.True(t, cancel.completed, "%v", cancel.err)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, after.err, &appErr, "the edit after the cancel is refused")
	require.Equal(t, posting.ErrTypePublishingStarted, appErr.Type())
	require.Equal(t, []string{"edited", "no longer (by user)"}, h.rec.details[:2], "in the order accepted")
	require.Equal(t, first, h.rec.fields["caption"])
	require.Equal(t, []string{loomcast.PostCancelled}, h.rec.statuses)
}

func TestRescheduleEditAndCancel(t *testing.T) {
	t.Run("reschedule moves the publication", func(t *testing.T) {
		h := newHarness(t)
		var res *updateResult
		h.env.RegisterDelayedCallback(func() {
			res = h.update(posting.UpdateReschedule, posting.RescheduleRequest{ScheduledAt: h.start.Add(3 * time.Hour)})
		}, 10*time.Minute)
		var atTwoHours string
		h.env.RegisterDelayedCallback(func() { atTwoHours = h.rec.last() }, 2*time.Hour)
		h.env.ExecuteWorkflow(posting.PublishPost, h.input(loomcast.YouTube, time.Hour))
		require.NoError(t, h.env.GetWorkflowError())
		require.True(t, res.accepted && res.completed, "err: %v", res.err)
		require.Equal(t, loomcast.PostScheduled, atTwoHours, "the old time passes without publishing")
		require.Equal(t, loomcast.PostPublished, h.rec.last())
		require.Contains(t, h.rec.details[0], "rescheduled to")
	})

	t.Run("reschedule earlier wakes the workflow", func(t *testing.T) {
		h := newHarness(t)
		h.env.RegisterDelayedCallback(func() {
			h.update(posting.UpdateReschedule, posting.RescheduleRequest{ScheduledAt: h.start.Add(20 * time.Minute)})
		}, 10*time.Minute)
		h.env.ExecuteWorkflow(posting.PublishPost, h.input(loomcast.YouTube, 24*time.Hour))
		require.NoError(t, h.env.GetWorkflowError())
		require.Equal(t, loomcast.PostPublished, h.rec.last())
		require.WithinDuration(t, h.start.Add(20*time.Minute), h.env.Now(), time.Minute, "published at the new time, not a day later")
	})

	t.Run("edit changes options while scheduled", func(t *testing.T) {
		h := newHarness(t)
		caption, privacy := "new caption", "SELF_ONLY"
		var res *updateResult
		h.env.RegisterDelayedCallback(func() {
			res = h.update(posting.UpdateEdit, posting.EditRequest{Caption: &caption, Privacy: &privacy})
		}, time.Minute)
		h.env.ExecuteWorkflow(posting.PublishPost, h.input(loomcast.TikTok, time.Hour))
		require.NoError(t, h.env.GetWorkflowError())
		require.True(t, res.completed, "err: %v", res.err)
		require.Equal(t, "new caption", h.rec.fields["caption"])
		require.Equal(t, "SELF_ONLY", h.rec.fields["privacy"])
	})

	t.Run("an empty edit is refused as invalid", func(t *testing.T) {
		h := newHarness(t)
		var res *updateResult
		h.env.RegisterDelayedCallback(func() { res = h.update(posting.UpdateEdit, posting.EditRequest{}) }, time.Minute)
		h.env.ExecuteWorkflow(posting.PublishPost, h.input(loomcast.TikTok, time.Hour))
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, res.err, &appErr)
		require.Equal(t, posting.ErrTypeInvalid, appErr.Type())
	})

	t.Run("cancel ends the post without publishing", func(t *testing.T) {
		h := newHarness(t)
		var res *updateResult
		h.env.RegisterDelayedCallback(func() {
			res = h.update(posting.UpdateCancel, posting.CancelRequest{Reason: "changed my mind", By: "user"})
		}, 30*time.Minute)
		h.env.ExecuteWorkflow(posting.PublishPost, h.input(loomcast.TikTok, time.Hour))
		require.NoError(t, h.env.GetWorkflowError())
		require.True(t, res.completed, "err: %v", res.err)
		var out posting.PublishResult
		require.NoError(t, h.env.GetWorkflowResult(&out))
		require.Equal(t, loomcast.PostCancelled, out.Status)
		require.Equal(t, []string{loomcast.PostCancelled}, h.rec.statuses)
		require.Zero(t, h.inits)
		require.Empty(t, h.rec.deleted, "a cancelled post's upload expires on its own timer")
	})

	t.Run("reschedule into the past is refused", func(t *testing.T) {
		h := newHarness(t)
		var res *updateResult
		h.env.RegisterDelayedCallback(func() {
			res = h.update(posting.UpdateReschedule, posting.RescheduleRequest{ScheduledAt: h.start.Add(-time.Hour)})
		}, time.Minute)
		h.env.ExecuteWorkflow(posting.PublishPost, h.input(loomcast.TikTok, time.Hour))
		require.False(t, res.accepted)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, res.err, &appErr)
		require.Equal(t, posting.ErrTypeInvalid, appErr.Type())
	})
}

func TestUpdatesAreRefusedOncePublishingStarted(t *testing.T) {
	h := newHarness(t)
	// Hold the upload so the workflow sits in "publishing".
	h.env.OnActivity(posting.UploadTikTokActivity, mock.Anything, mock.Anything).After(10 * time.Minute).Return(nil)
	results := map[string]*updateResult{}
	h.env.RegisterDelayedCallback(func() {
		results["cancel"] = h.update(posting.UpdateCancel, posting.CancelRequest{Reason: "too late", By: "user"})
		caption := "late edit"
		results["edit"] = h.update(posting.UpdateEdit, posting.EditRequest{Caption: &caption})
		results["reschedule"] = h.update(posting.UpdateReschedule, posting.RescheduleRequest{ScheduledAt: h.start.Add(5 * time.Hour)})
	}, time.Hour+time.Minute)
	h.env.ExecuteWorkflow(posting.PublishPost, h.input(loomcast.TikTok, time.Hour))
	require.NoError(t, h.env.GetWorkflowError())
	require.Len(t, results, 3, "the callback sent every Update")
	for name, res := range results {
		require.False(t, res.accepted, name)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, res.err, &appErr, name)
		require.Equal(t, posting.ErrTypePublishingStarted, appErr.Type(), name)
	}
	require.Equal(t, loomcast.PostPublished, h.rec.last())
}

func TestPermanentFailureIsShownToTheUser(t *testing.T) {
	h := newHarness(t)
	h.env.OnActivity(posting.InitTikTokPostActivity, mock.Anything, mock.Anything).Return(posting.TikTokInit{},
		temporal.NewNonRetryableApplicationError("TikTok refused the post: spam_risk_too_many_posts (too many posts today)", posting.ErrTypePlatformRejected, nil))
	h.env.ExecuteWorkflow(posting.PublishPost, h.input(loomcast.TikTok, time.Minute))
	require.NoError(t, h.env.GetWorkflowError())
	var res posting.PublishResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	require.Equal(t, loomcast.PostFailed, res.Status)
	require.Contains(t, res.FailureReason, "spam_risk_too_many_posts")
	require.Equal(t, res.FailureReason, h.rec.fields["failure_reason"])
	require.Empty(t, h.rec.deleted)
}

func TestTikTokFailedStatusFailsThePost(t *testing.T) {
	h := newHarness(t)
	h.env.OnActivity(posting.FetchTikTokStatusAct, mock.Anything, mock.Anything).Return(
		posting.TikTokStatus{Status: "FAILED", FailReason: "video_pull_failed"}, nil)
	h.env.ExecuteWorkflow(posting.PublishPost, h.input(loomcast.TikTok, time.Minute))
	var res posting.PublishResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	require.Equal(t, loomcast.PostFailed, res.Status)
	require.Contains(t, res.FailureReason, "video_pull_failed")
}

func TestUploadDeletedAfter24HoursWhenUnpublished(t *testing.T) {
	h := newHarness(t)
	var before []string
	h.env.RegisterDelayedCallback(func() {
		h.rec.mu.Lock()
		before = append([]string{}, h.rec.deleted...)
		h.rec.mu.Unlock()
	}, 24*time.Hour-time.Minute)
	h.env.ExecuteWorkflow(posting.UploadExpiry, posting.UploadExpiryInput{UploadID: "up9", DueAt: h.start.Add(24 * time.Hour)})
	require.NoError(t, h.env.GetWorkflowError())
	require.Empty(t, before, "kept until its 24 hours are over")
	require.Equal(t, []string{"up9: 24 hours after upload"}, h.rec.deleted)
	require.WithinDuration(t, h.start.Add(24*time.Hour), h.env.Now(), time.Minute)
}

func TestMetadataDeleted90DaysAfterPosting(t *testing.T) {
	env := newSuite().NewTestWorkflowEnvironment()
	start := env.Now()
	deleted := false
	env.RegisterWorkflowWithOptions(posting.PostMetadataExpiry, workflow.RegisterOptions{Name: posting.MetadataExpiryWorkflow})
	env.RegisterActivityWithOptions(func(context.Context, posting.PostInput) error {
		deleted = true
		return nil
	}, activity.RegisterOptions{Name: posting.DeletePostMetadataAct})
	var deletedEarly bool
	env.RegisterDelayedCallback(func() { deletedEarly = deleted }, posting.MetadataRetention-time.Minute)
	env.ExecuteWorkflow(posting.PostMetadataExpiry, posting.MetadataExpiryInput{PostID: "p1", DueAt: start.Add(posting.MetadataRetention)})
	require.NoError(t, env.GetWorkflowError())
	require.False(t, deletedEarly, "kept for 90 days")
	require.True(t, deleted)
	require.WithinDuration(t, start.Add(90*24*time.Hour), env.Now(), time.Minute)
}

func TestPublishedPostStartsItsMetadataRetention(t *testing.T) {
	h := newHarness(t)
	h.env.ExecuteWorkflow(posting.PublishPost, h.input(loomcast.YouTube, time.Hour))
	require.NoError(t, h.env.GetWorkflowError())
	require.Len(t, h.clocks, 1, "one retention clock, no timer workflow of its own")
	c := h.clocks[0]
	require.Equal(t, retention.PostMetadata, c.Category)
	require.Equal(t, "post1", c.ObjectID)
	require.Equal(t, "u1", c.UserID)
	require.WithinDuration(t, h.start.Add(time.Hour), c.Start, time.Minute, "the clock starts at posting")
}

// TestPostFieldsReadOldMaps shows that an ApplyPostChange input written by
// a run from before the fields were typed (a map keyed by column, times as
// text) still decodes into the typed fields.
func TestPostFieldsReadOldMaps(t *testing.T) {
	old := `{"PostID":"p1","Status":"","Detail":"rescheduled","Fields":{"scheduled_at":"2026-12-24T18:30:15Z","timezone":"Europe/Paris","caption":"hi","allow_duet":false,"failure_reason":""}}`
	var in posting.ApplyChangeInput
	require.NoError(t, json.Unmarshal([]byte(old), &in))
	require.NotNil(t, in.Fields.ScheduledAt)
	require.True(t, in.Fields.ScheduledAt.Equal(time.Date(2026, 12, 24, 18, 30, 15, 0, time.UTC)))
	require.Equal(t, "Europe/Paris", *in.Fields.Timezone)
	require.Equal(t, "hi", *in.Fields.Caption)
	require.NotNil(t, in.Fields.AllowDuet)
	require.False(t, *in.Fields.AllowDuet)
	require.NotNil(t, in.Fields.FailureReason, "an empty reason clears the column")
	require.Empty(t, *in.Fields.FailureReason)
	require.Nil(t, in.Fields.Privacy)
}

// A post TikTok settles without a public ID says so in its history, and
// leaves alone an ID that a webhook may have recorded first.
func TestPublishedWithoutAPublicID(t *testing.T) {
	h := newHarness(t)
	h.noPublicID = true
	h.env.ExecuteWorkflow(posting.PublishPost, h.input(loomcast.TikTok, time.Minute))
	require.NoError(t, h.env.GetWorkflowError())
	var res posting.PublishResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	require.Equal(t, loomcast.PostPublished, res.Status)
	require.NotContains(t, h.rec.fields, "platform_post_id", "an empty ID is not written over one a webhook recorded")
	require.NotEmpty(t, h.rec.details)
	require.Equal(t, "published; the platform has not given the post's public ID yet", h.rec.details[len(h.rec.details)-1])
}
