// Command loomcast is Loomcast's one binary. Its subcommands wire the parts
// together and do nothing else:
//
//	loomcast dev                 the whole system in one process (embedded Temporal, SQLite, local files, sandboxes)
//	loomcast serve               the API, against PostgreSQL and a Temporal cluster
//	loomcast worker              the Temporal worker
//	loomcast migrate             apply database migrations
//	loomcast admin create-user   create a staff account (or change a user's role)
//	loomcast keys generate|rotate  make a token key; re-encrypt tokens under the first key
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // IANA zones for timezone validation on any machine

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/loomcast/loomcast/config"
	"github.com/loomcast/loomcast/devserver"
	"github.com/loomcast/loomcast/google"
	googlefake "github.com/loomcast/loomcast/google/fake"
	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/password"
	"github.com/loomcast/loomcast/relay"
	"github.com/loomcast/loomcast/retention/scheduler"
	"github.com/loomcast/loomcast/server"
	"github.com/loomcast/loomcast/temporalexec"
	"github.com/loomcast/loomcast/worker"
	"github.com/loomcast/loomcast/workflows"
	"github.com/loomcast/loomcast/workflows/privacy"
)

const usage = `usage: loomcast <command>

commands:
  dev                     run everything in one process (make run)
  serve                   run the API
  worker                  run the Temporal worker
  migrate                 apply database migrations
  admin create-user --email E --role R [--password-stdin]
                          create a staff account, or set the role of an existing one
  keys generate           print a new token encryption key (id:base64)
  keys rotate             re-encrypt every platform token under the first key of LOOMCAST_TOKEN_KEYS

Configuration comes from environment variables; see README.md`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loomcast:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "dev":
		return runDev(ctx)
	case "serve":
		return runServe(ctx)
	case "worker":
		return runWorker(ctx)
	case "migrate":
		return runMigrate(ctx, stdout)
	case "admin":
		return runAdmin(ctx, args[1:], stdin, stdout)
	case "keys":
		return runKeys(ctx, args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n\n%s", args[0], usage)
}

func newLogger(cfg *config.Config) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
}

// runDev runs the whole system embedded: Temporal on SQLite, the app
// database on SQLite, blobs on disk, the Google sandbox, API and worker.
func runDev(ctx context.Context) error {
	// Config.
	cfg, err := config.Load(config.ModeDev, nil)
	if err != nil {
		return err
	}
	logger := newLogger(cfg)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", cfg.DataDir, err)
	}
	if cfg.SessionKey == nil {
		if cfg.SessionKey, err = devSessionKey(filepath.Join(cfg.DataDir, "session.key")); err != nil {
			return err
		}
	}
	logger.Info("starting loomcast dev", slog.Any("config", cfg))

	// Database.
	store, err := models.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
	if applied, err := store.Migrate(ctx); err != nil {
		return err
	} else if len(applied) > 0 {
		logger.Info("database migrated", slog.Any("versions", applied))
	}

	// Temporal, embedded.
	temporalServer, err := devserver.Start(ctx, devserver.Options{
		DatabaseFile:     filepath.Join(cfg.DataDir, "temporal.db"),
		Address:          cfg.Temporal.Address,
		Namespace:        cfg.Temporal.Namespace,
		SearchAttributes: workflows.SearchAttributeTypes(),
		UIAddress:        cfg.Temporal.UIAddr,
		Logger:           logger,
	})
	if err != nil {
		return err
	}
	defer temporalServer.Stop()
	logger.Info("temporal server listening", slog.String("addr", temporalServer.Address()))

	tc, err := dialTemporal(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer tc.Close()

	// Platforms (sandboxes unless credentials are configured), worker and API.
	keys := cfg.TokenKeys
	if keys == "" {
		if keys, err = devTokenKeys(filepath.Join(cfg.DataDir, "token.keys")); err != nil {
			return err
		}
	}
	pp, err := buildParts(cfg, store, keys, true, logger)
	if err != nil {
		return err
	}
	pp.retention = &scheduler.Scheduler{Store: store, Waker: scheduler.TemporalWaker{Client: tc}}
	pp.grants.Retention = pp.retention
	w, err := startWorker(ctx, cfg, store, tc, pp)
	if err != nil {
		return err
	}
	defer w.Stop()
	wake := make(chan struct{}, 1)
	go func() { _ = (&relay.Relay{Store: store, Temporal: tc, Logger: logger, Wake: wake}).Run(ctx) }()

	sc, deps := serverParts(cfg, store, tc, logger, pp)
	deps.RelayWake = wake
	if cfg.Google.Sandbox() {
		fake := googlefake.New("loomcast-sandbox", "loomcast-sandbox-secret")
		deps.Sandboxes["google"] = fake.Handler()
		deps.Google = google.New("loomcast-sandbox", "loomcast-sandbox-secret",
			cfg.PublicURL+"/v1/auth/google/callback", googlefake.Endpoints(cfg.PublicURL+"/sandbox/google"))
		logger.Warn("SANDBOX: Google sign-in is served by a local stand-in; set GOOGLE_CLIENT_ID to use Google")
	}
	api, err := server.New(sc, deps)
	if err != nil {
		return err
	}
	return api.Run(ctx, cfg.HTTPAddr)
}

// runServe runs the API alone.
func runServe(ctx context.Context) error {
	cfg, err := config.Load(config.ModeServe, nil)
	if err != nil {
		return err
	}
	logger := newLogger(cfg)
	if cfg.SessionKey == nil {
		cfg.SessionKey = randomKey()
		logger.Warn("LOOMCAST_SESSION_KEY is not set: using a random key, so sessions end when this process stops")
	}
	store, err := openChecked(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	tc, err := dialTemporal(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer tc.Close()
	pp, err := buildParts(cfg, store, cfg.TokenKeys, true, logger)
	if err != nil {
		return err
	}
	pp.retention = &scheduler.Scheduler{Store: store, Waker: scheduler.TemporalWaker{Client: tc}}
	pp.grants.Retention = pp.retention
	sc, deps := serverParts(cfg, store, tc, logger, pp)
	api, err := server.New(sc, deps)
	if err != nil {
		return err
	}
	logger.Info("starting loomcast serve", slog.Any("config", cfg))
	return api.Run(ctx, cfg.HTTPAddr)
}

// runWorker runs the Temporal worker alone until interrupted.
func runWorker(ctx context.Context) error {
	cfg, err := config.Load(config.ModeWorker, nil)
	if err != nil {
		return err
	}
	if cfg.SessionKey == nil {
		return errors.New("LOOMCAST_SESSION_KEY is required by the worker too: it signs the export links mailed to requesters, which the API checks")
	}
	logger := newLogger(cfg)
	store, err := openChecked(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	tc, err := dialTemporal(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer tc.Close()
	pp, err := buildParts(cfg, store, cfg.TokenKeys, false, logger)
	if err != nil {
		return err
	}
	pp.retention = &scheduler.Scheduler{Store: store, Waker: scheduler.TemporalWaker{Client: tc}}
	pp.grants.Retention = pp.retention
	w, err := startWorker(ctx, cfg, store, tc, pp)
	if err != nil {
		return err
	}
	logger.Info("worker polling", slog.String("task_queue", workflows.TaskQueue), slog.Any("config", cfg))
	// The webhook relay runs beside the worker: it needs Temporal, not the API.
	relayDone := make(chan struct{})
	go func() { _ = (&relay.Relay{Store: store, Temporal: tc, Logger: logger}).Run(ctx); close(relayDone) }()
	<-ctx.Done()
	<-relayDone
	w.Stop()
	logger.Info("worker stopped")
	return nil
}

// runMigrate applies pending migrations.
func runMigrate(ctx context.Context, stdout io.Writer) error {
	cfg, err := config.Load(config.ModeMigrate, nil)
	if err != nil {
		return err
	}
	store, err := models.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
	applied, err := store.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "database is up to date at version %d\n", models.LatestVersion())
		return nil
	}
	fmt.Fprintf(stdout, "applied migrations %v; database is at version %d\n", applied, models.LatestVersion())
	return nil
}

// runAdmin handles `admin create-user`.
func runAdmin(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create-user" {
		return errors.New("usage: loomcast admin create-user --email E --role R [--password-stdin]")
	}
	fs := flag.NewFlagSet("create-user", flag.ContinueOnError)
	email := fs.String("email", "", "email address of the account")
	role := fs.String("role", models.RoleAdmin, "role: user, support, privacy or admin")
	name := fs.String("name", "", "display name (default: the email's local part)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if !slices.Contains(models.Roles, *role) {
		return fmt.Errorf("--role must be one of %s", strings.Join(models.Roles, ", "))
	}
	if *email == "" {
		return errors.New("--email is required")
	}
	// The dev database is the default, so this works right after `make run`.
	cfg, err := config.Load(config.ModeDev, nil)
	if err != nil {
		return err
	}
	store, err := openChecked(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()

	existing, err := store.UserByEmail(ctx, *email)
	if err == nil {
		if err := store.SetRole(ctx, existing.ID, *role); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s (%s) now has role %s\n", existing.Email, existing.ID, *role)
		return nil
	}
	if !errors.Is(err, models.ErrNotFound) {
		return err
	}
	pw, generated := "", false
	if *pwStdin {
		line, err := readLine(stdin)
		if err != nil {
			return fmt.Errorf("read password: %w", err)
		}
		pw = line
	} else {
		pw, generated = base64.RawURLEncoding.EncodeToString(randomKey()[:18]), true
	}
	if msg := password.Check(pw, *email); msg != "" {
		return fmt.Errorf("password %s", msg)
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	display := *name
	if display == "" {
		display, _, _ = strings.Cut(*email, "@")
	}
	u := &models.User{Email: *email, PasswordHash: &hash, DisplayName: display, Role: *role, Timezone: "UTC"}
	if err := store.CreateUser(ctx, u); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %s (%s) with role %s\n", u.Email, u.ID, u.Role)
	if generated {
		fmt.Fprintf(stdout, "password (shown once): %s\n", pw)
	}
	return nil
}

// runKeys handles `keys generate` and `keys rotate`.
func runKeys(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) != 1 || (args[0] != "generate" && args[0] != "rotate") {
		return errors.New("usage: loomcast keys generate | loomcast keys rotate")
	}
	if args[0] == "generate" {
		fmt.Fprintln(stdout, newTokenKey(time.Now()))
		return nil
	}
	cfg, err := config.Load(config.ModeDev, nil)
	if err != nil {
		return err
	}
	keys := cfg.TokenKeys
	if keys == "" {
		if keys, err = devTokenKeys(filepath.Join(cfg.DataDir, "token.keys")); err != nil {
			return err
		}
	}
	store, err := openChecked(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	pp, err := buildParts(cfg, store, keys, false, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	res, err := pp.grants.Reseal(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "re-encrypted %d channels under key %s; %d already were; %d changed meanwhile (already current)\n",
		res.Resealed, pp.grants.Vault.CurrentKeyID(), res.Current, res.Skipped)
	return nil
}

func readLine(r io.Reader) (string, error) {
	var sb strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if buf[0] == '\n' {
				break
			}
			sb.WriteByte(buf[0])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
	}
	return strings.TrimRight(sb.String(), "\r"), nil
}

// openChecked opens the database and refuses a schema this binary does not match.
func openChecked(ctx context.Context, cfg *config.Config) (*models.Store, error) {
	store, err := models.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := store.CheckSchema(ctx); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}

func workerDeps(cfg *config.Config, store *models.Store, tc client.Client, pp parts) worker.Deps {
	return worker.Deps{Store: store, Blob: pp.blob, Grants: pp.grants, TikTok: pp.tiktok, YouTube: pp.youtube,
		Retention:  pp.retention,
		Executions: temporalexec.Executions{Client: tc, Namespace: cfg.Temporal.Namespace, KeepRunning: privacy.WorkflowID("")},
		Mail:       pp.mail, PublicURL: cfg.PublicURL, LinkKey: cfg.SessionKey, StaffEmail: cfg.PrivacyEmail, Temporal: tc}
}

// mailSender sends by SMTP when SMTP_HOST is set, and otherwise keeps mail
// in the local outbox under the data directory (make run).
func mailSender(cfg *config.Config, logger *slog.Logger) (mail.Sender, error) {
	if cfg.SMTP.Host == "" {
		logger.Warn("SMTP_HOST is not set: privacy mail is kept in the local outbox (GET /v1/admin/outbox), not sent")
		return mail.NewOutbox(filepath.Join(cfg.DataDir, "outbox"))
	}
	return mail.NewSMTP(mail.SMTPConfig{Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, Username: cfg.SMTP.Username,
		Password: cfg.SMTP.Password, From: cfg.SMTP.From, StartTLS: cfg.SMTP.StartTLS, Timeout: 30 * time.Second})
}

// startWorker starts the worker, then makes sure every retention category's
// expiry process runs (it only wakes them: they read their due times).
func startWorker(ctx context.Context, cfg *config.Config, store *models.Store, tc client.Client, pp parts) (sdkworker.Worker, error) {
	w := worker.New(tc, workerDeps(cfg, store, tc, pp))
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	if err := pp.retention.EnsureRunning(ctx); err != nil {
		w.Stop()
		return nil, fmt.Errorf("start retention processes: %w", err)
	}
	return w, nil
}

func serverParts(cfg *config.Config, store *models.Store, tc client.Client, logger *slog.Logger, pp parts) (server.Config, server.Deps) {
	sc := server.Config{
		Production:          cfg.Production(),
		PublicURL:           cfg.PublicURL,
		AppURL:              cfg.AppURL,
		SessionKey:          cfg.SessionKey,
		MaxBodyBytes:        cfg.MaxBodyBytes,
		MaxUploadBytes:      cfg.MaxUploadBytes,
		TrustedProxies:      cfg.TrustedProxies,
		PlatformSandbox:     pp.sandbox,
		TikTokClientSecret:  pp.tiktokSecret,
		StripeWebhookSecret: cfg.StripeWebhookSecret,
	}
	deps := server.Deps{Store: store, Temporal: tc, Logger: logger, Blob: pp.blob, Grants: pp.grants,
		TikTok: pp.tiktok, YouTube: pp.youtube, Sandboxes: pp.sandboxes, Mail: pp.mail, Retention: pp.retention}
	if !cfg.Google.Sandbox() {
		deps.Google = google.New(cfg.Google.ClientID, cfg.Google.ClientSecret, cfg.PublicURL+"/v1/auth/google/callback",
			google.Endpoints{AuthURL: cfg.Google.AuthURL, TokenURL: cfg.Google.TokenURL, UserInfoURL: cfg.Google.UserInfoURL})
	}
	return sc, deps
}

// dialTemporal connects to Temporal, with TLS when configured.
func dialTemporal(ctx context.Context, cfg *config.Config, logger *slog.Logger) (client.Client, error) {
	opts := client.Options{
		HostPort:  cfg.Temporal.Address,
		Namespace: cfg.Temporal.Namespace,
		Logger:    sdklog.NewStructuredLogger(logger.With(slog.String("component", "temporal-sdk"))),
	}
	if cfg.Temporal.TLS() {
		tlsConf := &tls.Config{ServerName: cfg.Temporal.ServerName, MinVersion: tls.VersionTLS12}
		if cfg.Temporal.TLSCert != "" {
			cert, err := tls.LoadX509KeyPair(cfg.Temporal.TLSCert, cfg.Temporal.TLSKey)
			if err != nil {
				return nil, fmt.Errorf("TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY: %w", err)
			}
			tlsConf.Certificates = []tls.Certificate{cert}
		}
		if cfg.Temporal.TLSCA != "" {
			pem, err := os.ReadFile(cfg.Temporal.TLSCA)
			if err != nil {
				return nil, fmt.Errorf("TEMPORAL_TLS_CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, errors.New("TEMPORAL_TLS_CA holds no PEM certificate")
			}
			tlsConf.RootCAs = pool
		}
		opts.ConnectionOptions.TLS = tlsConf
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s (TEMPORAL_ADDRESS): %w", cfg.Temporal.Address, err)
	}
	return c, nil
}

// devSessionKey loads the dev session key, creating it on first start, so
// that sessions survive a restart of `loomcast dev`.
func devSessionKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	key := randomKey()
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return key, nil
}

func randomKey() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}
