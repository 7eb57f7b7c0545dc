package youtube_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/youtube"
	"github.com/loomcast/loomcast/youtube/fake"
)

const mib = 1 << 20

// media returns n reproducible pseudo-random bytes.
func media(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{'l', 'o', 'o', 'm'})
	_, _ = r.Read(b)
	return b
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestUploadChunked(t *testing.T) {
	tests := []struct {
		name       string
		fail       *fake.Failure // on the third chunk
		wantRanges []string
	}{
		{"clean", nil, []string{
			"bytes */20971520", // what has the session committed? nothing yet
			"bytes 0-5242879/20971520", "bytes 5242880-10485759/20971520", "bytes 10485760-15728639/20971520",
			"bytes 15728640-20971519/20971520",
		}},
		{"503 on third chunk", &fake.Failure{Status: http.StatusServiceUnavailable}, []string{
			"bytes */20971520",
			"bytes 0-5242879/20971520", "bytes 5242880-10485759/20971520",
			"bytes 10485760-15728639/20971520", "bytes */20971520", "bytes 10485760-15728639/20971520", // refused, asked, sent again
			"bytes 15728640-20971519/20971520",
		}},
		{"connection dropped on third chunk", &fake.Failure{Drop: true}, []string{
			"bytes */20971520",
			"bytes 0-5242879/20971520", "bytes 5242880-10485759/20971520",
			"bytes 10485760-15728639/20971520", "bytes */20971520", "bytes 10485760-15728639/20971520",
			"bytes 15728640-20971519/20971520",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			tok := e.connect(t)
			data := media(20 * mib)

			var progress []int64
			onProgress := func(sent int64) {
				progress = append(progress, sent)
				if sent == 10*mib && tt.fail != nil {
					e.fake.FailNext("/upload/youtube/v3/videos", *tt.fail)
				}
			}
			v := youtube.Video{Title: "Launch day", Description: "All of it.", PrivacyStatus: "private"}
			id, err := e.yt.Upload(context.Background(), tok.AccessToken, v, bytes.NewReader(data), int64(len(data)),
				"video/mp4", 5*mib, onProgress)
			require.NoError(t, err)
			require.Len(t, id, 11)

			require.Equal(t, []int64{5 * mib, 10 * mib, 15 * mib, 20 * mib}, progress)
			require.Equal(t, []fake.Video{{
				ID: id, ChannelID: fake.DefaultChannelID, Title: "Launch day", Description: "All of it.",
				PrivacyStatus: "private", Size: 20 * mib, Received: 20 * mib, Sessions: 1, SHA256: sum(data),
			}}, e.fake.Videos())

			starts, session := e.log.uploads()
			require.Equal(t, 1, starts, "one resumable session")
			require.Equal(t, tt.wantRanges, ranges(t, session))
		})
	}
}

// ranges returns the Content-Range of each session request, checking that
// they are PUTs as the protocol documents.
func ranges(t *testing.T, session []loggedRequest) []string {
	t.Helper()
	var out []string
	for _, r := range session {
		require.Equal(t, http.MethodPut, r.method)
		out = append(out, r.contentRange)
	}
	return out
}

func TestUploadSmallIsOneChunk(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.connect(t)
	data := media(mib + 17)

	var progress []int64
	id, err := e.yt.Upload(context.Background(), tok.AccessToken, youtube.Video{Title: "Short", PrivacyStatus: "public"},
		bytes.NewReader(data), int64(len(data)), "video/webm", 5*mib, func(n int64) { progress = append(progress, n) })
	require.NoError(t, err)
	require.Equal(t, []int64{int64(len(data))}, progress)
	videos := e.fake.Videos()
	require.Len(t, videos, 1)
	require.Equal(t, id, videos[0].ID)
	require.Equal(t, 1, videos[0].Sessions)
	require.Equal(t, int64(len(data)), videos[0].Received)
	require.Equal(t, sum(data), videos[0].SHA256)
	_, session := e.log.uploads()
	require.Equal(t, []string{"bytes */1048593", "bytes 0-1048592/1048593"}, ranges(t, session))
}

// An attempt that stops part way (its process died, say) leaves the
// session with what it committed; resuming sends only the rest.
func TestResumeAfterAStoppedAttempt(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.connect(t)
	data := media(4 * mib)
	ctx := context.Background()
	uri, err := e.yt.StartUpload(ctx, tok.AccessToken, youtube.Video{Title: "Again", PrivacyStatus: "unlisted"}, int64(len(data)), "video/mp4")
	require.NoError(t, err)
	require.Contains(t, uri, "upload_id=")

	stopped, stop := context.WithCancel(ctx)
	_, err = e.yt.ResumeUpload(stopped, uri, bytes.NewReader(data), int64(len(data)), mib, func(sent int64) {
		if sent == 2*mib {
			stop()
		}
	})
	require.ErrorIs(t, err, context.Canceled)
	require.NotContains(t, err.Error(), "upload_id")
	require.Empty(t, e.fake.Videos()[0].ID)

	var progress []int64
	id, err := e.yt.ResumeUpload(ctx, uri, bytes.NewReader(data), int64(len(data)), mib, func(n int64) { progress = append(progress, n) })
	require.NoError(t, err)
	require.Equal(t, []int64{2 * mib, 3 * mib, 4 * mib}, progress)
	_, session := e.log.uploads()
	require.Equal(t, []string{
		"bytes */4194304", "bytes 0-1048575/4194304", "bytes 1048576-2097151/4194304",
		"bytes */4194304", "bytes 2097152-3145727/4194304", "bytes 3145728-4194303/4194304", // resumed at 2 MiB
	}, ranges(t, session))
	videos := e.fake.Videos()
	require.Len(t, videos, 1)
	require.Equal(t, id, videos[0].ID)
	require.Equal(t, sum(data), videos[0].SHA256)
}

// A session that completed answers its status query with the video: a
// second ResumeUpload sends nothing and makes no second video.
func TestResumeCompletedSession(t *testing.T) {
	e, uri, data := startSession(t)
	ctx := context.Background()
	first, err := e.yt.ResumeUpload(ctx, uri, bytes.NewReader(data), int64(len(data)), mib, nil)
	require.NoError(t, err)
	again, err := e.yt.ResumeUpload(ctx, uri, bytes.NewReader(data), int64(len(data)), mib, nil)
	require.NoError(t, err)
	require.Equal(t, first, again)
	require.Len(t, e.fake.Videos(), 1)
	_, session := e.log.uploads()
	require.Equal(t, []string{"bytes */1048576", "bytes 0-1048575/1048576", "bytes */1048576"}, ranges(t, session))
}

// The final answer, the one naming the video, is lost.
func TestLostFinalAnswer(t *testing.T) {
	data := media(2 * mib)
	ctx := context.Background()
	t.Run("within the retries", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		tok := e.connect(t)
		e.fake.LoseCompletedAnswers(2) // the last chunk's answer and the first status query's
		id, err := e.yt.Upload(ctx, tok.AccessToken, youtube.Video{Title: "Lost", PrivacyStatus: "private"}, bytes.NewReader(data), int64(len(data)), "video/mp4", mib, nil)
		require.NoError(t, err)
		videos := e.fake.Videos()
		require.Len(t, videos, 1)
		require.Equal(t, id, videos[0].ID)
		_, session := e.log.uploads()
		require.Equal(t, []string{"bytes */2097152", "bytes 0-1048575/2097152", "bytes 1048576-2097151/2097152",
			"bytes */2097152", "bytes */2097152"}, ranges(t, session))
	})
	t.Run("beyond the retries", func(t *testing.T) {
		e := newEnv(t, envOptions{retryFor: -1})
		tok := e.connect(t)
		e.fake.LoseCompletedAnswers(1)
		uri, err := e.yt.StartUpload(ctx, tok.AccessToken, youtube.Video{Title: "Lost", PrivacyStatus: "private"}, int64(len(data)), "video/mp4")
		require.NoError(t, err)
		_, err = e.yt.ResumeUpload(ctx, uri, bytes.NewReader(data), int64(len(data)), mib, nil)
		require.Error(t, err)
		require.NotContains(t, err.Error(), "upload_id")
		// The next attempt, with the stored session URI, finds the video.
		id, err := e.yt.ResumeUpload(ctx, uri, bytes.NewReader(data), int64(len(data)), mib, nil)
		require.NoError(t, err)
		videos := e.fake.Videos()
		require.Len(t, videos, 1)
		require.Equal(t, id, videos[0].ID)
		require.Equal(t, 1, videos[0].Sessions)
	})
}

// startSession opens a session for 1 MiB of media.
func startSession(t *testing.T) (*env, string, []byte) {
	t.Helper()
	e := newEnv(t, envOptions{})
	tok := e.connect(t)
	data := media(mib)
	uri, err := e.yt.StartUpload(context.Background(), tok.AccessToken, youtube.Video{Title: "Once", PrivacyStatus: "public"}, int64(len(data)), "video/mp4")
	require.NoError(t, err)
	return e, uri, data
}

func TestResumeExpiredSession(t *testing.T) {
	e, uri, data := startSession(t)
	e.fake.ExpireSessions()
	_, err := e.yt.ResumeUpload(context.Background(), uri, bytes.NewReader(data), int64(len(data)), mib, nil)
	require.ErrorIs(t, err, youtube.ErrSessionExpired)
}

func TestUploadRefused(t *testing.T) {
	good := youtube.Video{Title: "Fine", PrivacyStatus: "public"}
	tests := []struct {
		name        string
		video       youtube.Video
		contentType string
		fail        *fake.Failure
		failAfter   int64 // inject the failure once this many bytes were sent
		status      int
		reason      string
		retryable   bool
		authExpired bool
	}{
		{name: "invalid privacy", video: youtube.Video{Title: "x", PrivacyStatus: "friends"},
			status: 400, reason: "invalidVideoMetadata"},
		{name: "no privacy", video: youtube.Video{Title: "x"}, status: 400, reason: "invalidVideoMetadata"},
		{name: "no title", video: youtube.Video{PrivacyStatus: "public"}, status: 400, reason: "invalidTitle"},
		{name: "not a video", video: good, contentType: "text/plain", status: 400, reason: "badContent"},
		{name: "upload limit at start", video: good, fail: &fake.Failure{Status: 400, Reason: "uploadLimitExceeded"},
			status: 400, reason: "uploadLimitExceeded"},
		{name: "quota at start", video: good, fail: &fake.Failure{Status: 403, Reason: "quotaExceeded"},
			status: 403, reason: "quotaExceeded"},
		{name: "forbidden mid-upload", video: good, fail: &fake.Failure{Status: 403, Reason: "forbidden"}, failAfter: mib,
			status: 403, reason: "forbidden"},
		{name: "unavailable at start", video: good, fail: &fake.Failure{Status: 503},
			status: 503, reason: "backendError", retryable: true},
		{name: "token refused", video: good, fail: &fake.Failure{Status: 401},
			status: 401, reason: "authError", authExpired: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			tok := e.connect(t)
			if tt.fail != nil && tt.failAfter == 0 {
				e.fake.FailNext("/upload/", *tt.fail)
			}
			ct := tt.contentType
			if ct == "" {
				ct = "video/mp4"
			}
			data := media(3 * mib)
			_, err := e.yt.Upload(context.Background(), tok.AccessToken, tt.video, bytes.NewReader(data), int64(len(data)),
				ct, mib, func(sent int64) {
					if tt.fail != nil && sent == tt.failAfter {
						e.fake.FailNext("/upload/", *tt.fail)
					}
				})
			var ae *youtube.APIError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, tt.status, ae.HTTPStatus)
			require.Equal(t, tt.reason, ae.Reason)
			require.Equal(t, tt.retryable, ae.Retryable())
			require.Equal(t, tt.authExpired, ae.AuthExpired())
			require.NotContains(t, err.Error(), tok.AccessToken)
			require.NotContains(t, err.Error(), "upload_id")
			for _, v := range e.fake.Videos() {
				require.Empty(t, v.ID, "no video was completed")
			}
		})
	}
}

func TestUploadRevokedMidway(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.connect(t)
	data := media(2 * mib)
	// The session URI, not the token, authorizes chunks: a grant revoked
	// after the session started does not stop the upload (as with Google).
	id, err := e.yt.Upload(context.Background(), tok.AccessToken, youtube.Video{Title: "x", PrivacyStatus: "private"},
		bytes.NewReader(data), int64(len(data)), "video/mp4", mib, func(int64) { e.fake.RevokeGrants(fake.DefaultChannelID) })
	require.NoError(t, err)
	require.NotEmpty(t, id)

	_, err = e.yt.Upload(context.Background(), tok.AccessToken, youtube.Video{Title: "x", PrivacyStatus: "private"},
		bytes.NewReader(data), int64(len(data)), "video/mp4", mib, nil)
	var ae *youtube.APIError
	require.ErrorAs(t, err, &ae)
	require.True(t, ae.AuthExpired())
}

func TestUploadSizeMismatch(t *testing.T) {
	tests := []struct {
		name     string
		declared int64
	}{
		{"shorter than declared", 4 * mib},
		{"longer than declared", 2 * mib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			tok := e.connect(t)
			_, err := e.yt.Upload(context.Background(), tok.AccessToken, youtube.Video{Title: "x", PrivacyStatus: "private"},
				strings.NewReader(string(media(3*mib))), tt.declared, "video/mp4", mib, nil)
			require.Error(t, err)
			var ae *youtube.APIError
			require.False(t, errors.As(err, &ae), "a local failure, not the API's: %v", err)
			for _, v := range e.fake.Videos() {
				require.Empty(t, v.ID)
			}
		})
	}
}

// A transport failure on a session request must not show the session URI
// (its upload_id lets anyone upload into the session).
func TestUploadTransportErrorHidesSession(t *testing.T) {
	e := newEnv(t, envOptions{retryFor: 2 * time.Second})
	tok := e.connect(t)
	inner := e.srv.Config.Handler
	var sessionCalls atomic.Int32
	e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.Query().Has("upload_id") {
			inner.ServeHTTP(w, r)
			return
		}
		if sessionCalls.Add(1) == 1 { // retryable: the chunk is sent again
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		conn, _, err := w.(http.Hijacker).Hijack() // then a garbled answer, not retryable
		require.NoError(t, err)
		_, _ = conn.Write([]byte("HTTP/1.1 abc garbage\r\n\r\n"))
		conn.Close()
	})
	data := media(2 * mib)
	_, err := e.yt.Upload(context.Background(), tok.AccessToken, youtube.Video{Title: "x", PrivacyStatus: "private"},
		bytes.NewReader(data), int64(len(data)), "video/mp4", mib, nil)
	require.Error(t, err)
	t.Log(err)
	// The garbled answer may be retried by the transport; what matters is
	// that the error hides the session URL and the token.
	require.GreaterOrEqual(t, sessionCalls.Load(), int32(2))
	require.Contains(t, err.Error(), "/upload/youtube/v3/videos")
	require.NotContains(t, err.Error(), "upload_id")
	require.NotContains(t, err.Error(), tok.AccessToken)
	var ae *youtube.APIError
	require.False(t, errors.As(err, &ae))
}
