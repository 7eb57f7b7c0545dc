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
	"github.com/loomcast/loomcast/workflows/posting"
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

// sessionTransport records the Content-Range of every request to a YouTube
// upload session and, when dieOnLast, lets the final chunk reach YouTube
// but never delivers its answer, as a worker that dies between the last
// chunk and recording the video would.
type sessionTransport struct {
	mu        sync.Mutex
	ranges    []string
	dieOnLast bool
	died      chan struct{}
}

func (s *sessionTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !r.URL.Query().Has("upload_id") {
		return http.DefaultTransport.RoundTrip(r)
	}
	cr := r.Header.Get("Content-Range")
	s.mu.Lock()
	s.ranges = append(s.ranges, cr)
	s.mu.Unlock()
	res, err := http.DefaultTransport.RoundTrip(r)
	if s.dieOnLast && err == nil && !strings.HasPrefix(cr, "bytes */") && res.StatusCode == http.StatusOK {
		res.Body.Close()
		close(s.died)
		<-r.Context().Done()
		return nil, r.Context().Err()
	}
	return res, err
}

func (s *sessionTransport) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{}, s.ranges...)
}

// publishYouTube connects a YouTube channel and schedules a 20 MB video
// (three chunks) for now.
func publishYouTube(t *testing.T, c *servertest.Client) postJSON {
	t.Helper()
	c.Register("once@example.com", goodPassword)
	channel := c.ConnectChannel("youtube")
	upload := c.Upload(20_000_000, 10*time.Second)
	r := createPost(t, c, map[string]any{"channel_id": channel, "upload_id": upload, "caption": "posted once",
		"privacy": "public", "scheduled_at": "now"})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var p postJSON
	r.JSON(t, &p)
	return p
}

// requireOneVideo checks that YouTube holds exactly one video, made by one
// session, and that the post shows it.
func requireOneVideo(t *testing.T, env *servertest.Env, c *servertest.Client, postID string) {
	t.Helper()
	done := waitForPost(t, c, postID, "published", "failed")
	require.Equal(t, "published", done.Status, done.FailureReason)
	var completed []string
	for _, v := range env.YouTube.Videos() {
		if v.ID != "" {
			completed = append(completed, v.ID)
		}
	}
	require.Len(t, env.YouTube.Videos(), 1, "one upload session, no second video started")
	require.Len(t, completed, 1, "exactly one video at YouTube")
	require.EqualValues(t, 20_000_000, env.YouTube.Videos()[0].Received)
	require.Equal(t, completed[0], done.PlatformPostID)
	require.Equal(t, "https://www.youtube.com/watch?v="+completed[0], done.PublicURL)
	post, err := env.Store.PostByID(context.Background(), postID)
	require.NoError(t, err)
	require.Empty(t, post.UploadSession, "the session is forgotten once the video is recorded")
	requireNotInHistory(t, env, posting.PublishWorkflowID(postID), "upload_id=", "uploadType=resumable")
}

// TestYouTubeWorkerDiesAfterLastChunk: the last chunk reaches YouTube,
// which makes the video, and the worker dies before it records the
// answer. The next worker resumes the stored session, finds the video and
// records it: no second upload.
func TestYouTubeWorkerDiesAfterLastChunk(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{NoWorker: true})
	first := &sessionTransport{dieOnLast: true, died: make(chan struct{})}
	w1 := env.StartWorkerWith(servertest.WorkerClients{YouTube: &http.Client{Transport: first}})
	c := env.Client()
	p := publishYouTube(t, c)

	select {
	case <-first.died:
	case <-time.After(60 * time.Second):
		t.Fatal("the first worker never sent its last chunk")
	}
	// The session was stored before the first byte, and only sealed.
	stored, err := env.Store.PostByID(context.Background(), p.ID)
	require.NoError(t, err)
	require.Contains(t, stored.UploadSession, "youtube_session_uri_sealed")
	require.NotContains(t, stored.UploadSession, "upload_id")
	require.NotContains(t, stored.UploadSession, "http")
	w1.Stop()
	second := &sessionTransport{}
	env.StartWorkerWith(servertest.WorkerClients{YouTube: &http.Client{Transport: second}})
	requireOneVideo(t, env, c, p.ID)

	require.Equal(t, []string{"bytes */20000000", "bytes 0-8388607/20000000", "bytes 8388608-16777215/20000000",
		"bytes 16777216-19999999/20000000"}, first.seen())
	require.Equal(t, []string{"bytes */20000000"}, second.seen(), "the second worker only asked the session, and sent nothing")
}

// TestYouTubeFinalAnswerLost: YouTube makes the video but its answer is
// lost, and the client does not retry within the attempt, so the activity
// fails; Temporal's retry resumes the session and takes the video.
func TestYouTubeFinalAnswerLost(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{NoWorker: true})
	tr := &sessionTransport{}
	env.StartWorkerWith(servertest.WorkerClients{YouTube: &http.Client{Transport: tr}, YouTubeRetryFor: -1})
	env.YouTube.LoseCompletedAnswers(1)
	c := env.Client()
	p := publishYouTube(t, c)
	requireOneVideo(t, env, c, p.ID)
	require.Equal(t, []string{"bytes */20000000", "bytes 0-8388607/20000000", "bytes 8388608-16777215/20000000",
		"bytes 16777216-19999999/20000000", // its answer was lost: the attempt failed
		"bytes */20000000",                 // the retried attempt asked, and got the video
	}, tr.seen())
}
