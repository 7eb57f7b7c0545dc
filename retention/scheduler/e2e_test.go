package scheduler_test

import (
	"bytes"
	"context"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/devserver"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/retention/scheduler"
	"github.com/loomcast/loomcast/temporalexec"
	"github.com/loomcast/loomcast/worker"
	"github.com/loomcast/loomcast/workflows"
	"github.com/loomcast/loomcast/workflows/expiry"
)

// maxLateness is how long after its due time an item may still exist.
const maxLateness = 3 * time.Second

// stack is what `make run` runs for retention: the embedded Temporal server
// on SQLite, the worker, a SQLite app store and local files.
type stack struct {
	store  *models.Store
	blob   *blob.Local
	sched  *scheduler.Scheduler
	tc     client.Client
	userID string
}

func startStack(t *testing.T) *stack {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	require.NoError(t, ln.Close())
	srv, err := devserver.Start(ctx, devserver.Options{
		DatabaseFile: filepath.Join(t.TempDir(), "temporal.db"), Address: addr, Namespace: "default",
		SearchAttributes: workflows.SearchAttributeTypes(), Logger: quiet,
	})
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	tc, err := client.Dial(client.Options{HostPort: addr, Logger: sdklog.NewStructuredLogger(quiet)})
	require.NoError(t, err)
	t.Cleanup(tc.Close)

	s := &stack{store: modelstest.Open(t, models.SQLite), tc: tc}
	s.blob, err = blob.NewLocal(t.TempDir())
	require.NoError(t, err)
	s.sched = &scheduler.Scheduler{Store: s.store, Waker: scheduler.TemporalWaker{Client: tc}}
	w := worker.New(tc, worker.Deps{Store: s.store, Blob: s.blob, Retention: s.sched,
		Executions: temporalexec.Executions{Client: tc, Namespace: "default"}})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	u := &models.User{Email: "retention-e2e@example.com"}
	require.NoError(t, s.store.CreateUser(ctx, u))
	s.userID = u.ID
	return s
}

// upload stores a file and its row, and schedules its deletion at due.
func (s *stack) upload(t *testing.T, due time.Time) models.Upload {
	t.Helper()
	ctx := context.Background()
	id := models.NewID()
	key := "uploads/" + s.userID + "/" + id
	size, err := s.blob.Put(ctx, key, bytes.NewReader([]byte("video bytes of "+id)))
	require.NoError(t, err)
	start := due.Add(-retention.Fixed(retention.Uploads))
	up := models.Upload{ID: id, UserID: s.userID, BlobKey: key, Size: size, ContentType: "video/mp4", CreatedAt: start, ExpiresAt: due}
	require.NoError(t, s.store.CreateUpload(ctx, &up))
	it := scheduler.Item{Category: retention.Uploads, ObjectID: id, UserID: s.userID, Start: start}
	require.True(t, it.Due().Equal(due), "the item is due at %v, want %v", it.Due(), due)
	require.NoError(t, s.sched.Schedule(ctx, it))
	return up
}

// gone reports whether the upload's file is deleted and its row marked.
func (s *stack) gone(t *testing.T, up models.Upload) bool {
	t.Helper()
	ctx := context.Background()
	row, err := s.store.UploadByID(ctx, up.ID)
	require.NoError(t, err)
	f, err := s.blob.Open(ctx, up.BlobKey)
	if err == nil {
		require.NoError(t, f.Close())
		return false
	}
	require.ErrorIs(t, err, blob.ErrNotFound)
	return row.DeletedAt != nil
}

// requireDeletedOnTime polls every 50 ms until each upload is gone and
// fails if one went before its due time or more than maxLateness after.
func (s *stack) requireDeletedOnTime(t *testing.T, uploads ...models.Upload) {
	t.Helper()
	ctx := context.Background()
	seen := make([]time.Time, len(uploads))
	deadline := uploads[len(uploads)-1].ExpiresAt.Add(30 * time.Second)
	for left := len(uploads); left > 0; {
		require.True(t, time.Now().Before(deadline), "%d uploads still exist 30 s after the last due time", left)
		for i, up := range uploads {
			if seen[i].IsZero() && s.gone(t, up) {
				seen[i] = time.Now()
				left--
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i, up := range uploads {
		row, err := s.store.UploadByID(ctx, up.ID)
		require.NoError(t, err)
		late := seen[i].Sub(up.ExpiresAt)
		t.Logf("upload %d: due %s, marked deleted %v after it, seen gone %v after it",
			i+1, up.ExpiresAt.Format(time.StampMilli), row.DeletedAt.Sub(up.ExpiresAt), late)
		require.False(t, row.DeletedAt.Before(up.ExpiresAt), "upload %d deleted %v before its due time", i+1, up.ExpiresAt.Sub(*row.DeletedAt))
		require.LessOrEqual(t, late, maxLateness, "upload %d still existed %v after its due time", i+1, late)
	}
}

// TestE2EUploadsDeletedAtDueTime schedules three uploads due 1, 2 and 3 s
// from now on the embedded stack and checks each is deleted at its due time.
func TestE2EUploadsDeletedAtDueTime(t *testing.T) {
	s := startStack(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	var uploads []models.Upload
	for i := 1; i <= 3; i++ {
		uploads = append(uploads, s.upload(t, now.Add(time.Duration(i)*time.Second)))
	}
	s.requireDeletedOnTime(t, uploads...)

	pending, err := s.store.UpcomingRetention(context.Background(), string(retention.Uploads), 10)
	require.NoError(t, err)
	require.Empty(t, pending, "the deleted uploads' items are removed")
}

// TestE2EWakeOnEarlierDue lets the workflow sleep towards an item due in an
// hour, then schedules one due in a second: only the wake signal can get it
// deleted in time.
func TestE2EWakeOnEarlierDue(t *testing.T) {
	ctx := context.Background()
	s := startStack(t)
	later := s.upload(t, time.Now().UTC().Truncate(time.Millisecond).Add(time.Hour))
	s.requireSleepingUntil(t, later.ExpiresAt)

	sooner := s.upload(t, time.Now().UTC().Truncate(time.Millisecond).Add(time.Second))
	s.requireDeletedOnTime(t, sooner)

	require.False(t, s.gone(t, later), "the upload due in an hour is kept")
	s.requireSleepingUntil(t, later.ExpiresAt)
	pending, err := s.store.UpcomingRetention(ctx, string(retention.Uploads), 10)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Equal(t, later.ID, pending[0].ObjectID)
}

// requireSleepingUntil waits until the uploads workflow has armed its timer
// for due, as it reports through its state query and in retention_wakes.
func (s *stack) requireSleepingUntil(t *testing.T, due time.Time) {
	t.Helper()
	ctx := context.Background()
	var state expiry.State
	require.Eventually(t, func() bool {
		v, err := s.tc.QueryWorkflow(ctx, expiry.WorkflowID(retention.Uploads), "", expiry.QueryState)
		if err != nil || v.Get(&state) != nil {
			return false
		}
		return state.WakeAt != nil && state.WakeAt.Equal(due)
	}, 10*time.Second, 50*time.Millisecond, "the workflow arms for %v (its state: %+v)", due, state)
	wakes, err := s.store.RetentionWakes(ctx, []string{string(retention.Uploads)})
	require.NoError(t, err)
	require.NotNil(t, wakes[string(retention.Uploads)])
	require.True(t, wakes[string(retention.Uploads)].Equal(due), "recorded wake %v, want %v", wakes[string(retention.Uploads)], due)
}

// TestE2EServerLogsGoAtTheirOwnDueTime writes two request log lines of one
// hourly bucket whose 30 days end 2 and 3.5 s from now, and checks on the
// embedded stack that each goes at its own due time, within the engine's
// lateness, not when the period of the bucket's end runs.
func TestE2EServerLogsGoAtTheirOwnDueTime(t *testing.T) {
	ctx := context.Background()
	s := startStack(t)
	period := retention.Fixed(retention.ServerLogs)
	desc, ok := scheduler.BucketOf(retention.ServerLogs)
	require.True(t, ok)
	first := time.Now().UTC().Truncate(time.Millisecond).Add(2 * time.Second)
	second := first.Add(1500 * time.Millisecond)
	if !first.Add(-period).Truncate(desc.Width).Equal(second.Add(-period).Truncate(desc.Width)) {
		// An hour's end falls between them: both after it instead.
		first, second = first.Add(2*time.Second), second.Add(2*time.Second)
	}
	dues := []time.Time{first, second}
	logs := make([]models.RequestLog, len(dues))
	for i, due := range dues {
		logs[i] = models.RequestLog{At: due.Add(-period), Method: "GET", Path: "/v1/me", Status: 200, UserID: s.userID}
	}
	// The lines first: their bucket's item is due already (its start lies
	// up to an hour before the first line) and must find them.
	require.NoError(t, s.store.InsertRequestLogs(ctx, logs))
	buckets := scheduler.NewBuckets(s.sched)
	for _, l := range logs {
		require.NoError(t, buckets.Note(ctx, retention.ServerLogs, l.At))
	}
	items, err := s.store.RetentionItemsOf(ctx, string(retention.ServerLogs))
	require.NoError(t, err)
	require.Len(t, items, 1, "one item for the bucket")

	exists := func(id string) bool {
		var n int64
		require.NoError(t, s.store.DB().Model(&models.RequestLog{}).Where("id = ?", id).Count(&n).Error)
		return n == 1
	}
	seen := make([]time.Time, len(logs))
	deadline := second.Add(30 * time.Second)
	for left := len(logs); left > 0; {
		require.True(t, time.Now().Before(deadline), "%d lines still exist 30 s after the last due time", left)
		for i, l := range logs {
			if seen[i].IsZero() && !exists(l.ID) {
				seen[i] = time.Now()
				left--
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i, due := range dues {
		late := seen[i].Sub(due)
		t.Logf("line %d: due %s, seen gone %v after it", i+1, due.Format(time.StampMilli), late)
		require.False(t, seen[i].Before(due), "line %d went %v before its due time", i+1, -late)
		require.LessOrEqual(t, late, maxLateness, "line %d still existed %v after its due time", i+1, late)
	}
}

// cronPatterns are the periodic scheduling mechanisms that must not decide
// when data is deleted: data dies at its own due time (see package expiry).
var cronPatterns = []*regexp.Regexp{
	regexp.MustCompile(`CronSchedule`),
	regexp.MustCompile(`ScheduleClient`),
	regexp.MustCompile(`client\.Schedule`),
	regexp.MustCompile(`ScheduleSpec`),
	regexp.MustCompile(`time\.NewTicker`),
	regexp.MustCompile(`time\.Tick\(`),
	regexp.MustCompile(`robfig/cron`),
	regexp.MustCompile(`\bcron\.[A-Z]`), // use of a cron package
	regexp.MustCompile(`@every`),
	regexp.MustCompile(`(?i)crontab`),
	regexp.MustCompile(`CronJob`),                    // Kubernetes
	regexp.MustCompile(`(?m)^\s*-?\s*cron\s*:`),      // CI or compose schedules
	regexp.MustCompile(`(?m)^\s*schedule\s*:\s*"?@`), // @daily, @hourly...
}

// cronHits returns the patterns found in a file's content; for Go files
// also any imported package whose path mentions cron.
func cronHits(name string, content []byte) []string {
	var hits []string
	for _, re := range cronPatterns {
		if loc := re.FindIndex(content); loc != nil {
			line := bytes.Count(content[:loc[0]], []byte("\n")) + 1
			hits = append(hits, name+":"+strconv.Itoa(line)+": "+strings.TrimSpace(string(content[loc[0]:loc[1]])))
		}
	}
	if strings.HasSuffix(name, ".go") {
		f, err := parser.ParseFile(token.NewFileSet(), name, content, parser.ImportsOnly)
		if err != nil {
			return append(hits, name+": "+err.Error())
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); strings.Contains(strings.ToLower(p), "cron") {
				hits = append(hits, name+": imports "+p)
			}
		}
	}
	return hits
}

// checked reports whether the walk reads a file: non-test Go files and the
// build, deployment and configuration files.
func checked(rel string) bool {
	base := filepath.Base(rel)
	switch {
	case strings.HasSuffix(base, ".go"):
		return !strings.HasSuffix(base, "_test.go")
	case base == "Makefile", strings.HasPrefix(base, "Dockerfile"), strings.HasPrefix(base, "docker-compose"):
		return true
	case strings.HasPrefix(rel, ".ci"+string(filepath.Separator)):
		return true
	}
	switch filepath.Ext(base) {
	case ".yml", ".yaml", ".toml", ".json", ".sh":
		return true
	}
	return false
}

// TestNoCronDrivesDeletion fails if any code or configuration of the repo
// uses a cron, ticker or schedule: the expiry workflows' durable timers,
// set from the data's due times, are what delete data.
func TestNoCronDrivesDeletion(t *testing.T) {
	t.Run("matcher", func(t *testing.T) {
		tests := []struct {
			name, file, content string
			hit                 bool
		}{
			{"ticker", "a.go", "package a\nimport \"time\"\nvar t = time.NewTicker(time.Hour)\n", true},
			{"tick", "a.go", "package a\nimport \"time\"\nvar c = time.Tick(time.Hour)\n", true},
			{"cron workflow", "a.go", "package a\nvar o = client.StartWorkflowOptions{CronSchedule: \"0 * * * *\"}\n", true},
			{"schedule client", "a.go", "package a\nfunc f() { c.ScheduleClient().Create(ctx, client.ScheduleOptions{}) }\n", true},
			{"cron import", "a.go", "package a\nimport \"github.com/robfig/cron/v3\"\nvar c = cron.New()\n", true},
			{"every", "a.go", "package a\nvar s = \"@every 1h\"\n", true},
			{"crontab", "Dockerfile", "RUN echo '0 * * * * purge' | crontab -\n", true},
			{"ci cron", "ci.yml", "on:\n  schedule:\n    - cron: '0 3 * * *'\n", true},
			{"prose", "a.go", "// Package a: no cron, ticker or schedule decides when data dies.\npackage a\n", false},
			{"durable timer", "a.go", "package a\nfunc f() { workflow.NewTimer(ctx, d); s.Schedule(ctx, it) }\n", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := cronHits(tt.file, []byte(tt.content))
				require.Equal(t, tt.hit, len(got) > 0, "hits: %v", got)
			})
		}
	})

	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "go.mod"))
	require.NoError(t, err, "the repository root is two levels up")
	var hits, read []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !checked(rel) {
			return nil
		}
		content, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		read = append(read, filepath.ToSlash(rel))
		hits = append(hits, cronHits(filepath.ToSlash(rel), content)...)
		return nil
	})
	require.NoError(t, err)
	for _, must := range []string{"Makefile", "docker-compose.yml", "Dockerfile", "workflows/expiry/expiry.go", "activities/expiry/expiry.go", "cmd/loomcast/main.go"} {
		require.Contains(t, read, must, "the walk reads %s", must)
	}
	require.Empty(t, hits, "periodic scheduling found; deletion must follow the data's due times")
}
