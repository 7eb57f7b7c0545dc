package youtube_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/loomcast/loomcast/youtube"
	"github.com/loomcast/loomcast/youtube/fake"
)

func TestAuthCodeURL(t *testing.T) {
	e := newEnv(t, envOptions{})
	u, err := url.Parse(e.yt.AuthCodeURL("st", oauth2.GenerateVerifier()))
	require.NoError(t, err)
	q := u.Query()
	require.Equal(t, e.base+"/o/oauth2/v2/auth", u.Scheme+"://"+u.Host+u.Path)
	require.Equal(t, "client-1", q.Get("client_id"))
	require.Equal(t, redirectURI, q.Get("redirect_uri"))
	require.Equal(t, "code", q.Get("response_type"))
	require.Equal(t, "offline", q.Get("access_type"))
	require.Equal(t, "consent", q.Get("prompt"))
	require.Equal(t, "S256", q.Get("code_challenge_method"))
	require.Len(t, q.Get("code_challenge"), 43)
	require.Equal(t, "st", q.Get("state"))
	require.Equal(t, "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube.readonly", q.Get("scope"))
}

func TestExchangeCode(t *testing.T) {
	tests := []struct {
		name     string
		verifier func(right string) string
		wantErr  bool
	}{
		{"right verifier", func(right string) string { return right }, false},
		{"wrong verifier", func(string) string { return oauth2.GenerateVerifier() }, true},
		{"no verifier", func(string) string { return "" }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			ctx := context.Background()
			verifier := oauth2.GenerateVerifier()
			code := e.consent(t, e.yt.AuthCodeURL("state-x", verifier), "state-x")

			tok, err := e.yt.ExchangeCode(ctx, code, tt.verifier(verifier))
			if tt.wantErr {
				require.ErrorIs(t, err, youtube.ErrInvalidGrant)
				var ae *youtube.APIError
				require.ErrorAs(t, err, &ae)
				require.Equal(t, http.StatusBadRequest, ae.HTTPStatus)
				require.False(t, ae.Retryable())
			} else {
				require.NoError(t, err)
				require.NotEmpty(t, tok.AccessToken)
				require.NotEmpty(t, tok.RefreshToken)
				require.WithinDuration(t, time.Now().Add(time.Hour), tok.ExpiresAt, time.Minute)
			}

			// A code is good for one exchange, whatever came of it.
			_, err = e.yt.ExchangeCode(ctx, code, verifier)
			require.ErrorIs(t, err, youtube.ErrInvalidGrant)
		})
	}
}

func TestConsentRefusals(t *testing.T) {
	e := newEnv(t, envOptions{})
	good := e.yt.AuthCodeURL("st", oauth2.GenerateVerifier())
	with := func(key, value string) string {
		u, _ := url.Parse(good)
		q := u.Query()
		if value == "" {
			q.Del(key)
		} else {
			q.Set(key, value)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	tests := []struct {
		name      string
		url       string
		wantError string // error redirected back; "" means an error page
	}{
		{"unknown client", with("client_id", "other"), ""},
		{"relative redirect", with("redirect_uri", "/callback"), ""},
		{"token flow", with("response_type", "token"), "unsupported_response_type"},
		{"no PKCE", with("code_challenge", ""), "invalid_request"},
		{"plain PKCE", with("code_challenge_method", "plain"), "invalid_request"},
		{"online access", with("access_type", "online"), "invalid_request"},
		{"unknown scope", with("scope", "https://www.googleapis.com/auth/drive"), "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *e.srv.Client()
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, err := c.Get(tt.url)
			require.NoError(t, err)
			resp.Body.Close()
			if tt.wantError == "" {
				require.Contains(t, []int{http.StatusBadRequest, http.StatusUnauthorized}, resp.StatusCode)
				return
			}
			require.Equal(t, http.StatusFound, resp.StatusCode)
			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			require.Equal(t, tt.wantError, loc.Query().Get("error"))
			require.Equal(t, "st", loc.Query().Get("state"))
			require.Empty(t, loc.Query().Get("code"))
		})
	}
}

func TestRefresh(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	first := e.connect(t)

	tok, err := e.yt.Refresh(ctx, first.RefreshToken)
	require.NoError(t, err)
	require.NotEmpty(t, tok.AccessToken)
	require.NotEqual(t, first.AccessToken, tok.AccessToken)
	require.Equal(t, first.RefreshToken, tok.RefreshToken, "Google keeps the refresh token")
	require.False(t, tok.ExpiresAt.IsZero())

	_, err = e.yt.MyChannel(ctx, tok.AccessToken)
	require.NoError(t, err)

	_, err = e.yt.Refresh(ctx, "1//not-a-token")
	require.ErrorIs(t, err, youtube.ErrInvalidGrant)
}

func TestRevokeGrants(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	tok := e.connect(t)
	e.fake.RevokeGrants("UCsandbox000000000000001")

	_, err := e.yt.Refresh(ctx, tok.RefreshToken)
	require.ErrorIs(t, err, youtube.ErrInvalidGrant)
	require.NotContains(t, err.Error(), tok.RefreshToken)

	_, err = e.yt.MyChannel(ctx, tok.AccessToken)
	var ae *youtube.APIError
	require.ErrorAs(t, err, &ae)
	require.True(t, ae.AuthExpired())
	require.False(t, ae.Retryable())
	require.Equal(t, http.StatusUnauthorized, ae.HTTPStatus)
	require.Equal(t, "authError", ae.Reason)
	require.NotContains(t, err.Error(), tok.AccessToken)
}

func TestRevoke(t *testing.T) {
	tests := []struct {
		name  string
		token func(youtube.Token) string
	}{
		{"refresh token", func(t youtube.Token) string { return t.RefreshToken }},
		{"access token", func(t youtube.Token) string { return t.AccessToken }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			ctx := context.Background()
			tok := e.connect(t)

			require.NoError(t, e.yt.Revoke(ctx, tt.token(tok)))
			_, err := e.yt.Refresh(ctx, tok.RefreshToken)
			require.ErrorIs(t, err, youtube.ErrInvalidGrant)
			_, err = e.yt.MyChannel(ctx, tok.AccessToken)
			var ae *youtube.APIError
			require.ErrorAs(t, err, &ae)
			require.True(t, ae.AuthExpired())

			// Revoking again is fine: the token is already dead.
			require.NoError(t, e.yt.Revoke(ctx, tt.token(tok)))
		})
	}
}

func TestTokenEndpointOutage(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.connect(t)
	e.fake.FailNext("/token", fake.Failure{Status: http.StatusServiceUnavailable})

	_, err := e.yt.Refresh(context.Background(), tok.RefreshToken)
	require.Error(t, err)
	require.False(t, errors.Is(err, youtube.ErrInvalidGrant))
	var ae *youtube.APIError
	require.ErrorAs(t, err, &ae)
	require.True(t, ae.Retryable())
}
