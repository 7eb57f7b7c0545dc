package expiry

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/retention/scheduler"
)

// lateness is how long after its due time a row may still exist: what the
// engine's end-to-end test allows a per-record item (maxLateness in
// retention/scheduler's e2e test).
const lateness = 3 * time.Second

// bucketStart starts the test's clock at the start of a bucket of every
// width (midnight UTC), on a day that exists 12 months on. It lies in the
// future so that the activities take the test's clock as now, not the
// wall clock.
var bucketStart = time.Date(2031, 5, 14, 0, 0, 0, 0, time.UTC)

// bucketRows write one row of a bucketed category whose clock is at, and
// return a check that it still exists.
var bucketRows = map[retention.Category]func(f *fixture, at time.Time, userID string) func() bool{
	retention.ServerLogs: func(f *fixture, at time.Time, userID string) func() bool {
		logs := []models.RequestLog{{At: at, Method: "GET", Path: "/v1/me", Status: 200, UserID: userID, IP: "192.0.2.1"}}
		require.NoError(f.t, f.store.InsertRequestLogs(f.ctx, logs))
		return func() bool { return f.count(&models.RequestLog{}, "id = ?", logs[0].ID) == 1 }
	},
	retention.WebhookDeliveries: func(f *fixture, at time.Time, _ string) func() bool {
		e := &models.WebhookEvent{Source: models.SourceTikTok, EventKey: models.NewID(), EventType: "post.publish.complete", Account: "open-1", Payload: "{}", ReceivedAt: at}
		_, err := f.store.InsertWebhookEvent(f.ctx, e)
		require.NoError(f.t, err)
		require.NoError(f.t, f.store.SetWebhookOutcome(f.ctx, e.ID, models.WebhookApplied, "", at))
		return func() bool { return f.count(&models.WebhookEvent{}, "id = ?", e.ID) == 1 }
	},
	// A Stripe delivery's clock is its processing: received an hour
	// earlier, it still goes 30 days after it was processed.
	retention.StripeDeliveries: func(f *fixture, at time.Time, _ string) func() bool {
		e := &models.WebhookEvent{Source: models.SourceStripe, EventKey: models.NewID(), EventType: "invoice.paid", Payload: "{}", ReceivedAt: at.Add(-time.Hour)}
		_, err := f.store.InsertWebhookEvent(f.ctx, e)
		require.NoError(f.t, err)
		require.NoError(f.t, f.store.SetWebhookOutcome(f.ctx, e.ID, models.WebhookIgnored, "", at))
		return func() bool { return f.count(&models.WebhookEvent{}, "id = ?", e.ID) == 1 }
	},
	retention.EmailChanges: func(f *fixture, at time.Time, _ string) func() bool {
		u := f.user(models.NewID() + "@example.com")
		require.NoError(f.t, f.store.PutEmailChange(f.ctx, models.EmailChange{UserID: u.ID, NewEmail: "moved-" + u.Email, CreatedAt: at}))
		return func() bool { return f.count(&models.EmailChange{}, "user_id = ?", u.ID) == 1 }
	},
	retention.Registrations: func(f *fixture, at time.Time, _ string) func() bool {
		r := &models.Registration{Email: models.NewID() + "@example.com", PasswordHash: "h", CreatedAt: at}
		require.NoError(f.t, f.store.CreateRegistration(f.ctx, r))
		return func() bool { return f.count(&models.Registration{}, "id = ?", r.ID) == 1 }
	},
	retention.SecurityLogs: func(f *fixture, at time.Time, userID string) func() bool {
		e := &models.SecurityEvent{At: at, Kind: "login", UserID: userID, IP: "192.0.2.1"}
		require.NoError(f.t, f.store.InsertSecurityEvent(f.ctx, e))
		return func() bool { return f.count(&models.SecurityEvent{}, "id = ?", e.ID) == 1 }
	},
	retention.Sessions: func(f *fixture, at time.Time, _ string) func() bool {
		u := f.user(models.NewID() + "@example.com")
		id := models.NewID()
		require.NoError(f.t, f.store.CreateSession(f.ctx, models.Session{ID: id, UserID: u.ID, CreatedAt: at, LastSeenAt: at, ExpiresAt: at.Add(30 * time.Minute)}))
		return func() bool { return f.count(&models.Session{}, "id = ?", id) == 1 }
	},
	retention.IdempotencyRecords: func(f *fixture, at time.Time, userID string) func() bool {
		r := &models.IdempotencyRecord{Scope: "u1", Endpoint: "POST /v1/tokens", Key: models.NewID(), RequestHash: "h", UserID: userID, CreatedAt: at}
		_, _, err := f.store.ReserveIdempotencyKey(f.ctx, r, at.Add(-time.Hour), at.Add(-time.Hour))
		require.NoError(f.t, err)
		return func() bool { return f.count(&models.IdempotencyRecord{}, "idempotency_key = ?", r.Key) == 1 }
	},
}

// Every row of a bucketed category goes when its own period has run, within
// the engine's lateness: the first row of a bucket at the bucket's start
// plus the period, the later ones each at their own time, not a bucket
// width late. One item serves the bucket, woken once per row time.
func TestBucketedRowsGoAtTheirOwnDueTime(t *testing.T) {
	for _, b := range scheduler.Bucketed {
		t.Run(string(b.Category), func(t *testing.T) {
			modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
				f := newFixtureAt(t, store, bucketStart)
				require.True(t, f.start.Equal(bucketStart))
				offsets := []time.Duration{0, b.Width / 2, b.Width - time.Second}
				type row struct {
					due    time.Duration
					exists func() bool
					kept   bool // a second before its due time
					gone   bool // the engine's lateness after it
					items  int64
				}
				rows := make([]*row, len(offsets))
				for i, off := range offsets {
					at := f.start.Add(off)
					rows[i] = &row{due: retention.Due(b.Category, at, "").Sub(f.start), exists: bucketRows[b.Category](f, at, "u1")}
					require.NoError(t, f.buckets.Note(f.ctx, b.Category, at))
				}
				for _, r := range rows {
					f.at(r.due-time.Second, func() {
						r.kept = r.exists()
						r.items = f.count(&models.RetentionItem{}, "category = ?", string(b.Category))
					})
					f.at(r.due+lateness, func() { r.gone = !r.exists() })
				}
				f.run(b.Category, rows[len(rows)-1].due+time.Hour)

				for i, r := range rows {
					require.True(t, r.kept, "row %d (at +%v) is kept until its own period ends", i, offsets[i])
					require.True(t, r.gone, "row %d (at +%v) is gone within %v of its own due time", i, offsets[i], lateness)
					require.Equal(t, int64(1), r.items, "one item for the bucket")
				}
				require.Zero(t, f.count(&models.RetentionItem{}, "category = ?", string(b.Category)), "the empty bucket's item is done")
				batches, err := store.RetentionBatches(f.ctx, string(b.Category), f.start)
				require.NoError(t, err)
				require.NotEmpty(t, batches)
				require.LessOrEqual(t, len(batches), len(rows), "one wake per row time at most")
				for _, bt := range batches {
					require.LessOrEqual(t, bt.MaxLatenessMS, lateness.Milliseconds(), "batch %s", bt.ID)
				}
			})
		})
	}
}

// A held user's rows outlive their due time; releasing the hold sweeps
// those already due, and the bucket still deletes the held row that was
// not yet due at its own time.
func TestHeldRowsOfABucket(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		f := newFixtureAt(t, store, bucketStart)
		held := f.user("held@example.com")
		write := bucketRows[retention.ServerLogs]
		free := write(f, f.start, "someone-else")
		heldFirst := write(f, f.start, held.ID)
		heldLater := write(f, f.start.Add(30*time.Minute), held.ID)
		require.NoError(t, f.buckets.Note(f.ctx, retention.ServerLogs, f.start))
		hold := &models.LegalHold{UserID: held.ID, Reason: "regulator inquiry", PlacedBy: "staff-1"}
		require.NoError(t, store.PlaceHold(f.ctx, hold))

		period := f.period(retention.ServerLogs)
		var atDue, afterRelease, laterBefore, laterAfter []bool
		f.at(period+lateness, func() { atDue = []bool{free(), heldFirst(), heldLater()} })
		f.at(period+10*time.Minute, func() {
			h, err := store.ReleaseHold(f.ctx, hold.ID, "staff-2")
			require.NoError(t, err)
			require.NoError(t, f.sched.Reevaluate(f.ctx, h))
		})
		f.at(period+10*time.Minute+lateness, func() { afterRelease = []bool{heldFirst(), heldLater()} })
		f.at(period+30*time.Minute-time.Second, func() { laterBefore = []bool{heldLater()} })
		f.at(period+30*time.Minute+lateness, func() { laterAfter = []bool{heldLater()} })
		f.run(retention.ServerLogs, period+2*time.Hour)

		require.Equal(t, []bool{false, true, true}, atDue, "at the bucket's due time only the held user's lines stay")
		require.Equal(t, []bool{false, true}, afterRelease, "the release sweeps the held line already due, not the later one")
		require.Equal(t, []bool{true}, laterBefore, "the later line is kept until its own due time")
		require.Equal(t, []bool{false}, laterAfter, "and goes at it")
	})
}

// Marketing data that expires after 24 months of inactivity takes the
// person's marketing consent records (marketing email and product updates)
// with it; the records of other purposes, and other people's, stay.
func TestMarketingExpiryTakesItsConsentRecords(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		f := newFixture(t, store)
		u, other := f.user("inactive@example.com"), f.user("active@example.com")
		for _, c := range []models.Consent{
			{UserID: u.ID, Purpose: models.PurposeMarketingEmails, Granted: true},
			{UserID: u.ID, Purpose: models.PurposeProductUpdates, Granted: true},
			{UserID: u.ID, Purpose: models.PurposeAnalytics, Granted: true},
			{UserID: u.ID, Purpose: models.PurposeSaleOrSharing, Granted: false},
			{UserID: other.ID, Purpose: models.PurposeMarketingEmails, Granted: true},
		} {
			c.At, c.Source = f.start, "test"
			require.NoError(t, store.RecordConsent(f.ctx, c))
		}
		f.schedule(scheduler.Item{Category: retention.Marketing, ObjectID: u.ID, UserID: u.ID, Start: f.start})
		period := f.period(retention.Marketing)
		var before int64
		f.at(period-time.Minute, func() { before = f.count(&models.Consent{}, "user_id = ?", u.ID) })
		f.run(retention.Marketing, period+time.Hour)

		require.Equal(t, int64(4), before, "every record is kept until the period ends")
		got, err := store.Consents(f.ctx, u.ID)
		require.NoError(t, err)
		require.Len(t, got, 2, "the marketing records are gone: %v", got)
		require.Contains(t, got, models.PurposeAnalytics)
		require.Contains(t, got, models.PurposeSaleOrSharing)
		usr, err := store.UserByID(f.ctx, u.ID)
		require.NoError(t, err)
		require.False(t, usr.MarketingEmails)
		require.Nil(t, usr.MarketingUpdatedAt)
		kept, err := store.Consents(f.ctx, other.ID)
		require.NoError(t, err)
		require.True(t, kept[models.PurposeMarketingEmails].Granted, "another person's consent stays")
	})
}

// A busy bucket, a row every 100 ms, wakes the engine once per step, not
// once per row, and still deletes each row within the engine's lateness.
func TestBusyBucketWakesOncePerStep(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		f := newFixtureAt(t, store, bucketStart)
		const n, gap = 30, 100 * time.Millisecond
		type row struct {
			due        time.Duration
			exists     func() bool
			kept, gone bool
		}
		rows := make([]*row, n)
		for i := range rows {
			at := f.start.Add(time.Duration(i) * gap)
			rows[i] = &row{due: f.period(retention.ServerLogs) + time.Duration(i)*gap, exists: bucketRows[retention.ServerLogs](f, at, "u1")}
			require.NoError(t, f.buckets.Note(f.ctx, retention.ServerLogs, at))
		}
		for _, r := range rows {
			f.at(r.due-time.Millisecond, func() { r.kept = r.exists() })
			f.at(r.due+lateness, func() { r.gone = !r.exists() })
		}
		f.run(retention.ServerLogs, rows[n-1].due+time.Hour)

		for i, r := range rows {
			require.True(t, r.kept, "row %d is kept until its own period ends", i)
			require.True(t, r.gone, "row %d is gone within %v of its own due time", i, lateness)
		}
		batches, err := store.RetentionBatches(f.ctx, string(retention.ServerLogs), f.start)
		require.NoError(t, err)
		span := time.Duration(n-1) * gap
		require.LessOrEqual(t, len(batches), int(span/minStep)+2, "one wake per step (%v) over %v of rows", minStep, span)
		require.Less(t, len(batches), n/2, "far fewer wakes than rows")
	})
}
