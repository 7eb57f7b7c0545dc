// Package server is Loomcast's HTTP API: Gin handlers that validate input,
// read the database read model, and start, signal and query Temporal
// workflows. Errors leave as RFC 9457 problem details from one table.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"

	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/google"
	"github.com/loomcast/loomcast/grants"
	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/pacing"
	"github.com/loomcast/loomcast/retention/scheduler"
	"github.com/loomcast/loomcast/tiktok"
	"github.com/loomcast/loomcast/youtube"
)

// Config is the part of the configuration the API needs.
type Config struct {
	Production   bool
	PublicURL    string
	AppURL       string
	SessionKey   []byte
	MaxBodyBytes int64
	// TrustedProxies lists the proxies (IPs or CIDRs) whose X-Forwarded-For
	// is believed; empty trusts none, so clients cannot fake their address.
	TrustedProxies []string
	// LoginAttemptsPerIP caps sign-in attempts per client address in 15
	// minutes; 0 means the default of 30.
	LoginAttemptsPerIP int
	// SignUpsPerIP caps registrations per client address in an hour; 0
	// means the default of 20.
	SignUpsPerIP int
	// MaxUploadBytes caps a media upload; 0 means 4 GiB.
	MaxUploadBytes int64
	// PlatformSandbox says TikTok and YouTube are local stand-ins; every
	// response then carries X-Loomcast-Sandbox: true.
	PlatformSandbox bool
	// TikTokClientSecret verifies TikTok webhooks.
	TikTokClientSecret string
	// StripeWebhookSecret verifies Stripe webhooks (whsec_...).
	StripeWebhookSecret string
}

// GoogleSignIn is what the API needs of Google sign-in.
type GoogleSignIn interface {
	AuthCodeURL(state, verifier string) string
	Exchange(ctx context.Context, code, verifier string) (google.Identity, error)
}

// Deps are the API's collaborators.
type Deps struct {
	Store    *models.Store
	Temporal client.Client
	Logger   *slog.Logger
	Google   GoogleSignIn
	// Sandboxes are local stand-ins for external services (Google, TikTok,
	// YouTube) mounted under /sandbox/<name>; development only.
	Sandboxes map[string]http.Handler
	// Blob stores uploads.
	Blob blob.Store
	// Grants opens and refreshes channel tokens.
	Grants *grants.Manager
	// TikTok and YouTube are the platform clients; nil turns a platform off.
	TikTok  *tiktok.Client
	YouTube *youtube.Client
	// Pacer keeps TikTok calls inside TikTok's rate limits, shared with
	// the workers; nil means TikTok's own limits, counted in Store.
	Pacer *pacing.Pacer
	// RelayWake, when set, is nudged after a webhook is stored, so an
	// in-process relay delivers it at once.
	RelayWake chan struct{}
	// Mail sends privacy mail (verification codes); the outbox of make
	// run when it is a *mail.Outbox.
	Mail mail.Sender
	// Retention starts retention clocks; nil builds one on Temporal.
	Retention *scheduler.Scheduler
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is the HTTP API: the middleware that every request goes through,
// and the handler groups of the capabilities (groups.go).
type Server struct {
	*base
	engine *gin.Engine
	// sessionTouches slides sessions in the background.
	sessionTouches *sessionTouches
}

// New builds the API and its routes.
func New(cfg Config, d Deps) (*Server, error) {
	if len(cfg.SessionKey) < 32 {
		return nil, errors.New("session key must be at least 32 bytes")
	}
	if d.Store == nil || d.Temporal == nil || d.Logger == nil {
		return nil, errors.New("server needs a store, a Temporal client and a logger")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = 4 << 30
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	retention := d.Retention
	if retention == nil {
		retention = &scheduler.Scheduler{Store: d.Store, Waker: scheduler.TemporalWaker{Client: d.Temporal}}
	}
	buckets := scheduler.NewBuckets(retention)
	b := &base{
		cfg:         cfg,
		store:       d.Store,
		logger:      d.Logger,
		now:         func() time.Time { return now().UTC() },
		cookies:     cookies{key: cfg.SessionKey, production: cfg.Production},
		retention:   retention,
		buckets:     buckets,
		requestLogs: &requestLogs{store: d.Store, buckets: buckets, logger: d.Logger},
	}
	b.limits = newLoginLimits(b.now, cfg.LoginAttemptsPerIP, cfg.SignUpsPerIP)
	if d.Grants != nil {
		b.vault = d.Grants.Vault
	}
	s := &Server{base: b}
	s.sessionTouches = &sessionTouches{s: s}
	engine, err := s.routes(d)
	if err != nil {
		return nil, err
	}
	s.engine = engine
	return s, nil
}

// Handler returns the API as an http.Handler.
func (s *Server) Handler() http.Handler { return s.engine }

func (s *Server) routes(d Deps) (*gin.Engine, error) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	if err := r.SetTrustedProxies(s.cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	r.HandleMethodNotAllowed = true
	// An ID such as %2F makes a path with a trailing or doubled slash:
	// that is a 404, never a redirect to some other resource.
	r.RedirectTrailingSlash, r.RedirectFixedPath = false, false
	r.ContextWithFallback = true
	r.Use(s.requestContext, s.securityHeaders, s.recoverPanic, s.limitBody)
	r.Use(canonicalHost(s.cfg.PublicURL))
	if s.cfg.PlatformSandbox {
		r.Use(func(c *gin.Context) { c.Header("X-Loomcast-Sandbox", "true") })
	}
	r.NoRoute(func(c *gin.Context) {
		s.fail(c, errorf(CodeNotFound, "No route for %s %s.", c.Request.Method, c.Request.URL.Path))
	})
	r.NoMethod(func(c *gin.Context) {
		s.fail(c, errorf(CodeMethodNotAllowed, "%s is not allowed on %s.", c.Request.Method, c.Request.URL.Path))
	})

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz(d.Temporal))
	r.GET("/openapi.json", s.openAPI)

	v1 := r.Group("/v1", noStore, s.authenticate, s.checkCSRF)
	rs := routers{
		root:   r,
		public: v1,
		user:   v1.Group("", s.requireUser, s.honourGPC),
		staff: v1.Group("/admin", s.requireUser, s.requireRole(models.RoleSupport, models.RolePrivacy, models.RoleAdmin),
			s.requireStaffSecondFactor, s.logStaffRead),
	}
	for _, g := range s.groups(d) {
		g.addRoutes(rs)
	}

	for name, h := range d.Sandboxes {
		prefix := "/sandbox/" + name
		r.Any(prefix+"/*path", sandboxCSP, gin.WrapH(http.StripPrefix(prefix, h)))
	}
	return r, nil
}

// Run serves the API on addr until ctx ends, then shuts down gracefully,
// letting requests in flight finish for up to 15 seconds.
func (s *Server) Run(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on an existing listener.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.logger.Info("api listening", slog.String("addr", ln.Addr().String()))
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	s.logger.Info("api stopped")
	return nil
}

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz reports whether the database and Temporal answer.
func (s *Server) readyz(temporal client.Client) gin.HandlerFunc {
	return func(c *gin.Context) { s.checkReady(c, temporal) }
}

func (s *Server) checkReady(c *gin.Context, temporal client.Client) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	checks := gin.H{"database": "ok", "temporal": "ok"}
	ready := true
	if err := s.store.Ping(ctx); err != nil {
		checks["database"], ready = "unreachable", false
		s.log(c).Warn("readiness: database", slog.String("error", err.Error()))
	}
	if _, err := temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		checks["temporal"], ready = "unreachable", false
		s.log(c).Warn("readiness: temporal", slog.String("error", err.Error()))
	}
	status, word := http.StatusOK, "ready"
	if !ready {
		status, word = http.StatusServiceUnavailable, "not ready"
	}
	c.JSON(status, gin.H{"status": word, "checks": checks})
}
