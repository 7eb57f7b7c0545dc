package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/privacy/calendar"
	wfprivacy "github.com/loomcast/loomcast/workflows/privacy"
)

// privacyRequestBody files a request.
type privacyRequestBody struct {
	Type     string            `json:"type"`
	Region   string            `json:"region"`
	Email    string            `json:"email"`
	Password string            `json:"password"`
	Fields   map[string]string `json:"fields"`
	Purposes []string          `json:"purposes"`
	// Agent files for the consumer at Email (public form only).
	Agent *agentBody `json:"agent"`
}

// privacyRequestView is a request as its requester sees it.
type privacyRequestView struct {
	ID            string     `json:"id"`
	Type          string     `json:"type"`
	Right         string     `json:"right"`
	Law           string     `json:"law"`
	Regime        string     `json:"regime"`
	Status        string     `json:"status"`
	ReceivedAt    time.Time  `json:"received_at"`
	VerifiedAt    *time.Time `json:"verified_at"`
	DeadlineAt    *time.Time `json:"deadline_at"`
	DaysLeft      *int       `json:"days_left,omitempty"`
	Extended      bool       `json:"extended"`
	ExtensionWhy  string     `json:"extension_reason,omitempty"`
	ClosedAt      *time.Time `json:"closed_at"`
	Answer        string     `json:"answer,omitempty"`
	Progress      *progress  `json:"progress,omitempty"`
	ExportExpires *time.Time `json:"export_expires_at,omitempty"`
	Joined        bool       `json:"joined,omitempty"`
}

type progress struct {
	Done  int `json:"done"`
	Total int `json:"total"`
}

func (s *privacyAPI) toPrivacyView(r models.PrivacyRequest) privacyRequestView {
	right, _ := wfprivacy.RightNamed(r.FiledAs)
	v := privacyRequestView{ID: r.ID, Type: r.Type, Right: r.FiledAs, Law: right.Law, Regime: r.Regime, Status: r.Status,
		ReceivedAt: r.ReceivedAt.UTC(), VerifiedAt: utcPtr(r.VerifiedAt), DeadlineAt: utcPtr(r.DeadlineAt),
		Extended: r.ExtendedAt != nil, ExtensionWhy: r.ExtensionReason, ClosedAt: utcPtr(r.ClosedAt), Answer: r.Answer,
		ExportExpires: utcPtr(r.ExportExpiresAt)}
	if r.DeadlineAt != nil && r.ClosedAt == nil {
		days := daysLeft(*r.DeadlineAt, s.now())
		v.DaysLeft = &days
	}
	if r.ProgressTotal > 0 {
		v.Progress = &progress{Done: r.ProgressDone, Total: r.ProgressTotal}
	}
	return v
}

// daysLeft counts the calendar days (UTC) from now to the deadline's day:
// 0 on the last day, negative once overdue.
func daysLeft(deadline, now time.Time) int {
	d := time.Date(deadline.UTC().Year(), deadline.UTC().Month(), deadline.UTC().Day(), 0, 0, 0, 0, time.UTC)
	n := time.Date(now.UTC().Year(), now.UTC().Month(), now.UTC().Day(), 0, 0, 0, 0, time.UTC)
	return int(d.Sub(n).Hours() / 24)
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// parseRequest checks the type, region and details of a request body.
func parseRequest(body privacyRequestBody) (wfprivacy.Right, calendar.Regime, string, *Error) {
	problems := map[string]string{}
	right, ok := wfprivacy.RightNamed(body.Type)
	if !ok {
		names := make([]string, len(wfprivacy.Rights))
		for i, r := range wfprivacy.Rights {
			names[i] = r.Name
		}
		problems["type"] = "must be one of: " + strings.Join(names, ", ")
	}
	regime, err := calendar.RegimeForRegion(body.Region)
	if err != nil {
		problems["region"] = err.Error()
	}
	if ok && right.Type == wfprivacy.TypeRectification {
		if len(body.Fields) == 0 {
			problems["fields"] = "name the profile fields to correct and their right values: display_name, timezone, email"
		}
		for k, v := range body.Fields {
			switch k {
			case "display_name":
				if msg := validateDisplayName(v); msg != "" {
					problems["fields."+k] = msg
				}
			case "timezone":
				if msg := validateTimezone(v); msg != "" {
					problems["fields."+k] = msg
				}
			case "email":
				// Corrected only once the new address is confirmed with
				// a code mailed to it (package emailchange).
				if _, msg := validateEmail(v); msg != "" {
					problems["fields."+k] = msg
				}
			default:
				problems["fields."+k] = "cannot be corrected this way; correctable: display_name, timezone, email"
			}
		}
	}
	for _, p := range body.Purposes {
		if !slices.Contains(models.Purposes, p) {
			problems["purposes"] = "each must be one of: " + strings.Join(models.Purposes, ", ")
		}
	}
	if len(problems) > 0 {
		return right, regime, "", invalid(problems)
	}
	details, _ := json.Marshal(wfprivacy.Details{Fields: body.Fields, Purposes: body.Purposes})
	return right, regime, string(details), nil
}

// createPrivacyRequest answers POST /v1/privacy/requests: a signed-in
// person files a request about their own account.
func (s *privacyAPI) createPrivacyRequest(c *gin.Context) {
	p := currentPrincipal(c)
	var body privacyRequestBody
	if err := s.bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	// The password proves who asks; it is not part of what is asked.
	fingerprint := body
	fingerprint.Password = ""
	done, ok := s.beginIdempotent(c, p.User.ID, p.User.ID, fingerprint)
	if !ok {
		return
	}
	defer done()
	if body.Email != "" && models.NormalizeEmail(body.Email) != p.User.Email {
		s.fail(c, &Error{Code: CodeForbidden, Message: "A signed-in request is about your own account; for someone else's data, that person must file it."})
		return
	}
	if body.Agent != nil {
		s.fail(c, invalid(map[string]string{"agent": "an authorised agent files through the public form, POST /v1/privacy/requests/public, not from an account"}))
		return
	}
	right, regime, details, apiErr := parseRequest(body)
	if apiErr != nil {
		s.fail(c, apiErr)
		return
	}
	if wfprivacy.NeedsRecentAuth(right.Type) {
		if err := s.recentAuth(c, p, body.Password); err != nil {
			s.fail(c, err)
			return
		}
	}
	now := s.now()
	// Verified at once: the deadline is known now (the process records the
	// same one).
	deadline := wfprivacy.NewClock(regime, now).Deadline()
	r := &models.PrivacyRequest{UserID: p.User.ID, Email: p.User.Email, Type: right.Type, FiledAs: right.Name, Regime: string(regime),
		Region: strings.ToUpper(body.Region), Source: wfprivacy.SourceAccount, Status: loomcast.PrivacyReceived, Details: details, ReceivedAt: now, DeadlineAt: &deadline}
	s.filePrivacyRequest(c, r, right, true)
}

// filePrivacyRequest stores the request (or joins the open identical one)
// and starts its process.
func (s *privacyAPI) filePrivacyRequest(c *gin.Context, r *models.PrivacyRequest, right wfprivacy.Right, verified bool) {
	joined, ok := s.fileRequest(c, r, right, verified, nil)
	if !ok {
		return
	}
	v := s.toPrivacyView(*r)
	v.Joined = joined
	status := http.StatusAccepted
	if joined {
		status = http.StatusOK
	}
	c.JSON(status, v)
}

// fileRequest stores the request, or joins the open one of the same type
// by the same email (r then holds that one), runs record on it when record
// is not nil, and starts the process of a new one. A request whose process
// cannot start is closed as such. When ok is false the caller has been
// answered.
func (s *privacyAPI) fileRequest(c *gin.Context, r *models.PrivacyRequest, right wfprivacy.Right, verified bool,
	record func(ctx context.Context, joined bool) error) (joined, ok bool) {
	ctx := c.Request.Context()
	joined, err := s.store.CreatePrivacyRequest(ctx, r)
	if err != nil {
		s.fail(c, err)
		return joined, false
	}
	if record != nil {
		if err := record(ctx, joined); err != nil {
			if !joined {
				_ = s.store.UpdatePrivacyRequest(context.WithoutCancel(ctx), r.ID, models.PrivacyFields{Status: models.Ptr(loomcast.PrivacyClosed), Answer: models.Ptr("could not be recorded")})
			}
			s.fail(c, err)
			return joined, false
		}
	}
	if !joined {
		if err := s.startPrivacyWorkflow(ctx, *r, right, verified); err != nil {
			_ = s.store.UpdatePrivacyRequest(context.WithoutCancel(ctx), r.ID, models.PrivacyFields{Status: models.Ptr(loomcast.PrivacyClosed), Answer: models.Ptr("could not be started")})
			s.log(c).Error("start privacy request", "request_id", r.ID, "error", err.Error())
			s.fail(c, &Error{Code: CodeUnavailable, Message: "The request could not be filed right now; nothing was recorded. Try again in a minute.", RetryAfter: 30})
			return joined, false
		}
	}
	return joined, true
}

func (s *privacyAPI) startPrivacyWorkflow(ctx context.Context, r models.PrivacyRequest, right wfprivacy.Right, verified bool) error {
	repeated, err := s.repeatedRequest(ctx, r)
	if err != nil {
		return err
	}
	// Data under a legal hold may be kept despite an erasure request (GDPR
	// art. 17(3)(e)): staff decide, with the hold's reason in view.
	held := false
	if r.Type == wfprivacy.TypeErasure && r.UserID != "" {
		if held, err = s.store.UserHeld(ctx, r.UserID); err != nil {
			return err
		}
	}
	in := wfprivacy.Input{RequestID: r.ID, UserID: r.UserID, Type: r.Type, Regime: calendar.Regime(r.Regime), ReceivedAt: r.ReceivedAt,
		Verified: verified, NeedsReview: right.Review || repeated || held}
	_, err = s.temporal.ExecuteWorkflow(ctx, wfprivacy.StartOptions(in), wfprivacy.PrivacyRequest, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil
	}
	return err
}

// repeatedRequest reports a request of the same type by the same email
// answered in the last 30 days: staff judge whether it is manifestly
// unfounded or excessive (GDPR art. 12(5)).
func (s *privacyAPI) repeatedRequest(ctx context.Context, r models.PrivacyRequest) (bool, error) {
	return s.store.RepeatsAnsweredRequest(ctx, r, s.now().AddDate(0, 0, -30))
}

// ownPrivacyRequest loads one of the signed-in user's requests.
func (s *privacyAPI) ownPrivacyRequest(c *gin.Context) (models.PrivacyRequest, bool) {
	r, err := s.store.PrivacyRequestByID(c.Request.Context(), c.Param("id"))
	if err != nil || r.UserID != currentPrincipal(c).User.ID {
		s.fail(c, errorf(CodeNotFound, "You have no privacy request %q.", c.Param("id")))
		return r, false
	}
	return r, true
}

func (s *privacyAPI) getPrivacyRequest(c *gin.Context) {
	if r, ok := s.ownPrivacyRequest(c); ok {
		c.JSON(http.StatusOK, s.toPrivacyView(r))
	}
}

func (s *privacyAPI) listPrivacyRequests(c *gin.Context) {
	rs, err := s.store.UserPrivacyRequests(c.Request.Context(), currentPrincipal(c).User.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]privacyRequestView, len(rs))
	for i, r := range rs {
		out[i] = s.toPrivacyView(r)
	}
	c.JSON(http.StatusOK, gin.H{"requests": out})
}

// withdrawPrivacyRequest answers POST /v1/privacy/requests/{id}/withdraw.
func (s *privacyAPI) withdrawPrivacyRequest(c *gin.Context) {
	r, ok := s.ownPrivacyRequest(c)
	if !ok {
		return
	}
	s.privacyUpdate(c, r.ID, wfprivacy.UpdateWithdraw, wfprivacy.WithdrawRequest{By: "requester"})
}

// clarifyPrivacyRequest answers POST /v1/privacy/requests/{id}/clarify:
// the requester answers staff's question, and the legal clock runs again.
func (s *privacyAPI) clarifyPrivacyRequest(c *gin.Context) {
	r, ok := s.ownPrivacyRequest(c)
	if !ok {
		return
	}
	var body struct {
		Answer string `json:"answer"`
	}
	if err := s.bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	if strings.TrimSpace(body.Answer) == "" || len(body.Answer) > 5000 {
		s.fail(c, invalid(map[string]string{"answer": "is required, at most 5000 characters"}))
		return
	}
	s.privacyUpdate(c, r.ID, wfprivacy.UpdateClarified, wfprivacy.Clarification{Answer: strings.TrimSpace(body.Answer), By: "requester"})
}

// privacyUpdate sends an Update to a request's process and answers with
// the request as it then is.
func (s *privacyAPI) privacyUpdate(c *gin.Context, id, name string, arg any) {
	ctx := c.Request.Context()
	h, err := s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: wfprivacy.WorkflowID(id), UpdateName: name,
		Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		s.fail(c, errorf(CodeConflict, "This request is finished."))
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	r, err := s.store.PrivacyRequestByID(ctx, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, s.toPrivacyView(r))
}

func (s *privacyAPI) addRoutes(r routers) {
	r.public.POST("/privacy/requests/public", s.createPublicPrivacyRequest)
	r.public.POST("/privacy/requests/public/:id/verify", s.verifyPrivacyCode)
	r.public.POST("/privacy/requests/public/:id/code", s.resendPrivacyCode)
	r.public.GET("/privacy/exports/:id", s.downloadExport)

	r.user.POST("/privacy/requests", s.createPrivacyRequest)
	r.user.GET("/privacy/requests", s.listPrivacyRequests)
	r.user.GET("/privacy/requests/:id", s.getPrivacyRequest)
	r.user.POST("/privacy/requests/:id/withdraw", s.withdrawPrivacyRequest)
	r.user.POST("/privacy/requests/:id/clarify", s.clarifyPrivacyRequest)
	r.user.DELETE("/me/restriction", s.liftMyRestriction)

	privacyTeam := s.requireRole(models.RolePrivacy)
	r.staff.GET("/privacy/requests", privacyTeam, s.adminPrivacyRequests)
	r.staff.GET("/privacy/requests/:id", privacyTeam, s.adminPrivacyRequest)
	r.staff.POST("/privacy/requests/:id/review", privacyTeam, s.adminReviewPrivacyRequest)
	r.staff.POST("/privacy/requests/:id/extend", privacyTeam, s.adminExtendPrivacyRequest)
	r.staff.POST("/privacy/requests/:id/clarify", privacyTeam, s.adminClarifyPrivacyRequest)
	r.staff.DELETE("/users/:id/restriction", privacyTeam, s.adminLiftRestriction)
	r.staff.POST("/users/:id/child-report", privacyTeam, s.adminChildReport)
	r.staff.GET("/outbox", s.requireRole(models.RolePrivacy, models.RoleSupport), s.adminOutbox)
}
