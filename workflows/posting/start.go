package posting

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/loomcast/loomcast/workflows"
)

// StartOptions start a post's PublishPost process. A finished one may be
// started again (support's retry); a running one is never doubled, since
// the API creates the post before it starts the process.
func StartOptions(in PublishInput) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                    PublishWorkflowID(in.PostID),
		TaskQueue:             workflows.TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: workflows.SearchAttributes(in.UserID, workflows.KindPost, in.PostID),
	}
}
