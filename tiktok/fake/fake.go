// Package fake is a local stand-in for TikTok, speaking the same wire
// protocol as Login Kit for Web (v2 consent page, form-encoded token and
// revoke endpoints with client credentials, PKCE with TikTok's hex-encoded
// S256 challenge, rotating refresh tokens), user info, and the Content
// Posting API Direct Post: of videos by file upload (creator info, video
// init with TikTok's chunk rules, ordered Content-Range chunk PUTs
// answered 206/201) and of photos pulled from URLs (content init, the
// images downloaded in the background from Options.VerifiedURLPrefixes
// and checked for JPEG or WebP and 20 MB), with status polling, TikTok's
// per-token rate limits and its post.publish.* webhooks. Consent is
// automatic: the authorize page redirects straight back as the signed-in
// sandbox creator.
//
// Tests use it over httptest, and the offline sandbox mounts it under a URL
// prefix; Options.BaseURL says where. Failures can be injected per path
// with FailNext, and accounts revoked or expired, to exercise the
// caller's error handling.
package fake

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loomcast/loomcast/tiktok"
)

// Paths of the fake's endpoints relative to Options.BaseURL, as on TikTok.
const (
	AuthorizePath   = "/v2/auth/authorize/"
	TokenPath       = "/v2/oauth/token/"
	RevokePath      = "/v2/oauth/revoke/"
	UserInfoPath    = "/v2/user/info/"
	CreatorInfoPath = "/v2/post/publish/creator_info/query/"
	VideoInitPath   = "/v2/post/publish/video/init/"
	ContentInitPath = "/v2/post/publish/content/init/"
	StatusPath      = "/v2/post/publish/status/fetch/"
	// UploadPath is the prefix of upload URLs; the rest is opaque.
	UploadPath = "/upload/"
	avatarPath = "/avatar/"
)

// Options configure a fake.
type Options struct {
	// ClientKey and ClientSecret are the only app credentials accepted.
	ClientKey, ClientSecret string
	// BaseURL is the absolute URL where Handler is reachable, such as
	// http://127.0.0.1:8080/sandbox/tiktok. Upload URLs are built from it,
	// and its path is stripped from requests that still carry it.
	BaseURL string
	// AccessTTL and RefreshTTL are the token lifetimes, by default 24
	// hours and 365 days as on TikTok.
	AccessTTL, RefreshTTL time.Duration
	// ProcessingDelay is the time from the last chunk to the final
	// status; 0 means 2 s and a negative value means none.
	ProcessingDelay time.Duration
	// Now is the fake's clock, by default time.Now.
	Now func() time.Time
	// RateLimits are enforced per access token on init, creator_info and
	// status fetch; the zero value means tiktok.DefaultRateLimits.
	RateLimits tiktok.RateLimits
	// VerifiedURLPrefixes are the URL prefixes verified for the app in
	// TikTok's developer portal, such as "http://127.0.0.1:8080/media/".
	// A URL to pull from is under one when it has the prefix's scheme and
	// host and its path starts with the prefix's path (with no ".."
	// segment); other URLs are refused with url_ownership_unverified.
	// New panics on a prefix that is not an absolute http(s) URL.
	VerifiedURLPrefixes []string
	// HTTPClient downloads the images of photo posts, by default
	// http.DefaultClient. The fake does not follow redirects.
	HTTPClient *http.Client
}

// Failure is an answer to inject with FailNext.
type Failure struct {
	// Status is the HTTP status; 0 derives it from Code (429 for
	// rate_limit_exceeded, 401 for access_token_invalid and
	// scope_not_authorized, 403 for spam_risk_* and other refusals,
	// else 500).
	Status int
	// Code is error.code (error on the OAuth endpoints), such as
	// rate_limit_exceeded, internal_error or spam_risk_too_many_posts;
	// empty derives it from Status.
	Code string
	// Drop closes the connection without answering.
	Drop bool
	// AfterBody applies the failure after the request was processed
	// normally (e.g. init succeeded but its answer is lost).
	AfterBody bool
}

// Server is the fake TikTok. Create it with New.
type Server struct {
	opts     Options
	base     string // BaseURL without trailing slash
	prefix   string // BaseURL's path without trailing slash
	verified []*url.URL
	pullHTTP *http.Client // Options.HTTPClient, not following redirects

	seq atomic.Int64 // for log ids and post ids

	mu          sync.Mutex
	signedIn    identity
	identities  map[string]identity
	creators    map[string]tiktok.CreatorInfo
	codes       map[string]*authCode
	grants      []*grant
	access      map[string]*accessToken
	refresh     map[string]*refreshToken
	posts       []*post
	postByID    map[string]*post
	failures    map[string][]Failure
	failProcess map[string]string
	calls       map[string][]time.Time // by endpoint and access token
	rateRefused int

	webhookURL   string
	dropWebhooks bool
	webhooks     sync.WaitGroup
}

// New returns a fake configured by o.
func New(o Options) *Server {
	if o.AccessTTL <= 0 {
		o.AccessTTL = 24 * time.Hour
	}
	if o.RefreshTTL <= 0 {
		o.RefreshTTL = 365 * 24 * time.Hour
	}
	switch {
	case o.ProcessingDelay == 0:
		o.ProcessingDelay = 2 * time.Second
	case o.ProcessingDelay < 0:
		o.ProcessingDelay = 0
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RateLimits == (tiktok.RateLimits{}) {
		o.RateLimits = tiktok.DefaultRateLimits
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	pull := *o.HTTPClient
	pull.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s := &Server{
		opts:        o,
		base:        strings.TrimRight(o.BaseURL, "/"),
		signedIn:    defaultIdentity,
		identities:  map[string]identity{defaultIdentity.openID: defaultIdentity},
		creators:    map[string]tiktok.CreatorInfo{},
		codes:       map[string]*authCode{},
		access:      map[string]*accessToken{},
		refresh:     map[string]*refreshToken{},
		postByID:    map[string]*post{},
		failures:    map[string][]Failure{},
		failProcess: map[string]string{},
		calls:       map[string][]time.Time{},
		pullHTTP:    &pull,
	}
	if u, err := url.Parse(s.base); err == nil {
		s.prefix = strings.TrimRight(u.Path, "/")
	}
	for _, raw := range o.VerifiedURLPrefixes {
		s.verified = append(s.verified, mustPrefix(raw))
	}
	return s
}

// mustPrefix parses a verified URL prefix; it panics on one that is not
// an absolute http(s) URL.
func mustPrefix(raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		panic(fmt.Sprintf("fake: verified URL prefix %q is not an absolute http(s) URL", raw))
	}
	return u
}

// VerifyURLPrefix adds a URL prefix verified for the app, as
// Options.VerifiedURLPrefixes does, for a server whose address is known
// only after the fake was made. It panics on a prefix that is not an
// absolute http(s) URL.
func (s *Server) VerifyURLPrefix(prefix string) {
	u := mustPrefix(prefix)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.verified = append(s.verified, u)
}

// AuthURL is the consent page URL, for tiktok.Config.AuthURL.
func (s *Server) AuthURL() string { return s.base + AuthorizePath }

// APIBaseURL is the API base, for tiktok.Config.APIBaseURL.
func (s *Server) APIBaseURL() string { return s.base }

// FailNext makes the next request to path fail as f. path is relative to
// BaseURL, such as "/v2/post/publish/video/init/"; a path ending in "/"
// also matches the paths under it, so "/upload/" matches any chunk PUT.
// Several failures for one path apply to successive requests.
func (s *Server) FailNext(path string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[path] = append(s.failures[path], f)
}

// takeFailure pops the failure registered for rel, if any.
func (s *Server) takeFailure(rel string) (Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	path, found := rel, len(s.failures[rel]) > 0
	for p, queue := range s.failures {
		if !found && len(queue) > 0 && strings.HasSuffix(p, "/") && strings.HasPrefix(rel, p) {
			path, found = p, true
		}
	}
	if !found {
		return Failure{}, false
	}
	queue := s.failures[path]
	if len(queue) == 1 {
		delete(s.failures, path)
	} else {
		s.failures[path] = queue[1:]
	}
	return queue[0], true
}

// Handler serves the fake. It accepts request paths with or without
// BaseURL's path in front, so it may be mounted with or without
// http.StripPrefix.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rel := r.URL.Path
		if s.prefix != "" && strings.HasPrefix(rel, s.prefix+"/") {
			rel = strings.TrimPrefix(rel, s.prefix)
		}
		f, ok := s.takeFailure(rel)
		if !ok {
			s.route(w, r, rel)
			return
		}
		if f.AfterBody {
			s.route(discard{h: http.Header{}}, r, rel)
		}
		s.fail(w, rel, f)
	})
}

// route dispatches a request by its path relative to BaseURL.
func (s *Server) route(w http.ResponseWriter, r *http.Request, rel string) {
	switch {
	case rel == AuthorizePath:
		s.authorize(w, r)
	case rel == TokenPath:
		s.token(w, r)
	case rel == RevokePath:
		s.revoke(w, r)
	case rel == UserInfoPath:
		s.userInfo(w, r)
	case rel == CreatorInfoPath:
		s.creatorInfo(w, r)
	case rel == VideoInitPath:
		s.initVideo(w, r)
	case rel == ContentInitPath:
		s.initContent(w, r)
	case rel == StatusPath:
		s.fetchStatus(w, r)
	case strings.HasPrefix(rel, UploadPath):
		s.upload(w, r, strings.TrimPrefix(rel, UploadPath))
	case strings.HasPrefix(rel, avatarPath):
		s.avatar(w, r, strings.TrimPrefix(rel, avatarPath))
	default:
		s.apiError(w, http.StatusNotFound, "invalid_params", "no such endpoint: "+rel)
	}
}

// fail writes (or drops) the injected failure f.
func (s *Server) fail(w http.ResponseWriter, rel string, f Failure) {
	if f.Drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		// No hijacking (HTTP/2): abort the stream the documented way.
		panic(http.ErrAbortHandler)
	}
	status, code := f.Status, f.Code
	if status == 0 {
		status = statusFor(code)
	}
	if code == "" {
		code = codeFor(status)
	}
	msg := "injected failure"
	if rel == TokenPath || rel == RevokePath {
		s.oauthError(w, status, code, msg)
		return
	}
	s.apiError(w, status, code, msg)
}

// statusFor is the HTTP status TikTok uses with an error code.
func statusFor(code string) int {
	switch {
	case code == "rate_limit_exceeded":
		return http.StatusTooManyRequests
	case code == "access_token_invalid" || code == "scope_not_authorized" || code == "invalid_client":
		return http.StatusUnauthorized
	case code == "invalid_param" || code == "invalid_params" || code == "invalid_grant" || code == "invalid_request":
		return http.StatusBadRequest
	case strings.HasPrefix(code, "spam_risk") || code == "reached_active_user_cap" ||
		code == "unaudited_client_can_only_post_to_private_accounts" || code == "privacy_level_option_mismatch" ||
		code == "url_ownership_unverified":
		return http.StatusForbidden
	default:
		return http.StatusInternalServerError
	}
}

// codeFor is the error code TikTok uses with an HTTP status.
func codeFor(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return "rate_limit_exceeded"
	case status == http.StatusUnauthorized:
		return "access_token_invalid"
	case status == http.StatusBadRequest:
		return "invalid_params"
	case status >= 500:
		return "internal_error"
	default:
		return "internal_error"
	}
}

// discard is a ResponseWriter that throws the answer away.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

// now is the fake's clock.
func (s *Server) now() time.Time { return s.opts.Now() }

// logID is a TikTok-style log id (timestamp then a counter).
func (s *Server) logID() string {
	n := s.seq.Add(1)
	return fmt.Sprintf("%s%014X", s.now().UTC().Format("20060102150405"), n)
}

// apiError writes the v2 error envelope.
func (s *Server) apiError(w http.ResponseWriter, status int, code, msg string) {
	s.writeJSON(w, status, map[string]any{
		"data":  map[string]any{},
		"error": map[string]string{"code": code, "message": msg, "log_id": s.logID()},
	})
}

// apiData writes a successful v2 envelope around data.
func (s *Server) apiData(w http.ResponseWriter, data any) {
	s.writeJSON(w, http.StatusOK, map[string]any{
		"data":  data,
		"error": map[string]string{"code": "ok", "message": "", "log_id": s.logID()},
	})
}

// oauthError writes the OAuth endpoints' error shape.
func (s *Server) oauthError(w http.ResponseWriter, status int, code, desc string) {
	s.writeJSON(w, status, map[string]string{"error": code, "error_description": desc, "log_id": s.logID()})
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// randomToken is an unguessable token with a TikTok-like prefix.
func randomToken(prefix string) string {
	return prefix + rand.Text()
}
