package youtube_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/loomcast/loomcast/youtube"
	"github.com/loomcast/loomcast/youtube/fake"
)

const redirectURI = "http://127.0.0.1:9/oauth/youtube/callback"

// env is a fake served over httptest and a client pointed at it.
type env struct {
	srv  *httptest.Server
	fake *fake.Server
	yt   *youtube.Client
	log  *requestLog
	base string
}

type envOptions struct {
	prefix string // mount the fake under this path
	strip  bool   // with http.StripPrefix
	now    func() time.Time
	// retryFor is the client's Config.RetryFor.
	retryFor time.Duration
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	e := &env{log: &requestLog{}}
	var h http.Handler
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.log.add(r)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	e.base = e.srv.URL + o.prefix
	e.fake = fake.New(fake.Options{ClientID: "client-1", ClientSecret: "secret-1", BaseURL: e.base, Now: o.now})
	h = e.fake.Handler()
	if o.prefix != "" {
		mux := http.NewServeMux() // anything outside the prefix is a 404
		if o.strip {
			mux.Handle(o.prefix+"/", http.StripPrefix(o.prefix, e.fake.Handler()))
		} else {
			mux.Handle(o.prefix+"/", e.fake.Handler())
		}
		h = mux
	}
	cfg := e.fake.Config(redirectURI)
	cfg.HTTPClient = e.srv.Client()
	cfg.RetryFor = o.retryFor
	e.yt = youtube.New(cfg)
	return e
}

// consent opens the consent URL like a browser and returns the code the
// fake redirects back with.
func (e *env) consent(t *testing.T, authURL, state string) string {
	t.Helper()
	loc := e.consentRedirect(t, authURL)
	require.Empty(t, loc.Query().Get("error"), loc.Query().Get("error_description"))
	require.Equal(t, state, loc.Query().Get("state"))
	require.True(t, strings.HasPrefix(loc.String(), redirectURI+"?"), loc.String())
	code := loc.Query().Get("code")
	require.NotEmpty(t, code)
	return code
}

// consentRedirect GETs authURL and returns where it redirects to.
func (e *env) consentRedirect(t *testing.T, authURL string) *url.URL {
	t.Helper()
	c := *e.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(authURL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	return loc
}

// connect runs the whole consent flow and returns the grant's tokens.
func (e *env) connect(t *testing.T) youtube.Token {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	code := e.consent(t, e.yt.AuthCodeURL("state-1", verifier), "state-1")
	tok, err := e.yt.ExchangeCode(context.Background(), code, verifier)
	require.NoError(t, err)
	return tok
}

// requestLog records the requests the fake got.
type requestLog struct {
	mu   sync.Mutex
	reqs []loggedRequest
}

type loggedRequest struct {
	method, path, contentRange string
	session                    bool // sent to an upload session URI
}

func (l *requestLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, loggedRequest{
		method:       r.Method,
		path:         r.URL.Path,
		contentRange: r.Header.Get("Content-Range"),
		session:      r.URL.Query().Has("upload_id"),
	})
}

// paths returns the paths requested so far.
func (l *requestLog) paths() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.reqs {
		out = append(out, r.path)
	}
	return out
}

// uploads returns the upload requests: session starts and session requests.
func (l *requestLog) uploads() (starts int, session []loggedRequest) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.reqs {
		switch {
		case r.session:
			session = append(session, r)
		case strings.HasSuffix(r.path, "/upload/youtube/v3/videos"):
			starts++
		}
	}
	return starts, session
}

// clock is an adjustable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
