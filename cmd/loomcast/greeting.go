package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/term"

	"github.com/loomcast/loomcast/config"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// forPerson reports whether output to w is read by a person: a terminal,
// outside production. A person gets text logs and `make run`'s greeting;
// everything else (production, a pipe, a file, a container's log
// collector) gets one JSON object per line.
func forPerson(cfg *config.Config, w io.Writer) bool {
	return !cfg.Production() && isTerminal(w)
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if forPerson(cfg, w) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// greeting is what `make run` tells a person at a terminal once it
// listens: where everything is, and what is a local stand-in and why.
type greeting struct {
	api          string
	temporalUI   string // empty when the UI is off
	temporalAddr string
	namespace    string
	dataDir      string
	// outbox is where mail is kept when it is not sent; empty with SMTP.
	outbox string
	smtp   string
	// lines are "name", "state: reason" pairs.
	sandboxes [][2]string
}

// devGreeting describes the running `loomcast dev`.
func devGreeting(cfg *config.Config, temporalAddr string) greeting {
	g := greeting{api: cfg.PublicURL, temporalAddr: temporalAddr, namespace: cfg.Temporal.Namespace, dataDir: cfg.DataDir}
	if abs, err := filepath.Abs(cfg.DataDir); err == nil {
		g.dataDir = abs
	}
	if cfg.Temporal.UIAddr != "" {
		g.temporalUI = "http://" + browsable(cfg.Temporal.UIAddr)
	}
	if cfg.SMTP.Host == "" {
		g.outbox = cfg.PublicURL + "/v1/admin/outbox"
	} else {
		g.smtp = net.JoinHostPort(cfg.SMTP.Host, strconv.Itoa(cfg.SMTP.Port))
	}
	sandbox := func(name string, on bool, unset, set string) {
		if on {
			g.sandboxes = append(g.sandboxes, [2]string{name, "sandbox, " + unset + " not set"})
		} else {
			g.sandboxes = append(g.sandboxes, [2]string{name, "real, " + set + " set"})
		}
	}
	sandbox("TikTok", cfg.TikTok.Sandbox(), "TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_KEY")
	sandbox("YouTube", cfg.YouTube.Sandbox(), "YOUTUBE_CLIENT_ID (or GOOGLE_CLIENT_ID)", "YOUTUBE_CLIENT_ID")
	sandbox("Google sign-in", cfg.Google.Sandbox(), "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_ID")
	return g
}

// browsable turns a listening address into one a browser can open: an
// unspecified host (":8233", "0.0.0.0:8233") becomes 127.0.0.1.
func browsable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func (g greeting) write(w io.Writer) {
	var b strings.Builder
	row := func(name, format string, args ...any) {
		fmt.Fprintf(&b, "  %-15s %s\n", name, fmt.Sprintf(format, args...))
	}
	b.WriteString("\nLoomcast is running. Ctrl-C stops it; everything is kept for the next start.\n\n")
	row("API", "%s", g.api)
	row("OpenAPI", "%s/openapi.json", g.api)
	if g.temporalUI != "" {
		row("Temporal UI", "%s", g.temporalUI)
	} else {
		row("Temporal UI", "off (LOOMCAST_TEMPORAL_UI_ADDR)")
	}
	row("Temporal", "%s, namespace %s (temporal workflow list --address %s)", g.temporalAddr, g.namespace, g.temporalAddr)
	row("Data", "%s", g.dataDir)
	if g.outbox != "" {
		row("Mail", "kept in the outbox, SMTP_HOST not set: %s (staff; see loomcast admin create-user)", g.outbox)
		row("Mailbox", "sandbox: %s/sandbox/mail/?to=ADDRESS shows the mail sent to an address (sign-up codes)", g.api)
	} else {
		row("Mail", "sent by SMTP through %s", g.smtp)
	}
	b.WriteString("\n")
	for _, s := range g.sandboxes {
		row(s[0], "%s", s[1])
	}
	b.WriteString("\n  Try it: README.md, \"Walkthrough with curl\". Logs follow.\n\n")
	_, _ = io.WriteString(w, b.String())
}
