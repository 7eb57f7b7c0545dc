// The tests are in package tiktok_test, not tiktok: they drive the client
// against tiktok/fake, which imports tiktok, and an in-package test cannot
// import a package that imports the package under test.
package tiktok_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/tiktok"
	"github.com/loomcast/loomcast/tiktok/fake"
)

const (
	clientKey    = "test-client-key"
	clientSecret = "test-client-secret"
	mountPrefix  = "/sandbox/tiktok"
	mib          = 1 << 20
)

// clock is a settable clock for the fake.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a fake TikTok mounted under mountPrefix on an httptest server,
// and a client pointed at it.
type env struct {
	fake   *fake.Server
	client *tiktok.Client
	clock  *clock
	srv    *httptest.Server
}

// newEnv mounts the fake with http.StripPrefix when strip is set, and
// without it otherwise (the fake must cope with both).
func newEnv(t *testing.T, strip bool, opts ...func(*fake.Options)) *env {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	o := fake.Options{ClientKey: clientKey, ClientSecret: clientSecret, BaseURL: srv.URL + mountPrefix, Now: clk.Now}
	for _, f := range opts {
		f(&o)
	}
	f := fake.New(o)
	var h http.Handler = f.Handler()
	if strip {
		h = http.StripPrefix(mountPrefix, h)
	}
	mux.Handle(mountPrefix+"/", h)
	c := tiktok.New(tiktok.Config{
		ClientKey:    clientKey,
		ClientSecret: clientSecret,
		RedirectURI:  srv.URL + "/auth/tiktok/callback",
		AuthURL:      f.AuthURL(),
		APIBaseURL:   f.APIBaseURL(),
		HTTPClient:   srv.Client(),
	})
	return &env{fake: f, client: c, clock: clk, srv: srv}
}

// consent follows the auth URL to the fake's redirect and returns the
// callback's query.
func (e *env) consent(t *testing.T, authURL string) url.Values {
	t.Helper()
	hc := *e.srv.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get(authURL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "/auth/tiktok/callback", loc.Path)
	return loc.Query()
}

const verifier = "verifier-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ"

// login runs the whole consent and code exchange.
func (e *env) login(t *testing.T) tiktok.Token {
	t.Helper()
	q := e.consent(t, e.client.AuthCodeURL("state-1", verifier))
	require.Equal(t, "state-1", q.Get("state"))
	tok, err := e.client.ExchangeCode(context.Background(), q.Get("code"), verifier)
	require.NoError(t, err)
	return tok
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// chunk is where chunk i of an initialised upload lies.
func chunk(init tiktok.InitResult, i int, total int64) (start, n int64) {
	start = int64(i) * init.ChunkSize
	if i == init.ChunkCount-1 {
		return start, total - start
	}
	return start, init.ChunkSize
}

func (e *env) uploadAll(t *testing.T, init tiktok.InitResult, total int64) {
	t.Helper()
	for i := range init.ChunkCount {
		start, n := chunk(init, i, total)
		require.NoError(t, e.client.UploadChunk(context.Background(), init.UploadURL, "video/mp4", io.LimitReader(zeros{}, n), start, n, total))
	}
}

func apiError(t *testing.T, err error) *tiktok.APIError {
	t.Helper()
	var apiErr *tiktok.APIError
	require.ErrorAs(t, err, &apiErr)
	return apiErr
}

var post = tiktok.PostInfo{Title: "a #loomcast video", PrivacyLevel: "PUBLIC_TO_EVERYONE"}

func TestAuthCodeURL(t *testing.T) {
	c := tiktok.New(tiktok.Config{ClientKey: "ck", RedirectURI: "https://app.example/cb/"})
	sum := sha256.Sum256([]byte(verifier))
	for _, tc := range []struct {
		name, verifier, wantChallenge string
	}{
		{"with pkce", verifier, hex.EncodeToString(sum[:])},
		{"without pkce", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := url.Parse(c.AuthCodeURL("st", tc.verifier))
			require.NoError(t, err)
			require.Equal(t, "https://www.tiktok.com/v2/auth/authorize/", u.Scheme+"://"+u.Host+u.Path)
			q := u.Query()
			require.Equal(t, "ck", q.Get("client_key"))
			require.Equal(t, tiktok.Scopes, q.Get("scope"))
			require.Equal(t, "code", q.Get("response_type"))
			require.Equal(t, "https://app.example/cb/", q.Get("redirect_uri"))
			require.Equal(t, "st", q.Get("state"))
			require.Equal(t, tc.wantChallenge, q.Get("code_challenge"))
			if tc.wantChallenge != "" {
				require.Equal(t, "S256", q.Get("code_challenge_method"))
			} else {
				require.False(t, q.Has("code_challenge_method"))
			}
		})
	}
}

func TestOAuth(t *testing.T) {
	for _, tc := range []struct {
		name             string
		authVerifier     string
		exchangeVerifier string
		exchangeTwice    bool
		wantCode         string // "" for success
	}{
		{name: "pkce", authVerifier: verifier, exchangeVerifier: verifier},
		{name: "no pkce", authVerifier: "", exchangeVerifier: ""},
		{name: "wrong verifier", authVerifier: verifier, exchangeVerifier: verifier + "x", wantCode: "invalid_request"},
		{name: "missing verifier", authVerifier: verifier, exchangeVerifier: "", wantCode: "invalid_request"},
		{name: "code used twice", authVerifier: verifier, exchangeVerifier: verifier, exchangeTwice: true, wantCode: "invalid_grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, true)
			ctx := context.Background()
			q := e.consent(t, e.client.AuthCodeURL("xyz", tc.authVerifier))
			require.Equal(t, "xyz", q.Get("state"))
			require.Equal(t, tiktok.Scopes, q.Get("scopes"))
			tok, err := e.client.ExchangeCode(ctx, q.Get("code"), tc.exchangeVerifier)
			if tc.exchangeTwice {
				require.NoError(t, err)
				_, err = e.client.ExchangeCode(ctx, q.Get("code"), tc.exchangeVerifier)
			}
			if tc.wantCode != "" {
				apiErr := apiError(t, err)
				require.Equal(t, tc.wantCode, apiErr.Code)
				require.Equal(t, http.StatusBadRequest, apiErr.HTTPStatus)
				require.NotEmpty(t, apiErr.LogID)
				require.Equal(t, tc.wantCode == "invalid_grant", errors.Is(err, tiktok.ErrInvalidGrant))
				return
			}
			require.NoError(t, err)
			require.NotEmpty(t, tok.AccessToken)
			require.NotEmpty(t, tok.RefreshToken)
			require.Equal(t, "sandbox_creator", tok.OpenID)
			require.Equal(t, tiktok.Scopes, tok.Scope)
			require.WithinDuration(t, time.Now().Add(24*time.Hour), tok.ExpiresAt, time.Minute)
			require.WithinDuration(t, time.Now().Add(365*24*time.Hour), tok.RefreshExpiresAt, time.Minute)
			info, err := e.client.UserInfo(ctx, tok.AccessToken)
			require.NoError(t, err)
			require.Equal(t, tiktok.UserInfo{OpenID: "sandbox_creator", DisplayName: "Sandbox Creator", AvatarURL: e.fake.APIBaseURL() + "/avatar/sandbox_creator.svg"}, info)
		})
	}
}

func TestSignInAs(t *testing.T) {
	e := newEnv(t, false)
	e.fake.SignInAs("creator-2", "Second Creator")
	tok := e.login(t)
	require.Equal(t, "creator-2", tok.OpenID)
	info, err := e.client.UserInfo(context.Background(), tok.AccessToken)
	require.NoError(t, err)
	require.Equal(t, "Second Creator", info.DisplayName)
	ci, err := e.client.CreatorInfo(context.Background(), tok.AccessToken)
	require.NoError(t, err)
	require.Equal(t, "Second Creator", ci.CreatorNickname)
}

func TestAuthorizeRefusals(t *testing.T) {
	e := newEnv(t, true)
	good := e.client.AuthCodeURL("st", verifier)
	for _, tc := range []struct {
		name, param, value string
		wantStatus         int    // for a refusal without redirect
		wantError          string // error= on the redirect
	}{
		{name: "unknown client_key", param: "client_key", value: "other", wantStatus: http.StatusBadRequest},
		{name: "relative redirect_uri", param: "redirect_uri", value: "/cb", wantStatus: http.StatusBadRequest},
		{name: "response_type token", param: "response_type", value: "token", wantError: "unsupported_response_type"},
		{name: "unknown scope", param: "scope", value: "user.info.basic,video.delete", wantError: "invalid_scope"},
		{name: "no state", param: "state", value: "", wantError: "invalid_request"},
		{name: "base64 challenge", param: "code_challenge", value: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", wantError: "invalid_request"},
		{name: "plain method", param: "code_challenge_method", value: "plain", wantError: "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := url.Parse(good)
			require.NoError(t, err)
			q := u.Query()
			q.Set(tc.param, tc.value)
			u.RawQuery = q.Encode()
			if tc.wantStatus != 0 {
				resp, err := e.srv.Client().Get(u.String())
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, tc.wantStatus, resp.StatusCode)
				return
			}
			back := e.consent(t, u.String())
			require.Equal(t, tc.wantError, back.Get("error"))
			require.NotEmpty(t, back.Get("error_description"))
			require.Empty(t, back.Get("code"))
		})
	}
}

func TestRefreshRotation(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	first := e.login(t)
	second, err := e.client.Refresh(ctx, first.RefreshToken)
	require.NoError(t, err)
	require.NotEqual(t, first.RefreshToken, second.RefreshToken)
	require.NotEqual(t, first.AccessToken, second.AccessToken)
	require.Equal(t, first.OpenID, second.OpenID)
	_, err = e.client.UserInfo(ctx, second.AccessToken)
	require.NoError(t, err)

	_, err = e.client.Refresh(ctx, first.RefreshToken)
	require.ErrorIs(t, err, tiktok.ErrInvalidGrant)
	require.Equal(t, "invalid_grant", apiError(t, err).Code)
	require.NotContains(t, err.Error(), first.RefreshToken)

	third, err := e.client.Refresh(ctx, second.RefreshToken)
	require.NoError(t, err)
	require.NotEqual(t, second.RefreshToken, third.RefreshToken)
}

func TestLostAccess(t *testing.T) {
	for _, tc := range []struct {
		name         string
		lose         func(t *testing.T, e *env, tok tiktok.Token)
		refreshWorks bool
	}{
		{"access token lifetime passes", func(_ *testing.T, e *env, _ tiktok.Token) { e.clock.Advance(24*time.Hour + time.Second) }, true},
		{"ExpireAccessTokens", func(_ *testing.T, e *env, tok tiktok.Token) { e.fake.ExpireAccessTokens(tok.OpenID) }, true},
		{"RevokeGrants", func(_ *testing.T, e *env, tok tiktok.Token) { e.fake.RevokeGrants(tok.OpenID) }, false},
		{"Revoke", func(t *testing.T, e *env, tok tiktok.Token) {
			require.NoError(t, e.client.Revoke(context.Background(), tok.AccessToken))
		}, false},
		{"refresh token lifetime passes", func(_ *testing.T, e *env, _ tiktok.Token) { e.clock.Advance(366 * 24 * time.Hour) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, true)
			ctx := context.Background()
			tok := e.login(t)
			tc.lose(t, e, tok)

			_, err := e.client.CreatorInfo(ctx, tok.AccessToken)
			apiErr := apiError(t, err)
			require.True(t, apiErr.AuthExpired())
			require.False(t, apiErr.Retryable())
			require.Equal(t, "access_token_invalid", apiErr.Code)
			require.NotContains(t, err.Error(), tok.AccessToken)

			fresh, err := e.client.Refresh(ctx, tok.RefreshToken)
			if !tc.refreshWorks {
				require.ErrorIs(t, err, tiktok.ErrInvalidGrant)
				// Signing in again gives a working grant.
				fresh = e.login(t)
			} else {
				require.NoError(t, err)
			}
			_, err = e.client.CreatorInfo(ctx, fresh.AccessToken)
			require.NoError(t, err)
		})
	}
}

func TestWrongClientSecret(t *testing.T) {
	e := newEnv(t, true)
	q := e.consent(t, e.client.AuthCodeURL("st", verifier))
	bad := tiktok.New(tiktok.Config{ClientKey: clientKey, ClientSecret: "not-the-secret", RedirectURI: e.srv.URL + "/auth/tiktok/callback", APIBaseURL: e.fake.APIBaseURL(), HTTPClient: e.srv.Client()})
	_, err := bad.ExchangeCode(context.Background(), q.Get("code"), verifier)
	apiErr := apiError(t, err)
	require.Equal(t, "invalid_client", apiErr.Code)
	require.Equal(t, http.StatusUnauthorized, apiErr.HTTPStatus)
	require.NotContains(t, err.Error(), "not-the-secret")
	require.NotContains(t, err.Error(), q.Get("code"))
}

func TestScopeNotAuthorized(t *testing.T) {
	e := newEnv(t, true)
	u, err := url.Parse(e.client.AuthCodeURL("st", verifier))
	require.NoError(t, err)
	q := u.Query()
	q.Set("scope", "user.info.basic")
	u.RawQuery = q.Encode()
	tok, err := e.client.ExchangeCode(context.Background(), e.consent(t, u.String()).Get("code"), verifier)
	require.NoError(t, err)
	_, err = e.client.CreatorInfo(context.Background(), tok.AccessToken)
	apiErr := apiError(t, err)
	require.Equal(t, "scope_not_authorized", apiErr.Code)
	require.Equal(t, http.StatusUnauthorized, apiErr.HTTPStatus)
}

func TestChunkPlan(t *testing.T) {
	e := newEnv(t, true)
	tok := e.login(t)
	for _, tc := range []struct {
		name      string
		size      int64
		wantChunk int64
		wantCount int
		wantErr   bool
	}{
		{name: "1 MB goes whole", size: 1 * mib, wantChunk: 1 * mib, wantCount: 1},
		{name: "1 byte", size: 1, wantChunk: 1, wantCount: 1},
		{name: "exactly 5 MB goes whole", size: 5 * mib, wantChunk: 5 * mib, wantCount: 1},
		{name: "just under 20,000,000 goes whole", size: 19_999_999, wantChunk: 19_999_999, wantCount: 1},
		{name: "20,000,000 in two chunks", size: 20_000_000, wantChunk: 10_000_000, wantCount: 2},
		{name: "20 MB", size: 20 * mib, wantChunk: 10_000_000, wantCount: 2},
		{name: "TikTok's example", size: 50_000_123, wantChunk: 10_000_000, wantCount: 5},
		{name: "64 MB + 1", size: 64*mib + 1, wantChunk: 10_000_000, wantCount: 6},
		{name: "200 MB", size: 200 * mib, wantChunk: 10_000_000, wantCount: 20},
		{name: "4 GB", size: 4 << 30, wantChunk: 10_000_000, wantCount: 429},
		{name: "past 1000 chunks of 10,000,000", size: 12_000_000_000, wantChunk: 12_000_000, wantCount: 1000},
		{name: "past 1000 chunks of 64 MB", size: 1000*64*mib + 1000, wantErr: true},
		{name: "zero", size: 0, wantErr: true},
		{name: "negative", size: -1, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.clock.Advance(time.Minute) // TikTok allows 6 inits a minute per token
			chunkSize, count, err := tiktok.ChunkPlan(tc.size)
			if tc.wantErr {
				require.Error(t, err)
				_, err = e.client.InitDirectPost(context.Background(), tok.AccessToken, post, tc.size)
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantChunk, chunkSize)
			require.Equal(t, tc.wantCount, count)
			// The fake, which enforces TikTok's rules, accepts the plan.
			init, err := e.client.InitDirectPost(context.Background(), tok.AccessToken, post, tc.size)
			require.NoError(t, err)
			require.Equal(t, tc.wantChunk, init.ChunkSize)
			require.Equal(t, tc.wantCount, init.ChunkCount)
		})
	}
}

// TestChunkPlanRules checks TikTok's rules on every plan around the edges.
func TestChunkPlanRules(t *testing.T) {
	var sizes []int64
	for _, edge := range []int64{5 * mib, 10_000_000, 20_000_000, 64 * mib, 128 * mib, 4 << 30, 10_010_000_000} {
		for d := int64(-2); d <= 2; d++ {
			sizes = append(sizes, edge+d)
		}
	}
	for _, size := range sizes {
		chunkSize, count, err := tiktok.ChunkPlan(size)
		require.NoError(t, err, size)
		require.EqualValues(t, size/chunkSize, count, size)
		require.True(t, count >= 1 && count <= 1000, size)
		if size < 5*mib {
			require.Equal(t, size, chunkSize, size)
			continue
		}
		require.True(t, chunkSize >= 5*mib && chunkSize <= 64*mib, size)
		require.LessOrEqual(t, size-int64(count-1)*chunkSize, int64(128*mib), size)
		if size > 64*mib {
			require.GreaterOrEqual(t, count, 2, size)
		}
	}
}

func TestDirectPost(t *testing.T) {
	for _, tc := range []struct {
		name       string
		strip      bool
		privacy    string
		wantPublic bool
	}{
		{name: "public, mounted with StripPrefix", strip: true, privacy: "PUBLIC_TO_EVERYONE", wantPublic: true},
		{name: "public, mounted as is", strip: false, privacy: "PUBLIC_TO_EVERYONE", wantPublic: true},
		{name: "private has no public post id", strip: true, privacy: "SELF_ONLY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.strip)
			ctx := context.Background()
			tok := e.login(t)
			ci, err := e.client.CreatorInfo(ctx, tok.AccessToken)
			require.NoError(t, err)
			require.Equal(t, []string{"PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"}, ci.PrivacyLevelOptions)
			require.Equal(t, 600, ci.MaxVideoPostDurationSec)
			require.False(t, ci.CommentDisabled || ci.DuetDisabled || ci.StitchDisabled)

			const size = 20 * mib
			info := post
			info.PrivacyLevel = tc.privacy
			init, err := e.client.InitDirectPost(ctx, tok.AccessToken, info, size)
			require.NoError(t, err)
			require.NotEmpty(t, init.PublishID)
			require.True(t, strings.HasPrefix(init.UploadURL, e.fake.APIBaseURL()+"/upload/"), init.UploadURL)
			require.Equal(t, 2, init.ChunkCount)

			st, err := e.client.FetchStatus(ctx, tok.AccessToken, init.PublishID)
			require.NoError(t, err)
			require.Equal(t, tiktok.Status{Status: "PROCESSING_UPLOAD"}, st)

			start, n := chunk(init, 0, size)
			require.NoError(t, e.client.UploadChunk(ctx, init.UploadURL, "video/mp4", io.LimitReader(zeros{}, n), start, n, size))
			st, err = e.client.FetchStatus(ctx, tok.AccessToken, init.PublishID)
			require.NoError(t, err)
			require.Equal(t, "PROCESSING_UPLOAD", st.Status)
			require.Equal(t, n, st.UploadedBytes)

			start, n = chunk(init, 1, size)
			require.NoError(t, e.client.UploadChunk(ctx, init.UploadURL, "video/mp4", io.LimitReader(zeros{}, n), start, n, size))
			st, err = e.client.FetchStatus(ctx, tok.AccessToken, init.PublishID)
			require.NoError(t, err)
			require.Equal(t, tiktok.Status{Status: "PROCESSING_UPLOAD", UploadedBytes: size}, st)

			e.clock.Advance(2 * time.Second)
			st, err = e.client.FetchStatus(ctx, tok.AccessToken, init.PublishID)
			require.NoError(t, err)
			require.Equal(t, "PUBLISH_COMPLETE", st.Status)
			require.Empty(t, st.FailReason)

			posts := e.fake.Posts()
			require.Len(t, posts, 1)
			p := posts[0]
			require.Equal(t, fake.Post{
				Kind: fake.KindVideo, PublishID: init.PublishID, OpenID: tok.OpenID, Title: post.Title, PrivacyLevel: tc.privacy,
				Size: size, Received: size, ChunksReceived: 2, Status: "PUBLISH_COMPLETE", PostID: p.PostID, Inits: 1,
			}, p)
			require.Len(t, p.PostID, 19) // an int64 id beyond float64 precision
			if tc.wantPublic {
				require.Equal(t, []string{p.PostID}, st.PublicPostIDs)
			} else {
				require.Empty(t, st.PublicPostIDs)
			}
		})
	}
}

func TestUploadRanges(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	tok := e.login(t)
	const size = 25_000_000 // chunks of 10,000,000 and 15,000,000
	init, err := e.client.InitDirectPost(ctx, tok.AccessToken, post, size)
	require.NoError(t, err)
	require.Equal(t, 2, init.ChunkCount)
	send := func(start, n, total int64) error {
		return e.client.UploadChunk(ctx, init.UploadURL, "video/mp4", io.LimitReader(zeros{}, n), start, n, total)
	}

	for _, tc := range []struct {
		name            string
		start, n, total int64
		wantStatus      int
	}{
		{"second chunk first", 10_000_000, 15_000_000, size, http.StatusRequestedRangeNotSatisfiable},
		{"misaligned start", 1, 10_000_000, size, http.StatusRequestedRangeNotSatisfiable},
		{"half a chunk", 0, 5_000_000, size, http.StatusRequestedRangeNotSatisfiable},
		{"wrong total", 0, 10_000_000, size + 1, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apiErr := apiError(t, send(tc.start, tc.n, tc.total))
			require.Equal(t, tc.wantStatus, apiErr.HTTPStatus)
			require.False(t, apiErr.Retryable())
		})
	}

	require.NoError(t, send(0, 10_000_000, size))
	require.NoError(t, send(0, 10_000_000, size), "a repeated chunk is accepted")
	require.Equal(t, int64(10_000_000), e.fake.Posts()[0].Received)
	require.NoError(t, send(10_000_000, 15_000_000, size))
	require.NoError(t, send(10_000_000, 15_000_000, size), "a repeated last chunk is accepted")
	p := e.fake.Posts()[0]
	require.Equal(t, int64(size), p.Received)
	require.Equal(t, 2, p.ChunksReceived)

	err = e.client.UploadChunk(ctx, init.UploadURL, "video/x-msvideo", io.LimitReader(zeros{}, 1), 0, 1, size)
	require.Error(t, err, "content type checked before sending")
	err = e.client.UploadChunk(ctx, init.UploadURL, "video/mp4", io.LimitReader(zeros{}, 1), size, 1, size)
	require.Error(t, err, "range checked before sending")
}

// rawPut sends a chunk PUT with the given headers.
func (e *env) rawPut(t *testing.T, uploadURL string, n int64, header map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, uploadURL, io.LimitReader(zeros{}, n))
	require.NoError(t, err)
	req.ContentLength = n
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestUploadRequests(t *testing.T) {
	for _, tc := range []struct {
		name       string
		mangle     func(e *env, u *url.URL, h map[string]string)
		wantStatus int
	}{
		{"well formed", func(*env, *url.URL, map[string]string) {}, http.StatusCreated},
		{"text content type", func(_ *env, _ *url.URL, h map[string]string) { h["Content-Type"] = "text/plain" }, http.StatusBadRequest},
		{"no content range", func(_ *env, _ *url.URL, h map[string]string) { delete(h, "Content-Range") }, http.StatusBadRequest},
		{"range not in bytes", func(_ *env, _ *url.URL, h map[string]string) { h["Content-Range"] = "items 0-1023/1024" }, http.StatusBadRequest},
		{"content length unlike range", func(_ *env, _ *url.URL, h map[string]string) { h["Content-Range"] = "bytes 0-1022/1024" }, http.StatusBadRequest},
		{"wrong upload token", func(_ *env, u *url.URL, _ map[string]string) { u.RawQuery = "upload_token=guess" }, http.StatusNotFound},
		{"upload url expired", func(e *env, _ *url.URL, _ map[string]string) { e.clock.Advance(time.Hour) }, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, true)
			tok := e.login(t)
			init, err := e.client.InitDirectPost(context.Background(), tok.AccessToken, post, 1024)
			require.NoError(t, err)
			u, err := url.Parse(init.UploadURL)
			require.NoError(t, err)
			h := map[string]string{"Content-Type": "video/webm", "Content-Range": "bytes 0-1023/1024"}
			tc.mangle(e, u, h)
			require.Equal(t, tc.wantStatus, e.rawPut(t, u.String(), 1024, h))
		})
	}
}

// rawAPI posts body to an API path and returns the status and error.code.
func (e *env) rawAPI(t *testing.T, accessToken, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.fake.APIBaseURL()+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var env struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&env))
	return resp.StatusCode, env.Error.Code
}

func TestInitRules(t *testing.T) {
	e := newEnv(t, true)
	tok := e.login(t)
	const postInfo = `"post_info":{"title":"t","privacy_level":"SELF_ONLY"}`
	for _, tc := range []struct {
		name, sourceInfo string
		wantStatus       int
		wantCode         string
	}{
		{"whole small video", `{"source":"FILE_UPLOAD","video_size":1000,"chunk_size":1000,"total_chunk_count":1}`, 200, "ok"},
		{"small video in chunks", `{"source":"FILE_UPLOAD","video_size":1000,"chunk_size":500,"total_chunk_count":2}`, 400, "invalid_param"},
		{"chunk under 5 MB", `{"source":"FILE_UPLOAD","video_size":20971520,"chunk_size":1048576,"total_chunk_count":20}`, 400, "invalid_param"},
		{"chunk over 64 MB", `{"source":"FILE_UPLOAD","video_size":209715200,"chunk_size":69206016,"total_chunk_count":3}`, 400, "invalid_param"},
		{"count not floor", `{"source":"FILE_UPLOAD","video_size":50000123,"chunk_size":10000000,"total_chunk_count":6}`, 400, "invalid_param"},
		{"over 64 MB in one", `{"source":"FILE_UPLOAD","video_size":100000000,"chunk_size":60000000,"total_chunk_count":1}`, 400, "invalid_param"},
		{"whole video up to 64 MB", `{"source":"FILE_UPLOAD","video_size":60000000,"chunk_size":60000000,"total_chunk_count":1}`, 200, "ok"},
		{"192 MB in two chunks of 64 MB", `{"source":"FILE_UPLOAD","video_size":201326592,"chunk_size":67108864,"total_chunk_count":2}`, 400, "invalid_param"},
		{"pull from url", `{"source":"PULL_FROM_URL","video_url":"https://example.com/v.mp4"}`, 403, "url_ownership_unverified"},
		{"no source", `{"video_size":1000,"chunk_size":1000,"total_chunk_count":1}`, 400, "invalid_param"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.clock.Advance(time.Minute) // TikTok allows 6 inits a minute per token
			status, code := e.rawAPI(t, tok.AccessToken, fake.VideoInitPath, "{"+postInfo+`,"source_info":`+tc.sourceInfo+"}")
			require.Equal(t, tc.wantStatus, status)
			require.Equal(t, tc.wantCode, code)
		})
	}
}

func TestPrivacyLevelOptionMismatch(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	tok := e.login(t)
	e.fake.SetCreatorInfo(tok.OpenID, tiktok.CreatorInfo{CreatorNickname: "Private", PrivacyLevelOptions: []string{"SELF_ONLY"}, DuetDisabled: true, MaxVideoPostDurationSec: 60})
	ci, err := e.client.CreatorInfo(ctx, tok.AccessToken)
	require.NoError(t, err)
	require.Equal(t, tiktok.CreatorInfo{CreatorNickname: "Private", PrivacyLevelOptions: []string{"SELF_ONLY"}, DuetDisabled: true, MaxVideoPostDurationSec: 60}, ci)
	for _, tc := range []struct {
		privacy  string
		wantCode string
	}{
		{"PUBLIC_TO_EVERYONE", "privacy_level_option_mismatch"},
		{"", "privacy_level_option_mismatch"},
		{"EVERYONE_PLEASE", "privacy_level_option_mismatch"},
		{"SELF_ONLY", ""},
	} {
		t.Run(tc.privacy, func(t *testing.T) {
			_, err := e.client.InitDirectPost(ctx, tok.AccessToken, tiktok.PostInfo{Title: "x", PrivacyLevel: tc.privacy}, 1000)
			if tc.wantCode == "" {
				require.NoError(t, err)
				return
			}
			apiErr := apiError(t, err)
			require.Equal(t, tc.wantCode, apiErr.Code)
			require.Equal(t, http.StatusForbidden, apiErr.HTTPStatus)
			require.False(t, apiErr.Retryable())
		})
	}
}

func TestFailNext(t *testing.T) {
	for _, tc := range []struct {
		name          string
		path          string
		failure       fake.Failure
		call          func(e *env, tok tiktok.Token, init tiktok.InitResult) error
		wantStatus    int
		wantCode      string
		wantRetryable bool
	}{
		{
			name: "init rate limited", path: fake.VideoInitPath, failure: fake.Failure{Status: 429},
			call: func(e *env, tok tiktok.Token, _ tiktok.InitResult) error {
				_, err := e.client.InitDirectPost(context.Background(), tok.AccessToken, post, 1000)
				return err
			},
			wantStatus: 429, wantCode: "rate_limit_exceeded", wantRetryable: true,
		},
		{
			name: "init daily cap", path: fake.VideoInitPath, failure: fake.Failure{Code: "spam_risk_too_many_posts"},
			call: func(e *env, tok tiktok.Token, _ tiktok.InitResult) error {
				_, err := e.client.InitDirectPost(context.Background(), tok.AccessToken, post, 1000)
				return err
			},
			wantStatus: 403, wantCode: "spam_risk_too_many_posts",
		},
		{
			name: "status internal error", path: fake.StatusPath, failure: fake.Failure{Code: "internal_error"},
			call: func(e *env, tok tiktok.Token, init tiktok.InitResult) error {
				_, err := e.client.FetchStatus(context.Background(), tok.AccessToken, init.PublishID)
				return err
			},
			wantStatus: 500, wantCode: "internal_error", wantRetryable: true,
		},
		{
			name: "token endpoint unavailable", path: fake.TokenPath, failure: fake.Failure{Status: 503},
			call: func(e *env, tok tiktok.Token, _ tiktok.InitResult) error {
				_, err := e.client.Refresh(context.Background(), tok.RefreshToken)
				return err
			},
			wantStatus: 503, wantCode: "internal_error", wantRetryable: true,
		},
		{
			name: "chunk gateway error", path: fake.UploadPath, failure: fake.Failure{Status: 502},
			call: func(e *env, _ tiktok.Token, init tiktok.InitResult) error {
				return e.client.UploadChunk(context.Background(), init.UploadURL, "video/mp4", io.LimitReader(zeros{}, 1000), 0, 1000, 1000)
			},
			wantStatus: 502, wantCode: "internal_error", wantRetryable: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, true)
			tok := e.login(t)
			init, err := e.client.InitDirectPost(context.Background(), tok.AccessToken, post, 1000)
			require.NoError(t, err)
			e.fake.FailNext(tc.path, tc.failure)
			apiErr := apiError(t, tc.call(e, tok, init))
			require.Equal(t, tc.wantStatus, apiErr.HTTPStatus)
			require.Equal(t, tc.wantCode, apiErr.Code)
			require.Equal(t, tc.wantRetryable, apiErr.Retryable())
			require.False(t, apiErr.AuthExpired())
			require.NotErrorIs(t, apiErr, tiktok.ErrInvalidGrant)
			require.NoError(t, tc.call(e, tok, init), "the failure applies once")
		})
	}
}

func TestDroppedConnections(t *testing.T) {
	ctx := context.Background()

	t.Run("status answer never comes", func(t *testing.T) {
		e := newEnv(t, true)
		tok := e.login(t)
		init, err := e.client.InitDirectPost(ctx, tok.AccessToken, post, 1000)
		require.NoError(t, err)
		e.fake.FailNext(fake.StatusPath, fake.Failure{Drop: true})
		_, err = e.client.FetchStatus(ctx, tok.AccessToken, init.PublishID)
		require.Error(t, err)
		var apiErr *tiktok.APIError
		require.False(t, errors.As(err, &apiErr), "a network error is not an API error")
		var urlErr *url.Error
		require.ErrorAs(t, err, &urlErr)
		require.NotContains(t, err.Error(), tok.AccessToken)
	})

	t.Run("chunk answer never comes", func(t *testing.T) {
		e := newEnv(t, true)
		tok := e.login(t)
		init, err := e.client.InitDirectPost(ctx, tok.AccessToken, post, 1000)
		require.NoError(t, err)
		e.fake.FailNext(fake.UploadPath, fake.Failure{Drop: true})
		err = e.client.UploadChunk(ctx, init.UploadURL, "video/mp4", io.LimitReader(zeros{}, 1000), 0, 1000, 1000)
		require.Error(t, err)
		u, perr := url.Parse(init.UploadURL)
		require.NoError(t, perr)
		require.NotContains(t, err.Error(), u.Query().Get("upload_token"))
		require.NoError(t, e.client.UploadChunk(ctx, init.UploadURL, "video/mp4", io.LimitReader(zeros{}, 1000), 0, 1000, 1000))
	})

	t.Run("init succeeds but its answer is lost", func(t *testing.T) {
		e := newEnv(t, true)
		tok := e.login(t)
		e.fake.FailNext(fake.VideoInitPath, fake.Failure{Drop: true, AfterBody: true})
		_, err := e.client.InitDirectPost(ctx, tok.AccessToken, post, 1000)
		require.Error(t, err)
		posts := e.fake.Posts()
		require.Len(t, posts, 1)
		require.Equal(t, 1, posts[0].Inits)
		_, err = e.client.InitDirectPost(ctx, tok.AccessToken, post, 1000)
		require.NoError(t, err)
		posts = e.fake.Posts()
		require.Len(t, posts, 2, "retrying init makes a second post")
		require.Equal(t, 2, posts[1].Inits)
	})

	t.Run("chunk stored but its answer is a 500", func(t *testing.T) {
		e := newEnv(t, true)
		tok := e.login(t)
		const size = 20_000_000
		init, err := e.client.InitDirectPost(ctx, tok.AccessToken, post, size)
		require.NoError(t, err)
		e.fake.FailNext(fake.UploadPath, fake.Failure{Status: 500, AfterBody: true})
		err = e.client.UploadChunk(ctx, init.UploadURL, "video/mp4", io.LimitReader(zeros{}, 10_000_000), 0, 10_000_000, size)
		require.True(t, apiError(t, err).Retryable())
		st, err := e.client.FetchStatus(ctx, tok.AccessToken, init.PublishID)
		require.NoError(t, err)
		require.Equal(t, int64(10_000_000), st.UploadedBytes)
		// Resuming resends the chunk: accepted again, then the rest.
		e.uploadAll(t, init, size)
		require.Equal(t, int64(size), e.fake.Posts()[0].Received)
	})
}

func TestFailProcessing(t *testing.T) {
	e := newEnv(t, true, func(o *fake.Options) { o.ProcessingDelay = -1 })
	ctx := context.Background()
	tok := e.login(t)
	e.fake.FailProcessing(tok.OpenID, "duration_check_failed")
	for _, want := range []tiktok.Status{
		{Status: "FAILED", FailReason: "duration_check_failed", UploadedBytes: 3 * mib},
		{Status: "PUBLISH_COMPLETE", UploadedBytes: 3 * mib}, // only the next video fails
	} {
		init, err := e.client.InitDirectPost(ctx, tok.AccessToken, post, 3*mib)
		require.NoError(t, err)
		e.uploadAll(t, init, 3*mib)
		st, err := e.client.FetchStatus(ctx, tok.AccessToken, init.PublishID)
		require.NoError(t, err)
		st.PublicPostIDs = nil
		require.Equal(t, want, st)
	}
	require.Equal(t, "FAILED", e.fake.Posts()[0].Status)
}

// The fake holds TikTok's three limits per access token: 6 inits, 20
// creator_info queries and 30 status fetches in any minute.
func TestRateLimits(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, true)
	tok := e.login(t)
	other := e.login(t) // a second grant, with a token of its own
	init, err := e.client.InitDirectPost(ctx, tok.AccessToken, post, 1000)
	require.NoError(t, err)
	e.clock.Advance(time.Minute)
	for _, tc := range []struct {
		name  string
		limit int
		call  func(token string) error
	}{
		{"init", 6, func(token string) error { _, err := e.client.InitDirectPost(ctx, token, post, 1000); return err }},
		{"creator_info", 20, func(token string) error { _, err := e.client.CreatorInfo(ctx, token); return err }},
		{"status", 30, func(token string) error { _, err := e.client.FetchStatus(ctx, token, init.PublishID); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refused := e.fake.RateLimited()
			for i := range tc.limit {
				require.NoError(t, tc.call(tok.AccessToken), i)
				e.clock.Advance(time.Second)
			}
			apiErr := apiError(t, tc.call(tok.AccessToken))
			require.Equal(t, "rate_limit_exceeded", apiErr.Code)
			require.Equal(t, http.StatusTooManyRequests, apiErr.HTTPStatus)
			require.True(t, apiErr.Retryable())
			require.Equal(t, refused+1, e.fake.RateLimited())
			if tc.name != "status" {
				require.NoError(t, tc.call(other.AccessToken), "the limit is per token")
			}

			// The window slides: the first call leaves it a minute after it was made.
			e.clock.Advance(time.Minute - time.Duration(tc.limit)*time.Second)
			require.NoError(t, tc.call(tok.AccessToken))
			require.Error(t, tc.call(tok.AccessToken))
			e.clock.Advance(time.Minute)
		})
	}
}

func TestStatusOfOthersPost(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	owner := e.login(t)
	init, err := e.client.InitDirectPost(ctx, owner.AccessToken, post, 1000)
	require.NoError(t, err)
	e.fake.SignInAs("someone-else", "Someone Else")
	other := e.login(t)
	for _, tc := range []struct{ publishID, wantCode string }{
		{init.PublishID, "token_not_authorized_for_specified_publish_id"},
		{"v_pub_file~v2-1.1", "invalid_publish_id"},
	} {
		_, err := e.client.FetchStatus(ctx, other.AccessToken, tc.publishID)
		require.Equal(t, tc.wantCode, apiError(t, err).Code)
	}
}

func TestAPIErrorClassification(t *testing.T) {
	for _, tc := range []struct {
		err                          *tiktok.APIError
		retryable, authExpired, isIG bool
	}{
		{err: &tiktok.APIError{HTTPStatus: 429, Code: "rate_limit_exceeded"}, retryable: true},
		{err: &tiktok.APIError{HTTPStatus: 500, Code: "internal_error"}, retryable: true},
		{err: &tiktok.APIError{HTTPStatus: 504}, retryable: true},
		{err: &tiktok.APIError{HTTPStatus: 200, Code: "internal_error"}, retryable: true},
		{err: &tiktok.APIError{HTTPStatus: 403, Code: "spam_risk_too_many_posts"}},
		{err: &tiktok.APIError{HTTPStatus: 401, Code: "access_token_invalid"}, authExpired: true},
		{err: &tiktok.APIError{HTTPStatus: 401, Code: "scope_not_authorized"}, authExpired: true},
		{err: &tiktok.APIError{HTTPStatus: 400, Code: "invalid_grant"}, isIG: true},
		{err: &tiktok.APIError{HTTPStatus: 400, Code: "invalid_param", Message: "bad"}},
		{err: nil},
	} {
		name := "nil"
		if tc.err != nil {
			name = tc.err.Code + "/" + http.StatusText(tc.err.HTTPStatus)
		}
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.retryable, tc.err.Retryable())
			require.Equal(t, tc.authExpired, tc.err.AuthExpired())
			require.Equal(t, tc.isIG, tc.err.Is(tiktok.ErrInvalidGrant))
			require.NotEmpty(t, tc.err.Error())
		})
	}
	wrapped := errors.Join(errors.New("context"), &tiktok.APIError{HTTPStatus: 400, Code: "invalid_grant"})
	require.ErrorIs(t, wrapped, tiktok.ErrInvalidGrant)
}

func TestWebhook(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"client_key":"ck","event":"post.publish.complete","create_time":1700000000,"user_openid":"u","content":"{\"publish_id\":\"p\",\"publish_type\":\"DIRECT_PUBLISH\"}"}`)
	valid := tiktok.SignWebhook(clientSecret, now, body)
	_, sig, _ := strings.Cut(valid, ",s=")
	for _, tc := range []struct {
		name      string
		secret    string
		header    string
		body      []byte
		tolerance time.Duration
		wantErr   error
	}{
		{name: "valid", header: valid},
		{name: "valid with spaces", header: "t=1700000000, s=" + sig},
		{name: "valid with an unknown element", header: valid + ",v=2"},
		{name: "valid, at the edge of the tolerance", header: tiktok.SignWebhook(clientSecret, now.Add(-5*time.Minute), body)},
		{name: "wrong secret", secret: "other-secret", header: valid, wantErr: tiktok.ErrWebhookSignature},
		{name: "tampered body", header: valid, body: bytes.Replace(body, []byte(`"u"`), []byte(`"v"`), 1), wantErr: tiktok.ErrWebhookSignature},
		{name: "tampered timestamp", header: "t=1700000001,s=" + sig, wantErr: tiktok.ErrWebhookSignature},
		{name: "stale", header: tiktok.SignWebhook(clientSecret, now.Add(-6*time.Minute), body), wantErr: tiktok.ErrWebhookStale},
		{name: "from the future", header: tiktok.SignWebhook(clientSecret, now.Add(6*time.Minute), body), wantErr: tiktok.ErrWebhookStale},
		{name: "stale under a tighter tolerance", header: tiktok.SignWebhook(clientSecret, now.Add(-10*time.Second), body), tolerance: 5 * time.Second, wantErr: tiktok.ErrWebhookStale},
		{name: "missing", header: "", wantErr: tiktok.ErrWebhookHeader},
		{name: "garbage", header: "garbage", wantErr: tiktok.ErrWebhookHeader},
		{name: "no timestamp", header: "s=" + sig, wantErr: tiktok.ErrWebhookHeader},
		{name: "no signature", header: "t=1700000000", wantErr: tiktok.ErrWebhookHeader},
		{name: "timestamp not a number", header: "t=soon,s=" + sig, wantErr: tiktok.ErrWebhookHeader},
		{name: "signature not hex", header: "t=1700000000,s=zz", wantErr: tiktok.ErrWebhookHeader},
		{name: "signature too short", header: "t=1700000000,s=" + sig[:32], wantErr: tiktok.ErrWebhookHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret := clientSecret
			if tc.secret != "" {
				secret = tc.secret
			}
			b := body
			if tc.body != nil {
				b = tc.body
			}
			err := tiktok.VerifyWebhook(secret, tc.header, b, now, tc.tolerance)
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
			require.NotContains(t, err.Error(), secret)
		})
	}
	require.Regexp(t, `^t=1700000000,s=[0-9a-f]{64}$`, valid)
}

// The commercial-content disclosures reach TikTok as its toggles, and
// branded content cannot be private: the fake refuses it as TikTok does.
func TestCommercialContentDisclosure(t *testing.T) {
	for _, tc := range []struct {
		name         string
		privacy      string
		organic      bool
		branded      bool
		wantRejected bool
	}{
		{name: "your brand, private", privacy: "SELF_ONLY", organic: true},
		{name: "branded content, public", privacy: "PUBLIC_TO_EVERYONE", branded: true},
		{name: "both, followers", privacy: "FOLLOWER_OF_CREATOR", organic: true, branded: true},
		{name: "branded content, private", privacy: "SELF_ONLY", branded: true, wantRejected: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, true)
			tok := e.login(t)
			info := post
			info.PrivacyLevel, info.BrandOrganic, info.BrandContent = tc.privacy, tc.organic, tc.branded
			_, err := e.client.InitDirectPost(context.Background(), tok.AccessToken, info, 4*mib)
			if tc.wantRejected {
				var apiErr *tiktok.APIError
				require.ErrorAs(t, err, &apiErr)
				require.Equal(t, "invalid_params", apiErr.Code)
				require.Empty(t, e.fake.Posts())
				return
			}
			require.NoError(t, err)
			got := e.fake.Posts()
			require.Len(t, got, 1)
			require.Equal(t, tc.organic, got[0].BrandOrganic)
			require.Equal(t, tc.branded, got[0].BrandContent)
		})
	}
}
