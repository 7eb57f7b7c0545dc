package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/workflows"
)

// workflowView is one durable process as staff see it.
type workflowView struct {
	WorkflowID string     `json:"workflow_id"`
	RunID      string     `json:"run_id"`
	Type       string     `json:"type"`
	Kind       string     `json:"kind"`
	ObjectID   string     `json:"object_id"`
	Status     string     `json:"status"`
	StartTime  time.Time  `json:"start_time"`
	CloseTime  *time.Time `json:"close_time"`
}

// workflowList answers GET /v1/admin/users/{id}/workflows.
type workflowList struct {
	Workflows  []workflowView `json:"workflows"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// adminUserWorkflows lists a user's durable processes from Temporal
// visibility, by the LoomcastUserID search attribute.
func (s *opsAPI) adminUserWorkflows(c *gin.Context) {
	ctx := c.Request.Context()
	userID := c.Param("id")
	if _, err := s.store.UserByID(ctx, userID); err != nil {
		s.fail(c, err)
		return
	}
	token, err := s.openCursor("workflows:"+userID, c.Query("cursor"))
	if err != nil {
		s.fail(c, err)
		return
	}
	resp, err := s.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query:         fmt.Sprintf("%s = %q", workflows.UserIDKey.GetName(), userID),
		PageSize:      100,
		NextPageToken: token,
	})
	if err != nil {
		s.fail(c, fmt.Errorf("list workflows: %w", err))
		return
	}
	out := workflowList{Workflows: []workflowView{}, NextCursor: s.signCursor("workflows:"+userID, resp.GetNextPageToken())}
	for _, e := range resp.GetExecutions() {
		v := workflowView{
			WorkflowID: e.GetExecution().GetWorkflowId(), RunID: e.GetExecution().GetRunId(), Type: e.GetType().GetName(),
			Status:    strings.ToLower(strings.TrimPrefix(e.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_")),
			StartTime: e.GetStartTime().AsTime(),
		}
		if e.GetCloseTime() != nil {
			t := e.GetCloseTime().AsTime()
			v.CloseTime = &t
		}
		fields := e.GetSearchAttributes().GetIndexedFields()
		v.Kind = keyword(fields[workflows.KindKey.GetName()].GetData())
		v.ObjectID = keyword(fields[workflows.ObjectIDKey.GetName()].GetData())
		out.Workflows = append(out.Workflows, v)
	}
	c.JSON(http.StatusOK, out)
}

// plausibleWorkflowID reports whether id could be one of Loomcast's
// workflow IDs (printable ASCII, at most 255 bytes); anything else is
// refused as not found before it reaches Temporal.
func plausibleWorkflowID(id string) bool {
	if id == "" || len(id) > 255 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// keyword decodes a JSON-encoded keyword search attribute value.
func keyword(b []byte) string { return strings.Trim(string(b), `"`) }

// historyEvent is one readable event of a workflow history: names, times,
// attempts and failures, but never payloads.
type historyEvent struct {
	EventID  int64     `json:"event_id"`
	Time     time.Time `json:"time"`
	Type     string    `json:"type"`
	Activity string    `json:"activity,omitempty"`
	Attempt  int32     `json:"attempt,omitempty"`
	Timer    string    `json:"timer,omitempty"`
	Name     string    `json:"name,omitempty"`
	Failure  string    `json:"failure,omitempty"`
}

// historyView answers GET /v1/admin/workflows/{workflow_id}/history.
type historyView struct {
	WorkflowID string         `json:"workflow_id"`
	Events     []historyEvent `json:"events"`
}

// adminWorkflowHistory returns the latest run's history in readable form.
// Payloads (inputs, results) are left out on purpose: staff see what
// happened and why, not personal data, and no token is in a workflow anyway.
func (s *opsAPI) adminWorkflowHistory(c *gin.Context) {
	ctx := c.Request.Context()
	id := c.Param("workflow_id")
	if !plausibleWorkflowID(id) {
		s.fail(c, errorf(CodeNotFound, "No workflow has this ID."))
		return
	}
	iter := s.temporal.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	out := historyView{WorkflowID: id, Events: []historyEvent{}}
	scheduled := map[int64]string{}
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			var nf *serviceerror.NotFound
			if errors.As(err, &nf) {
				s.fail(c, errorf(CodeNotFound, "No workflow has this ID."))
				return
			}
			s.fail(c, fmt.Errorf("workflow history: %w", err))
			return
		}
		out.Events = append(out.Events, readableEvent(ev, scheduled))
	}
	c.JSON(http.StatusOK, out)
}

func readableEvent(ev *historypb.HistoryEvent, scheduled map[int64]string) historyEvent {
	h := historyEvent{EventID: ev.GetEventId(), Time: ev.GetEventTime().AsTime(),
		Type: strings.TrimPrefix(ev.GetEventType().String(), "EVENT_TYPE_")}
	if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
		h.Activity = a.GetActivityType().GetName()
		scheduled[ev.GetEventId()] = h.Activity
	}
	if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
		h.Activity, h.Attempt = scheduled[a.GetScheduledEventId()], a.GetAttempt()
		if f := a.GetLastFailure(); f != nil {
			h.Failure = f.GetMessage()
		}
	}
	if a := ev.GetActivityTaskCompletedEventAttributes(); a != nil {
		h.Activity = scheduled[a.GetScheduledEventId()]
	}
	if a := ev.GetActivityTaskFailedEventAttributes(); a != nil {
		h.Activity, h.Failure = scheduled[a.GetScheduledEventId()], a.GetFailure().GetMessage()
	}
	if a := ev.GetActivityTaskTimedOutEventAttributes(); a != nil {
		h.Activity, h.Failure = scheduled[a.GetScheduledEventId()], a.GetFailure().GetMessage()
	}
	if a := ev.GetTimerStartedEventAttributes(); a != nil {
		h.Timer = a.GetStartToFireTimeout().AsDuration().String()
	}
	if a := ev.GetWorkflowExecutionSignaledEventAttributes(); a != nil {
		h.Name = a.GetSignalName()
	}
	if a := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes(); a != nil {
		h.Name = a.GetAcceptedRequest().GetInput().GetName()
	}
	if a := ev.GetWorkflowExecutionFailedEventAttributes(); a != nil {
		h.Failure = a.GetFailure().GetMessage()
	}
	if a := ev.GetStartChildWorkflowExecutionInitiatedEventAttributes(); a != nil {
		h.Name = a.GetWorkflowType().GetName()
	}
	return h
}

func (s *opsAPI) addRoutes(r routers) {
	r.staff.GET("/users/:id/workflows", s.requireRole(models.RoleSupport), s.adminUserWorkflows)
	r.staff.GET("/workflows/:workflow_id/history", s.requireRole(models.RoleSupport), s.adminWorkflowHistory)
	r.staff.GET("/retention", s.adminRetention)
	r.staff.GET("/retention/:category/upcoming", s.adminRetentionUpcoming)
	r.staff.GET("/holds", s.requireRole(models.RolePrivacy), s.adminListHolds)
	r.staff.POST("/holds", s.requireRole(models.RolePrivacy), s.adminPlaceHold)
	r.staff.DELETE("/holds/:id", s.requireRole(models.RolePrivacy), s.adminReleaseHold)
}
