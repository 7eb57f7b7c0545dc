package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/retention/scheduler"
	"github.com/loomcast/loomcast/workflows/expiry"
	wfprivacy "github.com/loomcast/loomcast/workflows/privacy"
)

// retentionCategoryView is one row of the staff retention view: the policy
// and how its enforcement stands.
type retentionCategoryView struct {
	Category       string     `json:"category"`
	Data           string     `json:"data"`
	ClockStartsAt  string     `json:"clock_starts_at"`
	Period         string     `json:"period"`
	Action         string     `json:"action"`
	Source         string     `json:"source"`
	Enforced       bool       `json:"enforced"`
	Enforcement    string     `json:"enforcement"`
	WorkflowID     string     `json:"workflow_id,omitempty"`
	Pending        int64      `json:"pending"`
	Held           int64      `json:"held"`
	Failing        int64      `json:"failing"`
	NextDueAt      *time.Time `json:"next_due_at"`
	DeletedLastDay int64      `json:"deleted_last_day"`
	FailedLastDay  int64      `json:"failed_last_day"`
}

// adminRetention answers GET /v1/admin/retention: per category, what is
// pending, what is next, what went in the last day and what failed.
func (s *opsAPI) adminRetention(c *gin.Context) {
	ctx := c.Request.Context()
	stats, err := s.store.RetentionStatuses(ctx, s.now().Add(-24*time.Hour))
	if err != nil {
		s.fail(c, err)
		return
	}
	holds, err := s.store.Holds(ctx, false)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]retentionCategoryView, 0, len(retention.Policies))
	for _, p := range retention.Policies {
		v := retentionCategoryView{Category: string(p.Category), Data: p.Data, ClockStartsAt: string(p.Starts),
			Period: p.Period.String(), Action: string(p.Action), Source: p.Source}
		if p.Statutory {
			v.Period += " plus the statutory keeping period"
		}
		v.Enforcement = scheduler.Elsewhere[p.Category]
		for _, e := range scheduler.Enforced {
			if e == p.Category {
				v.Enforced, v.WorkflowID = true, expiry.WorkflowID(e)
				v.Enforcement = "retention engine: " + expiry.WorkflowName + " " + v.WorkflowID
			}
		}
		if b, ok := scheduler.BucketOf(p.Category); ok {
			v.Enforcement += "; each row is deleted when its own period has run, within seconds (its rows share one item per " +
				b.Width.String() + " bucket)"
		}
		if st := stats[string(p.Category)]; st != nil {
			v.Pending, v.Held, v.Failing, v.NextDueAt = st.Pending, st.Held, st.Failing, st.NextDue
			v.DeletedLastDay, v.FailedLastDay = st.DeletedSince, st.FailedSince
		}
		out = append(out, v)
	}
	c.JSON(http.StatusOK, gin.H{"categories": out, "active_holds": len(holds)})
}

// retentionItemView is an item waiting for its due time.
type retentionItemView struct {
	ObjectID  string    `json:"object_id"`
	UserID    string    `json:"user_id,omitempty"`
	DueAt     time.Time `json:"due_at"`
	Held      bool      `json:"held"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error,omitempty"`
}

// adminRetentionUpcoming answers GET /v1/admin/retention/{category}/upcoming.
func (s *opsAPI) adminRetentionUpcoming(c *gin.Context) {
	category, ok := knownCategory(c.Param("category"))
	if !ok {
		s.fail(c, errorf(CodeNotFound, "There is no retention category %q; GET /v1/admin/retention lists them.", c.Param("category")))
		return
	}
	limit := 50
	if q := c.Query("limit"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > 500 {
			s.fail(c, invalid(map[string]string{"limit": "must be a whole number from 1 to 500"}))
			return
		}
		limit = n
	}
	items, err := s.store.UpcomingRetention(c.Request.Context(), string(category), limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]retentionItemView, len(items))
	for i, it := range items {
		out[i] = retentionItemView{ObjectID: it.ObjectID, UserID: it.UserID, DueAt: it.DueAt.UTC(), Held: it.Held, Attempts: it.Attempts, LastError: it.LastError}
	}
	c.JSON(http.StatusOK, gin.H{"category": category, "items": out})
}

func knownCategory(name string) (retention.Category, bool) {
	for _, p := range retention.Policies {
		if string(p.Category) == name {
			return p.Category, true
		}
	}
	return "", false
}

// holdView is a legal hold as staff see it.
type holdView struct {
	ID         string     `json:"id"`
	UserID     string     `json:"user_id,omitempty"`
	Category   string     `json:"category,omitempty"`
	ObjectID   string     `json:"object_id,omitempty"`
	Reason     string     `json:"reason"`
	PlacedBy   string     `json:"placed_by"`
	PlacedAt   time.Time  `json:"placed_at"`
	ReleasedBy string     `json:"released_by,omitempty"`
	ReleasedAt *time.Time `json:"released_at"`
}

func toHoldView(h models.LegalHold) holdView {
	v := holdView{ID: h.ID, UserID: h.UserID, Category: h.Category, ObjectID: h.ObjectID, Reason: h.Reason,
		PlacedBy: h.PlacedBy, PlacedAt: h.PlacedAt.UTC(), ReleasedBy: h.ReleasedBy}
	if h.ReleasedAt != nil {
		t := h.ReleasedAt.UTC()
		v.ReleasedAt = &t
	}
	return v
}

type holdRequest struct {
	UserID   string `json:"user_id"`
	Category string `json:"category"`
	ObjectID string `json:"object_id"`
	Reason   string `json:"reason"`
}

// adminPlaceHold answers POST /v1/admin/holds: a user, or one record, is
// kept past its due time until the hold is released.
func (s *opsAPI) adminPlaceHold(c *gin.Context) {
	var req holdRequest
	if err := s.bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	req.Reason = strings.TrimSpace(req.Reason)
	problems := map[string]string{}
	if req.Reason == "" {
		problems["reason"] = "is required: say why the data must be kept (the case, the authority)"
	} else if msg := tooLong(req.Reason, maxStaffText); msg != "" {
		problems["reason"] = msg
	}
	byUser, byRecord := req.UserID != "", req.Category != "" || req.ObjectID != ""
	switch {
	case byUser == byRecord:
		problems["user_id"] = "give either user_id, or category and object_id"
	case byRecord && req.ObjectID == "":
		problems["object_id"] = "is required with category"
	case byRecord:
		if _, ok := knownCategory(req.Category); !ok {
			problems["category"] = "is not a retention category; GET /v1/admin/retention lists them"
		}
	}
	if len(problems) > 0 {
		s.fail(c, invalid(problems))
		return
	}
	ctx := c.Request.Context()
	if byUser {
		if _, err := s.store.UserByID(ctx, req.UserID); err != nil {
			s.fail(c, err)
			return
		}
	}
	h := &models.LegalHold{UserID: req.UserID, Category: req.Category, ObjectID: req.ObjectID, Reason: req.Reason,
		PlacedBy: currentPrincipal(c).User.ID}
	if err := s.store.PlaceHold(ctx, h); err != nil {
		s.fail(c, err)
		return
	}
	s.securityEvent(ctx, "legal_hold_placed", h.PlacedBy, c.ClientIP(), "hold "+h.ID)
	c.JSON(http.StatusCreated, toHoldView(*h))
}

// adminReleaseHold answers DELETE /v1/admin/holds/{id}: the hold ends and
// what it kept past its due time is deleted at once.
func (s *opsAPI) adminReleaseHold(c *gin.Context) {
	ctx := c.Request.Context()
	by := currentPrincipal(c).User.ID
	h, err := s.store.ReleaseHold(ctx, c.Param("id"), by)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.securityEvent(ctx, "legal_hold_released", by, c.ClientIP(), "hold "+h.ID)
	if err := s.retention.Reevaluate(ctx, h); err != nil {
		// Released all the same: the data goes when each category's
		// process next wakes.
		s.log(c).Error("re-evaluate after hold release", "hold_id", h.ID, "error", err.Error())
	}
	if err := s.wakeHeldErasures(ctx, h); err != nil {
		// Released all the same: a waiting erasure checks its hold
		// weekly by itself.
		s.log(c).Error("signal erasures after hold release", "hold_id", h.ID, "error", err.Error())
	}
	h.UserID = "" // kept no longer: the security log has the release
	c.JSON(http.StatusOK, toHoldView(h))
}

// wakeHeldErasures signals the erasure requests that wait for a hold on
// their person to end, so that they complete at once if nothing else
// holds the person.
func (s *opsAPI) wakeHeldErasures(ctx context.Context, h models.LegalHold) error {
	userID := h.UserID
	if userID == "" {
		var err error
		if userID, err = s.store.RetentionItemUser(ctx, h.Category, h.ObjectID); err != nil || userID == "" {
			return err
		}
	}
	requests, err := s.store.UserPrivacyRequests(ctx, userID)
	if err != nil {
		return err
	}
	for _, r := range requests {
		if r.Type != wfprivacy.TypeErasure || r.ClosedAt != nil {
			continue
		}
		err := s.temporal.SignalWorkflow(ctx, wfprivacy.WorkflowID(r.ID), "", wfprivacy.SignalHoldReleased, nil)
		var gone *serviceerror.NotFound
		if err != nil && !errors.As(err, &gone) {
			return fmt.Errorf("signal %s: %w", r.ID, err)
		}
	}
	return nil
}

// adminListHolds answers GET /v1/admin/holds (?all=true for released ones).
func (s *opsAPI) adminListHolds(c *gin.Context) {
	holds, err := s.store.Holds(c.Request.Context(), c.Query("all") == "true")
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]holdView, len(holds))
	for i, h := range holds {
		out[i] = toHoldView(h)
	}
	c.JSON(http.StatusOK, gin.H{"holds": out})
}
