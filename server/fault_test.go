package server_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/server/servertest"
)

// chunkTransport records the Content-Range of every chunk PUT and, when
// hangAfter > 0, hangs every PUT after that many, as a worker that dies
// mid-upload would.
type chunkTransport struct {
	mu        sync.Mutex
	ranges    []string
	hangAfter int
	hung      chan struct{}
	once      sync.Once
}

func (c *chunkTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut {
		c.mu.Lock()
		n := len(c.ranges)
		if c.hangAfter == 0 || n < c.hangAfter {
			c.ranges = append(c.ranges, r.Header.Get("Content-Range"))
		}
		c.mu.Unlock()
		if c.hangAfter > 0 && n >= c.hangAfter {
			c.once.Do(func() { close(c.hung) })
			<-r.Context().Done()
			return nil, r.Context().Err()
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (c *chunkTransport) seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string{}, c.ranges...)
}

// TestWorkerDiesMidUpload stops the worker after three of five chunks;
// another worker takes over, resumes after the last acknowledged chunk,
// and TikTok ends up with exactly one complete post.
func TestWorkerDiesMidUpload(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{NoWorker: true})
	first := &chunkTransport{hangAfter: 3, hung: make(chan struct{})}
	w1 := env.StartWorker(&http.Client{Transport: first})

	c := env.Client()
	c.Register("fault@example.com", goodPassword)
	channel := c.ConnectChannel("tiktok")
	upload := c.Upload(50_000_000, 10*time.Second) // five chunks of 10,000,000 bytes
	r := createPost(t, c, map[string]any{"channel_id": channel, "upload_id": upload, "caption": "survives a crash",
		"privacy": "PUBLIC_TO_EVERYONE", "scheduled_at": "now"})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var p postJSON
	r.JSON(t, &p)

	select {
	case <-first.hung:
	case <-time.After(60 * time.Second):
		t.Fatal("the first worker never reached its fourth chunk")
	}
	w1.Stop() // the worker dies in the middle of the upload

	second := &chunkTransport{}
	env.StartWorker(&http.Client{Transport: second})
	done := waitForPost(t, c, p.ID, "published", "failed")
	require.Equal(t, "published", done.Status, done.FailureReason)

	require.Equal(t, []string{"bytes 0-9999999/50000000", "bytes 10000000-19999999/50000000", "bytes 20000000-29999999/50000000"}, first.seen())
	resumed := second.seen()
	require.NotEmpty(t, resumed)
	require.True(t, strings.HasPrefix(resumed[0], "bytes 30000000-"), "the second worker resumed after the last acknowledged chunk, not from the start: %v", resumed)
	require.Equal(t, "bytes 40000000-49999999/50000000", resumed[len(resumed)-1])

	posts := env.TikTok.Posts()
	require.Len(t, posts, 1, "exactly one post at TikTok")
	require.Equal(t, 1, posts[0].Inits, "init happened once")
	require.EqualValues(t, 50_000_000, posts[0].Received)
	require.Equal(t, 5, posts[0].ChunksReceived)

	post, err := env.Store.PostByID(context.Background(), p.ID)
	require.NoError(t, err)
	require.Equal(t, posts[0].PublishID, post.PublishID)
}
