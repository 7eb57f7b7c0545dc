package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/config"
	"github.com/loomcast/loomcast/grants"
	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/retention/scheduler"
	"github.com/loomcast/loomcast/tiktok"
	tiktokfake "github.com/loomcast/loomcast/tiktok/fake"
	"github.com/loomcast/loomcast/vault"
	"github.com/loomcast/loomcast/youtube"
	youtubefake "github.com/loomcast/loomcast/youtube/fake"
)

// parts are the pieces shared by the API and the worker.
type parts struct {
	blob      blob.Store
	grants    *grants.Manager
	tiktok    *tiktok.Client
	youtube   *youtube.Client
	sandboxes map[string]http.Handler
	sandbox   bool
	// tiktokSecret verifies TikTok webhooks.
	tiktokSecret string
	// mail sends privacy mail.
	mail mail.Sender
	// retention starts retention clocks.
	retention *scheduler.Scheduler
}

// Sandbox credentials of the local platform stand-ins.
const (
	sandboxClient = "loomcast-sandbox"
	sandboxSecret = "loomcast-sandbox-secret"
)

// buildParts makes the blob store, the token vault and the platform
// clients. With serveFakes, platforms without credentials get a local
// sandbox mounted on the API under /sandbox/<platform>.
func buildParts(cfg *config.Config, store *models.Store, keys string, serveFakes bool, logger *slog.Logger) (parts, error) {
	var p parts
	b, err := blob.NewLocal(cfg.BlobDir)
	if err != nil {
		return p, err
	}
	p.blob = b
	if p.mail, err = mailSender(cfg, logger); err != nil {
		return p, fmt.Errorf("mail: %w", err)
	}
	ks, err := vault.ParseKeys(keys)
	if err != nil {
		return p, fmt.Errorf("LOOMCAST_TOKEN_KEYS: %w", err)
	}
	ring, err := vault.New(ks...)
	if err != nil {
		return p, fmt.Errorf("LOOMCAST_TOKEN_KEYS: %w", err)
	}
	p.sandboxes = map[string]http.Handler{}

	ttCfg := tiktok.Config{ClientKey: cfg.TikTok.ClientKey, ClientSecret: cfg.TikTok.ClientSecret,
		RedirectURI: cfg.PublicURL + "/v1/channels/tiktok/callback", AuthURL: cfg.TikTok.AuthURL, APIBaseURL: cfg.TikTok.APIBaseURL}
	if cfg.TikTok.Sandbox() {
		fake := tiktokfake.New(tiktokfake.Options{ClientKey: sandboxClient, ClientSecret: sandboxSecret, BaseURL: cfg.PublicURL + "/sandbox/tiktok"})
		// The sandbox sends TikTok's signed webhooks to this API.
		fake.SetWebhookURL(cfg.PublicURL + "/webhooks/tiktok")
		ttCfg.ClientKey, ttCfg.ClientSecret, ttCfg.AuthURL, ttCfg.APIBaseURL = sandboxClient, sandboxSecret, fake.AuthURL(), fake.APIBaseURL()
		if serveFakes {
			p.sandboxes["tiktok"] = fake.Handler()
		}
		p.sandbox = true
		logger.Warn("SANDBOX: TikTok is a local stand-in under /sandbox/tiktok; set TIKTOK_CLIENT_KEY to use TikTok")
	}
	p.tiktok = tiktok.New(ttCfg)
	p.tiktokSecret = ttCfg.ClientSecret

	ytRedirect := cfg.PublicURL + "/v1/channels/youtube/callback"
	ytCfg := youtube.Config{ClientID: cfg.YouTube.ClientID, ClientSecret: cfg.YouTube.ClientSecret, RedirectURI: ytRedirect,
		AuthURL: cfg.YouTube.AuthURL, TokenURL: cfg.YouTube.TokenURL, APIBaseURL: cfg.YouTube.APIBaseURL}
	if cfg.YouTube.Sandbox() {
		fake := youtubefake.New(youtubefake.Options{ClientID: sandboxClient, ClientSecret: sandboxSecret, BaseURL: cfg.PublicURL + "/sandbox/youtube"})
		ytCfg = fake.Config(ytRedirect)
		if serveFakes {
			p.sandboxes["youtube"] = fake.Handler()
		}
		p.sandbox = true
		logger.Warn("SANDBOX: YouTube is a local stand-in under /sandbox/youtube; set YOUTUBE_CLIENT_ID to use YouTube")
	}
	p.youtube = youtube.New(ytCfg)
	p.grants = &grants.Manager{Store: store, Vault: ring, TikTok: p.tiktok, YouTube: p.youtube}
	return p, nil
}

// devTokenKeys loads the dev token keys, creating a key on first start.
func devTokenKeys(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	key := newTokenKey(time.Now())
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return key, nil
}

// newTokenKey returns "id:base64key" with a dated ID.
func newTokenKey(now time.Time) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "k" + now.UTC().Format("20060102T150405") + ":" + base64.StdEncoding.EncodeToString(b)
}
