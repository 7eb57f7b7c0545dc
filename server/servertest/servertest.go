// Package servertest runs the whole API for tests: a real database (see
// modelstest), an in-process Temporal server (temporaltest) with the
// Loomcast worker, the Google fake, and the API over real HTTP, with an
// injectable clock and browser-like clients that keep cookies and CSRF
// tokens.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"

	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/google"
	googlefake "github.com/loomcast/loomcast/google/fake"
	"github.com/loomcast/loomcast/grants"
	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/mail/smtptest"
	"github.com/loomcast/loomcast/media"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/pacing"
	"github.com/loomcast/loomcast/relay"
	"github.com/loomcast/loomcast/retention/scheduler"
	"github.com/loomcast/loomcast/server"
	"github.com/loomcast/loomcast/signup"
	"github.com/loomcast/loomcast/temporalexec"
	"github.com/loomcast/loomcast/tiktok"
	tiktokfake "github.com/loomcast/loomcast/tiktok/fake"
	"github.com/loomcast/loomcast/vault"
	"github.com/loomcast/loomcast/worker"
	"github.com/loomcast/loomcast/workflows"
	"github.com/loomcast/loomcast/workflows/posting"
	"github.com/loomcast/loomcast/workflows/privacy"
	"github.com/loomcast/loomcast/youtube"
	youtubefake "github.com/loomcast/loomcast/youtube/fake"
)

// Clock is a settable clock shared by the API under test.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Env is a running API with everything behind it.
type Env struct {
	T        testing.TB
	API      *server.Server
	Store    *models.Store
	Temporal client.Client
	// SMTP receives the mail the env sends (a real SMTP server in
	// process); Mail sends to it.
	SMTP     *smtptest.Server
	Mail     mail.Sender
	HTTP     *httptest.Server
	Clock    *Clock
	Google   *googlefake.Server
	temporal *temporaltest.TestServer
	wake     chan struct{}
	TikTok   *tiktokfake.Server
	YouTube  *youtubefake.Server
	Blob     *blob.Local
	Grants   *grants.Manager
	// Retention starts retention clocks (the worker and Grants share it).
	Retention *scheduler.Scheduler
	// Pacer paces the API's and the workers' TikTok calls.
	Pacer *pacing.Pacer
}

// Options tune an Env.
type Options struct {
	Production bool
	// MaxUploadBytes caps uploads (0: the server's default).
	MaxUploadBytes int64
	// NoWorker leaves the worker to the test (see StartWorker).
	NoWorker bool
	// NoRelay leaves the webhook relay to the test (see StartRelay).
	NoRelay bool
	// TikTokLimits are the rate limits the TikTok fake enforces and the
	// pacer keeps to (zero: TikTok's own); PaceGrace is the pacer's grace.
	TikTokLimits tiktok.RateLimits
	PaceGrace    time.Duration
}

// StaffEmail receives the privacy team's reminders in tests.
const StaffEmail = "privacy-team@loomcast.test"

// StripeSecret verifies the test env's Stripe webhooks.
const StripeSecret = "whsec_servertest"

// SessionKey is the signing key of every test env.
var SessionKey = []byte("servertest-session-key-0123456789abcdef")

// New starts an Env on the given database dialect.
func New(t testing.TB, d models.Dialect, opts Options) *Env {
	t.Helper()
	store := modelstest.Open(t, d)
	// Deleting a closed execution waits for the transfer queue's ack
	// level, updated every 30 s by default: a second keeps the purge
	// tests short. The cache refresh is temporaltest's own setting.
	dc := dynamicconfig.StaticClient{
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): []dynamicconfig.ConstrainedValue{{Value: true}},
		dynamicconfig.TransferProcessorUpdateAckInterval.Key():      []dynamicconfig.ConstrainedValue{{Value: time.Second}},
	}
	ts := temporaltest.NewServer(temporaltest.WithBaseServerOptions(temporal.WithDynamicConfigClient(dc)))
	t.Cleanup(ts.Stop)
	tc := ts.GetDefaultClient()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := tc.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: ts.GetDefaultNamespace(), SearchAttributes: workflows.SearchAttributeTypes(),
	})
	require.NoError(t, err)
	clock := &Clock{now: time.Now().UTC().Truncate(time.Second)}
	fake := googlefake.New("test-client", "test-secret")
	googleSrv := httptest.NewServer(fake.Handler())
	t.Cleanup(googleSrv.Close)

	env := &Env{T: t, Store: store, Temporal: tc, Clock: clock, Google: fake, temporal: ts, wake: make(chan struct{}, 1)}
	env.startPlatforms(t, store, opts.TikTokLimits)
	env.Pacer = &pacing.Pacer{Store: store, Limits: opts.TikTokLimits, Grace: opts.PaceGrace}
	env.SMTP = smtptest.Start(t)
	sender, err := mail.NewSMTP(mail.SMTPConfig{Host: env.SMTP.Host(), Port: env.SMTP.Port(), From: "Loomcast Privacy <privacy@loomcast.test>"})
	require.NoError(t, err)
	env.Mail = sender
	env.Retention = &scheduler.Scheduler{Store: store, Waker: scheduler.TemporalWaker{Client: tc}}
	env.Grants.Retention = env.Retention

	// The handler is set once the server exists, since the OAuth redirect
	// URI needs the server's address.
	var handler http.Handler
	env.HTTP = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(env.HTTP.Close)

	// The platform clients need the API's address for their redirect URIs.
	env.Grants.TikTok = tiktok.New(tiktok.Config{ClientKey: "tt-client", ClientSecret: "tt-secret",
		RedirectURI: env.HTTP.URL + "/v1/channels/tiktok/callback", AuthURL: env.TikTok.AuthURL(), APIBaseURL: env.TikTok.APIBaseURL()})
	env.Grants.YouTube = youtube.New(env.YouTube.Config(env.HTTP.URL + "/v1/channels/youtube/callback"))
	api, err := server.New(server.Config{
		Production:          opts.Production,
		PublicURL:           env.HTTP.URL,
		AppURL:              env.HTTP.URL + "/v1/me",
		SessionKey:          SessionKey,
		MaxUploadBytes:      opts.MaxUploadBytes,
		PlatformSandbox:     true,
		TikTokClientSecret:  "tt-secret",
		StripeWebhookSecret: StripeSecret,
	}, server.Deps{
		Store:     store,
		Temporal:  tc,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Google:    google.New("test-client", "test-secret", env.HTTP.URL+"/v1/auth/google/callback", googlefake.Endpoints(googleSrv.URL)),
		Now:       clock.Now,
		Blob:      env.Blob,
		Grants:    env.Grants,
		Mail:      env.Mail,
		Retention: env.Retention,
		TikTok:    env.Grants.TikTok,
		YouTube:   env.Grants.YouTube,
		Pacer:     env.Pacer,
		RelayWake: env.wake,
	})
	require.NoError(t, err)
	handler = api.Handler()
	env.API = api
	env.TikTok.SetWebhookURL(env.HTTP.URL + "/webhooks/tiktok")
	env.TikTok.VerifyURLPrefix(env.HTTP.URL + posting.PhotoLinkPath) // TikTok pulls photos from there
	if !opts.NoWorker {
		env.StartWorker(nil)
	}
	if !opts.NoRelay {
		env.StartRelay()
	}
	return env
}

// StartRelay runs the webhook relay until the test ends.
func (e *Env) StartRelay() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	r := &relay.Relay{Store: e.Store, Temporal: e.Temporal, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Wake: e.wake, Idle: 100 * time.Millisecond}
	go func() { _ = r.Run(ctx); close(done) }()
	e.T.Cleanup(func() { cancel(); <-done })
}

// StartWorker starts a Loomcast worker; tiktokHTTP, when given, carries
// its TikTok calls (to break them on purpose). The caller may stop it early.
func (e *Env) StartWorker(tiktokHTTP *http.Client) sdkworker.Worker {
	return e.StartWorkerWith(WorkerClients{TikTok: tiktokHTTP})
}

// WorkerClients are the HTTP clients a test worker's platform calls go
// through, to break them on purpose; nil means the usual ones.
type WorkerClients struct {
	TikTok, YouTube *http.Client
	// YouTubeRetryFor is the YouTube client's Config.RetryFor (negative:
	// an upload request is never sent again within an attempt).
	YouTubeRetryFor time.Duration
	// PublicURL, when set, is the public URL the worker builds links with
	// instead of the API's (photo links under an unverified address, say).
	PublicURL string
}

// StartWorkerWith starts a Loomcast worker whose platform calls go through
// c. The caller may stop it early.
func (e *Env) StartWorkerWith(c WorkerClients) sdkworker.Worker {
	tt := e.Grants.TikTok
	if c.TikTok != nil {
		tt = tiktok.New(tiktok.Config{ClientKey: "tt-client", ClientSecret: "tt-secret",
			RedirectURI: e.HTTP.URL + "/v1/channels/tiktok/callback", AuthURL: e.TikTok.AuthURL(), APIBaseURL: e.TikTok.APIBaseURL(), HTTPClient: c.TikTok})
	}
	yt := e.Grants.YouTube
	if c.YouTube != nil || c.YouTubeRetryFor != 0 {
		cfg := e.YouTube.Config(e.HTTP.URL + "/v1/channels/youtube/callback")
		cfg.HTTPClient, cfg.RetryFor = c.YouTube, c.YouTubeRetryFor
		yt = youtube.New(cfg)
	}
	publicURL := e.HTTP.URL
	if c.PublicURL != "" {
		publicURL = c.PublicURL
	}
	w := e.temporal.NewWorker(workflows.TaskQueue, func(r sdkworker.Registry) {
		worker.Register(r, worker.Deps{Store: e.Store, Blob: e.Blob, Grants: e.Grants, TikTok: tt, YouTube: yt, Pacer: e.Pacer,
			Retention: e.Retention, Executions: temporalexec.Executions{Client: e.Temporal, Namespace: e.temporal.GetDefaultNamespace(), KeepRunning: privacy.WorkflowID("")},
			Mail: e.Mail, PublicURL: publicURL, LinkKey: SessionKey, StaffEmail: StaffEmail, Temporal: e.Temporal})
	})
	e.T.Cleanup(w.Stop)
	return w
}

// lateHandler serves a handler set after its server started, for fakes that
// must know their own URL.
type lateHandler struct{ h http.Handler }

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { l.h.ServeHTTP(w, r) }

// TokenKey is the vault key of every test env.
var TokenKey = vault.Key{ID: "test1", Secret: []byte("0123456789abcdef0123456789abcdef")}

// startPlatforms runs the TikTok and YouTube fakes over HTTP and builds the
// clients, the blob store and the token vault around them.
func (e *Env) startPlatforms(t testing.TB, store *models.Store, limits tiktok.RateLimits) {
	ttHandler, ytHandler := &lateHandler{}, &lateHandler{}
	ttSrv, ytSrv := httptest.NewServer(ttHandler), httptest.NewServer(ytHandler)
	t.Cleanup(ttSrv.Close)
	t.Cleanup(ytSrv.Close)
	e.TikTok = tiktokfake.New(tiktokfake.Options{ClientKey: "tt-client", ClientSecret: "tt-secret", BaseURL: ttSrv.URL, RateLimits: limits})
	ttHandler.h = e.TikTok.Handler()
	e.YouTube = youtubefake.New(youtubefake.Options{ClientID: "yt-client", ClientSecret: "yt-secret", BaseURL: ytSrv.URL})
	ytHandler.h = e.YouTube.Handler()
	b, err := blob.NewLocal(t.TempDir())
	require.NoError(t, err)
	e.Blob = b
	ring, err := vault.New(TokenKey)
	require.NoError(t, err)
	e.Grants = &grants.Manager{Store: store, Vault: ring}
}

// Routes lists the API's routes.
func (e *Env) Routes() gin.RoutesInfo { return e.API.Handler().(*gin.Engine).Routes() }

// Client is a browser-like API client: it keeps cookies and the CSRF token.
type Client struct {
	env    *Env
	http   *http.Client
	CSRF   string
	Bearer string
}

// Client returns a new client with an empty cookie jar.
func (e *Env) Client() *Client {
	jar, err := cookiejar.New(nil)
	require.NoError(e.T, err)
	return &Client{env: e, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// Response is what the API answered.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Body, v), "body: %s", r.Body)
}

// Problem decodes an RFC 9457 problem body.
func (r *Response) Problem(t testing.TB) server.Problem {
	t.Helper()
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), "body: %s", r.Body)
	var p server.Problem
	r.JSON(t, &p)
	require.Equal(t, r.Status, p.Status)
	require.NotEmpty(t, p.RequestID)
	return p
}

// Do sends a request. body may be nil, a string (sent raw) or a value
// (sent as JSON). The CSRF token and bearer token are added when set.
func (c *Client) Do(method, path string, body any, header ...string) *Response {
	c.env.T.Helper()
	r, err := c.Try(method, path, body, header...)
	require.NoError(c.env.T, err)
	return r
}

// Try is Do without failing the test: safe from any goroutine.
func (c *Client) Try(method, path string, body any, header ...string) (*Response, error) {
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	case []byte:
		rd, ct = bytes.NewReader(b), "application/json"
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd, ct = bytes.NewReader(buf), "application/json"
	}
	req, err := http.NewRequest(method, c.env.HTTP.URL+path, rd)
	if err != nil {
		return nil, err
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if c.CSRF != "" {
		req.Header.Set("X-CSRF-Token", c.CSRF)
	}
	if c.Bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.Bearer)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// send sends a request with the client's cookies and reads the answer.
func (c *Client) send(req *http.Request) *Response {
	c.env.T.Helper()
	resp, err := c.http.Do(req)
	require.NoError(c.env.T, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(c.env.T, err)
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// FetchCSRF asks for a CSRF token and keeps it.
func (c *Client) FetchCSRF() string {
	c.env.T.Helper()
	r := c.Do(http.MethodGet, "/v1/auth/csrf", nil)
	require.Equal(c.env.T, http.StatusOK, r.Status, "body: %s", r.Body)
	var v struct {
		CSRFToken string `json:"csrf_token"`
	}
	r.JSON(c.env.T, &v)
	c.CSRF = v.CSRFToken
	return c.CSRF
}

// SessionUser is the user part of a sign-in answer.
type SessionUser struct {
	ID          string   `json:"id"`
	Email       string   `json:"email"`
	DisplayName string   `json:"display_name"`
	AvatarURL   string   `json:"avatar_url"`
	Timezone    string   `json:"timezone"`
	Role        string   `json:"role"`
	Platforms   []string `json:"platforms"`
}

// Register signs up a new account, confirms its address with the code
// mailed to it, as a person reading their mail does, and keeps the
// session.
func (c *Client) Register(email, password string) SessionUser {
	c.env.T.Helper()
	id := c.SignUp(email, password)
	code := c.env.MailedCode(signup.MailCode, models.NormalizeEmail(email), id)
	r := c.Do(http.MethodPost, "/v1/auth/register/"+id+"/verify", map[string]string{"code": code})
	require.Equal(c.env.T, http.StatusCreated, r.Status, "body: %s", r.Body)
	return c.keepSession(r)
}

// SignUp asks for an account and returns the ID of the sign-up waiting
// for its mailed code.
func (c *Client) SignUp(email, password string) string {
	c.env.T.Helper()
	c.FetchCSRF()
	r := c.Do(http.MethodPost, "/v1/auth/register", map[string]any{
		"email": email, "password": password, "display_name": "Test User", "timezone": "Europe/Paris", "country": "FR", "age": 30,
	})
	require.Equal(c.env.T, http.StatusAccepted, r.Status, "body: %s", r.Body)
	var v struct {
		RegistrationID string `json:"registration_id"`
	}
	r.JSON(c.env.T, &v)
	require.NotEmpty(c.env.T, v.RegistrationID)
	return v.RegistrationID
}

// codeRE finds the 6-digit code of a mail.
var codeRE = regexp.MustCompile(`code (?:is )?([0-9]{6})`)

// MailedCode waits for the latest mail of kind sent to the address whose
// text contains about, and returns the code it carries.
func (e *Env) MailedCode(kind, to, about string) string {
	e.T.Helper()
	var code string
	require.Eventually(e.T, func() bool {
		for _, m := range e.SMTP.Messages() {
			if m.Header.Get("X-Loomcast-Kind") == kind && len(m.To) > 0 && m.To[0] == to && strings.Contains(m.Text, about) {
				if sub := codeRE.FindStringSubmatch(m.Text); sub != nil {
					code = sub[1]
				}
			}
		}
		return code != ""
	}, 10*time.Second, 20*time.Millisecond, "no %s mail to %s about %s", kind, to, about)
	return code
}

// Login signs in and keeps the session.
func (c *Client) Login(email, password string) *Response {
	c.env.T.Helper()
	if c.CSRF == "" {
		c.FetchCSRF()
	}
	r := c.Do(http.MethodPost, "/v1/auth/login", map[string]string{"email": email, "password": password})
	if r.Status == http.StatusOK {
		c.keepSession(r)
	}
	return r
}

func (c *Client) keepSession(r *Response) SessionUser {
	var v struct {
		User      SessionUser `json:"user"`
		CSRFToken string      `json:"csrf_token"`
	}
	r.JSON(c.env.T, &v)
	c.CSRF = v.CSRFToken
	return v.User
}

// Cookie returns the named cookie the client holds for the API, if any.
func (c *Client) Cookie(name string) *http.Cookie {
	u, _ := url.Parse(c.env.HTTP.URL)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// FollowRedirects turns automatic redirects on or off.
func (c *Client) FollowRedirects(on bool) {
	if on {
		c.http.CheckRedirect = nil
		return
	}
	c.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
}

// ConnectChannel connects a sandbox channel of the platform through the
// whole OAuth flow (connect → consent → callback) and returns its ID.
func (c *Client) ConnectChannel(platform string) string {
	c.env.T.Helper()
	c.FollowRedirects(false)
	defer c.FollowRedirects(true)
	r := c.Do(http.MethodGet, "/v1/channels/"+platform+"/connect", nil)
	for i := 0; i < 5 && r.Status == http.StatusFound; i++ {
		loc := r.Header.Get("Location")
		if u, err := url.Parse(loc); err == nil && u.Query().Get("channel_connected") != "" {
			return u.Query().Get("channel_connected")
		}
		r = c.get(loc)
	}
	c.env.T.Fatalf("connecting %s did not come back connected: %d %s %s", platform, r.Status, r.Header.Get("Location"), r.Body)
	return ""
}

// get sends a GET to an absolute URL (a redirect's Location, on the API or
// a platform's fake).
func (c *Client) get(loc string) *Response {
	c.env.T.Helper()
	req, err := http.NewRequest(http.MethodGet, loc, nil)
	require.NoError(c.env.T, err)
	return c.send(req)
}

// GoogleSignIn goes through Google sign-in (start, the fake's consent,
// callback) without following the last redirect. query is the start's,
// such as "?country=FR&age=30" for a new account. It returns the last
// answer: the redirect to the web app (with auth_error when the sign-in did
// not succeed), or the problem that stopped the flow.
func (c *Client) GoogleSignIn(query string) *Response {
	c.env.T.Helper()
	c.FollowRedirects(false)
	defer c.FollowRedirects(true)
	r := c.Do(http.MethodGet, "/v1/auth/google/start"+query, nil)
	for i := 0; i < 5 && r.Status == http.StatusFound; i++ {
		loc := r.Header.Get("Location")
		if strings.HasPrefix(loc, c.env.HTTP.URL+"/v1/me") {
			return r
		}
		r = c.get(loc)
	}
	return r
}

// Upload sends a synthetic MP4 of the given size and duration and returns its ID.
func (c *Client) Upload(size int64, d time.Duration) string {
	c.env.T.Helper()
	var buf bytes.Buffer
	require.NoError(c.env.T, media.SyntheticMP4(&buf, size, d))
	r := c.UploadBytes(buf.Bytes(), "video/mp4")
	require.Equal(c.env.T, http.StatusCreated, r.Status, "body: %s", r.Body)
	var v struct {
		ID string `json:"id"`
	}
	r.JSON(c.env.T, &v)
	return v.ID
}

// UploadImage uploads a synthetic image of contentType (JPEG or PNG) and
// returns its upload ID.
func (c *Client) UploadImage(contentType string, width, height int) string {
	c.env.T.Helper()
	var buf bytes.Buffer
	require.NoError(c.env.T, media.SyntheticImage(&buf, contentType, width, height))
	r := c.UploadBytes(buf.Bytes(), contentType)
	require.Equal(c.env.T, http.StatusCreated, r.Status, "body: %s", r.Body)
	var v struct {
		ID string `json:"id"`
	}
	r.JSON(c.env.T, &v)
	return v.ID
}

// UploadBytes sends body to POST /v1/uploads as the raw body.
func (c *Client) UploadBytes(body []byte, contentType string) *Response {
	c.env.T.Helper()
	req, err := http.NewRequest(http.MethodPost, c.env.HTTP.URL+"/v1/uploads", bytes.NewReader(body))
	require.NoError(c.env.T, err)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-CSRF-Token", c.CSRF)
	if c.Bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.Bearer)
	}
	resp, err := c.http.Do(req)
	require.NoError(c.env.T, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// Namespace is the Temporal namespace of the env.
func (e *Env) Namespace() string { return e.temporal.GetDefaultNamespace() }
