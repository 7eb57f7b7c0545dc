package announcements

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/loomcast/loomcast/workflows"
)

// StartOptions start an announcement's SendAnnouncement process, once:
// the ID is the announcement's, and a second start is refused. It carries
// no user's search attribute: an announcement is nobody's process.
func StartOptions(in Input) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       WorkflowID(in.AnnouncementID),
		TaskQueue:                workflows.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		TypedSearchAttributes:    workflows.SearchAttributes("", workflows.KindAnnouncement, in.AnnouncementID),
	}
}
