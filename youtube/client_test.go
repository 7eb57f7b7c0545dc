package youtube_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/youtube"
	"github.com/loomcast/loomcast/youtube/fake"
)

func TestMyChannel(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.fake.SignInAs("UCx7Jd2kQ3vNq9PzLm4tR8wA", "Cooking With Ana")
	tok := e.connect(t)

	ch, err := e.yt.MyChannel(context.Background(), tok.AccessToken)
	require.NoError(t, err)
	require.Equal(t, "UCx7Jd2kQ3vNq9PzLm4tR8wA", ch.ID)
	require.Equal(t, "Cooking With Ana", ch.Title)
	require.True(t, strings.HasPrefix(ch.ThumbnailURL, e.base+"/avatars/UCx7Jd2kQ3vNq9PzLm4tR8wA.svg"), ch.ThumbnailURL)

	resp, err := e.srv.Client().Get(ch.ThumbnailURL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "image/svg+xml", resp.Header.Get("Content-Type"))

	// The default identity applies to a fresh fake.
	e2 := newEnv(t, envOptions{})
	ch, err = e2.yt.MyChannel(context.Background(), e2.connect(t).AccessToken)
	require.NoError(t, err)
	require.Equal(t, youtube.Channel{ID: fake.DefaultChannelID, Title: fake.DefaultChannelTitle, ThumbnailURL: ch.ThumbnailURL}, ch)
}

func TestMyChannelErrors(t *testing.T) {
	tests := []struct {
		name        string
		break_      func(e *env, c *clock, tok *youtube.Token)
		status      int
		reason      string
		authExpired bool
		retryable   bool
	}{
		{"expired access token", func(_ *env, c *clock, _ *youtube.Token) { c.advance(2 * time.Hour) },
			http.StatusUnauthorized, "authError", true, false},
		{"unknown access token", func(_ *env, _ *clock, tok *youtube.Token) { tok.AccessToken = "ya29.nope" },
			http.StatusUnauthorized, "authError", true, false},
		{"quota exceeded", func(e *env, _ *clock, _ *youtube.Token) {
			e.fake.FailNext("/youtube/v3/channels", fake.Failure{Status: http.StatusForbidden, Reason: "quotaExceeded"})
		}, http.StatusForbidden, "quotaExceeded", false, false},
		{"backend error", func(e *env, _ *clock, _ *youtube.Token) {
			e.fake.FailNext("/youtube/v3/channels", fake.Failure{Status: http.StatusServiceUnavailable})
		}, http.StatusServiceUnavailable, "backendError", false, true},
		{"rate limited", func(e *env, _ *clock, _ *youtube.Token) {
			e.fake.FailNext("/youtube/v3/", fake.Failure{Status: http.StatusTooManyRequests})
		}, http.StatusTooManyRequests, "rateLimitExceeded", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: time.Now()}
			e := newEnv(t, envOptions{now: c.now})
			tok := e.connect(t)
			tt.break_(e, c, &tok)

			_, err := e.yt.MyChannel(context.Background(), tok.AccessToken)
			var ae *youtube.APIError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, tt.status, ae.HTTPStatus)
			require.Equal(t, tt.reason, ae.Reason)
			require.NotEmpty(t, ae.Message)
			require.Equal(t, tt.authExpired, ae.AuthExpired())
			require.Equal(t, tt.retryable, ae.Retryable())
			require.NotContains(t, err.Error(), tok.AccessToken)
		})
	}
}

// The sandbox mounts the fake under a path prefix; every call, including
// the upload that the generated client addresses at "/upload/...", must
// reach it there.
func TestUnderPathPrefix(t *testing.T) {
	for _, strip := range []bool{true, false} {
		t.Run(map[bool]string{true: "prefix stripped", false: "prefix kept"}[strip], func(t *testing.T) {
			e := newEnv(t, envOptions{prefix: "/sandbox/youtube", strip: strip})
			ctx := context.Background()
			tok := e.connect(t)
			tok, err := e.yt.Refresh(ctx, tok.RefreshToken)
			require.NoError(t, err)
			_, err = e.yt.MyChannel(ctx, tok.AccessToken)
			require.NoError(t, err)

			data := media(3 << 20)
			id, err := e.yt.Upload(ctx, tok.AccessToken, youtube.Video{Title: "t", PrivacyStatus: "unlisted"},
				strings.NewReader(string(data)), int64(len(data)), "video/mp4", 1<<20, nil)
			require.NoError(t, err)
			require.Equal(t, id, e.fake.Videos()[0].ID)

			require.NoError(t, e.yt.Revoke(ctx, tok.RefreshToken))
			paths := e.log.paths()
			require.NotEmpty(t, paths)
			for _, p := range paths {
				require.True(t, strings.HasPrefix(p, "/sandbox/youtube/"), p)
			}
		})
	}
}
