package webhooks

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/loomcast/loomcast/workflows"
)

// ReconcileStartOptions start (with signal-with-start) a TikTok account's
// ReconcileTikTok process, or reach the running one.
func ReconcileStartOptions(openID, userID string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       ReconcileWorkflowID(openID),
		TaskQueue:                workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    workflows.SearchAttributes(userID, workflows.KindWebhookReconcile, openID),
	}
}
