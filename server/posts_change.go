package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/workflows/posting"
)

// patchPostRequest reschedules or edits a post; absent fields stay.
type patchPostRequest struct {
	ScheduledAt  *string `json:"scheduled_at"`
	Timezone     *string `json:"timezone"`
	Caption      *string `json:"caption"`
	Privacy      *string `json:"privacy"`
	AllowComment *bool   `json:"allow_comment"`
	AllowDuet    *bool   `json:"allow_duet"`
	AllowStitch  *bool   `json:"allow_stitch"`
	// Disclose replaces the commercial-content disclosure (TikTok); both
	// false clears it.
	Disclose *disclosureBody `json:"disclose_commercial_content"`
}

// patchPost reschedules or edits through Temporal Updates, so the caller
// learns at once whether the change took effect: 409 once publishing began.
func (s *postsAPI) patchPost(c *gin.Context) {
	p, ok := s.userPost(c)
	if !ok {
		return
	}
	var req patchPostRequest
	if err := s.bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if p.Status != loomcast.PostScheduled {
		s.fail(c, notScheduled(p))
		return
	}
	ctx := c.Request.Context()
	fields := map[string]string{}
	edit := posting.EditRequest{Caption: req.Caption, Privacy: req.Privacy, AllowComment: req.AllowComment, AllowDuet: req.AllowDuet, AllowStitch: req.AllowStitch}
	if req.Disclose != nil {
		edit.BrandOrganic, edit.BrandContent = &req.Disclose.YourBrand, &req.Disclose.BrandedContent
	}
	editing := req.Caption != nil || req.Privacy != nil || req.AllowComment != nil || req.AllowDuet != nil || req.AllowStitch != nil || req.Disclose != nil
	var newTime time.Time
	tz := p.Timezone
	if req.Timezone != nil && req.ScheduledAt == nil {
		fields["timezone"] = "only goes with scheduled_at (it says how to read a local time)"
	}
	if req.ScheduledAt != nil {
		if req.Timezone != nil {
			tz = *req.Timezone
			if msg := validateTimezone(tz); msg != "" {
				fields["timezone"] = msg
			}
		}
		if fields["timezone"] == "" {
			var msg string
			if newTime, msg = futureSchedule(*req.ScheduledAt, tz, s.now()); msg != "" {
				fields["scheduled_at"] = msg
			} else {
				for _, id := range append([]string{p.UploadID}, p.Photos()...) {
					if up, err := s.store.UserUpload(ctx, p.UserID, id); err == nil {
						if msg := afterUploadExpiry(newTime, up); msg != "" {
							fields["scheduled_at"] = msg
							break
						}
					}
				}
			}
		}
	}
	if req.Caption != nil && utf8.RuneCountInString(*req.Caption) > maxCaption {
		fields["caption"] = fmt.Sprintf("must be at most %d characters", maxCaption)
	}
	if !editing && req.ScheduledAt == nil {
		s.fail(c, errorf(CodeInvalid, "Nothing to change: send scheduled_at, caption, privacy, allow_* or disclose_commercial_content fields."))
		return
	}
	if len(fields) > 0 {
		s.fail(c, invalid(fields))
		return
	}
	if editing {
		ch, err := s.store.UserChannel(ctx, p.UserID, p.ChannelID)
		if err != nil {
			s.fail(c, err)
			return
		}
		o := posting.Options{Privacy: p.Privacy, AllowComment: p.AllowComment, AllowDuet: p.AllowDuet, AllowStitch: p.AllowStitch}
		if req.Privacy != nil {
			o.Privacy = *req.Privacy
		}
		if req.AllowComment != nil {
			o.AllowComment = *req.AllowComment
		}
		if req.AllowDuet != nil {
			o.AllowDuet = *req.AllowDuet
		}
		if req.AllowStitch != nil {
			o.AllowStitch = *req.AllowStitch
		}
		if len(p.Photos()) > 0 && (o.AllowDuet || o.AllowStitch) {
			s.fail(c, invalid(map[string]string{"allow_duet": "photo posts take no duets or stitches; leave allow_duet and allow_stitch false"}))
			return
		}
		// The disclosure after the change, against the privacy after it.
		disclose := &disclosureBody{YourBrand: p.BrandOrganic, BrandedContent: p.BrandContent}
		if req.Disclose != nil {
			disclose = req.Disclose
		}
		if !disclose.YourBrand && !disclose.BrandedContent && req.Disclose == nil {
			disclose = nil
		}
		if msgs := checkDisclosure(ch.Platform, o.Privacy, disclose, false); msgs != nil {
			s.fail(c, invalid(msgs))
			return
		}
		if err := s.checkOptions(ctx, ch, o); err != nil {
			s.fail(c, err)
			return
		}
		if err := s.updatePost(ctx, p.ID, posting.UpdateEdit, edit); err != nil {
			s.fail(c, err)
			return
		}
	}
	if req.ScheduledAt != nil {
		if err := s.updatePost(ctx, p.ID, posting.UpdateReschedule, posting.RescheduleRequest{ScheduledAt: newTime, Timezone: tz}); err != nil {
			s.fail(c, err)
			return
		}
	}
	p, err := s.store.UserPost(ctx, p.UserID, p.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.answerPost(c, http.StatusOK, p)
}

// deletePost cancels a scheduled post (409 once publishing began).
func (s *postsAPI) deletePost(c *gin.Context) {
	p, ok := s.userPost(c)
	if !ok {
		return
	}
	if p.Status != loomcast.PostScheduled {
		s.fail(c, notScheduled(p))
		return
	}
	ctx := c.Request.Context()
	if err := s.cancelPost(ctx, p.ID, posting.CancelRequest{Reason: "cancelled by you", By: "user"}); err != nil {
		s.fail(c, err)
		return
	}
	p, err := s.store.UserPost(ctx, p.UserID, p.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.answerPost(c, http.StatusOK, p)
}

// notScheduled explains why a post that left "scheduled" cannot change.
func notScheduled(p models.Post) error {
	switch p.Status {
	case loomcast.PostCancelled:
		return errorf(CodeConflict, "The post is already cancelled.")
	case loomcast.PostPublished:
		return errorf(CodeConflict, "The post is already published: it can no longer be changed or cancelled.")
	case loomcast.PostFailed:
		return errorf(CodeConflict, "The post failed: it can no longer be changed; schedule a new one (or ask support to retry it).")
	}
	return errorf(CodeConflict, "Publishing has already started (the post is %s): it can no longer be changed or cancelled.", p.Status)
}

// errPostSettled answers an Update to a post whose process has finished.
var errPostSettled = &Error{Code: CodeConflict, Message: refusals[posting.ErrTypePublishingStarted].message}

// cancelPost cancels a scheduled post through its process.
func (s *postsAPI) cancelPost(ctx context.Context, postID string, req posting.CancelRequest) error {
	return s.updatePost(ctx, postID, posting.UpdateCancel, req)
}

// updatePost sends an Update to the post's process and waits for its
// outcome. Refusals come back as the contract's application errors, which
// fail translates through the error table.
func (s *postsAPI) updatePost(ctx context.Context, postID, name string, arg any) error {
	h, err := s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   posting.PublishWorkflowID(postID),
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		var st posting.State
		err = h.Get(ctx, &st)
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		// The workflow has finished: the post is settled.
		return errPostSettled
	}
	return err
}
