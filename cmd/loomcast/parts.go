package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/config"
	"github.com/loomcast/loomcast/google"
	googlefake "github.com/loomcast/loomcast/google/fake"
	"github.com/loomcast/loomcast/grants"
	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/retention/scheduler"
	"github.com/loomcast/loomcast/server"
	"github.com/loomcast/loomcast/temporalexec"
	"github.com/loomcast/loomcast/tiktok"
	tiktokfake "github.com/loomcast/loomcast/tiktok/fake"
	"github.com/loomcast/loomcast/vault"
	"github.com/loomcast/loomcast/worker"
	"github.com/loomcast/loomcast/workflows/posting"
	"github.com/loomcast/loomcast/workflows/privacy"
	"github.com/loomcast/loomcast/youtube"
	youtubefake "github.com/loomcast/loomcast/youtube/fake"
)

// secrets are the keys a process runs with, resolved in its config
// section: from the environment, or for dev from files in the data folder.
type secrets struct {
	// session signs session and CSRF cookies and the export links the
	// worker mails, and keys the hashes of mailed codes
	// (LOOMCAST_SESSION_KEY).
	session []byte
	// tokenKeys encrypt platform tokens (LOOMCAST_TOKEN_KEYS).
	tokenKeys string
}

// parts are the pieces shared by the API and the worker, each built
// complete by buildParts.
type parts struct {
	blob      blob.Store
	retention *scheduler.Scheduler
	grants    *grants.Manager
	tiktok    *tiktok.Client
	youtube   *youtube.Client
	google    server.GoogleSignIn
	// sandboxes are the local stand-ins to mount under /sandbox/<name>.
	sandboxes map[string]http.Handler
	// sandbox says TikTok or YouTube is a local stand-in.
	sandbox bool
	// tiktokSecret verifies TikTok webhooks.
	tiktokSecret string
	// mail sends privacy mail.
	mail mail.Sender
}

// Sandbox credentials of the local platform stand-ins.
const (
	sandboxClient = "loomcast-sandbox"
	sandboxSecret = "loomcast-sandbox-secret"
)

// buildParts makes the blob store, the token vault, mail and the platform
// clients, and the one retention scheduler, on tc (none when tc is nil,
// where nothing can start a clock, as in keys rotate). With serveFakes, platforms without credentials
// get a local sandbox mounted on the API under /sandbox/<platform>, and
// Google sign-in without GOOGLE_CLIENT_ID one under /sandbox/google.
func buildParts(cfg *config.Config, store *models.Store, tc client.Client, tokenKeys string, serveFakes bool, logger *slog.Logger) (parts, error) {
	b, err := blob.NewLocal(cfg.BlobDir)
	if err != nil {
		return parts{}, err
	}
	sender, err := mailSender(cfg, logger)
	if err != nil {
		return parts{}, fmt.Errorf("mail: %w", err)
	}
	ks, err := vault.ParseKeys(tokenKeys)
	if err != nil {
		return parts{}, fmt.Errorf("LOOMCAST_TOKEN_KEYS: %w", err)
	}
	ring, err := vault.New(ks...)
	if err != nil {
		return parts{}, fmt.Errorf("LOOMCAST_TOKEN_KEYS: %w", err)
	}
	sandboxes := map[string]http.Handler{}
	if outbox, ok := sender.(*mail.Outbox); ok && serveFakes && !cfg.Production() {
		// The sandbox's webmail: codes mailed to an address one typed,
		// readable without a mail server. Never with SMTP, and never in
		// production (which requires SMTP anyway).
		sandboxes["mail"] = outbox.Mailbox()
		logger.Warn("SANDBOX: mail kept in the local outbox is readable by address at /sandbox/mail/?to=ADDRESS; set SMTP_HOST to send it")
	}

	ttCfg := tiktok.Config{ClientKey: cfg.TikTok.ClientKey, ClientSecret: cfg.TikTok.ClientSecret,
		RedirectURI: cfg.PublicURL + "/v1/channels/tiktok/callback", AuthURL: cfg.TikTok.AuthURL, APIBaseURL: cfg.TikTok.APIBaseURL}
	if cfg.TikTok.Sandbox() {
		// The photo links of LOOMCAST_PUBLIC_URL are verified for the
		// sandbox app, as they must be for a real one at TikTok.
		fake := tiktokfake.New(tiktokfake.Options{ClientKey: sandboxClient, ClientSecret: sandboxSecret, BaseURL: cfg.PublicURL + "/sandbox/tiktok",
			VerifiedURLPrefixes: []string{cfg.PublicURL + posting.PhotoLinkPath}})
		// The sandbox sends TikTok's signed webhooks to this API.
		fake.SetWebhookURL(cfg.PublicURL + "/webhooks/tiktok")
		ttCfg.ClientKey, ttCfg.ClientSecret, ttCfg.AuthURL, ttCfg.APIBaseURL = sandboxClient, sandboxSecret, fake.AuthURL(), fake.APIBaseURL()
		if serveFakes {
			sandboxes["tiktok"] = fake.Handler()
		}
		logger.Warn("SANDBOX: TikTok is a local stand-in under /sandbox/tiktok; set TIKTOK_CLIENT_KEY to use TikTok")
	}

	ytRedirect := cfg.PublicURL + "/v1/channels/youtube/callback"
	ytCfg := youtube.Config{ClientID: cfg.YouTube.ClientID, ClientSecret: cfg.YouTube.ClientSecret, RedirectURI: ytRedirect,
		AuthURL: cfg.YouTube.AuthURL, TokenURL: cfg.YouTube.TokenURL, APIBaseURL: cfg.YouTube.APIBaseURL}
	if cfg.YouTube.Sandbox() {
		fake := youtubefake.New(youtubefake.Options{ClientID: sandboxClient, ClientSecret: sandboxSecret, BaseURL: cfg.PublicURL + "/sandbox/youtube"})
		ytCfg = fake.Config(ytRedirect)
		if serveFakes {
			sandboxes["youtube"] = fake.Handler()
		}
		logger.Warn("SANDBOX: YouTube is a local stand-in under /sandbox/youtube; set YOUTUBE_CLIENT_ID to use YouTube")
	}

	googleCallback := cfg.PublicURL + "/v1/auth/google/callback"
	var signIn server.GoogleSignIn
	switch {
	case !cfg.Google.Sandbox():
		signIn = google.New(cfg.Google.ClientID, cfg.Google.ClientSecret, googleCallback,
			google.Endpoints{AuthURL: cfg.Google.AuthURL, TokenURL: cfg.Google.TokenURL, UserInfoURL: cfg.Google.UserInfoURL})
	case serveFakes:
		sandboxes["google"] = googlefake.New(sandboxClient, sandboxSecret).Handler()
		signIn = google.New(sandboxClient, sandboxSecret, googleCallback, googlefake.Endpoints(cfg.PublicURL+"/sandbox/google"))
		logger.Warn("SANDBOX: Google sign-in is served by a local stand-in; set GOOGLE_CLIENT_ID to use Google")
	}

	tt, yt := tiktok.New(ttCfg), youtube.New(ytCfg)
	gm := &grants.Manager{Store: store, Vault: ring, TikTok: tt, YouTube: yt}
	var retention *scheduler.Scheduler
	if tc != nil {
		retention = &scheduler.Scheduler{Store: store, Waker: scheduler.TemporalWaker{Client: tc}}
		gm.Retention = retention
	}
	return parts{
		blob:         b,
		retention:    retention,
		grants:       gm,
		tiktok:       tt,
		youtube:      yt,
		google:       signIn,
		sandboxes:    sandboxes,
		sandbox:      cfg.TikTok.Sandbox() || cfg.YouTube.Sandbox(),
		tiktokSecret: ttCfg.ClientSecret,
		mail:         sender,
	}, nil
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

// newAPI builds the API from the shared parts. relayWake, when not nil,
// is nudged after a webhook is stored so an in-process relay delivers it
// at once.
func newAPI(cfg *config.Config, sec secrets, store *models.Store, tc client.Client, logger *slog.Logger, pp parts, relayWake chan struct{}) (*server.Server, error) {
	sc := server.Config{
		Production:          cfg.Production(),
		PublicURL:           cfg.PublicURL,
		AppURL:              cfg.AppURL,
		SessionKey:          sec.session,
		MaxBodyBytes:        cfg.MaxBodyBytes,
		MaxUploadBytes:      cfg.MaxUploadBytes,
		TrustedProxies:      cfg.TrustedProxies,
		PlatformSandbox:     pp.sandbox,
		TikTokClientSecret:  pp.tiktokSecret,
		StripeWebhookSecret: cfg.StripeWebhookSecret,
	}
	return server.New(sc, server.Deps{Store: store, Temporal: tc, Logger: logger, Google: pp.google, Sandboxes: pp.sandboxes,
		Blob: pp.blob, Grants: pp.grants, TikTok: pp.tiktok, YouTube: pp.youtube, RelayWake: relayWake, Mail: pp.mail,
		Retention: pp.retention})
}

// newWorker builds the Temporal worker from the shared parts.
func newWorker(cfg *config.Config, sec secrets, store *models.Store, tc client.Client, pp parts) sdkworker.Worker {
	return worker.New(tc, worker.Deps{Store: store, Blob: pp.blob, Grants: pp.grants, TikTok: pp.tiktok, YouTube: pp.youtube,
		Retention:  pp.retention,
		Executions: temporalexec.Executions{Client: tc, Namespace: cfg.Temporal.Namespace, KeepRunning: privacy.WorkflowID("")},
		Mail:       pp.mail, PublicURL: cfg.PublicURL, LinkKey: sec.session, StaffEmail: cfg.PrivacyEmail, Temporal: tc,
		PrivacyAuthority: cfg.PrivacyAuthority})
}
