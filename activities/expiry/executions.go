package expiry

import (
	"context"
	"errors"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/loomcast/loomcast/workflows"
)

// TemporalExecutions deletes executions through a Temporal client.
type TemporalExecutions struct {
	Client    client.Client
	Namespace string
}

// DeleteUserExecutions deletes every execution tagged with the user's ID,
// running or closed, with its history. It returns how many it asked to
// delete; deletion of one already gone succeeds.
func (t TemporalExecutions) DeleteUserExecutions(ctx context.Context, userID string) (int, error) {
	query := fmt.Sprintf("%s = %q", workflows.UserIDKey.GetName(), userID)
	n := 0
	var token []byte
	for {
		resp, err := t.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 100, NextPageToken: token})
		if err != nil {
			return n, fmt.Errorf("list executions: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			_, err := t.Client.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
				Namespace:         t.Namespace,
				WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: e.GetExecution().GetWorkflowId(), RunId: e.GetExecution().GetRunId()},
			})
			if err != nil && !isNotFound(err) {
				return n, fmt.Errorf("delete execution %s: %w", e.GetExecution().GetWorkflowId(), err)
			}
			n++
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			return n, nil
		}
	}
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
