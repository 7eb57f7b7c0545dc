package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/loomcast/loomcast/mailcode"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/signup"
)

// signUpResponse answers a sign-up and the resending of its code. It is
// the same whether or not the address has an account, so that signing up
// tells nobody which addresses have one.
type signUpResponse struct {
	// RegistrationID names the sign-up in .../verify and .../code.
	RegistrationID string `json:"registration_id"`
	Message        string `json:"message"`
	// CodeExpiresAt is when the code just sent stops working.
	CodeExpiresAt time.Time `json:"code_expires_at"`
	// ExpiresAt is when the sign-up lapses, if never confirmed.
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *accountsAPI) answerSignUp(c *gin.Context, r models.Registration, message string) {
	c.JSON(http.StatusAccepted, signUpResponse{RegistrationID: r.ID, Message: message,
		CodeExpiresAt: r.CodeExpiresAt.UTC(), ExpiresAt: r.CreatedAt.Add(signup.Lifetime).UTC()})
}

// pendingSignUp loads the sign-up of the path, or answers 404.
func (s *accountsAPI) pendingSignUp(c *gin.Context) (models.Registration, bool) {
	id := c.Param("id")
	if !validID(id) {
		s.failSignUp(c, signup.ErrNone)
		return models.Registration{}, false
	}
	r, err := s.signups.Pending(c.Request.Context(), id)
	if err != nil {
		s.failSignUp(c, err)
		return models.Registration{}, false
	}
	return r, true
}

// verifySignUp answers POST /v1/auth/register/{id}/verify: the right code
// opens the account, its address verified, and signs it in.
func (s *accountsAPI) verifySignUp(c *gin.Context) {
	var body codeRequest
	if err := s.bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	r, ok := s.pendingSignUp(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	u, err := s.signups.Confirm(ctx, r.ID, body.Code)
	if err != nil {
		s.failSignUp(c, err)
		return
	}
	s.securityEvent(ctx, "registered", u.ID, c.ClientIP(), "address confirmed with the code mailed to it")
	resp, err := s.startSession(c, u)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", "/v1/me")
	c.JSON(http.StatusCreated, resp)
}

// resendSignUpCode answers POST /v1/auth/register/{id}/code: a new code
// for the sign-up; the old one stops working.
func (s *accountsAPI) resendSignUpCode(c *gin.Context) {
	r, ok := s.pendingSignUp(c)
	if !ok {
		return
	}
	if !s.allowSignUpMail(c, r.Email) {
		return
	}
	r, err := s.signups.Resend(c.Request.Context(), r.ID)
	if err != nil {
		s.failSignUp(c, err)
		return
	}
	s.answerSignUp(c, r, "A new code was sent to "+r.Email+"; the old one no longer works.")
}

// allowSignUpMail counts a mail that signing up sends to an address, and
// refuses past maxSignUpMail an hour, so that nobody floods a mailbox
// with codes or notices.
func (s *accountsAPI) allowSignUpMail(c *gin.Context, email string) bool {
	if wait, blocked := s.limits.addressSignUpMail.blocked(email); blocked {
		s.fail(c, &Error{Code: CodeRateLimited, Message: "Too many sign-up codes were asked for this address; try again later.", RetryAfter: retryAfterSeconds(wait)})
		return false
	}
	s.limits.addressSignUpMail.add(email)
	return true
}

// failSignUp answers a refusal of package signup.
func (s *accountsAPI) failSignUp(c *gin.Context, err error) {
	switch {
	case errors.Is(err, signup.ErrNone):
		s.fail(c, errorf(CodeNotFound, "No sign-up is waiting under this ID (it was confirmed, or made more than 24 hours ago): sign up again with POST /v1/auth/register."))
	case errors.Is(err, signup.ErrTooSoon):
		s.fail(c, &Error{Code: CodeRateLimited, Message: "A code was sent less than a minute ago.", RetryAfter: retryAfterSeconds(mailcode.ResendAfter)})
	case errors.Is(err, signup.ErrTaken):
		// Only the holder of the mailed code gets here.
		s.fail(c, errorf(CodeConflict, "This address has an account now: sign in instead."))
	case errors.Is(err, signup.ErrVerified):
		s.fail(c, errorf(CodeConflict, "Your email address is verified already."))
	case errors.Is(err, mailcode.ErrVoid), errors.As(err, new(*mailcode.WrongError)):
		s.fail(c, codeError(err, errorf(CodeInvalid, "This code is no longer valid; ask for a new one with the .../code route.")))
	case errors.Is(err, signup.ErrNotSent):
		s.log(c).Error("send sign-up mail", "error", err.Error())
		s.fail(c, errCodeNotSent)
	default:
		s.fail(c, err)
	}
}

// verificationResponse answers POST /v1/me/email/verification.
type verificationResponse struct {
	Message       string    `json:"message"`
	CodeExpiresAt time.Time `json:"code_expires_at"`
}

// sendVerification answers POST /v1/me/email/verification: a code to the
// account's address, for an account made before addresses were verified.
func (s *accountsAPI) sendVerification(c *gin.Context) {
	p := currentPrincipal(c)
	if p.User.Verified() {
		s.failSignUp(c, signup.ErrVerified)
		return
	}
	if !s.allowSignUpMail(c, p.User.Email) {
		return
	}
	expires, err := s.signups.Send(c.Request.Context(), p.User)
	if err != nil {
		s.failSignUp(c, err)
		return
	}
	c.JSON(http.StatusAccepted, verificationResponse{CodeExpiresAt: expires.UTC(),
		Message: "We sent a 6-digit code to " + p.User.Email + ": send it to POST /v1/me/email/verification/verify within 24 hours."})
}

// verifyAddress answers POST /v1/me/email/verification/verify: the right
// code verifies the account's address.
func (s *accountsAPI) verifyAddress(c *gin.Context) {
	p := currentPrincipal(c)
	var body codeRequest
	if err := s.bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	u, err := s.signups.Verify(ctx, p.User, body.Code)
	if err != nil {
		s.failSignUp(c, err)
		return
	}
	p.User = u
	s.securityEvent(ctx, "email_verified", u.ID, c.ClientIP(), "confirmed with the code mailed to the address")
	s.answerProfile(c, u)
}

// requireVerified refuses what needs a proven address (publishing,
// connecting a channel) to an account that has not verified it.
func (s *base) requireVerified(c *gin.Context) {
	if p := currentPrincipal(c); p != nil && !p.User.Verified() {
		s.fail(c, errorf(CodeEmailUnverified, "Verify your email address first: POST /v1/me/email/verification mails you a code."))
		c.Abort()
		return
	}
	c.Next()
}

// validID reports whether raw has the form of the IDs the API hands out.
func validID(raw string) bool {
	_, err := idCursorValue(raw)
	return err == nil && raw != ""
}
