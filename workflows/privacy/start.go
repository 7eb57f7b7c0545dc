package privacy

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/loomcast/loomcast/workflows"
)

// StartOptions start a request's PrivacyRequest process, once per request:
// starting it again answers AlreadyStarted, which the caller may ignore.
func StartOptions(in Input) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                    WorkflowID(in.RequestID),
		TaskQueue:             workflows.TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: workflows.SearchAttributes(in.UserID, workflows.KindPrivacyRequest, in.RequestID),
	}
}
