// Command walkthrough runs the README's "Walkthrough with curl" exactly as
// printed, against a fresh `loomcast dev`, and fails loudly when any
// command of it fails, so that the walkthrough stays true. CI runs it
// (.ci/run, make walkthrough) from the repository's root:
//
//	go run ./internal/walkthrough
//
// It builds the binary, starts `loomcast dev` on free ports with a
// temporary data folder and a clean environment (every platform a
// sandbox), waits until it is ready, then runs the section's ```sh blocks
// in order, as one script, with bash -euo pipefail, and
// LOOMCAST_PUBLIC_URL set to that instance, which is the one variable the
// walkthrough reads. It then checks that the post the walkthrough made
// is published, and that `loomcast dev` stops cleanly on an interrupt.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// section is the heading of the README sections that are run.
const section = "Walkthrough with curl"

// postlude runs after the README's blocks, in the same shell: the
// walkthrough must end with its post published. It names the README's
// variables, so renaming them there fails here (bash -u), loudly.
const postlude = `
# walkthrough runner: the post made above must be published
status=$(curl -sS --fail-with-body -H "Authorization: Bearer $token" "$api/v1/posts/$post" | jq -er .status)
if [ "$status" != published ]; then
  echo "walkthrough runner: post $post is $status, not published" >&2
  exit 1
fi
`

func main() {
	readme := flag.String("readme", "README.md", "the README whose walkthrough to run")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, *readme); err != nil {
		fmt.Fprintln(os.Stderr, "walkthrough: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("walkthrough: PASS: every command of the README's walkthrough ran, and the post is published")
}

func run(ctx context.Context, readme string) error {
	for _, tool := range []string{"bash", "curl", "jq", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("the walkthrough needs %s (apt-get install curl jq): %w", tool, err)
		}
	}
	md, err := os.ReadFile(readme)
	if err != nil {
		return err
	}
	blocks, err := shellBlocks(string(md), section)
	if err != nil {
		return fmt.Errorf("%s: %w", readme, err)
	}
	// The walkthrough runs where a reader runs it: the repository's root,
	// where it writes my-video.mp4; a file of that name is not ours to
	// overwrite, and the one made here is removed.
	root := filepath.Dir(readme)
	video := filepath.Join(root, "my-video.mp4")
	if _, err := os.Stat(video); err == nil {
		return fmt.Errorf("%s exists; move it away, the walkthrough writes that file", video)
	}
	defer os.Remove(video)

	tmp, err := os.MkdirTemp("", "loomcast-walkthrough-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	fmt.Println("== walkthrough: building loomcast")
	bin := filepath.Join(tmp, "loomcast")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/loomcast")
	build.Dir, build.Env = root, append(cleanEnv(), "GOTOOLCHAIN=local")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build loomcast: %w", err)
	}

	dev, err := startDev(ctx, bin, tmp)
	if err != nil {
		return err
	}
	scriptErr := runScript(ctx, root, tmp, dev.publicURL, blocks)
	stopErr := dev.stop()
	if scriptErr != nil || stopErr != nil {
		dev.printLogTail(os.Stderr, 120)
	}
	if scriptErr != nil {
		return scriptErr
	}
	return stopErr
}

// dev is a running `loomcast dev`.
type dev struct {
	cmd       *exec.Cmd
	publicURL string
	logPath   string
	exited    chan struct{}
	waitErr   error
}

// startDev starts `loomcast dev` on free ports with its data in dir and
// waits until it answers /readyz.
func startDev(ctx context.Context, bin, dir string) (*dev, error) {
	var addrs [3]string
	for i := range addrs {
		a, err := freeAddr()
		if err != nil {
			return nil, err
		}
		addrs[i] = a
	}
	api, temporal, ui := addrs[0], addrs[1], addrs[2]
	d := &dev{publicURL: "http://" + api, logPath: filepath.Join(dir, "dev.log"), exited: make(chan struct{})}
	logf, err := os.Create(d.logPath)
	if err != nil {
		return nil, err
	}
	d.cmd = exec.Command(bin, "dev")
	// LOOMCAST_TEMPORAL_UI_ADDR gets a free port too: empty means the
	// default, 127.0.0.1:8233, which a `make run` may hold.
	d.cmd.Env = append(cleanEnv(), "LOOMCAST_DATA_DIR="+filepath.Join(dir, "data"), "LOOMCAST_HTTP_ADDR="+api,
		"TEMPORAL_ADDRESS="+temporal, "LOOMCAST_TEMPORAL_UI_ADDR="+ui)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	fmt.Printf("== walkthrough: starting loomcast dev: API %s, Temporal %s, data in %s, log in %s\n", d.publicURL, temporal, dir, d.logPath)
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start loomcast dev: %w", err)
	}
	go func() { d.waitErr = d.cmd.Wait(); logf.Close(); close(d.exited) }()

	// Poll readiness every 250 ms (a plain wait, not a ticker: the
	// no-cron test keeps tickers out of the tree).
	deadline := time.After(3 * time.Minute)
	for {
		select {
		case <-d.exited:
			d.printLogTail(os.Stderr, 120)
			return nil, fmt.Errorf("loomcast dev exited before it was ready: %v", d.waitErr)
		case <-deadline:
			_ = d.stop()
			d.printLogTail(os.Stderr, 120)
			return nil, errors.New("loomcast dev was not ready within 3 minutes")
		case <-ctx.Done():
			_ = d.stop()
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
			if resp, err := http.Get(d.publicURL + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return d, nil
				}
			}
		}
	}
}

// stop interrupts `loomcast dev`, as Ctrl-C does, and reports whether it
// shut down cleanly within 30 seconds.
func (d *dev) stop() error {
	select {
	case <-d.exited:
		return fmt.Errorf("loomcast dev exited during the walkthrough: %v", d.waitErr)
	default:
	}
	_ = d.cmd.Process.Signal(os.Interrupt)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
		return errors.New("loomcast dev did not stop within 30 seconds of an interrupt")
	}
	if d.waitErr != nil {
		return fmt.Errorf("loomcast dev did not stop cleanly on an interrupt: %w", d.waitErr)
	}
	return nil
}

func (d *dev) printLogTail(w io.Writer, n int) {
	f, err := os.Open(d.logPath)
	if err != nil {
		return
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	fmt.Fprintf(w, "== walkthrough: the last %d lines of the loomcast dev log:\n", len(lines))
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

// runScript runs the blocks as one bash script from dir (the repository's
// root), tracing every command.
func runScript(ctx context.Context, dir, tmp, publicURL string, blocks []string) error {
	var sb strings.Builder
	for i, b := range blocks {
		fmt.Fprintf(&sb, "\n# ---- README.md, %q block %d of %d\n%s", section, i+1, len(blocks), b)
	}
	sb.WriteString(postlude)
	path := filepath.Join(tmp, "walkthrough.sh")
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		return err
	}
	fmt.Printf("== walkthrough: running %d blocks of the README's %q (%s)\n", len(blocks), section, path)
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-x", path)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), "LOOMCAST_PUBLIC_URL="+publicURL, "GOTOOLCHAIN=local", "PS4=+ walkthrough: ")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("the walkthrough did not finish in time: %w", ctx.Err())
		}
		return fmt.Errorf("a command of the walkthrough failed (the last one traced above): %w", err)
	}
	return nil
}

// cleanEnv is this process's environment without Loomcast's own settings
// or any platform's credentials, so the walkthrough meets a fresh
// `make run` whatever the machine has set.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "DATABASE_URL" || name == "GOTOOLCHAIN" || name == "PS4" {
			continue
		}
		drop := false
		for _, prefix := range []string{"LOOMCAST_", "TEMPORAL_", "TIKTOK_", "YOUTUBE_", "GOOGLE_", "SMTP_", "STRIPE_"} {
			if strings.HasPrefix(name, prefix) {
				drop = true
			}
		}
		if !drop {
			env = append(env, kv)
		}
	}
	return env
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}
