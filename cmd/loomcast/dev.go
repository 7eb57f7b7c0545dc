package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/loomcast/loomcast/config"
	"github.com/loomcast/loomcast/devserver"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/relay"
	"github.com/loomcast/loomcast/workflows"
)

// runDev runs the whole system embedded: Temporal on SQLite, the app
// database on SQLite, blobs on disk, the platform and Google sandboxes,
// the worker, the webhook relay and the API.
func runDev(ctx context.Context, stdout io.Writer) error {
	// Config: the environment, and the keys kept in the data folder so
	// that sessions and sealed tokens survive a restart.
	cfg, err := config.Load(config.ModeDev, nil)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stdout)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", cfg.DataDir, err)
	}
	sec, err := devSecrets(cfg)
	if err != nil {
		return err
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

	// Temporal, embedded, and a client of it.
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

	// Wiring: one retention scheduler, the shared parts (sandboxes where
	// no credentials are configured), the worker, the relay and the API.
	pp, err := buildParts(cfg, store, tc, sec.tokenKeys, true, logger)
	if err != nil {
		return err
	}
	w := newWorker(cfg, sec, store, tc, pp)
	wake := make(chan struct{}, 1)
	webhookRelay := &relay.Relay{Store: store, Temporal: tc, Logger: logger, Wake: wake}
	api, err := newAPI(cfg, sec, store, tc, logger, pp, wake)
	if err != nil {
		return err
	}
	// Every retention category's expiry process runs (this only wakes
	// them: they read their due times themselves).
	if err := pp.retention.EnsureRunning(ctx); err != nil {
		return fmt.Errorf("start retention processes: %w", err)
	}

	// Serve: listen first, so that a busy port fails here, greet a person
	// at a terminal, then run the parts together until interrupted.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (LOOMCAST_HTTP_ADDR): %w", cfg.HTTPAddr, err)
	}
	if forPerson(cfg, stdout) {
		devGreeting(cfg, temporalServer.Address()).write(stdout)
	}
	err = runParts(ctx,
		workerPart(w),
		part{name: "webhook relay", run: webhookRelay.Run},
		part{name: "api", run: func(ctx context.Context) error { return api.Serve(ctx, ln) }},
	)

	// Graceful shutdown: every part has stopped (the API after finishing
	// the requests in flight); the deferred closes then stop the Temporal
	// client, the embedded server and the database, in that order.
	if err != nil {
		return err
	}
	logger.Info("loomcast dev stopped")
	return nil
}

// devSecrets takes the keys from the environment when set, and otherwise
// from files in the data folder, creating them on first start.
func devSecrets(cfg *config.Config) (secrets, error) {
	sec := secrets{session: cfg.SessionKey, tokenKeys: cfg.TokenKeys}
	var err error
	if sec.session == nil {
		if sec.session, err = devSessionKey(filepath.Join(cfg.DataDir, "session.key")); err != nil {
			return secrets{}, err
		}
	}
	if sec.tokenKeys == "" {
		if sec.tokenKeys, err = devTokenKeys(filepath.Join(cfg.DataDir, "token.keys")); err != nil {
			return secrets{}, err
		}
	}
	return sec, nil
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
