package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/workflows/posting"
)

// adminCancelPost lets support cancel a user's scheduled post.
func (s *postsAPI) adminCancelPost(c *gin.Context) {
	ctx := c.Request.Context()
	p, err := s.store.PostByID(ctx, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if p.Status != loomcast.PostScheduled {
		s.fail(c, notScheduled(p))
		return
	}
	staff := currentPrincipal(c).User
	err = s.cancelPost(ctx, p.ID, posting.CancelRequest{Reason: "cancelled by Loomcast support", By: "support:" + staff.ID})
	if err != nil {
		s.fail(c, err)
		return
	}
	if p, err = s.store.PostByID(ctx, p.ID); err != nil {
		s.fail(c, err)
		return
	}
	s.answerPost(c, http.StatusOK, p)
}

// adminRetryPost publishes a failed post again as a new attempt, now.
func (s *postsAPI) adminRetryPost(c *gin.Context) {
	ctx := c.Request.Context()
	p, err := s.store.PostByID(ctx, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if p.Status != loomcast.PostFailed {
		s.fail(c, errorf(CodeConflict, "Only a failed post can be retried; this one is %s.", p.Status))
		return
	}
	staff := currentPrincipal(c).User
	now := s.now()
	p, err = s.store.ApplyPostChange(ctx, p.ID, models.PostChange{
		Status: loomcast.PostScheduled,
		Detail: fmt.Sprintf("attempt %d started by Loomcast support", p.Attempt+1),
		Set: models.PostFields{Attempt: models.Ptr(p.Attempt + 1), ScheduledAt: &now, PublishID: models.Ptr(""),
			UploadSession: models.Ptr(""), PlatformPostID: models.Ptr(""), FailureReason: models.Ptr("")},
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.startPublication(context.WithoutCancel(ctx), p); err != nil {
		// Put the post back as it was, so it can be retried again.
		_, _ = s.store.ApplyPostChange(context.WithoutCancel(ctx), p.ID, models.PostChange{Status: loomcast.PostFailed,
			Detail: "the retry could not start", Set: models.PostFields{FailureReason: models.Ptr("the retry could not start; try again")}})
		s.log(c).Error("restart post workflow", "post_id", p.ID, "error", err.Error())
		s.fail(c, &Error{Code: CodeUnavailable, Message: "The retry could not start; the post is still failed. Try again in a minute.", RetryAfter: 30})
		return
	}
	s.log(c).Info("post retried", "post_id", p.ID, "attempt", p.Attempt, "by", staff.ID)
	s.answerPost(c, http.StatusOK, p)
}
