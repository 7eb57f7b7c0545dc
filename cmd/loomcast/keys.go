package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/loomcast/loomcast/config"
)

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
	// Resealing starts no retention clock, so no scheduler is needed.
	pp, err := buildParts(cfg, store, nil, keys, false, slog.New(slog.NewTextHandler(io.Discard, nil)))
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

// newTokenKey returns "id:base64key" with a dated ID.
func newTokenKey(now time.Time) string {
	return "k" + now.UTC().Format("20060102T150405") + ":" + base64.StdEncoding.EncodeToString(randomKey())
}

// randomKey returns 32 random bytes.
func randomKey() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}
