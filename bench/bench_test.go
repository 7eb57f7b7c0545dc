package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/loomcast/loomcast/devserver"
	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/server"
	"github.com/loomcast/loomcast/signup"
	"github.com/loomcast/loomcast/worker"
	"github.com/loomcast/loomcast/workflows"
)

// stack is the embedded system under benchmark.
var stack struct {
	baseURL string
	// outbox is the directory of the mail the API sends.
	outbox string
}

func TestMain(m *testing.M) {
	stop, err := startStack()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start embedded stack:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}

// startStack wires the same parts as `loomcast dev`.
func startStack() (func(), error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "loomcast-bench-")
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := models.Open(ctx, "sqlite:"+filepath.Join(dir, "loomcast.db"))
	if err != nil {
		return nil, err
	}
	if _, err := store.Migrate(ctx); err != nil {
		return nil, err
	}
	temporalAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	ts, err := devserver.Start(ctx, devserver.Options{
		DatabaseFile: filepath.Join(dir, "temporal.db"), Address: temporalAddr,
		SearchAttributes: workflows.SearchAttributeTypes(), Logger: quiet,
	})
	if err != nil {
		return nil, err
	}
	tc, err := client.Dial(client.Options{HostPort: temporalAddr, Logger: sdklog.NewStructuredLogger(quiet)})
	if err != nil {
		return nil, err
	}
	w := worker.New(tc, worker.Deps{Store: store})
	if err := w.Start(); err != nil {
		return nil, err
	}
	stack.outbox = filepath.Join(dir, "outbox")
	outbox, err := mail.NewOutbox(stack.outbox)
	if err != nil {
		return nil, err
	}
	api, err := server.New(server.Config{
		PublicURL: "http://127.0.0.1", AppURL: "http://127.0.0.1/",
		SessionKey:         bytes.Repeat([]byte("b"), 32),
		LoginAttemptsPerIP: 1 << 30, // every benchmark request comes from one address
		SignUpsPerIP:       1 << 30,
	}, server.Deps{Store: store, Temporal: tc, Logger: quiet, Mail: outbox})
	if err != nil {
		return nil, err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", apiAddr)
	if err != nil {
		return nil, err
	}
	srvCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = api.Serve(srvCtx, ln); close(done) }()
	stack.baseURL = "http://" + apiAddr
	return func() {
		cancel()
		<-done
		w.Stop()
		tc.Close()
		ts.Stop()
		store.Close()
		os.RemoveAll(dir)
	}, nil
}

// browser is a client with a cookie jar and a CSRF token.
type browser struct {
	http *http.Client
	csrf string
}

func newBrowser(b *testing.B) *browser {
	jar, _ := cookiejar.New(nil)
	br := &browser{http: &http.Client{Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	var v struct {
		CSRFToken string `json:"csrf_token"`
	}
	br.mustJSON(b, http.MethodGet, "/v1/auth/csrf", nil, http.StatusOK, &v)
	br.csrf = v.CSRFToken
	return br
}

func (br *browser) do(method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		buf, _ := json.Marshal(body)
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, stack.baseURL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-CSRF-Token", br.csrf)
	resp, err := br.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

func (br *browser) mustJSON(b *testing.B, method, path string, body any, want int, out any) {
	status, data, err := br.do(method, path, body)
	if err != nil || status != want {
		b.Fatalf("%s %s: status %d, err %v, body %s", method, path, status, err, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			b.Fatal(err)
		}
	}
}

// register creates an account, confirming its address with the code in
// the outbox, and returns a signed-in browser.
func register(b *testing.B, email string) *browser {
	br := newBrowser(b)
	var pending struct {
		RegistrationID string `json:"registration_id"`
	}
	br.mustJSON(b, http.MethodPost, "/v1/auth/register", map[string]any{
		"email": email, "password": "bench password 123", "display_name": "Bench", "timezone": "UTC", "country": "FR", "age": 30,
	}, http.StatusAccepted, &pending)
	code, err := signUpCode(stack.outbox, email)
	if err != nil {
		b.Fatal(err)
	}
	var v struct {
		CSRFToken string `json:"csrf_token"`
	}
	br.mustJSON(b, http.MethodPost, "/v1/auth/register/"+pending.RegistrationID+"/verify", map[string]string{"code": code}, http.StatusCreated, &v)
	br.csrf = v.CSRFToken
	return br
}

var codeRE = regexp.MustCompile(`code is ([0-9]{6})`)

// signUpCode reads the latest sign-up code mailed to an address from the
// outbox in dir.
func signUpCode(dir, to string) (string, error) {
	o, err := mail.NewOutbox(dir)
	if err != nil {
		return "", err
	}
	msgs, err := o.List(context.Background(), 0)
	if err != nil {
		return "", err
	}
	for _, m := range msgs { // newest first
		if m.Kind == signup.MailCode && m.To == to {
			if sub := codeRE.FindStringSubmatch(m.Text); sub != nil {
				return sub[1], nil
			}
		}
	}
	return "", fmt.Errorf("no sign-up code mailed to %s in %s", to, dir)
}

// measure runs op b.N times from `workers` goroutines and reports the
// throughput and the p50/p99 latency of one request.
func measure(b *testing.B, workers int, op func(worker int) error) {
	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, b.N)
		next      = make(chan struct{}, b.N)
		wg        sync.WaitGroup
		failed    error
	)
	for i := 0; i < b.N; i++ {
		next <- struct{}{}
	}
	close(next)
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for range next {
				t0 := time.Now()
				err := op(w)
				d := time.Since(t0)
				mu.Lock()
				latencies = append(latencies, d)
				if err != nil && failed == nil {
					failed = err
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if failed != nil {
		b.Fatal(failed)
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// BenchmarkLogin measures password sign-in (argon2id dominates).
func BenchmarkLogin(b *testing.B) {
	const workers = 4
	accounts := make([]string, workers)
	for i := range accounts {
		accounts[i] = fmt.Sprintf("login-%d-%d@bench.example.com", b.N, i)
		register(b, accounts[i])
	}
	browsers := make([]*browser, workers)
	for i := range browsers {
		browsers[i] = newBrowser(b)
	}
	measure(b, workers, func(w int) error {
		status, body, err := browsers[w].do(http.MethodPost, "/v1/auth/login",
			map[string]string{"email": accounts[w], "password": "bench password 123"})
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("login: status %d: %s", status, body)
		}
		// The new session binds a new CSRF token.
		var v struct {
			CSRFToken string `json:"csrf_token"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			return err
		}
		browsers[w].csrf = v.CSRFToken
		return nil
	})
}

// BenchmarkGetMe measures an authenticated read through the session cookie.
func BenchmarkGetMe(b *testing.B) {
	const workers = 8
	browsers := make([]*browser, workers)
	for i := range browsers {
		browsers[i] = register(b, fmt.Sprintf("me-%d-%d@bench.example.com", b.N, i))
	}
	measure(b, workers, func(w int) error {
		status, body, err := browsers[w].do(http.MethodGet, "/v1/me", nil)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("me: status %d: %s", status, body)
		}
		return nil
	})
}
