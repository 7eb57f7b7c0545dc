// Package temporalexec is the Temporal adapter that finds, stops and
// deletes the workflow executions carrying a user's data (their search
// attributes name the user), for erasure and the closed-account purge.
package temporalexec

import (
	"context"
	"errors"
	"fmt"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/loomcast/loomcast/workflows"
)

// Executions deletes executions through a Temporal client.
type Executions struct {
	Client    client.Client
	Namespace string
	// KeepRunning is the workflow ID prefix of running executions never
	// deleted or stopped here: the data-subject request process that asks
	// for the deletion ("dsr-").
	KeepRunning string
}

func (t Executions) kept(e *workflowpb.WorkflowExecutionInfo) bool {
	return t.KeepRunning != "" && e.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING &&
		strings.HasPrefix(e.GetExecution().GetWorkflowId(), t.KeepRunning)
}

// TerminateUserExecutions stops the user's running executions (but those
// with keepPrefix, and KeepRunning), so that nothing writes their data
// while it is being erased.
func (t Executions) TerminateUserExecutions(ctx context.Context, userID, keepPrefix string) (int, error) {
	query := fmt.Sprintf("%s = %q AND ExecutionStatus = 'Running'", workflows.UserIDKey.GetName(), userID)
	resp, err := t.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 1000})
	if err != nil {
		return 0, fmt.Errorf("list running executions: %w", err)
	}
	n := 0
	for _, e := range resp.GetExecutions() {
		id := e.GetExecution().GetWorkflowId()
		if t.kept(e) || (keepPrefix != "" && strings.HasPrefix(id, keepPrefix)) {
			continue
		}
		err := t.Client.TerminateWorkflow(ctx, id, e.GetExecution().GetRunId(), "the person's data is being erased")
		if err != nil && !isNotFound(err) {
			return n, fmt.Errorf("stop %s: %w", id, err)
		}
		n++
	}
	return n, nil
}

// DeleteUserExecutions deletes every execution tagged with the user's ID,
// running or closed, with its history. It returns how many it asked to
// delete; deletion of one already gone succeeds.
func (t Executions) DeleteUserExecutions(ctx context.Context, userID string) (int, error) {
	query := fmt.Sprintf("%s = %q", workflows.UserIDKey.GetName(), userID)
	n := 0
	var token []byte
	for {
		resp, err := t.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 100, NextPageToken: token})
		if err != nil {
			return n, fmt.Errorf("list executions: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			if t.kept(e) {
				continue
			}
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
