package tiktok

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Scopes are the permissions Loomcast asks for: the user's basic profile,
// Direct Post, and upload.
const Scopes = "user.info.basic,video.publish,video.upload"

// codeChallenge derives the PKCE S256 challenge from a verifier the way
// TikTok documents it (Login Kit for Desktop, "Generate a code verifier and
// code challenge"): the SHA-256 of the verifier, hex-encoded. This is not
// RFC 7636's base64url encoding; TikTok's token endpoint compares against
// the hex form.
func codeChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return hex.EncodeToString(sum[:])
}

// AuthCodeURL is the consent page URL to send the user to. state must be an
// unguessable value tied to the user's session, checked on the callback.
// codeVerifier (43 to 128 characters of [A-Za-z0-9-._~], new for every
// request) adds the PKCE code_challenge with code_challenge_method=S256;
// with an empty verifier the URL carries no PKCE parameters, which TikTok's
// web flow allows.
func (c *Client) AuthCodeURL(state, codeVerifier string) string {
	v := url.Values{}
	v.Set("client_key", c.cfg.ClientKey)
	v.Set("scope", Scopes)
	v.Set("response_type", "code")
	v.Set("redirect_uri", c.cfg.RedirectURI)
	v.Set("state", state)
	if codeVerifier != "" {
		v.Set("code_challenge", codeChallenge(codeVerifier))
		v.Set("code_challenge_method", "S256")
	}
	sep := "?"
	if strings.Contains(c.cfg.AuthURL, "?") {
		sep = "&"
	}
	return c.cfg.AuthURL + sep + v.Encode()
}

// Token is a user's grant. TikTok access tokens last 24 hours and refresh
// tokens 365 days from the first sign-in; refreshing may return a new
// refresh token, which replaces the old one.
type Token struct {
	AccessToken      string
	RefreshToken     string
	OpenID           string
	Scope            string
	ExpiresAt        time.Time
	RefreshExpiresAt time.Time
}

// tokenAnswer is the token endpoint's answer: the token fields on success,
// the OAuth error fields otherwise.
type tokenAnswer struct {
	AccessToken      string          `json:"access_token"`
	ExpiresIn        int64           `json:"expires_in"`
	OpenID           string          `json:"open_id"`
	RefreshExpiresIn int64           `json:"refresh_expires_in"`
	RefreshToken     string          `json:"refresh_token"`
	Scope            string          `json:"scope"`
	TokenType        string          `json:"token_type"`
	Error            json.RawMessage `json:"error"`
	Description      string          `json:"error_description"`
	LogID            string          `json:"log_id"`
}

// ExchangeCode trades the code from the consent callback for a token.
// codeVerifier is the one AuthCodeURL was given (empty if none was).
func (c *Client) ExchangeCode(ctx context.Context, code, codeVerifier string) (Token, error) {
	if code == "" {
		return Token{}, fmt.Errorf("tiktok: exchange code: empty code")
	}
	form := url.Values{}
	form.Set("code", code)
	form.Set("grant_type", "authorization_code")
	form.Set("redirect_uri", c.cfg.RedirectURI)
	if codeVerifier != "" {
		form.Set("code_verifier", codeVerifier)
	}
	return c.token(ctx, "exchange code", form, "")
}

// Refresh gets a new access token. TikTok may rotate the refresh token:
// the returned Token carries the one to keep (the old one when TikTok sent
// none back). An invalid_grant answer (revoked or expired grant) satisfies
// errors.Is(err, ErrInvalidGrant).
func (c *Client) Refresh(ctx context.Context, refreshToken string) (Token, error) {
	if refreshToken == "" {
		return Token{}, fmt.Errorf("tiktok: refresh: empty refresh token")
	}
	form := url.Values{}
	form.Set("grant_type", "refresh_token")
	form.Set("refresh_token", refreshToken)
	return c.token(ctx, "refresh", form, refreshToken)
}

// token posts form (plus the client credentials) to the token endpoint.
func (c *Client) token(ctx context.Context, op string, form url.Values, oldRefresh string) (Token, error) {
	status, raw, err := c.postForm(ctx, op, "/v2/oauth/token/", form)
	if err != nil {
		return Token{}, err
	}
	var a tokenAnswer
	jsonErr := json.Unmarshal(raw, &a)
	if apiErr := tokenError(status, raw, a, jsonErr); apiErr != nil {
		return Token{}, apiErr
	}
	if jsonErr != nil {
		return Token{}, fmt.Errorf("tiktok: %s: decode answer: %w", op, jsonErr)
	}
	if a.AccessToken == "" {
		return Token{}, fmt.Errorf("tiktok: %s: answer has no access_token", op)
	}
	now := time.Now()
	t := Token{
		AccessToken:      a.AccessToken,
		RefreshToken:     a.RefreshToken,
		OpenID:           a.OpenID,
		Scope:            a.Scope,
		ExpiresAt:        now.Add(time.Duration(a.ExpiresIn) * time.Second),
		RefreshExpiresAt: now.Add(time.Duration(a.RefreshExpiresIn) * time.Second),
	}
	if t.RefreshToken == "" {
		t.RefreshToken = oldRefresh
	}
	return t, nil
}

// tokenError is the *APIError in a token or revoke answer, or nil. The
// OAuth endpoints answer {"error":"...","error_description":...}, but an
// error in the v2 envelope shape is understood too.
func tokenError(status int, raw []byte, a tokenAnswer, jsonErr error) *APIError {
	if jsonErr == nil && len(a.Error) > 0 && string(a.Error) != "null" {
		var code string
		if json.Unmarshal(a.Error, &code) == nil {
			if code != "" && code != "ok" {
				return &APIError{HTTPStatus: status, Code: code, Message: a.Description, LogID: a.LogID}
			}
		} else {
			var nested struct {
				Code    string `json:"code"`
				Message string `json:"message"`
				LogID   string `json:"log_id"`
			}
			if json.Unmarshal(a.Error, &nested) == nil && nested.Code != "" && nested.Code != "ok" {
				return &APIError{HTTPStatus: status, Code: nested.Code, Message: nested.Message, LogID: nested.LogID}
			}
		}
	}
	if status/100 != 2 {
		return bareError(status, raw)
	}
	return nil
}

// postForm sends a form-encoded POST with the client credentials added.
func (c *Client) postForm(ctx context.Context, op, path string, form url.Values) (int, []byte, error) {
	form.Set("client_key", c.cfg.ClientKey)
	form.Set("client_secret", c.cfg.ClientSecret)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.APIBaseURL+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, fmt.Errorf("tiktok: %s: %w", op, redact(err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cache-Control", "no-cache")
	return c.send(req, op)
}

// Revoke withdraws the app's access for the user the access token belongs
// to (as when they disconnect TikTok in Loomcast).
func (c *Client) Revoke(ctx context.Context, accessToken string) error {
	if accessToken == "" {
		return fmt.Errorf("tiktok: revoke: empty access token")
	}
	form := url.Values{}
	form.Set("token", accessToken)
	status, raw, err := c.postForm(ctx, "revoke", "/v2/oauth/revoke/", form)
	if err != nil {
		return err
	}
	var a tokenAnswer
	jsonErr := json.Unmarshal(raw, &a)
	if apiErr := tokenError(status, raw, a, jsonErr); apiErr != nil {
		return apiErr
	}
	return nil
}

// UserInfo is the basic profile of the user a token belongs to.
type UserInfo struct {
	OpenID      string
	DisplayName string
	AvatarURL   string
}

// UserInfo fetches the user's basic profile (scope user.info.basic).
func (c *Client) UserInfo(ctx context.Context, accessToken string) (UserInfo, error) {
	var data struct {
		User struct {
			OpenID      string `json:"open_id"`
			DisplayName string `json:"display_name"`
			AvatarURL   string `json:"avatar_url"`
		} `json:"user"`
	}
	q := url.Values{"fields": {"open_id,avatar_url,display_name"}}
	if err := c.callAPI(ctx, "user info", http.MethodGet, "/v2/user/info/", accessToken, q, nil, &data); err != nil {
		return UserInfo{}, err
	}
	return UserInfo{OpenID: data.User.OpenID, DisplayName: data.User.DisplayName, AvatarURL: data.User.AvatarURL}, nil
}
