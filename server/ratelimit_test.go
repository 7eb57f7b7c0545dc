package server_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/server/servertest"
	"github.com/loomcast/loomcast/tiktok"
)

// countingTransport counts the TikTok API calls a worker makes.
type countingTransport struct{ calls atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.calls.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// TestFiftyPostsShareTikTokLimits: fifty posts on one TikTok account, all
// due now, published by two workers. TikTok's limits (scaled here to a
// 3-second window, so the test is short) are shared through the database:
// every post publishes, none fails for a rate limit, and the fake, which
// refuses any call beyond a limit, refused none.
func TestFiftyPostsShareTikTokLimits(t *testing.T) {
	limits := tiktok.RateLimits{Window: 3 * time.Second, Init: 6, CreatorInfo: 20, Status: 30}
	env := servertest.New(t, models.SQLite, servertest.Options{NoWorker: true, TikTokLimits: limits, PaceGrace: time.Second})
	transports := []*countingTransport{{}, {}}
	for _, tr := range transports {
		env.StartWorkerWith(servertest.WorkerClients{TikTok: &http.Client{Transport: tr}})
	}
	c := env.Client()
	c.Register("busy@example.com", goodPassword)
	channel := c.ConnectChannel("tiktok")

	const n = 50
	ids := make([]string, n)
	for i := range n {
		upload := c.Upload(200_000, 5*time.Second)
		r := createPost(t, c, map[string]any{"channel_id": channel, "upload_id": upload, "caption": "one of fifty",
			"privacy": "PUBLIC_TO_EVERYONE", "scheduled_at": "now"})
		require.Equal(t, http.StatusCreated, r.Status, "post %d: %s", i, r.Body)
		var p postJSON
		r.JSON(t, &p)
		ids[i] = p.ID
	}

	for i, id := range ids { // they publish side by side; each wait starts when the one before ended
		p := waitForPost(t, c, id, "published", "failed")
		require.Equal(t, "published", p.Status, "post %d: %s", i, p.FailureReason)
	}
	require.Zero(t, env.TikTok.RateLimited(), "the fake refused no call for a rate limit")
	require.Len(t, env.TikTok.Posts(), n, "one TikTok post each")
	for i, tr := range transports {
		require.NotZero(t, tr.calls.Load(), "worker %d took part", i+1)
	}
}

// When the account's creator_info allowance is taken, the creator-info
// endpoint answers 429 with Retry-After, and creating a post still works
// (its options are checked again before it publishes).
func TestCreatorInfoPacing(t *testing.T) {
	limits := tiktok.RateLimits{Window: time.Hour, Init: 6, CreatorInfo: 2, Status: 30}
	env := servertest.New(t, models.SQLite, servertest.Options{TikTokLimits: limits})
	c := env.Client()
	c.Register("pace@example.com", goodPassword)
	channel := c.ConnectChannel("tiktok")
	for range 2 {
		r := c.Do(http.MethodGet, "/v1/channels/"+channel+"/creator-info", nil)
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	}
	r := c.Do(http.MethodGet, "/v1/channels/"+channel+"/creator-info", nil)
	require.Equal(t, http.StatusTooManyRequests, r.Status, "body: %s", r.Body)
	require.Contains(t, string(r.Body), "rate-limited")
	require.NotEmpty(t, r.Header.Get("Retry-After"))

	upload := c.Upload(200_000, 5*time.Second)
	later := env.Clock.Now().Add(time.Hour).Format(time.RFC3339)
	r = createPost(t, c, map[string]any{"channel_id": channel, "upload_id": upload, "caption": "later",
		"privacy": "PUBLIC_TO_EVERYONE", "scheduled_at": later})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	require.Zero(t, env.TikTok.RateLimited(), "nothing went past TikTok's limit")
}
