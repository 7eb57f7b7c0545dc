package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/models"
	wfprivacy "github.com/loomcast/loomcast/workflows/privacy"
)

// adminPrivacyView is a request as the privacy team sees it.
type adminPrivacyView struct {
	privacyRequestView
	UserID string `json:"user_id,omitempty"`
	Email  string `json:"email"`
	Source string `json:"source"`
}

func (s *privacyAPI) toAdminView(r models.PrivacyRequest) adminPrivacyView {
	return adminPrivacyView{privacyRequestView: s.toPrivacyView(r), UserID: r.UserID, Email: r.Email, Source: r.Source}
}

// adminPrivacyRequests answers GET /v1/admin/privacy/requests: the open
// requests, most urgent first, with their due date and days left.
func (s *privacyAPI) adminPrivacyRequests(c *gin.Context) {
	rs, err := s.store.OpenPrivacyRequests(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]adminPrivacyView, len(rs))
	for i, r := range rs {
		out[i] = s.toAdminView(r)
	}
	c.JSON(http.StatusOK, gin.H{"requests": out})
}

// adminPrivacyRequest answers GET /v1/admin/privacy/requests/{id}, with
// the request's audit log.
func (s *privacyAPI) adminPrivacyRequest(c *gin.Context) {
	ctx := c.Request.Context()
	r, err := s.store.PrivacyRequestByID(ctx, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	detail, err := s.adminRequestDetail(ctx, r)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, detail)
}

// auditEntry is one entry of a request's audit log, for staff.
type auditEntry struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Detail string    `json:"detail,omitempty"`
}

// adminRequestDetail is a request with its audit log, as staff read it.
type adminRequestDetail struct {
	Request adminPrivacyView `json:"request"`
	Audit   []auditEntry     `json:"audit"`
}

func (s *privacyAPI) adminRequestDetail(ctx context.Context, r models.PrivacyRequest) (adminRequestDetail, error) {
	audit, err := s.store.PrivacyAuditOf(ctx, r.ID)
	if err != nil {
		return adminRequestDetail{}, err
	}
	entries := make([]auditEntry, len(audit))
	for i, a := range audit {
		entries[i] = auditEntry{At: a.At.UTC(), Actor: a.Actor, Action: a.Action, Detail: a.Detail}
	}
	return adminRequestDetail{Request: s.toAdminView(r), Audit: entries}, nil
}

// adminReviewPrivacyRequest answers POST /v1/admin/privacy/requests/{id}/review.
func (s *privacyAPI) adminReviewPrivacyRequest(c *gin.Context) {
	var body struct {
		Approve *bool  `json:"approve"`
		Reason  string `json:"reason"`
	}
	if err := s.bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	if body.Approve == nil {
		s.fail(c, invalid(map[string]string{"approve": "is required: true to carry the request out, false to refuse it"}))
		return
	}
	if !*body.Approve && strings.TrimSpace(body.Reason) == "" {
		s.fail(c, invalid(map[string]string{"reason": "is required to refuse: the reasons are sent to the requester"}))
		return
	}
	if msg := tooLong(body.Reason, maxStaffText); msg != "" {
		s.fail(c, invalid(map[string]string{"reason": msg}))
		return
	}
	if _, err := s.store.PrivacyRequestByID(c.Request.Context(), c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	s.privacyUpdate(c, c.Param("id"), wfprivacy.UpdateReview, wfprivacy.ReviewDecision{Approve: *body.Approve, Reason: strings.TrimSpace(body.Reason),
		By: "staff:" + currentPrincipal(c).User.ID})
}

// adminExtendPrivacyRequest answers POST /v1/admin/privacy/requests/{id}/extend.
func (s *privacyAPI) adminExtendPrivacyRequest(c *gin.Context) {
	s.staffTextUpdate(c, "reason", "is required: it is sent to the requester with the new deadline", wfprivacy.UpdateExtend,
		func(text, by string) any { return wfprivacy.ExtendRequest{Reason: text, By: by} })
}

// adminClarifyPrivacyRequest answers POST /v1/admin/privacy/requests/{id}/clarify.
func (s *privacyAPI) adminClarifyPrivacyRequest(c *gin.Context) {
	s.staffTextUpdate(c, "question", "is required: it is sent to the requester", wfprivacy.UpdateClarify,
		func(text, by string) any { return wfprivacy.ClarifyRequest{Question: text, By: by} })
}

// maxStaffText bounds what staff write to a requester (reasons,
// questions): mailed as is, and carried by a workflow Update, which must
// stay far inside Temporal's payload limits.
const maxStaffText = 2000

// tooLong says what is wrong with text longer than limit characters, or
// "".
func tooLong(text string, limit int) string {
	if n := utf8.RuneCountInString(text); n > limit {
		return fmt.Sprintf("must be at most %d characters, not %d", limit, n)
	}
	return ""
}

// staffTextUpdate reads a body of one required text field and sends the
// request's process the Update that arg builds from it and the staff
// member.
func (s *privacyAPI) staffTextUpdate(c *gin.Context, field, required, update string, arg func(text, by string) any) {
	var body map[string]string
	if err := s.bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	text := strings.TrimSpace(body[field])
	if text == "" || len(body) > 1 {
		s.fail(c, invalid(map[string]string{field: required}))
		return
	}
	if msg := tooLong(text, maxStaffText); msg != "" {
		s.fail(c, invalid(map[string]string{field: msg}))
		return
	}
	if _, err := s.store.PrivacyRequestByID(c.Request.Context(), c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	s.privacyUpdate(c, c.Param("id"), update, arg(text, "staff:"+currentPrincipal(c).User.ID))
}

// adminOutbox answers GET /v1/admin/outbox: the mail make run kept
// instead of sending.
func (s *privacyAPI) adminOutbox(c *gin.Context) {
	box, ok := s.mail.(*mail.Outbox)
	if !ok {
		s.fail(c, errorf(CodeNotFound, "Mail is sent by SMTP here; there is no local outbox."))
		return
	}
	msgs, err := box.List(c.Request.Context(), 200)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !seesWholeMail(currentPrincipal(c).User) {
		msgs = redactForSupport(msgs)
	}
	c.JSON(http.StatusOK, gin.H{"messages": msgs})
}
