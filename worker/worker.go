// Package worker wires Loomcast's workflows and activities into a Temporal
// worker. Names are registered bare, so they are unique across the worker.
package worker

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	accountsact "github.com/loomcast/loomcast/activities/accounts"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/workflows"
	"github.com/loomcast/loomcast/workflows/accounts"
)

// Deps are the dependencies of every activity.
type Deps struct {
	Store *models.Store
}

// Register adds every workflow and activity to r.
func Register(r sdkworker.Registry, d Deps) {
	r.RegisterWorkflowWithOptions(accounts.AccountClosure, workflow.RegisterOptions{Name: "AccountClosure"})

	acc := &accountsact.Activities{Store: d.Store}
	r.RegisterActivityWithOptions(acc.RecordAccountClosure, activity.RegisterOptions{Name: accounts.RecordAccountClosureActivity})
	r.RegisterActivityWithOptions(acc.PurgeAccount, activity.RegisterOptions{Name: accounts.PurgeAccountActivity})
}

// New returns a worker on Loomcast's task queue with everything registered.
func New(c client.Client, d Deps) sdkworker.Worker {
	w := sdkworker.New(c, workflows.TaskQueue, sdkworker.Options{})
	Register(w, d)
	return w
}
