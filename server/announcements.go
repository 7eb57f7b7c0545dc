package server

import (
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/workflows/announcements"
)

// Bounds of an announcement.
const (
	maxAnnouncementSubject = 200
	maxAnnouncementText    = 20000
)

// announcementPurposes are the purposes an announcement can serve: the
// consents to mail.
var announcementPurposes = []string{models.PurposeProductUpdates, models.PurposeMarketingEmails}

// announcementRequest is the body of POST /v1/admin/announcements.
type announcementRequest struct {
	Purpose string `json:"purpose"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
}

// announcementView is an announcement as staff see it, with its progress.
type announcementView struct {
	ID         string     `json:"id"`
	Purpose    string     `json:"purpose"`
	Subject    string     `json:"subject"`
	Text       string     `json:"text"`
	Status     string     `json:"status"`
	Sent       int        `json:"sent"`
	Skipped    int        `json:"skipped"`
	Failed     int        `json:"failed"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at"`
	WorkflowID string     `json:"workflow_id"`
}

func toAnnouncementView(a models.Announcement) announcementView {
	v := announcementView{ID: a.ID, Purpose: a.Purpose, Subject: a.Subject, Text: a.Body, Status: a.Status,
		Sent: a.Sent, Skipped: a.Skipped, Failed: a.Failed, CreatedAt: a.CreatedAt.UTC(), WorkflowID: announcements.WorkflowID(a.ID)}
	if a.FinishedAt != nil {
		t := a.FinishedAt.UTC()
		v.FinishedAt = &t
	}
	return v
}

func (s *announcementsAPI) addRoutes(r routers) {
	r.staff.POST("/announcements", s.requireRole(models.RoleAdmin), s.createAnnouncement)
	r.staff.GET("/announcements/:id", s.requireRole(models.RoleAdmin), s.getAnnouncement)
}

// validate checks the request and trims its subject and text.
func (req *announcementRequest) validate() map[string]string {
	problems := map[string]string{}
	if !slices.Contains(announcementPurposes, req.Purpose) {
		problems["purpose"] = "must be " + strings.Join(announcementPurposes, " or ") + ": the consent the announcement is mailed under"
	}
	req.Subject = strings.TrimSpace(req.Subject)
	switch {
	case req.Subject == "":
		problems["subject"] = "is required"
	case utf8.RuneCountInString(req.Subject) > maxAnnouncementSubject:
		problems["subject"] = "must be at most 200 characters"
	case strings.ContainsAny(req.Subject, "\r\n\x00"):
		problems["subject"] = "must be a single line"
	}
	req.Text = strings.TrimSpace(req.Text)
	switch {
	case req.Text == "":
		problems["text"] = "is required: the plain-text body of the mail"
	case utf8.RuneCountInString(req.Text) > maxAnnouncementText:
		problems["text"] = "must be at most 20000 characters"
	}
	return problems
}

// createAnnouncement answers POST /v1/admin/announcements: one durable
// SendAnnouncement process mails it to every account whose person permits
// its purpose.
func (s *announcementsAPI) createAnnouncement(c *gin.Context) {
	staff := currentPrincipal(c).User
	var req announcementRequest
	if err := s.bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	done, ok := s.beginIdempotent(c, staff.ID, staff.ID, req)
	if !ok {
		return
	}
	defer done()
	if problems := req.validate(); len(problems) > 0 {
		s.fail(c, invalid(problems))
		return
	}
	ctx := c.Request.Context()
	a := &models.Announcement{Purpose: req.Purpose, Subject: req.Subject, Body: req.Text, Status: loomcast.AnnouncementSending, CreatedAt: s.now()}
	if err := s.store.CreateAnnouncement(ctx, a); err != nil {
		s.fail(c, err)
		return
	}
	in := announcements.Input{AnnouncementID: a.ID}
	if _, err := s.temporal.ExecuteWorkflow(ctx, announcements.StartOptions(in), announcements.SendAnnouncement, in); err != nil {
		s.log(c).Error("start announcement", "error", err.Error(), "announcement_id", a.ID)
		if err := s.store.DeleteAnnouncement(ctx, a.ID); err != nil {
			s.log(c).Error("delete unstarted announcement", "error", err.Error(), "announcement_id", a.ID)
		}
		s.fail(c, &Error{Code: CodeUnavailable, Message: "The announcement could not be started right now; nothing was sent. Try again in a minute.", RetryAfter: 30})
		return
	}
	s.securityEvent(ctx, "announcement_started", staff.ID, c.ClientIP(), "announcement "+a.ID+" under "+a.Purpose)
	c.Header("Location", "/v1/admin/announcements/"+a.ID)
	c.JSON(http.StatusCreated, toAnnouncementView(*a))
}

// getAnnouncement answers GET /v1/admin/announcements/{id}: its status
// and how many were mailed, skipped (the purpose gate refused) or failed.
func (s *announcementsAPI) getAnnouncement(c *gin.Context) {
	a, err := s.store.AnnouncementByID(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toAnnouncementView(a))
}
