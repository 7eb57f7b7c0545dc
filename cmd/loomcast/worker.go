package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/loomcast/loomcast/config"
	"github.com/loomcast/loomcast/relay"
	"github.com/loomcast/loomcast/workflows"
)

// runWorker runs the Temporal worker and, beside it, the webhook relay
// (it needs Temporal, not the API) until interrupted.
func runWorker(ctx context.Context, stdout io.Writer) error {
	// Config.
	cfg, err := config.Load(config.ModeWorker, nil)
	if err != nil {
		return err
	}
	if cfg.SessionKey == nil {
		return errors.New("LOOMCAST_SESSION_KEY is required by the worker too: it signs the export links mailed to requesters, which the API checks")
	}
	sec := secrets{session: cfg.SessionKey, tokenKeys: cfg.TokenKeys}
	logger := newLogger(cfg, stdout)

	// Database, and Temporal.
	store, tc, disconnect, err := connect(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer disconnect()

	// Wiring.
	pp, err := buildParts(cfg, store, tc, sec.tokenKeys, false, logger)
	if err != nil {
		return err
	}
	w := newWorker(cfg, sec, store, tc, pp)
	webhookRelay := &relay.Relay{Store: store, Temporal: tc, Logger: logger}
	// Every retention category's expiry process runs (this only wakes
	// them: they read their due times themselves).
	if err := pp.retention.EnsureRunning(ctx); err != nil {
		return fmt.Errorf("start retention processes: %w", err)
	}

	// Serve: poll and relay until interrupted, or until either fails.
	logger.Info("worker polling", slog.String("task_queue", workflows.TaskQueue), slog.Any("config", cfg))
	err = runParts(ctx, workerPart(w), part{name: "webhook relay", run: webhookRelay.Run})

	// Graceful shutdown: the worker has finished its tasks in flight; the
	// deferred closes release Temporal and the database.
	if err != nil {
		return err
	}
	logger.Info("worker stopped")
	return nil
}
