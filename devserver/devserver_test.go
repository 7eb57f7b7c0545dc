package devserver_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/loomcast/loomcast/devserver"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/workflows"
)

// sleeper waits on a durable timer and reports when it fired.
func sleeper(ctx workflow.Context, d time.Duration) (time.Time, error) {
	if err := workflow.Sleep(ctx, d); err != nil {
		return time.Time{}, err
	}
	return workflow.Now(ctx), nil
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func start(t *testing.T, dir, addr string) (*devserver.Server, client.Client, worker.Worker) {
	t.Helper()
	srv, err := devserver.Start(context.Background(), devserver.Options{
		DatabaseFile:     filepath.Join(dir, "temporal.db"),
		Address:          addr,
		Namespace:        "default",
		SearchAttributes: workflows.SearchAttributeTypes(),
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	c, err := client.Dial(client.Options{HostPort: addr})
	require.NoError(t, err)
	w := worker.New(c, "restart-test", worker.Options{})
	w.RegisterWorkflow(sleeper)
	require.NoError(t, w.Start())
	return srv, c, w
}

// TestRestartKeepsDataAndFiresTimersThatCameDueWhileDown stops the whole
// embedded stack while a workflow sleeps, keeps it down past the timer's
// due time, and starts it again on the same files.
func TestRestartKeepsDataAndFiresTimersThatCameDueWhileDown(t *testing.T) {
	ctx := context.Background()
	dir, addr := t.TempDir(), freeAddr(t)
	dbURL := "sqlite:" + filepath.Join(dir, "loomcast.db")

	store, err := models.Open(ctx, dbURL)
	require.NoError(t, err)
	_, err = store.Migrate(ctx)
	require.NoError(t, err)
	u := &models.User{Email: "kept@example.com"}
	require.NoError(t, store.CreateUser(ctx, u))
	require.NoError(t, store.Close())

	srv, c, w := start(t, dir, addr)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "sleeper-1", TaskQueue: "restart-test"}, sleeper, 2*time.Second)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		d, err := c.DescribeWorkflowExecution(ctx, "sleeper-1", "")
		return err == nil && len(d.GetPendingActivities()) == 0 && d.GetWorkflowExecutionInfo().GetHistoryLength() >= 5
	}, 10*time.Second, 50*time.Millisecond, "the timer is started before the stop")
	startedAt := time.Now()
	w.Stop()
	c.Close()
	srv.Stop()

	time.Sleep(3 * time.Second) // the timer comes due while everything is down

	srv, c, w = start(t, dir, addr)
	defer func() { w.Stop(); c.Close(); srv.Stop() }()

	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var firedAt time.Time
	require.NoError(t, c.GetWorkflow(waitCtx, "sleeper-1", run.GetRunID()).Get(waitCtx, &firedAt))
	require.True(t, firedAt.After(startedAt.Add(2*time.Second)), "the timer fired after its due time")

	d, err := c.DescribeWorkflowExecution(ctx, "sleeper-1", "")
	require.NoError(t, err)
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, d.GetWorkflowExecutionInfo().GetStatus())

	store, err = models.Open(ctx, dbURL)
	require.NoError(t, err)
	defer store.Close()
	got, err := store.UserByEmail(ctx, "kept@example.com")
	require.NoError(t, err)
	require.Equal(t, u.ID, got.ID)
}

// TestSearchAttributesAreRegistered checks that the namespace knows every
// Loomcast search attribute, so workflows can be started with them.
func TestSearchAttributesAreRegistered(t *testing.T) {
	ctx := context.Background()
	srv, c, w := start(t, t.TempDir(), freeAddr(t))
	defer func() { w.Stop(); c.Close(); srv.Stop() }()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "sa-1", TaskQueue: "restart-test",
		TypedSearchAttributes: workflows.SearchAttributes("user-1", workflows.KindAccountClosure, "user-1"),
	}, sleeper, time.Millisecond)
	require.NoError(t, err)
	require.NoError(t, run.Get(ctx, nil))
}

// The Web UI answers only requests for its own address: a page whose DNS
// name was rebound to this machine gets 421, the UI's own address its
// pages.
func TestWebUIAnswersOnlyItsOwnHost(t *testing.T) {
	addr, ui := freeAddr(t), freeAddr(t)
	srv, err := devserver.Start(context.Background(), devserver.Options{
		DatabaseFile:     filepath.Join(t.TempDir(), "temporal.db"),
		Address:          addr,
		Namespace:        "default",
		SearchAttributes: workflows.SearchAttributeTypes(),
		UIAddress:        ui,
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(srv.Stop)

	get := func(host string) int {
		req, err := http.NewRequest(http.MethodGet, "http://"+ui+"/", nil)
		require.NoError(t, err)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Eventually(t, func() bool { return get(ui) == http.StatusOK }, 30*time.Second, 100*time.Millisecond, "the UI answers its own address")
	_, port, _ := net.SplitHostPort(ui)
	require.Equal(t, http.StatusOK, get("localhost:"+port))
	for _, host := range []string{"evil.example:" + port, "evil.example", "127.0.0.1:1"} {
		require.Equal(t, http.StatusMisdirectedRequest, get(host), host)
	}
}

func TestUIHosts(t *testing.T) {
	require.ElementsMatch(t, []string{"127.0.0.1:8233", "localhost:8233", "[::1]:8233"},
		devserver.UIHosts("127.0.0.1:8233", "127.0.0.1:8233"))
	require.ElementsMatch(t, []string{"[::]:8233", ":8233", "127.0.0.1:8233", "localhost:8233", "[::1]:8233"},
		devserver.UIHosts("[::]:8233", ":8233"), "an unspecified address answers the loopback names")
	require.Equal(t, []string{"10.0.0.5:8233"}, devserver.UIHosts("10.0.0.5:8233", "10.0.0.5:8233"))
}
