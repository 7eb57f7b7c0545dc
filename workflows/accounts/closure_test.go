package accounts_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/retention/scheduler"
	"github.com/loomcast/loomcast/worker"
	"github.com/loomcast/loomcast/workflows/accounts"
)

// wakes records the categories woken.
type wakes struct {
	mu   sync.Mutex
	cats []retention.Category
}

func (w *wakes) Wake(_ context.Context, c retention.Category) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cats = append(w.cats, c)
	return nil
}

// The closure records the account closed at once and hands its purge to
// the retention engine, due when the 30-day grace ends (the engine's own
// tests follow the account to day 29 and day 31).
func TestAccountClosureStartsTheGraceClock(t *testing.T) {
	ctx := context.Background()
	store := modelstest.Open(t, models.SQLite)
	u := &models.User{Email: "closing@example.com"}
	require.NoError(t, store.CreateUser(ctx, u))

	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	w := &wakes{}
	worker.Register(env, worker.Deps{Store: store, Retention: &scheduler.Scheduler{Store: store, Waker: w}})
	closedAt := env.Now().UTC().Truncate(time.Second)

	env.ExecuteWorkflow(accounts.AccountClosure, accounts.ClosureInput{UserID: u.ID, ClosedAt: closedAt})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res accounts.ClosureResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.True(t, res.PurgeDue.Equal(closedAt.Add(30*24*time.Hour)), "due %s", res.PurgeDue)

	got, err := store.UserByID(ctx, u.ID)
	require.NoError(t, err, "kept during the grace, for export")
	require.NotNil(t, got.ClosedAt)
	items, err := store.UpcomingRetention(ctx, string(retention.ClosedAccounts), 10)
	require.NoError(t, err)
	require.Len(t, items, 1)
	require.Equal(t, u.ID, items[0].ObjectID)
	require.Equal(t, u.ID, items[0].UserID, "a hold on the user holds the purge")
	require.True(t, items[0].DueAt.Equal(closedAt.Add(30*24*time.Hour)))
	require.Equal(t, []retention.Category{retention.ClosedAccounts}, w.cats, "the engine's workflow is woken for the new item")
}
