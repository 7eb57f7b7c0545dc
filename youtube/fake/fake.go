// Package fake is a local stand-in for Google's OAuth 2.0 endpoints and the
// parts of the YouTube Data API v3 that package youtube uses, speaking the
// same wire protocol: auto-consent authorization, token and revoke
// endpoints, channels.list?mine=true and videos.insert with the resumable
// (and multipart) upload protocol. It serves tests over httptest and the
// offline sandbox, where it may be mounted under a URL prefix.
//
// Paths, relative to Options.BaseURL:
//
//	GET  /o/oauth2/v2/auth           consent (redirects at once)
//	POST /token                      authorization_code and refresh_token grants
//	POST /revoke                     token revocation
//	GET  /youtube/v3/channels        channels.list (mine=true only)
//	POST /upload/youtube/v3/videos   videos.insert (uploadType=resumable|multipart)
//	PUT|POST <session URI>           resumable chunks and status queries
//	GET  /avatars/{channel}.svg      channel thumbnails
package fake

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/loomcast/loomcast/youtube"
)

// Identity signed in by default.
const (
	DefaultChannelID    = "UCsandbox000000000000001"
	DefaultChannelTitle = "Sandbox Channel"
)

// Options configures a Server.
type Options struct {
	// ClientID and ClientSecret are the only OAuth client the fake accepts.
	ClientID, ClientSecret string
	// BaseURL is the absolute URL where Handler is reachable, with any
	// mount prefix, e.g. "http://127.0.0.1:8080/sandbox/youtube".
	BaseURL string
	// AccessTTL is the lifetime of access tokens, default 1h.
	AccessTTL time.Duration
	// Now is the clock, default time.Now.
	Now func() time.Time
}

// Failure describes an injected failure (see FailNext).
type Failure struct {
	// Status is the HTTP status answered, default 503.
	Status int
	// Reason is the error reason in the Google error body, default one
	// fitting Status (backendError, forbidden, rateLimitExceeded, ...).
	Reason string
	// Drop closes the connection without any answer instead.
	Drop bool
}

// Server is the fake. It is safe for concurrent use.
type Server struct {
	clientID, clientSecret string
	base                   string // BaseURL without trailing slash
	prefix                 string // BaseURL's path without trailing slash, "" at root
	accessTTL              time.Duration
	now                    func() time.Time

	mu       sync.Mutex
	identity identity
	codes    map[string]*authCode
	grants   map[string]*grant  // by refresh token
	access   map[string]*access // by access token
	failures []pendingFailure
	sessions map[string]*session // by upload_id
	videos   []*record
	// loseCompleted is the number of completed-video answers to lose.
	loseCompleted int
}

type identity struct{ channelID, title string }

type pendingFailure struct {
	prefix string
	f      Failure
}

// New returns a fake configured by o. It panics if o.BaseURL is not an
// absolute http(s) URL.
func New(o Options) *Server {
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		panic(fmt.Sprintf("fake: BaseURL %q is not an absolute http(s) URL", o.BaseURL))
	}
	if o.AccessTTL <= 0 {
		o.AccessTTL = time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Server{
		clientID:     o.ClientID,
		clientSecret: o.ClientSecret,
		base:         strings.TrimSuffix(o.BaseURL, "/"),
		prefix:       strings.TrimSuffix(u.Path, "/"),
		accessTTL:    o.AccessTTL,
		now:          o.Now,
		identity:     identity{DefaultChannelID, DefaultChannelTitle},
		codes:        map[string]*authCode{},
		grants:       map[string]*grant{},
		access:       map[string]*access{},
		sessions:     map[string]*session{},
	}
}

// Config returns a youtube.Config whose endpoints all point at the fake.
// HTTPClient is left nil.
func (s *Server) Config(redirectURI string) youtube.Config {
	return youtube.Config{
		ClientID:     s.clientID,
		ClientSecret: s.clientSecret,
		RedirectURI:  redirectURI,
		AuthURL:      s.base + "/o/oauth2/v2/auth",
		TokenURL:     s.base + "/token",
		RevokeURL:    s.base + "/revoke",
		APIBaseURL:   s.base + "/",
	}
}

// SignInAs sets the account that consents from now on (until the next
// call): its channel's ID and title.
func (s *Server) SignInAs(channelID, title string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.identity = identity{channelID, title}
}

// LiveGrants counts the grants of channelID that are not revoked, for tests
// that check an account's access was given up at the platform.
func (s *Server) LiveGrants(channelID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, g := range s.grants {
		if g.channelID == channelID && !g.revoked {
			n++
		}
	}
	return n
}

// RevokeGrants revokes every grant of channelID, as a user removing the
// app's access would: refreshing answers invalid_grant and its access
// tokens get 401.
func (s *Server) RevokeGrants(channelID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.grants {
		if g.channelID == channelID {
			g.revoked = true
		}
	}
}

// FailNext makes the next request whose path, relative to BaseURL (e.g.
// "/upload/youtube/v3/videos", "/youtube/v3/channels", "/token"), starts
// with pathPrefix fail as f says. Calls queue up; each failure is used once.
func (s *Server) FailNext(pathPrefix string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, pendingFailure{pathPrefix, f})
}

// Handler returns the fake's HTTP handler. It serves its paths whether the
// mount prefix of BaseURL was stripped (http.StripPrefix) or not.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if s.prefix != "" && (p == s.prefix || strings.HasPrefix(p, s.prefix+"/")) {
		p = strings.TrimPrefix(p, s.prefix)
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if f, ok := s.takeFailure(p); ok {
		s.fail(w, r, p, f)
		return
	}
	switch {
	case p == "/o/oauth2/v2/auth":
		s.authorize(w, r)
	case p == "/token":
		s.token(w, r)
	case p == "/revoke":
		s.revoke(w, r)
	case p == "/youtube/v3/channels":
		s.channels(w, r)
	case p == "/upload/youtube/v3/videos" && r.URL.Query().Has("upload_id"):
		s.uploadSession(w, r)
	case p == "/upload/youtube/v3/videos":
		s.uploadStart(w, r)
	case strings.HasPrefix(p, "/avatars/"):
		s.avatar(w, r, p)
	default:
		writeAPIError(w, http.StatusNotFound, "notFound", "The requested URL was not found on this server.")
	}
}

// dropConnection closes the connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func (s *Server) takeFailure(path string) (Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, pf := range s.failures {
		if strings.HasPrefix(path, pf.prefix) {
			s.failures = append(s.failures[:i], s.failures[i+1:]...)
			return pf.f, true
		}
	}
	return Failure{}, false
}

// fail answers an injected failure: a dropped connection, an OAuth error
// on the OAuth paths, or a Google API error body elsewhere. The request
// body is read first so that the client sees the answer.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, path string, f Failure) {
	if f.Drop {
		dropConnection(w)
		return
	}
	drain(r)
	if f.Status == 0 {
		f.Status = http.StatusServiceUnavailable
	}
	if f.Reason == "" {
		f.Reason = defaultReason(f.Status)
	}
	msg := "Injected failure: " + http.StatusText(f.Status)
	switch path {
	case "/token", "/revoke", "/o/oauth2/v2/auth":
		writeOAuthError(w, f.Status, f.Reason, msg)
	default:
		writeAPIError(w, f.Status, f.Reason, msg)
	}
}

// channels serves channels.list for mine=true.
func (s *Server) channels(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeAPIError(w, http.StatusMethodNotAllowed, "methodNotAllowed", "Method not allowed.")
		return
	}
	g, ok := s.authenticate(w, r, readScopes)
	if !ok {
		return
	}
	q := r.URL.Query()
	parts := splitParts(q["part"])
	if len(parts) == 0 {
		writeAPIError(w, http.StatusBadRequest, "required", "Required parameter: part")
		return
	}
	if q.Get("mine") != "true" {
		writeAPIError(w, http.StatusBadRequest, "missingRequiredParameter", "The fake answers only mine=true.")
		return
	}
	item := map[string]any{"kind": "youtube#channel", "etag": etag(), "id": g.channelID}
	if parts["snippet"] {
		item["snippet"] = map[string]any{
			"title":       g.title,
			"description": "",
			"customUrl":   "@" + strings.ToLower(strings.ReplaceAll(g.title, " ", "")),
			"publishedAt": "2020-01-01T00:00:00Z",
			"thumbnails":  s.thumbnails(g.channelID),
			"localized":   map[string]any{"title": g.title, "description": ""},
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"kind":     "youtube#channelListResponse",
		"etag":     etag(),
		"pageInfo": map[string]any{"totalResults": 1, "resultsPerPage": 5},
		"items":    []any{item},
	})
}

func (s *Server) thumbnails(channelID string) map[string]any {
	u := s.base + "/avatars/" + url.PathEscape(channelID) + ".svg"
	size := func(n int) map[string]any {
		return map[string]any{"url": u + fmt.Sprintf("?s=%d", n), "width": n, "height": n}
	}
	return map[string]any{"default": size(88), "medium": size(240), "high": size(800)}
}

// avatar serves a plain SVG avatar so sandbox pages show an image.
func (s *Server) avatar(w http.ResponseWriter, r *http.Request, path string) {
	id, _ := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(path, "/avatars/"), ".svg"))
	letter := "?"
	s.mu.Lock()
	for _, g := range s.grants {
		if g.channelID == id && g.title != "" {
			letter = strings.ToUpper(string([]rune(g.title)[:1]))
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "image/svg+xml")
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 88 88"><rect width="88" height="88" fill="#c4302b"/>`+
		`<text x="44" y="58" font-size="44" text-anchor="middle" fill="#fff" font-family="sans-serif">%s</text></svg>`, html.EscapeString(letter))
}

// authenticate checks the Bearer token and that its grant has one of
// scopes; it answers 401/403 itself when not.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, scopes []string) (*grant, bool) {
	h := r.Header.Get("Authorization")
	tok, found := strings.CutPrefix(h, "Bearer ")
	if !found || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
		writeAPIError(w, http.StatusUnauthorized, "required", "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return nil, false
	}
	s.mu.Lock()
	a := s.access[tok]
	valid := a != nil && !a.grant.revoked && s.now().Before(a.expires)
	var g grant
	if valid {
		g = *a.grant
	}
	s.mu.Unlock()
	if !valid {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
		writeAPIError(w, http.StatusUnauthorized, "authError", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return nil, false
	}
	for _, want := range scopes {
		for _, have := range g.scopes {
			if want == have {
				return &g, true
			}
		}
	}
	writeAPIError(w, http.StatusForbidden, "insufficientPermissions", "Request had insufficient authentication scopes.")
	return nil, false
}

const scopePrefix = "https://www.googleapis.com/auth/"

var (
	readScopes   = []string{scopePrefix + "youtube.readonly", scopePrefix + "youtube", scopePrefix + "youtube.force-ssl"}
	uploadScopes = []string{scopePrefix + "youtube.upload", scopePrefix + "youtube", scopePrefix + "youtube.force-ssl"}
)

// splitParts parses the part parameter, given repeated or comma-separated.
func splitParts(values []string) map[string]bool {
	parts := map[string]bool{}
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts[p] = true
			}
		}
	}
	return parts
}

// writeAPIError writes a Google JSON API error body.
func writeAPIError(w http.ResponseWriter, status int, reason, msg string) {
	detail := map[string]any{"message": msg, "domain": domainOf(reason), "reason": reason}
	if status == http.StatusUnauthorized {
		detail["location"], detail["locationType"] = "Authorization", "header"
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"code":    status,
		"message": msg,
		"errors":  []any{detail},
		"status":  rpcStatus(status),
	}})
}

// writeOAuthError writes an RFC 6749 error body as Google's token endpoint does.
func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func domainOf(reason string) string {
	switch reason {
	case "quotaExceeded", "rateLimitExceeded", "userRateLimitExceeded":
		return "youtube.quota"
	case "uploadLimitExceeded", "invalidTitle", "invalidDescription", "invalidVideoMetadata":
		return "youtube.video"
	}
	return "global"
}

func defaultReason(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "badRequest"
	case http.StatusUnauthorized:
		return "authError"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "notFound"
	case http.StatusTooManyRequests:
		return "rateLimitExceeded"
	}
	if status >= 500 {
		return "backendError"
	}
	return "unknown"
}

func rpcStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusInternalServerError:
		return "INTERNAL"
	}
	return "UNKNOWN"
}

// randomID returns n characters of the URL-safe base64 alphabet.
func randomID(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]&63]
	}
	return string(b)
}

func etag() string { return randomID(27) }
