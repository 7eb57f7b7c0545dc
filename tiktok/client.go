// Package tiktok is a client for TikTok's Login Kit for Web (OAuth 2.0, v2
// endpoints) and the Content Posting API Direct Post of videos sent by file
// upload and of photos TikTok pulls from URLs. Every URL is configurable
// so that tests and the sandbox point it at tiktok/fake.
//
// Every answer TikTok gives that is not a success comes back as an
// *APIError; network failures (connection reset, timeout, cancelled
// context) come back wrapped, unchanged, for the caller to retry. Error
// messages never contain tokens, secrets, or the query strings of upload
// URLs and of the image URLs of photo posts.
package tiktok

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const (
	defaultAuthURL    = "https://www.tiktok.com/v2/auth/authorize/"
	defaultAPIBaseURL = "https://open.tiktokapis.com"
	defaultTimeout    = 30 * time.Second
	// maxAnswer bounds how much of an answer body is read.
	maxAnswer = 1 << 20
)

// Config says which TikTok app the client acts for and where TikTok is.
type Config struct {
	// ClientKey and ClientSecret are the app's credentials from the
	// TikTok for Developers portal.
	ClientKey    string
	ClientSecret string
	// RedirectURI is the registered callback the consent page sends the
	// user back to; the token exchange repeats it.
	RedirectURI string
	// AuthURL is the consent page, by default
	// "https://www.tiktok.com/v2/auth/authorize/".
	AuthURL string
	// APIBaseURL is where the v2 API lives, by default
	// "https://open.tiktokapis.com".
	APIBaseURL string
	// HTTPClient sends every request, by default one with a 30 s timeout.
	HTTPClient *http.Client
}

// Client talks to TikTok on behalf of one app. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
}

// New returns a client for cfg, filling in the defaults.
func New(cfg Config) *Client {
	if cfg.AuthURL == "" {
		cfg.AuthURL = defaultAuthURL
	}
	if cfg.APIBaseURL == "" {
		cfg.APIBaseURL = defaultAPIBaseURL
	}
	cfg.APIBaseURL = strings.TrimRight(cfg.APIBaseURL, "/")
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	return &Client{cfg: cfg, http: hc}
}

// ErrInvalidGrant means TikTok's token endpoint refused the grant with
// invalid_grant: the refresh token (or authorization code) is unknown,
// used, expired or revoked. The user has to sign in again. Test for it
// with errors.Is; the error is still an *APIError.
var ErrInvalidGrant = errors.New("tiktok: invalid grant")

// APIError is an answer from TikTok that is not a success: an error
// envelope from the v2 API ({"error":{"code","message","log_id"}}), an
// OAuth error ({"error","error_description","log_id"}), or a bare non-2xx
// status (Code is then empty).
type APIError struct {
	HTTPStatus int
	Code       string
	Message    string
	LogID      string
}

// Error describes the answer, without any token or secret.
func (e *APIError) Error() string {
	if e == nil {
		return "tiktok: <nil> api error"
	}
	var b strings.Builder
	b.WriteString("tiktok: ")
	if e.Code != "" {
		b.WriteString(e.Code)
	} else {
		b.WriteString(strings.ToLower(http.StatusText(e.HTTPStatus)))
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	fmt.Fprintf(&b, " (http %d", e.HTTPStatus)
	if e.LogID != "" {
		fmt.Fprintf(&b, ", log_id %s", e.LogID)
	}
	b.WriteString(")")
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidGrant) true for invalid_grant answers.
func (e *APIError) Is(target error) bool {
	return e != nil && target == ErrInvalidGrant && e.Code == "invalid_grant"
}

// Retryable reports whether the same request may succeed later unchanged:
// rate limiting (429, rate_limit_exceeded) and TikTok-side failures (5xx,
// internal_error). Quota refusals such as spam_risk_too_many_posts are not
// retryable.
func (e *APIError) Retryable() bool {
	if e == nil {
		return false
	}
	return e.HTTPStatus == http.StatusTooManyRequests || e.Code == "rate_limit_exceeded" ||
		e.HTTPStatus >= 500 || e.Code == "internal_error"
}

// AuthExpired reports whether the access token was refused
// (access_token_invalid, or any 401): refresh it, or if that fails with
// ErrInvalidGrant, ask the user to connect TikTok again.
func (e *APIError) AuthExpired() bool {
	return e != nil && (e.Code == "access_token_invalid" || e.HTTPStatus == http.StatusUnauthorized)
}

// envelope is the shape of every v2 API answer.
type envelope struct {
	Data  json.RawMessage `json:"data"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		LogID   string `json:"log_id"`
	} `json:"error"`
}

// callAPI sends a bearer-authenticated request to path under APIBaseURL
// and decodes the envelope's data into out (which may be nil). in, when
// not nil, is sent as the JSON body.
func (c *Client) callAPI(ctx context.Context, op, method, path, accessToken string, query url.Values, in, out any) error {
	if accessToken == "" {
		return fmt.Errorf("tiktok: %s: empty access token", op)
	}
	u := c.cfg.APIBaseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("tiktok: %s: encode request: %w", op, err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("tiktok: %s: %w", op, redact(err))
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	}
	status, raw, err := c.send(req, op)
	if err != nil {
		return err
	}
	return decodeEnvelope(op, status, raw, out)
}

// send runs req and reads at most maxAnswer bytes of the answer.
func (c *Client) send(req *http.Request, op string) (int, []byte, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("tiktok: %s: %w", op, redact(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return 0, nil, fmt.Errorf("tiktok: %s: read answer: %w", op, redact(err))
	}
	return resp.StatusCode, raw, nil
}

// decodeEnvelope turns a v2 answer into out, or into an *APIError.
func decodeEnvelope(op string, status int, raw []byte, out any) error {
	var env envelope
	jsonErr := json.Unmarshal(raw, &env)
	if jsonErr == nil && env.Error != nil && env.Error.Code != "" && env.Error.Code != "ok" {
		return &APIError{HTTPStatus: status, Code: env.Error.Code, Message: env.Error.Message, LogID: env.Error.LogID}
	}
	if status/100 != 2 {
		return bareError(status, raw)
	}
	if jsonErr != nil {
		return fmt.Errorf("tiktok: %s: decode answer: %w", op, jsonErr)
	}
	if out == nil || len(env.Data) == 0 || string(env.Data) == "null" {
		return nil
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return fmt.Errorf("tiktok: %s: decode data: %w", op, err)
	}
	return nil
}

// bareError is the *APIError for a non-2xx answer, using whatever error
// fields the body has.
func bareError(status int, raw []byte) *APIError {
	e := &APIError{HTTPStatus: status}
	var env envelope
	if json.Unmarshal(raw, &env) == nil && env.Error != nil {
		e.Code, e.Message, e.LogID = env.Error.Code, env.Error.Message, env.Error.LogID
		return e
	}
	var oauth oauthError
	if json.Unmarshal(raw, &oauth) == nil {
		e.Code, e.Message, e.LogID = oauth.Error, oauth.Description, oauth.LogID
	}
	return e
}

// oauthError is the error shape of the OAuth endpoints.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	LogID       string `json:"log_id"`
}

// redact removes the query string (which may hold an upload token) and
// any user info from the URL a *url.Error carries, keeping the error's
// type and cause so that callers can still inspect it.
// (net/http and url.Parse return the *url.Error itself, never wrapped.)
func redact(err error) error {
	ue, ok := err.(*url.Error)
	if !ok {
		return err
	}
	clean := *ue
	clean.URL = stripURL(ue.URL)
	return &clean
}

// stripURL returns raw without query, fragment and user info.
func stripURL(raw string) string {
	raw, _, _ = strings.Cut(raw, "?")
	raw, _, _ = strings.Cut(raw, "#")
	if u, err := url.Parse(raw); err == nil {
		u.User = nil
		return u.String()
	}
	return raw
}
