package expiry

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/workflows"
)

// StartOptions start (with signal-with-start) a category's RetentionExpiry
// process, or reach the running one.
func StartOptions(c retention.Category) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       WorkflowID(c),
		TaskQueue:                workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    SearchAttributes(c),
	}
}
