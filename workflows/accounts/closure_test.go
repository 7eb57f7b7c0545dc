package accounts_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/worker"
	"github.com/loomcast/loomcast/workflows/accounts"
)

func TestAccountClosure(t *testing.T) {
	ctx := context.Background()
	store := modelstest.Open(t, models.SQLite)
	u := &models.User{Email: "closing@example.com"}
	require.NoError(t, store.CreateUser(ctx, u))

	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	worker.Register(env, worker.Deps{Store: store})
	closedAt := env.Now().UTC()

	exists := func() bool {
		_, err := store.UserByID(ctx, u.ID)
		if err == nil {
			return true
		}
		require.ErrorIs(t, err, models.ErrNotFound)
		return false
	}
	var onDay29, onDay29Closed bool
	env.RegisterDelayedCallback(func() {
		onDay29 = exists()
		got, err := store.UserByID(ctx, u.ID)
		onDay29Closed = err == nil && got.ClosedAt != nil
		due, err := env.QueryWorkflow(accounts.QueryPurgeDue)
		require.NoError(t, err)
		var dueAt time.Time
		require.NoError(t, due.Get(&dueAt))
		require.WithinDuration(t, closedAt.Add(30*24*time.Hour), dueAt, time.Second)
	}, 29*24*time.Hour)

	env.ExecuteWorkflow(accounts.AccountClosure, accounts.ClosureInput{UserID: u.ID, ClosedAt: closedAt})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res accounts.ClosureResult
	require.NoError(t, env.GetWorkflowResult(&res))

	require.True(t, onDay29, "the account is kept during the 30-day export grace")
	require.True(t, onDay29Closed, "the account is marked closed during the grace")
	require.False(t, exists(), "the account is purged after the grace")
	require.WithinDuration(t, closedAt.Add(accounts.Grace), res.PurgedAt, time.Second)
}
