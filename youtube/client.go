// Package youtube connects a Google account's YouTube channel (OAuth 2.0
// with PKCE and offline access), reads the channel's identity and uploads
// videos with the YouTube Data API v3 resumable upload protocol.
//
// Access tokens are passed in by the caller on every call and are never
// refreshed here: refreshing (Refresh) is the caller's business. No token
// ever appears in an error message.
package youtube

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	ytapi "google.golang.org/api/youtube/v3"
)

// Google's production endpoints, used when Config leaves them empty.
const (
	defaultAuthURL    = "https://accounts.google.com/o/oauth2/v2/auth"
	defaultTokenURL   = "https://oauth2.googleapis.com/token"
	defaultRevokeURL  = "https://oauth2.googleapis.com/revoke"
	defaultAPIBaseURL = "https://youtube.googleapis.com/"
)

// Scopes are the OAuth scopes requested at consent: uploading videos and
// reading the channel's identity.
var Scopes = []string{
	"https://www.googleapis.com/auth/youtube.upload",
	"https://www.googleapis.com/auth/youtube.readonly",
}

// ErrNoChannel is returned by MyChannel when the Google account has no
// YouTube channel yet.
var ErrNoChannel = errors.New("youtube: the google account has no youtube channel")

// Config configures a Client. Only ClientID, ClientSecret and RedirectURI
// are needed against Google; the URLs are set to point at a fake.
type Config struct {
	// ClientID and ClientSecret identify the OAuth client registered with
	// Google; RedirectURI is the registered callback URL.
	ClientID, ClientSecret, RedirectURI string
	// AuthURL, TokenURL and RevokeURL default to Google's OAuth endpoints.
	AuthURL, TokenURL, RevokeURL string
	// APIBaseURL is the YouTube Data API root, default
	// "https://youtube.googleapis.com/". It is given to the generated
	// client with option.WithEndpoint; a trailing slash is added if missing.
	APIBaseURL string
	// HTTPClient sends every request (token, revoke and API calls); its
	// Timeout applies to each request, so to each upload chunk on its own.
	// Default http.DefaultClient.
	HTTPClient *http.Client
	// RetryFor is how long an upload request that failed with a network
	// error, 408, 429 or 5xx is sent again before ResumeUpload gives up,
	// counted from the last progress: 0 means 32 seconds, a negative value
	// never.
	RetryFor time.Duration
}

// Client talks to Google's OAuth endpoints and the YouTube Data API.
// It is safe for concurrent use.
type Client struct {
	cfg   Config
	oauth *oauth2.Config
	http  *http.Client
}

// New returns a Client for cfg, filling in Google's endpoints where cfg
// leaves them empty.
func New(cfg Config) *Client {
	if cfg.AuthURL == "" {
		cfg.AuthURL = defaultAuthURL
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = defaultTokenURL
	}
	if cfg.RevokeURL == "" {
		cfg.RevokeURL = defaultRevokeURL
	}
	if cfg.APIBaseURL == "" {
		cfg.APIBaseURL = defaultAPIBaseURL
	}
	if !strings.HasSuffix(cfg.APIBaseURL, "/") {
		cfg.APIBaseURL += "/"
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{
		cfg:  cfg,
		http: hc,
		oauth: &oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			RedirectURL:  cfg.RedirectURI,
			Scopes:       Scopes,
			Endpoint: oauth2.Endpoint{
				AuthURL:   cfg.AuthURL,
				TokenURL:  cfg.TokenURL,
				AuthStyle: oauth2.AuthStyleInParams,
			},
		},
	}
}

// Channel is the identity of the YouTube channel a grant belongs to.
type Channel struct {
	ID, Title, ThumbnailURL string
}

// MyChannel returns the channel of the account that accessToken belongs
// to (channels.list with part=snippet and mine=true).
func (c *Client) MyChannel(ctx context.Context, accessToken string) (Channel, error) {
	svc, err := c.service(ctx, accessToken)
	if err != nil {
		return Channel{}, err
	}
	resp, err := svc.Channels.List([]string{"snippet"}).Mine(true).Context(ctx).Do()
	if err != nil {
		return Channel{}, apiErr("list my channel", err)
	}
	if len(resp.Items) == 0 || resp.Items[0].Snippet == nil {
		return Channel{}, ErrNoChannel
	}
	item := resp.Items[0]
	return Channel{ID: item.Id, Title: item.Snippet.Title, ThumbnailURL: thumbnail(item.Snippet.Thumbnails)}, nil
}

// thumbnail picks the medium avatar (240px), falling back to the others.
func thumbnail(t *ytapi.ThumbnailDetails) string {
	if t == nil {
		return ""
	}
	for _, th := range []*ytapi.Thumbnail{t.Medium, t.Default, t.High} {
		if th != nil && th.Url != "" {
			return th.Url
		}
	}
	return ""
}

// service builds a generated API client that sends accessToken as a
// static Bearer token through c's HTTP client.
func (c *Client) service(ctx context.Context, accessToken string) (*ytapi.Service, error) {
	base := c.http.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc := &http.Client{
		Transport: &oauth2.Transport{
			Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: accessToken, TokenType: "Bearer"}),
			Base:   base,
		},
		CheckRedirect: c.http.CheckRedirect,
		Jar:           c.http.Jar,
		Timeout:       c.http.Timeout,
	}
	svc, err := ytapi.NewService(ctx, option.WithHTTPClient(hc), option.WithEndpoint(c.cfg.APIBaseURL))
	if err != nil {
		return nil, fmt.Errorf("youtube: new api service: %w", err)
	}
	return svc, nil
}

// APIError is an error answered by the YouTube Data API (or by the token
// or revoke endpoint), e.g. reason quotaExceeded, uploadLimitExceeded,
// forbidden, authError.
type APIError struct {
	HTTPStatus int
	Reason     string
	Message    string
}

// Error implements error.
func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.HTTPStatus)
	}
	if e.Reason == "" {
		return fmt.Sprintf("api error %d: %s", e.HTTPStatus, msg)
	}
	return fmt.Sprintf("api error %d (%s): %s", e.HTTPStatus, e.Reason, msg)
}

// Retryable reports whether the same request may succeed later: 429, 5xx,
// or a rate-limit or backend reason. Quota and upload limits are not
// retryable in this sense (they reset after a day).
func (e *APIError) Retryable() bool {
	if e.HTTPStatus == http.StatusTooManyRequests || e.HTTPStatus >= 500 {
		return true
	}
	switch e.Reason {
	case "rateLimitExceeded", "userRateLimitExceeded", "backendError", "internalError":
		return true
	}
	return false
}

// AuthExpired reports whether the access token was refused (401 or
// reason authError): refresh it and try again.
func (e *APIError) AuthExpired() bool {
	return e.HTTPStatus == http.StatusUnauthorized || e.Reason == "authError"
}

// apiErr turns an error from the generated client into an *APIError when
// the API answered one, strips query strings (upload session IDs) from
// URLs in transport errors, and adds what was being done.
func apiErr(op string, err error) error {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		ae := &APIError{HTTPStatus: ge.Code, Message: ge.Message}
		if len(ge.Errors) > 0 {
			ae.Reason = ge.Errors[0].Reason
			if ae.Message == "" {
				ae.Message = ge.Errors[0].Message
			}
		}
		return fmt.Errorf("youtube: %s: %w", op, ae)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		orig, red := ue.URL, redactURL(ue.URL)
		if orig != red {
			// Wrapping errors froze their message with the URL in it.
			msg := strings.ReplaceAll(err.Error(), orig, red)
			ue.URL = red
			err = &redactedError{msg: msg, err: err}
		}
	}
	return fmt.Errorf("youtube: %s: %w", op, err)
}

// redactedError is err with URLs stripped of their query in its message.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactURL drops the query and fragment of raw.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(url)"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

// WatchURL is the public address of a video on YouTube; empty without an
// ID.
func WatchURL(videoID string) string {
	if videoID == "" {
		return ""
	}
	return "https://www.youtube.com/watch?v=" + url.QueryEscape(videoID)
}
