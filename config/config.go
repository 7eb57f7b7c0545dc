// Package config reads Loomcast's configuration from environment variables
// and validates it, naming the variable at fault in every error.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/loomcast/loomcast/privacy/calendar"
	"github.com/loomcast/loomcast/retention"
)

// Mode says which subcommand the configuration is for; it decides which
// variables are required.
type Mode int

// The modes of the binary.
const (
	ModeDev Mode = iota
	ModeServe
	ModeWorker
	ModeMigrate
)

// Config is the whole configuration of one Loomcast process.
type Config struct {
	// Env is "development" or "production".
	Env string
	// HTTPAddr is where the API listens.
	HTTPAddr string
	// PublicURL is the API's external base URL, used in OAuth redirect URIs.
	PublicURL string
	// AppURL is where browsers are sent back to after a sign-in.
	AppURL string
	// DataDir holds the embedded stack's files (dev only).
	DataDir string
	// DatabaseURL is a postgres:// URL or sqlite:<path>.
	DatabaseURL string
	// BlobDir is the root of local blob storage.
	BlobDir string
	// SessionKey signs session and CSRF cookies; at least 32 bytes.
	SessionKey []byte
	// MaxBodyBytes caps JSON request bodies.
	MaxBodyBytes int64
	// LogLevel is the minimum level logged.
	LogLevel slog.Level
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is believed.
	TrustedProxies []string

	// TokenKeys encrypt platform tokens at rest: "id:base64,id:base64",
	// the first seals (see package vault).
	TokenKeys string
	// MaxUploadBytes caps a media upload.
	MaxUploadBytes int64
	// StripeWebhookSecret verifies Stripe webhooks (whsec_...).
	StripeWebhookSecret string

	// SMTP sends privacy mail; with no SMTP_HOST, mail is kept in the
	// local outbox (make run) under DataDir/outbox.
	SMTP SMTP
	// PrivacyEmail receives data-subject request reminders and alerts.
	PrivacyEmail string
	// PrivacyAuthority is the controller's lead supervisory authority,
	// named to EU requesters as where to complain (CNIL by default).
	PrivacyAuthority calendar.Authority

	Temporal Temporal
	Google   Google
	TikTok   TikTok
	YouTube  YouTube
}

// SMTP is the mail server of privacy mail.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string
	StartTLS bool
}

// TikTok holds the TikTok app's credentials. When ClientKey is empty the
// dev command serves a local sandbox in place of TikTok.
type TikTok struct {
	ClientKey    string
	ClientSecret string
	AuthURL      string
	APIBaseURL   string
}

// Sandbox reports whether TikTok runs against the local sandbox.
func (t TikTok) Sandbox() bool { return t.ClientKey == "" }

// YouTube holds the Google OAuth client used for YouTube channels. When
// ClientID is empty the dev command serves a local sandbox.
type YouTube struct {
	ClientID     string
	ClientSecret string
	AuthURL      string
	TokenURL     string
	APIBaseURL   string
}

// Sandbox reports whether YouTube runs against the local sandbox.
func (y YouTube) Sandbox() bool { return y.ClientID == "" }

// Temporal is how to reach the Temporal cluster.
type Temporal struct {
	Address    string
	Namespace  string
	TLSCert    string
	TLSKey     string
	TLSCA      string
	ServerName string
	// UIAddr is where the dev command serves the Temporal Web UI; empty turns it off.
	UIAddr string
}

// TLS reports whether TLS settings were given.
func (t Temporal) TLS() bool { return t.TLSCert != "" || t.TLSCA != "" || t.ServerName != "" }

// Google holds Google sign-in settings. When ClientID is empty the dev command
// serves a local sandbox in place of Google.
type Google struct {
	ClientID     string
	ClientSecret string
	AuthURL      string
	TokenURL     string
	UserInfoURL  string
}

// Sandbox reports whether Google sign-in runs against the local sandbox.
func (g Google) Sandbox() bool { return g.ClientID == "" }

// Production reports whether the process runs in production mode.
func (c *Config) Production() bool { return c.Env == "production" }

// LogValue keeps secrets out of logs: only non-secret settings are shown.
func (c *Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("env", c.Env),
		slog.String("http_addr", c.HTTPAddr),
		slog.String("public_url", c.PublicURL),
		slog.String("database", redactURL(c.DatabaseURL)),
		slog.String("blob_dir", c.BlobDir),
		slog.String("temporal_address", c.Temporal.Address),
		slog.String("temporal_namespace", c.Temporal.Namespace),
		slog.Bool("temporal_tls", c.Temporal.TLS()),
		slog.Bool("google_sandbox", c.Google.Sandbox()),
		slog.Bool("tiktok_sandbox", c.TikTok.Sandbox()),
		slog.Bool("youtube_sandbox", c.YouTube.Sandbox()),
	)
}

// redactURL removes the password from a database URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Getenv looks a variable up; tests pass a map.
type Getenv func(string) string

// Load reads and validates the configuration for the given mode. Every
// problem found is reported, each naming its variable.
func Load(mode Mode, getenv Getenv) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	l := loader{getenv: getenv}
	c := &Config{
		Env:      l.str("LOOMCAST_ENV", "development"),
		HTTPAddr: l.str("LOOMCAST_HTTP_ADDR", "127.0.0.1:8080"),
		DataDir:  l.str("LOOMCAST_DATA_DIR", "./data"),
	}
	if c.Env != "development" && c.Env != "production" {
		l.fail("LOOMCAST_ENV", "must be development or production, got %q", c.Env)
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		l.fail("LOOMCAST_HTTP_ADDR", "must be host:port: %v", err)
	}
	c.PublicURL = strings.TrimRight(l.str("LOOMCAST_PUBLIC_URL", "http://"+c.HTTPAddr), "/")
	l.checkURL("LOOMCAST_PUBLIC_URL", c.PublicURL)
	c.AppURL = l.str("LOOMCAST_APP_URL", c.PublicURL+"/v1/me")
	l.checkURL("LOOMCAST_APP_URL", c.AppURL)

	defaultDB := ""
	if mode == ModeDev {
		defaultDB = "sqlite:" + filepath.Join(c.DataDir, "loomcast.db")
	}
	c.DatabaseURL = l.str("DATABASE_URL", defaultDB)
	switch {
	case c.DatabaseURL == "":
		l.fail("DATABASE_URL", "is required (postgres://user:pass@host:5432/db or sqlite:/path/file.db)")
	case strings.HasPrefix(c.DatabaseURL, "postgres://"), strings.HasPrefix(c.DatabaseURL, "postgresql://"),
		strings.HasPrefix(c.DatabaseURL, "sqlite:"):
	default:
		l.fail("DATABASE_URL", "must start with postgres://, postgresql:// or sqlite:")
	}
	c.BlobDir = l.str("LOOMCAST_BLOB_DIR", filepath.Join(c.DataDir, "blobs"))

	if key := getenv("LOOMCAST_SESSION_KEY"); key != "" {
		b, err := base64.StdEncoding.DecodeString(key)
		if err != nil {
			l.fail("LOOMCAST_SESSION_KEY", "must be base64 (generate one with: openssl rand -base64 32)")
		} else if len(b) < 32 {
			l.fail("LOOMCAST_SESSION_KEY", "must decode to at least 32 bytes, got %d", len(b))
		}
		c.SessionKey = b
	} else if c.Production() && (mode == ModeServe) {
		l.fail("LOOMCAST_SESSION_KEY", "is required in production (generate one with: openssl rand -base64 32)")
	}

	c.MaxBodyBytes = l.int64("LOOMCAST_MAX_BODY_BYTES", 1<<20)
	for _, p := range strings.Split(getenv("LOOMCAST_TRUSTED_PROXIES"), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				l.fail("LOOMCAST_TRUSTED_PROXIES", "must be a comma-separated list of IPs or CIDRs, got %q", p)
				continue
			}
		}
		c.TrustedProxies = append(c.TrustedProxies, p)
	}
	switch lv := strings.ToLower(l.str("LOOMCAST_LOG_LEVEL", "info")); lv {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "info":
		c.LogLevel = slog.LevelInfo
	case "warn":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		l.fail("LOOMCAST_LOG_LEVEL", "must be debug, info, warn or error, got %q", lv)
	}

	c.Temporal = Temporal{
		Address:    l.str("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		Namespace:  l.str("TEMPORAL_NAMESPACE", "default"),
		TLSCert:    getenv("TEMPORAL_TLS_CERT"),
		TLSKey:     getenv("TEMPORAL_TLS_KEY"),
		TLSCA:      getenv("TEMPORAL_TLS_CA"),
		ServerName: getenv("TEMPORAL_TLS_SERVER_NAME"),
		UIAddr:     l.str("LOOMCAST_TEMPORAL_UI_ADDR", "127.0.0.1:8233"),
	}
	if _, _, err := net.SplitHostPort(c.Temporal.Address); err != nil {
		l.fail("TEMPORAL_ADDRESS", "must be host:port: %v", err)
	}
	if (c.Temporal.TLSCert == "") != (c.Temporal.TLSKey == "") {
		l.fail("TEMPORAL_TLS_CERT", "and TEMPORAL_TLS_KEY must be given together")
	}
	for _, name := range []string{"TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CA"} {
		if p := getenv(name); p != "" {
			if _, err := os.Stat(p); err != nil {
				l.fail(name, "cannot read file: %v", err)
			}
		}
	}

	c.Google = Google{
		ClientID:     getenv("GOOGLE_CLIENT_ID"),
		ClientSecret: getenv("GOOGLE_CLIENT_SECRET"),
		AuthURL:      l.str("GOOGLE_AUTH_URL", "https://accounts.google.com/o/oauth2/v2/auth"),
		TokenURL:     l.str("GOOGLE_TOKEN_URL", "https://oauth2.googleapis.com/token"),
		UserInfoURL:  l.str("GOOGLE_USERINFO_URL", "https://openidconnect.googleapis.com/v1/userinfo"),
	}
	if c.Google.ClientID != "" && c.Google.ClientSecret == "" {
		l.fail("GOOGLE_CLIENT_SECRET", "is required when GOOGLE_CLIENT_ID is set")
	}
	if c.Google.Sandbox() && c.Production() && mode == ModeServe {
		l.fail("GOOGLE_CLIENT_ID", "is required in production (the Google sandbox is for development only)")
	}
	c.TokenKeys = getenv("LOOMCAST_TOKEN_KEYS")
	if c.TokenKeys == "" && (mode == ModeServe || mode == ModeWorker) {
		l.fail("LOOMCAST_TOKEN_KEYS", "is required: id:base64key[,oldid:base64key] (make one with: loomcast keys generate)")
	}
	c.MaxUploadBytes = l.int64("LOOMCAST_MAX_UPLOAD_BYTES", 4<<30)
	c.StripeWebhookSecret = getenv("STRIPE_WEBHOOK_SECRET")
	if c.StripeWebhookSecret != "" && !strings.HasPrefix(c.StripeWebhookSecret, "whsec_") {
		l.fail("STRIPE_WEBHOOK_SECRET", "must be the endpoint's signing secret, starting with whsec_")
	}
	c.SMTP = SMTP{Host: getenv("SMTP_HOST"), Port: int(l.int64("SMTP_PORT", 587)), Username: getenv("SMTP_USERNAME"),
		Password: getenv("SMTP_PASSWORD"), From: l.str("SMTP_FROM", "Loomcast Privacy <privacy@loomcast.localhost>"),
		StartTLS: l.str("SMTP_STARTTLS", "true") != "false"}
	if c.SMTP.Host == "" && c.Production() && (mode == ModeServe || mode == ModeWorker) {
		l.fail("SMTP_HOST", "is required in production: privacy requests are answered by email (without it, make run keeps mail in a local outbox)")
	}
	c.PrivacyEmail = l.str("LOOMCAST_PRIVACY_EMAIL", "privacy@loomcast.localhost")
	c.PrivacyAuthority = calendar.Authority{Name: l.str("LOOMCAST_PRIVACY_AUTHORITY", calendar.CNIL.Name),
		Site: l.str("LOOMCAST_PRIVACY_AUTHORITY_SITE", calendar.CNIL.Site)}
	c.TikTok = TikTok{
		ClientKey:    getenv("TIKTOK_CLIENT_KEY"),
		ClientSecret: getenv("TIKTOK_CLIENT_SECRET"),
		AuthURL:      l.str("TIKTOK_AUTH_URL", "https://www.tiktok.com/v2/auth/authorize/"),
		APIBaseURL:   l.str("TIKTOK_API_URL", "https://open.tiktokapis.com"),
	}
	if c.TikTok.ClientKey != "" && c.TikTok.ClientSecret == "" {
		l.fail("TIKTOK_CLIENT_SECRET", "is required when TIKTOK_CLIENT_KEY is set")
	}
	c.YouTube = YouTube{
		ClientID:     l.str("YOUTUBE_CLIENT_ID", c.Google.ClientID),
		ClientSecret: l.str("YOUTUBE_CLIENT_SECRET", c.Google.ClientSecret),
		AuthURL:      c.Google.AuthURL,
		TokenURL:     c.Google.TokenURL,
		APIBaseURL:   l.str("YOUTUBE_API_URL", "https://youtube.googleapis.com/"),
	}
	if c.YouTube.ClientID != "" && c.YouTube.ClientSecret == "" {
		l.fail("YOUTUBE_CLIENT_SECRET", "is required when YOUTUBE_CLIENT_ID is set")
	}
	if c.Production() && mode != ModeDev && mode != ModeMigrate && (c.TikTok.Sandbox() || c.YouTube.Sandbox()) {
		l.fail("TIKTOK_CLIENT_KEY", "and YOUTUBE_CLIENT_ID (or GOOGLE_CLIENT_ID) are required in production: the platform sandboxes are for development only")
	}
	if err := errors.Join(l.errs...); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return c, nil
}

type loader struct {
	getenv Getenv
	errs   []error
}

func (l *loader) fail(name, format string, args ...any) {
	l.errs = append(l.errs, fmt.Errorf("  %s %s", name, fmt.Sprintf(format, args...)))
}

func (l *loader) str(name, def string) string {
	if v := strings.TrimSpace(l.getenv(name)); v != "" {
		return v
	}
	return def
}

func (l *loader) int64(name string, def int64) int64 {
	v := l.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		l.fail(name, "must be a positive whole number, got %q", v)
		return def
	}
	return n
}

func (l *loader) checkURL(name, v string) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.fail(name, "must be an absolute http(s) URL, got %q", v)
	}
}

// SessionIdle is how long a session lives without activity (the retention
// table: 30 minutes, policy 000 section 10.2).
var SessionIdle = retention.Fixed(retention.Sessions)

// OAuthFlowTTL is how long OAuth state and PKCE cookies live (the retention
// table: 10 minutes, policy 000 section 10.3).
var OAuthFlowTTL = retention.Fixed(retention.OAuthFlowState)
