package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/loomcast/loomcast/media"
)

// devStack is `loomcast dev` running as a subprocess on free ports.
type devStack struct {
	base, temporal string
	// outbox is the directory of the mail it keeps.
	outbox string
	cmd    *exec.Cmd
}

func startDev(b *testing.B) *devStack {
	b.Helper()
	dir := b.TempDir()
	bin := filepath.Join(dir, "loomcast")
	build := exec.Command("go", "build", "-o", bin, "../cmd/loomcast")
	build.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build loomcast: %v\n%s", err, out)
	}
	api, err := freeAddr()
	if err != nil {
		b.Fatal(err)
	}
	temporal, err := freeAddr()
	if err != nil {
		b.Fatal(err)
	}
	s := &devStack{base: "http://" + api, temporal: temporal, outbox: filepath.Join(dir, "data", "outbox")}
	s.cmd = exec.Command(bin, "dev")
	s.cmd.Env = append(os.Environ(), "LOOMCAST_DATA_DIR="+filepath.Join(dir, "data"), "LOOMCAST_HTTP_ADDR="+api,
		"TEMPORAL_ADDRESS="+temporal, "LOOMCAST_TEMPORAL_UI_ADDR=", "LOOMCAST_LOG_LEVEL=warn")
	logf, err := os.Create(filepath.Join(dir, "dev.log"))
	if err != nil {
		b.Fatal(err)
	}
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = s.cmd.Process.Signal(os.Interrupt)
		_ = s.cmd.Wait()
		logf.Close()
	})
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(s.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.Fatal("loomcast dev did not become ready")
	return nil
}

// creator is a signed-in user with a connected sandbox channel.
type creator struct {
	http      *http.Client
	base      string
	csrf      string
	channelID string
}

func (c *creator) call(method, path string, body any, contentType string, out any) (int, error) {
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(v)
	default:
		buf, _ := json.Marshal(v)
		rd, contentType = bytes.NewReader(buf), "application/json"
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("X-CSRF-Token", c.csrf)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, err
		}
	}
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusFound {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode, nil
}

func newCreator(b *testing.B, s *devStack) *creator {
	base := s.base
	jar, _ := cookiejar.New(nil)
	c := &creator{http: &http.Client{Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}, base: base}
	var tok struct {
		CSRFToken string `json:"csrf_token"`
	}
	if _, err := c.call(http.MethodGet, "/v1/auth/csrf", nil, "", &tok); err != nil {
		b.Fatal(err)
	}
	c.csrf = tok.CSRFToken
	var pending struct {
		RegistrationID string `json:"registration_id"`
	}
	if _, err := c.call(http.MethodPost, "/v1/auth/register", map[string]any{"email": "bench@example.com",
		"password": "bench password 123", "display_name": "Bench", "timezone": "UTC", "country": "FR", "age": 30}, "", &pending); err != nil {
		b.Fatal(err)
	}
	code, err := signUpCode(s.outbox, "bench@example.com")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.call(http.MethodPost, "/v1/auth/register/"+pending.RegistrationID+"/verify", map[string]string{"code": code}, "", &tok); err != nil {
		b.Fatal(err)
	}
	c.csrf = tok.CSRFToken
	if _, err := c.call(http.MethodGet, "/v1/channels/tiktok/connect", nil, "", nil); err != nil {
		b.Fatal(err)
	}
	var list struct {
		Channels []struct {
			ID string `json:"id"`
		} `json:"channels"`
	}
	if _, err := c.call(http.MethodGet, "/v1/channels", nil, "", &list); err != nil || len(list.Channels) != 1 {
		b.Fatalf("sandbox channel not connected: %v %v", err, list)
	}
	c.channelID = list.Channels[0].ID
	return c
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

// BenchmarkPublishLateness creates 1,000 posts due within the same minute
// on the embedded stack with the TikTok sandbox, and reports: create-post
// throughput and latency, publish lateness (publish start minus scheduled
// time), the publish rate, and that rate as a ratio to plain Temporal
// workflow starts on the same server. Run it once: -benchtime 1x.
func BenchmarkPublishLateness(b *testing.B) {
	const posts = 1000
	s := startDev(b)
	c := newCreator(b, s)
	var video bytes.Buffer
	if err := media.SyntheticMP4(&video, 64<<10, 5*time.Second); err != nil {
		b.Fatal(err)
	}

	// Every post has its own upload: a published post deletes its upload.
	uploads := make([]string, posts)
	run(b, posts, 8, func(i int) (time.Duration, error) {
		var up struct {
			ID string `json:"id"`
		}
		_, err := c.call(http.MethodPost, "/v1/uploads", video.Bytes(), "video/mp4", &up)
		uploads[i] = up.ID
		return 0, err
	})

	due := time.Now().Add(2 * time.Minute).Truncate(time.Minute)
	scheduled := make([]time.Time, posts)
	ids := make([]string, posts)
	b.ResetTimer()
	start := time.Now()
	createLatency := run(b, posts, 8, func(i int) (time.Duration, error) {
		scheduled[i] = due.Add(time.Duration(i) * time.Minute / posts)
		var p struct {
			ID string `json:"id"`
		}
		t0 := time.Now()
		_, err := c.call(http.MethodPost, "/v1/posts", map[string]any{"channel_id": c.channelID, "upload_id": uploads[i],
			"caption": fmt.Sprintf("bench %d", i), "privacy": "SELF_ONLY", "scheduled_at": scheduled[i].Format(time.RFC3339Nano)}, "", &p)
		ids[i] = p.ID
		return time.Since(t0), err
	})
	createElapsed := time.Since(start)
	b.StopTimer()
	if time.Now().After(due) {
		b.Fatalf("creating %d posts took until after their due time; lower the count", posts)
	}

	// Wait for every post to start publishing; read its start from the history.
	lateness := make([]time.Duration, posts)
	var lastStart time.Time
	var mu sync.Mutex
	deadline := due.Add(10 * time.Minute)
	time.Sleep(time.Until(due))
	run(b, posts, 8, func(i int) (time.Duration, error) {
		for time.Now().Before(deadline) {
			var p struct {
				History []struct {
					Status string    `json:"status"`
					At     time.Time `json:"at"`
				} `json:"history"`
			}
			if _, err := c.call(http.MethodGet, "/v1/posts/"+ids[i], nil, "", &p); err != nil {
				return 0, err
			}
			for _, h := range p.History {
				if h.Status == "publishing" {
					lateness[i] = h.At.Sub(scheduled[i])
					mu.Lock()
					if h.At.After(lastStart) {
						lastStart = h.At
					}
					mu.Unlock()
					return 0, nil
				}
			}
			time.Sleep(500 * time.Millisecond)
		}
		return 0, fmt.Errorf("post %s never started publishing", ids[i])
	})
	window := lastStart.Sub(due)
	if window < time.Minute {
		window = time.Minute // the posts are spread over one minute
	}
	postsPerSecond := float64(posts) / window.Seconds()
	plain := plainStartsPerSecond(b, s.temporal, posts)

	b.ReportMetric(float64(posts)/createElapsed.Seconds(), "creates/s")
	b.ReportMetric(ms(percentile(createLatency, 0.50)), "create-p50-ms")
	b.ReportMetric(ms(percentile(createLatency, 0.99)), "create-p99-ms")
	b.ReportMetric(ms(percentile(lateness, 0.50)), "lateness-p50-ms")
	b.ReportMetric(ms(percentile(lateness, 0.99)), "lateness-p99-ms")
	b.ReportMetric(postsPerSecond, "posts/s")
	b.ReportMetric(plain, "plain-starts/s")
	b.ReportMetric(postsPerSecond/plain, "posts-to-plain-ratio")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// run calls fn(i) for i in [0, n) from `workers` goroutines and returns the
// durations fn reports; the first error fails the benchmark.
func run(b *testing.B, n, workers int, fn func(i int) (time.Duration, error)) []time.Duration {
	out := make([]time.Duration, n)
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				d, err := fn(i)
				out[i] = d
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
	return out
}

// noop is the plain workflow the ratio compares against: started and
// completed, nothing else.
func noop(workflow.Context) error { return nil }

// plainStartsPerSecond starts and completes n empty workflows on the same
// Temporal server, with its own worker, and returns their rate.
func plainStartsPerSecond(b *testing.B, addr string, n int) float64 {
	quiet := sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	c, err := client.Dial(client.Options{HostPort: addr, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	w := worker.New(c, "bench-plain", worker.Options{})
	w.RegisterWorkflow(noop)
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	ctx := context.Background()
	start := time.Now()
	run(b, n, 8, func(i int) (time.Duration, error) {
		r, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("plain-%d-%d", start.UnixNano(), i), TaskQueue: "bench-plain"}, noop)
		if err != nil {
			return 0, err
		}
		return 0, r.Get(ctx, nil)
	})
	return float64(n) / time.Since(start).Seconds()
}
