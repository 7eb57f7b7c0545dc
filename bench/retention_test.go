package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/devserver"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/retention/scheduler"
	"github.com/loomcast/loomcast/temporalexec"
	"github.com/loomcast/loomcast/worker"
	"github.com/loomcast/loomcast/workflows"
)

// defaultPostgresURL is the Makefile's PG_URL, used when
// LOOMCAST_TEST_POSTGRES_URL is not set.
const defaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// BenchmarkRetentionExpiry makes 100,000 post_metadata items (real posts,
// each with a history entry) fall due within the same minute on PostgreSQL,
// lets the real retention engine delete them (the worker on its own
// embedded Temporal server, so that the TestMain stack's worker, on a SQLite
// store, never polls its queue), and reports from the retention_batches
// rows: lateness p50/p99 (deletion time minus due time, per item), the
// delete rate from the first due time to the last deletion, and the number
// of workflows that did it. Run it once: -benchtime 1x.
func BenchmarkRetentionExpiry(b *testing.B) {
	const (
		items = 100_000
		// spread is the window the due times are spread over.
		spread = time.Minute
		// lead is how long after the scheduling starts the first item is
		// due: scheduling 100,000 items takes a few seconds, and the
		// first due time should come 20-30 s after it ends.
		lead = 30 * time.Second
		// chunk is how many items one Schedule call stores.
		chunk = 1000
	)
	ctx := context.Background()
	if os.Getenv(modelstest.PostgresEnv) == "" {
		b.Setenv(modelstest.PostgresEnv, defaultPostgresURL)
	}
	store := modelstest.Open(b, models.Postgres) // fails the benchmark when PostgreSQL is unreachable
	tc := startRetentionTemporal(b)
	sched := &scheduler.Scheduler{Store: store, Waker: scheduler.TemporalWaker{Client: tc}}
	w := worker.New(tc, worker.Deps{Store: store, Retention: sched,
		Executions: temporalexec.Executions{Client: tc, Namespace: "default"}})
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(w.Stop)

	// One user and channel with 100,000 published posts, each with its
	// first history entry, inserted in bulk.
	u := &models.User{Email: "retention@bench.example.com"}
	if err := store.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	ch := &models.Channel{UserID: u.ID, Platform: loomcast.TikTok, ExternalID: "retention-bench"}
	if err := store.UpsertChannel(ctx, ch); err != nil {
		b.Fatal(err)
	}
	db := store.DB().WithContext(ctx)
	if err := db.Exec(`INSERT INTO posts (id, user_id, channel_id, upload_id, platform, caption, privacy,
		scheduled_at, status, created_at, updated_at, published_at)
		SELECT 'bench-post-' || lpad(g::text, 6, '0'), ?, ?, '', 'tiktok', 'bench ' || g, 'SELF_ONLY',
		now(), 'published', now(), now(), now() FROM generate_series(0, ? - 1) AS g`, u.ID, ch.ID, items).Error; err != nil {
		b.Fatal(err)
	}
	if err := db.Exec(`INSERT INTO post_events (id, post_id, status, detail, at)
		SELECT 'bench-event-' || lpad(g::text, 6, '0'), 'bench-post-' || lpad(g::text, 6, '0'), 'published', '', now()
		FROM generate_series(0, ? - 1) AS g`, items).Error; err != nil {
		b.Fatal(err)
	}

	// Item k is due at firstDue + k*spread/items (whole microseconds, as
	// the database stores them), so the items are in due order by k.
	step := spread / items
	firstDue := time.Now().Add(lead).UTC().Truncate(time.Millisecond)
	due := func(k int) time.Time { return firstDue.Add(time.Duration(k) * step) }
	period := retention.Lookup(retention.PostMetadata).Period
	scheduleStart := time.Now()
	batch := make([]scheduler.Item, 0, chunk)
	for k := 0; k < items; k++ {
		it := scheduler.Item{Category: retention.PostMetadata, ObjectID: fmt.Sprintf("bench-post-%06d", k), UserID: u.ID, Start: period.Before(due(k))}
		if !it.Due().Equal(due(k)) {
			b.Fatalf("item %d is due at %v, want %v", k, it.Due(), due(k))
		}
		batch = append(batch, it)
		if len(batch) == chunk || k == items-1 {
			if err := sched.Schedule(ctx, batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	scheduled := time.Since(scheduleStart)
	// Fresh tables have no planner statistics; a live database has them.
	if err := db.Exec(`ANALYZE posts, post_events, retention_items`).Error; err != nil {
		b.Fatal(err)
	}
	gap := time.Until(firstDue)
	if gap < 5*time.Second {
		b.Fatalf("scheduling %d items took %v, until %v before the first due time; raise lead", items, scheduled, gap)
	}
	b.Logf("scheduled %d items in %v; the first is due %v later", items, scheduled.Round(time.Millisecond), gap.Round(time.Millisecond))

	// Wait until every post is gone and every item is accounted for.
	b.ResetTimer()
	lastDue := due(items - 1)
	deadline := lastDue.Add(10 * time.Minute)
	var posts, pending int64
	for {
		if err := db.Model(&models.Post{}).Where("user_id = ?", u.ID).Count(&posts).Error; err != nil {
			b.Fatal(err)
		}
		if err := db.Model(&models.RetentionItem{}).Where("category = ?", retention.PostMetadata).Count(&pending).Error; err != nil {
			b.Fatal(err)
		}
		if posts == 0 && pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("10 minutes after the last due time, %d posts and %d items remain", posts, pending)
		}
		time.Sleep(250 * time.Millisecond)
	}
	b.StopTimer()
	var events int64
	if err := db.Model(&models.PostEvent{}).Count(&events).Error; err != nil {
		b.Fatal(err)
	}
	if events != 0 {
		b.Fatalf("%d post events remain", events)
	}

	// Batches take items in due order: item k was deleted by the batch
	// whose cumulative count first exceeds k, at its finished_at.
	batches, err := store.RetentionBatches(ctx, string(retention.PostMetadata), firstDue.Add(-time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	lateness := make([]time.Duration, 0, items)
	failed := 0
	var lastDeletion time.Time
	for _, bt := range batches {
		failed += bt.Failed
		if bt.Deleted == 0 {
			continue
		}
		first := len(lateness)
		if first+bt.Deleted > items {
			b.Fatalf("the batches deleted more than %d items", items)
		}
		for k := first; k < first+bt.Deleted; k++ {
			lateness = append(lateness, bt.FinishedAt.Sub(due(k)))
		}
		// The batch's own record of its earliest item's lateness agrees.
		if d := lateness[first].Milliseconds() - bt.MaxLatenessMS; d < -1 || d > 1 {
			b.Fatalf("batch %s: derived max lateness %v, recorded %d ms", bt.ID, lateness[first], bt.MaxLatenessMS)
		}
		lastDeletion = bt.FinishedAt
	}
	if len(lateness) != items || failed != 0 {
		b.Fatalf("the batches deleted %d items and failed %d, want %d and 0", len(lateness), failed, items)
	}
	slices.Sort(lateness)
	span := lastDeletion.Sub(firstDue)
	rate := float64(items) / span.Seconds()
	workflowIDs, runs := retentionExecutions(b, tc)
	if workflowIDs != 1 {
		b.Errorf("%d retention workflows ran, want 1", workflowIDs)
	}

	b.ReportMetric(ms(lateness[len(lateness)/2]), "lateness-p50-ms")
	b.ReportMetric(ms(lateness[int(0.99*float64(len(lateness)-1))]), "lateness-p99-ms")
	b.ReportMetric(ms(lateness[len(lateness)-1]), "lateness-max-ms")
	b.ReportMetric(rate, "deletes/s")
	b.ReportMetric(float64(len(batches)), "batches")
	b.ReportMetric(float64(workflowIDs), "workflows")
	b.ReportMetric(float64(runs), "runs")
	fmt.Printf("retention: %d post_metadata items due over %v, deleted by %d workflow (%d runs) in %d batches: "+
		"lateness p50 %v, p99 %v, max %v; %.0f deletions/s from the first due time to the last deletion (%v)\n",
		items, spread, workflowIDs, runs, len(batches),
		lateness[len(lateness)/2].Round(time.Millisecond), lateness[int(0.99*float64(len(lateness)-1))].Round(time.Millisecond),
		lateness[len(lateness)-1].Round(time.Millisecond), rate, span.Round(time.Millisecond))
}

// startRetentionTemporal starts an embedded Temporal server of the
// benchmark's own, as `loomcast dev` runs it, and returns a client.
func startRetentionTemporal(b *testing.B) client.Client {
	b.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	addr, err := freeAddr()
	if err != nil {
		b.Fatal(err)
	}
	ts, err := devserver.Start(context.Background(), devserver.Options{
		DatabaseFile: filepath.Join(b.TempDir(), "temporal.db"), Address: addr,
		SearchAttributes: workflows.SearchAttributeTypes(), Logger: quiet,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(ts.Stop)
	tc, err := client.Dial(client.Options{HostPort: addr, Logger: sdklog.NewStructuredLogger(quiet)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(tc.Close)
	return tc
}

// retentionExecutions counts the retention workflows on the server and
// their runs (a workflow continues as new to bound its history).
func retentionExecutions(b *testing.B, tc client.Client) (workflowIDs, runs int) {
	b.Helper()
	ids := map[string]bool{}
	query := fmt.Sprintf("%s = '%s'", workflows.KindKey.GetName(), workflows.KindRetention)
	var token []byte
	for {
		resp, err := tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: token})
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range resp.GetExecutions() {
			ids[e.GetExecution().GetWorkflowId()] = true
			runs++
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return len(ids), runs
		}
	}
}
