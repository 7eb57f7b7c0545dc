package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/loomcast/loomcast/config"
)

// runServe runs the API alone, against the database at DATABASE_URL and
// the Temporal cluster at TEMPORAL_ADDRESS.
func runServe(ctx context.Context, stdout io.Writer) error {
	// Config.
	cfg, err := config.Load(config.ModeServe, nil)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stdout)
	sec := secrets{session: cfg.SessionKey, tokenKeys: cfg.TokenKeys}
	if sec.session == nil {
		sec.session = randomKey()
		logger.Warn("LOOMCAST_SESSION_KEY is not set: using a random key, so sessions end when this process stops")
	}

	// Database, and Temporal.
	store, tc, disconnect, err := connect(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer disconnect()

	// Wiring.
	pp, err := buildParts(cfg, store, tc, sec.tokenKeys, true, logger)
	if err != nil {
		return err
	}
	api, err := newAPI(cfg, sec, store, tc, logger, pp, nil)
	if err != nil {
		return err
	}

	// Serve until interrupted; the API finishes the requests in flight
	// before it returns, and the deferred closes then release Temporal and
	// the database.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (LOOMCAST_HTTP_ADDR): %w", cfg.HTTPAddr, err)
	}
	logger.Info("starting loomcast serve", slog.Any("config", cfg))
	return runParts(ctx, part{name: "api", run: func(ctx context.Context) error { return api.Serve(ctx, ln) }})
}
