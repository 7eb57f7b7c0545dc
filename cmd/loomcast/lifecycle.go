package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"golang.org/x/sync/errgroup"

	"github.com/loomcast/loomcast/config"
	"github.com/loomcast/loomcast/models"
)

// part is one long-running piece of a process (the API, the worker, the
// webhook relay): run works until ctx ends, then stops gracefully.
type part struct {
	name string
	run  func(ctx context.Context) error
}

// runParts runs the parts together until ctx ends and every part has
// stopped. A part that fails, or returns while ctx is still live, stops
// the others and the process with its error: no part is ever silently
// dropped.
func runParts(ctx context.Context, parts ...part) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, p := range parts {
		g.Go(func() error {
			err := p.run(ctx)
			if err == nil && ctx.Err() == nil {
				err = errors.New("stopped on its own")
			}
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// workerPart runs a Temporal worker as a part: it polls until ctx ends,
// and a fatal worker error (a lost namespace, say) ends the process.
func workerPart(w sdkworker.Worker) part {
	return part{name: "worker", run: func(ctx context.Context) error {
		stop := make(chan any)
		go func() { <-ctx.Done(); close(stop) }()
		return w.Run(stop)
	}}
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

// connect opens the database (refusing a schema this binary does not
// match) and dials the Temporal cluster, for serve and worker; disconnect
// releases both.
func connect(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*models.Store, client.Client, func(), error) {
	store, err := openChecked(ctx, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	tc, err := dialTemporal(ctx, cfg, logger)
	if err != nil {
		store.Close()
		return nil, nil, nil, err
	}
	return store, tc, func() { tc.Close(); store.Close() }, nil
}

// dialTemporal connects to Temporal, with TLS when configured.
func dialTemporal(ctx context.Context, cfg *config.Config, logger *slog.Logger) (client.Client, error) {
	opts := client.Options{
		HostPort:  cfg.Temporal.Address,
		Namespace: cfg.Temporal.Namespace,
		Logger:    sdklog.NewStructuredLogger(logger.With(slog.String("component", "temporal-sdk"))),
	}
	if cfg.Temporal.TLS() {
		tlsConf, err := temporalTLS(cfg.Temporal)
		if err != nil {
			return nil, err
		}
		opts.ConnectionOptions.TLS = tlsConf
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s (TEMPORAL_ADDRESS): %w", cfg.Temporal.Address, err)
	}
	return c, nil
}

func temporalTLS(t config.Temporal) (*tls.Config, error) {
	tlsConf := &tls.Config{ServerName: t.ServerName, MinVersion: tls.VersionTLS12}
	if t.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(t.TLSCert, t.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY: %w", err)
		}
		tlsConf.Certificates = []tls.Certificate{cert}
	}
	if t.TLSCA != "" {
		pem, err := os.ReadFile(t.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("TEMPORAL_TLS_CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("TEMPORAL_TLS_CA holds no PEM certificate")
		}
		tlsConf.RootCAs = pool
	}
	return tlsConf, nil
}
