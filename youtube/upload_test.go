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
			"bytes 0-5242879/*", "bytes 5242880-10485759/*", "bytes 10485760-15728639/*",
			"bytes 15728640-20971519/*", "bytes */20971520",
		}},
		{"503 on third chunk", &fake.Failure{Status: http.StatusServiceUnavailable}, []string{
			"bytes 0-5242879/*", "bytes 5242880-10485759/*",
			"bytes 10485760-15728639/*", "bytes 10485760-15728639/*", // refused, then sent again
			"bytes 15728640-20971519/*", "bytes */20971520",
		}},
		{"connection dropped on third chunk", &fake.Failure{Drop: true}, []string{
			"bytes 0-5242879/*", "bytes 5242880-10485759/*",
			"bytes 10485760-15728639/*", "bytes 10485760-15728639/*",
			"bytes 15728640-20971519/*", "bytes */20971520",
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
			var ranges []string
			for _, r := range session {
				require.Equal(t, http.MethodPost, r.method, "google.golang.org/api sends chunks with POST")
				ranges = append(ranges, r.contentRange)
			}
			require.Equal(t, tt.wantRanges, ranges)
		})
	}
}

func TestUploadSmallIsOneRequest(t *testing.T) {
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
	require.Equal(t, 0, videos[0].Sessions, "multipart, no session")
	require.Equal(t, int64(len(data)), videos[0].Received)
	require.Equal(t, sum(data), videos[0].SHA256)
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
	e := newEnv(t, envOptions{})
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
