package accounts

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/loomcast/loomcast/workflows"
)

// ClosureStartOptions start an account's AccountClosure process: once per
// account, and a repeated close joins the running one.
func ClosureStartOptions(in ClosureInput) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       ClosureWorkflowID(in.UserID),
		TaskQueue:                workflows.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    workflows.SearchAttributes(in.UserID, workflows.KindAccountClosure, in.UserID),
	}
}
