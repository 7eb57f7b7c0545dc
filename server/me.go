package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"

	"github.com/loomcast/loomcast/config"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/password"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/retention/scheduler"
	"github.com/loomcast/loomcast/workflows/accounts"
)

// profile is the account as the API shows it.
type profile struct {
	ID          string `json:"id"`
	Email       string `json:"email"`
	DisplayName string `json:"display_name"`
	AvatarURL   string `json:"avatar_url"`
	Timezone    string `json:"timezone"`
	Role        string `json:"role"`
	// EmailVerified says the address is proven (a mailed code or
	// Google); an account without it cannot publish, connect a channel or
	// be linked to Google until it verifies (POST /v1/me/email/verification).
	EmailVerified bool `json:"email_verified"`
	HasPassword   bool `json:"has_password"`
	// SecondFactor says a TOTP second factor is on (staff need it in
	// production).
	SecondFactor bool      `json:"second_factor"`
	GoogleLinked bool      `json:"google_linked"`
	Platforms    []string  `json:"platforms"`
	CreatedAt    time.Time `json:"created_at"`
	// MarketingEmails is the consent to marketing email, given or
	// withdrawn at MarketingUpdatedAt; it lapses after 24 months without
	// activity (policy 004 section 10).
	MarketingEmails    bool       `json:"marketing_emails"`
	MarketingUpdatedAt *time.Time `json:"marketing_updated_at"`
	// ProductUpdates is the consent to product announcements, given or
	// withdrawn at ProductUpdatesUpdatedAt (in the profile or by a privacy
	// request); it lapses with marketing data.
	ProductUpdates          bool       `json:"product_updates"`
	ProductUpdatesUpdatedAt *time.Time `json:"product_updates_updated_at"`
}

// profileOf is the account as the API shows it, from its row, its
// connected platforms and its latest decision about product updates.
func (s *base) profileOf(ctx context.Context, u models.User, platforms []string) (profile, error) {
	consents, err := s.store.Consents(ctx, u.ID)
	if err != nil {
		return profile{}, err
	}
	if platforms == nil {
		platforms = []string{}
	}
	p := profile{
		ID: u.ID, Email: u.Email, DisplayName: u.DisplayName, AvatarURL: u.AvatarURL, Timezone: u.Timezone,
		Role: u.Role, EmailVerified: u.Verified(), HasPassword: u.PasswordHash != nil, SecondFactor: u.SecondFactor(), GoogleLinked: u.GoogleSub != nil,
		Platforms: platforms, CreatedAt: u.CreatedAt, MarketingEmails: u.MarketingEmails, MarketingUpdatedAt: u.MarketingUpdatedAt,
	}
	if c, ok := consents[models.PurposeProductUpdates]; ok {
		at := c.At.UTC()
		p.ProductUpdates, p.ProductUpdatesUpdatedAt = c.Granted, &at
	}
	return p, nil
}

// answerProfile answers with the account's profile.
func (s *base) answerProfile(c *gin.Context, u models.User) {
	ctx := c.Request.Context()
	platforms, err := s.store.ConnectedPlatforms(ctx, u.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	p, err := s.profileOf(ctx, u, platforms)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

func (s *accountsAPI) getMe(c *gin.Context) {
	s.answerProfile(c, currentPrincipal(c).User)
}

// patchMeRequest names the profile fields to change; absent ones stay.
type patchMeRequest struct {
	DisplayName *string `json:"display_name"`
	AvatarURL   *string `json:"avatar_url"`
	Timezone    *string `json:"timezone"`
	// MarketingEmails gives or withdraws consent to marketing email.
	MarketingEmails *bool `json:"marketing_emails"`
	// ProductUpdates gives or withdraws consent to product announcements.
	ProductUpdates *bool `json:"product_updates"`
}

func (s *accountsAPI) patchMe(c *gin.Context) {
	p := currentPrincipal(c)
	var req patchMeRequest
	if err := s.bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	fields := map[string]string{}
	upd := models.ProfileUpdate{AvatarURL: req.AvatarURL, Timezone: req.Timezone}
	if req.DisplayName != nil {
		if msg := validateDisplayName(*req.DisplayName); msg != "" {
			fields["display_name"] = msg
		}
		name := strings.TrimSpace(*req.DisplayName)
		upd.DisplayName = &name
	}
	if req.AvatarURL != nil {
		if msg := validateAvatarURL(*req.AvatarURL); msg != "" {
			fields["avatar_url"] = msg
		}
	}
	if req.Timezone != nil {
		if msg := validateTimezone(*req.Timezone); msg != "" {
			fields["timezone"] = msg
		}
	}
	if len(fields) > 0 {
		s.fail(c, invalid(fields))
		return
	}
	ctx := c.Request.Context()
	u, err := s.store.UpdateProfile(ctx, p.User.ID, upd)
	if err != nil {
		s.fail(c, err)
		return
	}
	if req.MarketingEmails != nil || req.ProductUpdates != nil {
		// Both are marketing data: their consent records live until 24
		// months of inactivity.
		item := scheduler.Item{Category: retention.Marketing, ObjectID: u.ID, UserID: u.ID, Start: s.now()}
		if err := s.retention.Schedule(ctx, item); err != nil {
			s.fail(c, err)
			return
		}
	}
	choices := []struct {
		purpose string
		granted *bool
	}{{models.PurposeMarketingEmails, req.MarketingEmails}, {models.PurposeProductUpdates, req.ProductUpdates}}
	for _, choice := range choices {
		if choice.granted == nil {
			continue
		}
		consent := models.Consent{UserID: u.ID, Purpose: choice.purpose, Granted: *choice.granted, At: s.now(), Source: "profile settings"}
		if err := s.store.RecordConsent(ctx, consent); err != nil {
			s.fail(c, err)
			return
		}
	}
	if req.MarketingEmails != nil {
		if u, err = s.store.UserByID(ctx, u.ID); err != nil {
			s.fail(c, err)
			return
		}
	}
	p.User = u
	// The cookie carries the timezone: reissue it at once.
	if err := s.reissueSession(c); err != nil {
		s.fail(c, err)
		return
	}
	s.answerProfile(c, u)
}

// reissueSession rewrites the session cookie with the user's current
// email, timezone and connected platforms (policy 000 section 10.2).
func (s *base) reissueSession(c *gin.Context) error {
	p := currentPrincipal(c)
	if p == nil || p.SessionID == "" {
		return nil
	}
	platforms, err := s.store.ConnectedPlatforms(c.Request.Context(), p.User.ID)
	if err != nil {
		return err
	}
	now := s.now()
	s.setSessionCookie(c, sessionClaims{Subject: p.User.ID, SessionID: p.SessionID, Email: p.User.Email, Timezone: p.User.Timezone,
		Platforms: platforms, IssuedAt: now.Unix(), ExpiresAt: now.Add(config.SessionIdle).Unix()})
	return nil
}

func validateAvatarURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || len(raw) > 2048 {
		return "must be an https URL of at most 2048 characters, or empty to remove it"
	}
	return ""
}

// confirmRequest carries the password re-entry that destructive actions need.
type confirmRequest struct {
	Password string `json:"password"`
}

// closeResponse answers DELETE /v1/me.
type closeResponse struct {
	ClosedAt   time.Time `json:"closed_at"`
	PurgeAfter time.Time `json:"purge_after"`
}

// deleteMe closes the account: the purge process is started first (so the
// 30-day grace is durable), then sessions and tokens end at once.
func (s *accountsAPI) deleteMe(c *gin.Context) {
	p := currentPrincipal(c)
	if err := s.confirmPassword(c, p.User); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	closedAt := s.now()
	in := accounts.ClosureInput{UserID: p.User.ID, ClosedAt: closedAt}
	_, err := s.temporal.ExecuteWorkflow(ctx, accounts.ClosureStartOptions(in), accounts.AccountClosure, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		s.fail(c, &Error{Code: CodeUnavailable, Message: "The account could not be closed right now; nothing was changed. Try again in a minute.", RetryAfter: 30})
		s.log(c).Error("start account closure", "error", err.Error(), "user_id", p.User.ID)
		return
	}
	u, err := s.store.CloseUser(ctx, p.User.ID, closedAt)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.securityEvent(ctx, "account_closed", p.User.ID, c.ClientIP(), "purge after "+u.ClosedAt.Add(accounts.Grace).Format(time.RFC3339))
	s.clearSession(c)
	c.JSON(http.StatusAccepted, closeResponse{ClosedAt: *u.ClosedAt, PurgeAfter: u.ClosedAt.Add(accounts.Grace)})
}

// confirmPassword demands the current password of accounts that have one,
// from every caller, a session or an access token alike. Wrong answers count
// against the account's sign-in throttle, so a stolen session cannot guess.
func (s *base) confirmPassword(c *gin.Context, u models.User) error {
	if u.PasswordHash == nil {
		return nil
	}
	if wait, blocked := s.limits.accountFailures.blocked(u.Email); blocked {
		return &Error{Code: CodeRateLimited, Message: "Too many wrong passwords; wait before trying again.", RetryAfter: retryAfterSeconds(wait)}
	}
	var req confirmRequest
	if err := s.bindJSON(c, &req); err != nil {
		var apiErr *Error
		if errors.As(err, &apiErr) && (apiErr.Code == CodeMalformed || apiErr.Code == CodeUnsupportedType) {
			return errorf(CodeReauthRequired, "Confirm with your current password: send {\"password\": \"...\"}.")
		}
		return err
	}
	return s.checkPassword(u, req.Password)
}

// checkPassword checks a password re-entered to confirm a sensitive step;
// an account without a password (Google sign-in) has none to give.
func (s *base) checkPassword(u models.User, given string) error {
	if u.PasswordHash == nil {
		return nil
	}
	if wait, blocked := s.limits.accountFailures.blocked(u.Email); blocked {
		return &Error{Code: CodeRateLimited, Message: "Too many wrong passwords; wait before trying again.", RetryAfter: retryAfterSeconds(wait)}
	}
	if given == "" {
		return errorf(CodeReauthRequired, "Confirm with your current password: send {\"password\": \"...\"}.")
	}
	if err := password.Verify(*u.PasswordHash, given); err != nil {
		s.limits.accountFailures.add(u.Email)
		return errorf(CodeReauthRequired, "The password is incorrect.")
	}
	return nil
}

// recentAuthWindow is how recent a Google sign-in must be to stand in for
// a password re-entry.
const recentAuthWindow = 10 * time.Minute

// recentAuth checks that the person just proved who they are: the
// password again, or for an account without one, a Google sign-in in the
// last 10 minutes.
func (s *base) recentAuth(c *gin.Context, p *principal, password string) error {
	if p.User.PasswordHash != nil {
		return s.checkPassword(p.User, password)
	}
	again := errorf(CodeReauthRequired, "Sign in with Google again (GET /v1/auth/google/start), then try again within 10 minutes.")
	if p.SessionID == "" {
		return again
	}
	sess, err := s.store.SessionByID(c.Request.Context(), p.SessionID)
	if err != nil {
		return err
	}
	if s.now().Sub(sess.CreatedAt) > recentAuthWindow {
		return again
	}
	return nil
}

// changePasswordRequest is the body of POST /v1/me/password.
type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changePassword sets a new password and ends every other session.
func (s *accountsAPI) changePassword(c *gin.Context) {
	p := currentPrincipal(c)
	var req changePasswordRequest
	if err := s.bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if p.User.PasswordHash != nil {
		if wait, blocked := s.limits.accountFailures.blocked(p.User.Email); blocked {
			s.fail(c, &Error{Code: CodeRateLimited, Message: "Too many wrong passwords; wait before trying again.", RetryAfter: retryAfterSeconds(wait)})
			return
		}
		if err := password.Verify(*p.User.PasswordHash, req.CurrentPassword); err != nil {
			s.limits.accountFailures.add(p.User.Email)
			s.fail(c, &Error{Code: CodeReauthRequired, Message: "The current password is incorrect.",
				Fields: map[string]string{"current_password": "is incorrect"}})
			return
		}
	}
	if msg := password.Check(req.NewPassword, p.User.Email); msg != "" {
		s.fail(c, invalid(map[string]string{"new_password": msg}))
		return
	}
	hash, err := password.Hash(req.NewPassword)
	if err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	if err := s.store.SetPasswordHash(ctx, p.User.ID, hash); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.store.RevokeSessions(ctx, p.User.ID, p.SessionID, s.now()); err != nil {
		s.fail(c, fmt.Errorf("end other sessions: %w", err))
		return
	}
	// Whoever stole the old password may have asked to move the account
	// to their own address: that change goes with the password.
	if err := s.store.DeleteEmailChange(ctx, p.User.ID); err != nil {
		s.fail(c, err)
		return
	}
	s.securityEvent(ctx, "password_changed", p.User.ID, c.ClientIP(), "other sessions ended; any email change waiting cancelled")
	c.Status(http.StatusNoContent)
}
