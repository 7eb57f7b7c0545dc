// Command loomcast is Loomcast's one binary. Its subcommands wire the parts
// together and do nothing else:
//
//	loomcast dev                 the whole system in one process (embedded Temporal, SQLite, local files, sandboxes)
//	loomcast serve               the API, against PostgreSQL and a Temporal cluster
//	loomcast worker              the Temporal worker and the webhook relay
//	loomcast migrate             apply database migrations
//	loomcast admin create-user   create a staff account (or change a user's role)
//	loomcast keys generate|rotate  make a token key; re-encrypt tokens under the first key
//	loomcast sample-video FILE   write a tiny MP4 the sandbox accepts (for the README's walkthrough)
//
// Files by concern: dev.go, serve.go and worker.go hold the three long-running
// subcommands, each in straight sections (config, database, wiring, serve,
// graceful shutdown); parts.go builds the pieces they share and lifecycle.go
// runs them; admin.go, keys.go and sample.go are the one-shot commands;
// greeting.go is what `make run` tells a person at a terminal.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // IANA zones for timezone validation on any machine
)

const usage = `usage: loomcast <command>

commands:
  dev                     run everything in one process (make run)
  serve                   run the API
  worker                  run the Temporal worker and the webhook relay
  migrate                 apply database migrations
  admin create-user --email E --role R [--password-stdin]
                          create a staff account, or set the role of an existing one
  keys generate           print a new token encryption key (id:base64)
  keys rotate             re-encrypt every platform token under the first key of LOOMCAST_TOKEN_KEYS
  sample-video FILE       write a tiny MP4 (5 seconds, 64 KiB) that the sandbox publishes

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
		return runDev(ctx, stdout)
	case "serve":
		return runServe(ctx, stdout)
	case "worker":
		return runWorker(ctx, stdout)
	case "migrate":
		return runMigrate(ctx, stdout)
	case "admin":
		return runAdmin(ctx, args[1:], stdin, stdout)
	case "keys":
		return runKeys(ctx, args[1:], stdout)
	case "sample-video":
		return runSampleVideo(args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n\n%s", args[0], usage)
}
