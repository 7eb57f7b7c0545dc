package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/models"
)

// liftMyRestriction answers DELETE /v1/me/restriction: the person lifts
// the restriction of processing they asked for (GDPR art. 18), confirming
// with their password; processing resumes.
func (s *privacyAPI) liftMyRestriction(c *gin.Context) {
	p := currentPrincipal(c)
	if err := s.confirmPassword(c, p.User); err != nil {
		s.fail(c, err)
		return
	}
	s.liftRestriction(c, p.User.ID, "lifted by the person")
}

// adminLiftRestriction answers DELETE /v1/admin/users/{id}/restriction:
// privacy staff lift a restriction (for example once its reason is
// settled).
func (s *privacyAPI) adminLiftRestriction(c *gin.Context) {
	s.liftRestriction(c, c.Param("id"), "lifted by privacy staff "+currentPrincipal(c).User.ID)
}

// liftRestriction clears the account's restriction and records who lifted
// it in the security log.
func (s *privacyAPI) liftRestriction(c *gin.Context, userID, by string) {
	ctx := c.Request.Context()
	u, ok := s.userByID(c, userID)
	if !ok {
		return
	}
	if u.RestrictedAt == nil {
		s.fail(c, errorf(CodeConflict, "Processing of this account is not restricted."))
		return
	}
	if err := s.store.SetRestricted(ctx, u.ID, nil); err != nil {
		s.fail(c, err)
		return
	}
	s.securityEvent(ctx, "restriction_lifted", u.ID, c.ClientIP(), by)
	if err := s.resumeDeferredWebhooks(ctx, u.ID); err != nil {
		// Lifted all the same; staff can replay the deferred events.
		s.log(c).Error("resume deferred webhooks", "user_id", u.ID, "error", err.Error())
	}
	c.Status(http.StatusNoContent)
}

// resumeDeferredWebhooks sends the platform's notifications about the
// account's posts that waited during the restriction through delivery
// again.
func (s *privacyAPI) resumeDeferredWebhooks(ctx context.Context, userID string) error {
	channels, err := s.store.AllUserChannels(ctx, userID)
	if err != nil {
		return err
	}
	var accounts []string
	for _, ch := range channels {
		if ch.Platform == loomcast.TikTok {
			accounts = append(accounts, ch.ExternalID)
		}
	}
	_, err = s.store.ResumeDeferredWebhooks(ctx, models.SourceTikTok, accounts)
	return err
}

// userByID loads the account that a staff route names; when ok is false
// the caller has been answered (404 for an unknown ID).
func (s *privacyAPI) userByID(c *gin.Context, id string) (u models.User, ok bool) {
	u, err := s.store.UserByID(c.Request.Context(), id)
	if errors.Is(err, models.ErrNotFound) {
		s.fail(c, errorf(CodeNotFound, "No user has this ID."))
		return u, false
	}
	if err != nil {
		s.fail(c, err)
		return u, false
	}
	return u, true
}
