package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loomcast/loomcast/media"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/tiktok"
)

// sandboxSecret signs the TikTok sandbox's webhooks (see cmd/loomcast).
const sandboxSecret = "loomcast-sandbox-secret"

var publishIDInHistory = regexp.MustCompile(`TikTok publish ID (\S+)`)

// BenchmarkWebhookIngest sends signed TikTok events to loomcast dev at
// 1,000 requests per second for 30 seconds and reports the achieved rate,
// the acknowledgement latency p50/p99, and checks that every event sent
// is stored and applied. Run it once: -benchtime 1x.
func BenchmarkWebhookIngest(b *testing.B) {
	const (
		rate     = 1000
		duration = 30 * time.Second
	)
	s := startDev(b)
	c := newCreator(b, s)
	publishID := publishOne(b, c)
	var open struct {
		Channels []struct {
			ExternalID string `json:"external_id"`
		} `json:"channels"`
	}
	if _, err := c.call(http.MethodGet, "/v1/channels", nil, "", &open); err != nil {
		b.Fatal(err)
	}
	openID := open.Channels[0].ExternalID

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}, Timeout: 30 * time.Second}
	var (
		sent, failed atomic.Int64
		mu           sync.Mutex
		latencies    []time.Duration
		wg           sync.WaitGroup
	)
	jobs := make(chan int, rate)
	for w := 0; w < 128; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range jobs {
				content, _ := json.Marshal(map[string]any{"publish_id": publishID, "seq": seq})
				now := time.Now()
				body, _ := json.Marshal(map[string]any{"client_key": "loomcast-sandbox", "event": "post.publish.inbox_delivered",
					"create_time": now.Unix(), "user_openid": openID, "content": string(content)})
				req, _ := http.NewRequest(http.MethodPost, s.base+"/webhooks/tiktok", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(tiktok.WebhookSignatureHeader, tiktok.SignWebhook(sandboxSecret, now, body))
				t0 := time.Now()
				resp, err := hc.Do(req)
				d := time.Since(t0)
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
					if resp != nil {
						resp.Body.Close()
					}
					continue
				}
				resp.Body.Close()
				sent.Add(1)
				mu.Lock()
				latencies = append(latencies, d)
				mu.Unlock()
			}
		}()
	}
	b.ResetTimer()
	start := time.Now()
	// Pace by schedule, not by ticks: every millisecond, send whatever the
	// target rate says is due by now (a 1 ms ticker drops ticks under load).
	seq := 0
	for elapsed := time.Duration(0); elapsed < duration; elapsed = time.Since(start) {
		for due := int(elapsed.Seconds() * rate); seq < due; seq++ {
			jobs <- seq
		}
		time.Sleep(time.Millisecond)
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d requests failed", failed.Load())
	}

	// Every acknowledged event must be stored and applied.
	store, err := models.Open(context.Background(), "sqlite:"+filepath.Join(filepath.Dir(s.cmd.Path), "data", "loomcast.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	applyStart := time.Now()
	var applied int64
	for time.Since(applyStart) < 10*time.Minute {
		applied, err = store.CountWebhookEvents(context.Background(), models.SourceTikTok, models.WebhookApplied)
		if err != nil {
			b.Fatal(err)
		}
		// +2: the sandbox's own events for the published post.
		if applied >= sent.Load()+2 {
			break
		}
		time.Sleep(time.Second)
	}
	if applied < sent.Load()+2 {
		b.Fatalf("sent %d events, only %d applied", sent.Load(), applied-2)
	}
	b.ReportMetric(float64(sent.Load())/elapsed.Seconds(), "acked/s")
	b.ReportMetric(ms(percentile(latencies, 0.50)), "ack-p50-ms")
	b.ReportMetric(ms(percentile(latencies, 0.99)), "ack-p99-ms")
	b.ReportMetric(float64(sent.Load()), "sent")
	b.ReportMetric(float64(applied-2), "applied")
	b.ReportMetric(time.Since(applyStart).Seconds(), "drain-s")
}

// publishOne publishes a post on the sandbox and returns its publish ID.
func publishOne(b *testing.B, c *creator) string {
	var video bytes.Buffer
	if err := media.SyntheticMP4(&video, 64<<10, 5*time.Second); err != nil {
		b.Fatal(err)
	}
	var up struct {
		ID string `json:"id"`
	}
	if _, err := c.call(http.MethodPost, "/v1/uploads", video.Bytes(), "video/mp4", &up); err != nil {
		b.Fatal(err)
	}
	var p struct {
		ID      string `json:"id"`
		Status  string `json:"status"`
		History []struct {
			Detail string `json:"detail"`
		} `json:"history"`
	}
	if _, err := c.call(http.MethodPost, "/v1/posts", map[string]any{"channel_id": c.channelID, "upload_id": up.ID,
		"privacy": "PUBLIC_TO_EVERYONE", "scheduled_at": "now"}, "", &p); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if _, err := c.call(http.MethodGet, "/v1/posts/"+p.ID, nil, "", &p); err != nil {
			b.Fatal(err)
		}
		if p.Status == "published" {
			for _, h := range p.History {
				if m := publishIDInHistory.FindStringSubmatch(h.Detail); m != nil {
					return m[1]
				}
			}
		}
	}
	b.Fatalf("post %s did not publish (status %s)", p.ID, p.Status)
	return ""
}
