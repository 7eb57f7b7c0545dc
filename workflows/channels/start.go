package channels

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/loomcast/loomcast/workflows"
)

// RefreshStartOptions start a channel's TokenRefresh process: a reconnect
// joins the running one, or starts a new one after the last ended.
func RefreshStartOptions(in RefreshInput) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       TokenRefreshWorkflowID(in.ChannelID),
		TaskQueue:                workflows.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    workflows.SearchAttributes(in.UserID, workflows.KindTokenRefresh, in.ChannelID),
	}
}

// DisconnectStartOptions start a channel's DisconnectChannel process. A
// running one is joined; a finished one may run again, since its steps
// are idempotent (a retry after a failure, or a channel connected and
// disconnected again).
func DisconnectStartOptions(in DisconnectInput) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       DisconnectWorkflowID(in.ChannelID),
		TaskQueue:                workflows.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    workflows.SearchAttributes(in.UserID, workflows.KindChannelDisconnect, in.ChannelID),
	}
}
