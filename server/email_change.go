package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/loomcast/loomcast/emailchange"
	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/mailcode"
	"github.com/loomcast/loomcast/models"
)

// emailChangeRequest is the body of POST /v1/me/email.
type emailChangeRequest struct {
	NewEmail string `json:"new_email"`
	// Password re-authenticates accounts that have one; Google-only
	// accounts sign in with Google again instead.
	Password string `json:"password"`
}

// emailChangeResponse answers the asking and resending of a code. It is
// the same whether or not the address is free, so that asking tells
// nothing about other accounts.
type emailChangeResponse struct {
	Message string `json:"message"`
	// CodeExpiresAt is when the code just sent stops working.
	CodeExpiresAt time.Time `json:"code_expires_at"`
	// ExpiresAt is when the change itself lapses, if never confirmed.
	ExpiresAt time.Time `json:"expires_at"`
}

// startEmailChange answers POST /v1/me/email: after a recent
// authentication it mails a code to the new address and a notice (without
// the code) to the current one. The address changes only at
// POST /v1/me/email/verify.
//
// Whether another account holds the new address is not said here but at
// verify time, to the holder of the code only: the person who controls
// that mailbox may learn that it has an account, nobody else can.
func (s *accountsAPI) startEmailChange(c *gin.Context) {
	p := currentPrincipal(c)
	var req emailChangeRequest
	if err := s.bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	// The password proves who asks; it is not part of what is asked.
	fingerprint := req
	fingerprint.Password = ""
	done, ok := s.beginIdempotent(c, p.User.ID, p.User.ID, fingerprint)
	if !ok {
		return
	}
	defer done()
	email, msg := validateEmail(req.NewEmail)
	if msg == "" && email == p.User.Email {
		msg = "is already your address"
	}
	if msg != "" {
		s.fail(c, invalid(map[string]string{"new_email": msg}))
		return
	}
	if err := s.recentAuth(c, p, req.Password); err != nil {
		s.fail(c, err)
		return
	}
	if !s.allowEmailChangeMail(c, p.User.ID) {
		return
	}
	ctx := c.Request.Context()
	// The current address hears of it first: should the password have
	// been stolen, its owner learns before the change can be confirmed.
	if err := s.mail.Send(ctx, mail.Message{To: p.User.Email, Kind: "email_change_requested",
		Subject: "A change of your Loomcast email address was asked",
		Text: "Someone signed in to your Loomcast account asked to change its email address to " + maskEmail(email) + ".\n\n" +
			"It changes only if the code we sent to that address is entered within 24 hours. If it was you, there is nothing to do here.\n\n" +
			"If it was not you, change your password now (POST /v1/me/password): that cancels the change and ends every other session.\n"}); err != nil {
		s.log(c).Error("send email change notice", "error", err.Error(), "user_id", p.User.ID)
		s.fail(c, errCodeNotSent)
		return
	}
	if err := s.emails.Start(ctx, p.User, email, ""); err != nil {
		s.failEmailChange(c, err)
		return
	}
	s.securityEvent(ctx, "email_change_requested", p.User.ID, c.ClientIP(), "code mailed to the new address")
	s.answerEmailChange(c, "We sent a 6-digit code to the new address: send it to POST /v1/me/email/verify. Your address changes only then.")
}

// resendEmailChangeCode answers POST /v1/me/email/code: a new code for
// the change waiting (asked in the profile or by a rectification
// request); the old code stops working.
func (s *accountsAPI) resendEmailChangeCode(c *gin.Context) {
	p := currentPrincipal(c)
	if !s.allowEmailChangeMail(c, p.User.ID) {
		return
	}
	if err := s.emails.Resend(c.Request.Context(), p.User); err != nil {
		s.failEmailChange(c, err)
		return
	}
	s.answerEmailChange(c, "A new code was sent to the new address; the old one no longer works.")
}

// answerEmailChange answers 202 with the times of the change waiting.
func (s *accountsAPI) answerEmailChange(c *gin.Context, message string) {
	pending, err := s.emails.Pending(c.Request.Context(), currentPrincipal(c).User.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, emailChangeResponse{Message: message, CodeExpiresAt: pending.CodeExpiresAt.UTC(),
		ExpiresAt: pending.CreatedAt.Add(emailchange.Lifetime).UTC()})
}

// verifyEmailChange answers POST /v1/me/email/verify: the right code
// gives the account its new address. Sessions stay signed in (this one's
// cookie is reissued with the new address at once); the old address gets
// a notice.
func (s *accountsAPI) verifyEmailChange(c *gin.Context) {
	p := currentPrincipal(c)
	var body codeRequest
	if err := s.bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	done, err := s.emails.Confirm(ctx, p.User, body.Code)
	if err != nil {
		s.failEmailChange(c, err)
		return
	}
	p.User = done.User
	detail := "confirmed with the code mailed to the new address"
	if done.RequestID != "" {
		detail += "; asked by privacy request " + done.RequestID
	}
	if done.GoogleUnlinked {
		detail += "; Google sign-in unlinked"
	}
	s.securityEvent(ctx, "email_changed", p.User.ID, c.ClientIP(), detail)
	if done.RequestID != "" {
		// The rectification is complete now: its audit log says so.
		if err := s.store.AppendPrivacyAudit(ctx, models.PrivacyAudit{RequestID: done.RequestID, At: s.now(), Actor: "requester",
			Action: "confirmed the new email address", Detail: "the email address is corrected"}); err != nil {
			s.log(c).Error("audit email change", "error", err.Error(), "request_id", done.RequestID)
		}
	}
	s.noticeEmailChanged(c, done)
	if err := s.reissueSession(c); err != nil {
		s.fail(c, err)
		return
	}
	s.answerProfile(c, p.User)
}

// noticeEmailChanged tells the old address that it no longer signs in.
// The change is made: a failure is logged, not answered.
func (s *accountsAPI) noticeEmailChanged(c *gin.Context, done emailchange.Confirmed) {
	text := "The email address of your Loomcast account is now " + maskEmail(done.User.Email) +
		", confirmed with a code sent there. This address no longer signs in to it, and our mail goes to the new one.\n"
	if done.GoogleUnlinked {
		text += "\nYour Google sign-in was unlinked, since it was linked through this address: sign in with Google as the new address to link it again.\n"
	}
	text += "\nIf it was not you, write to us at once by replying to this message.\n"
	err := s.mail.Send(context.WithoutCancel(c.Request.Context()), mail.Message{To: done.OldEmail, Kind: "email_changed", RequestID: done.RequestID,
		Subject: "Your Loomcast email address was changed", Text: text})
	if err != nil {
		s.log(c).Error("send email changed notice", "error", err.Error(), "user_id", done.User.ID)
	}
}

// errCodeNotSent answers a code that could not be mailed.
var errCodeNotSent = &Error{Code: CodeUnavailable, Message: "The code could not be sent right now; nothing was changed. Try again in a minute.", RetryAfter: 30}

// failEmailChange answers a refusal of package emailchange.
func (s *accountsAPI) failEmailChange(c *gin.Context, err error) {
	switch {
	case errors.Is(err, emailchange.ErrNone):
		s.fail(c, errorf(CodeNotFound, "No email change is waiting (none was asked, it was confirmed, or it was asked more than 24 hours ago): ask for one with POST /v1/me/email."))
	case errors.Is(err, emailchange.ErrSame):
		s.fail(c, invalid(map[string]string{"new_email": "is already your address"}))
	case errors.Is(err, emailchange.ErrTooSoon):
		s.fail(c, &Error{Code: CodeRateLimited, Message: "A code was sent less than a minute ago.", RetryAfter: retryAfterSeconds(mailcode.ResendAfter)})
	case errors.Is(err, emailchange.ErrTaken):
		s.fail(c, &Error{Code: CodeConflict, Message: "This address cannot be used for your account: another Loomcast account has it. Nothing was changed.",
			Fields: map[string]string{"new_email": "is used by another account"}})
	case errors.Is(err, mailcode.ErrVoid), errors.As(err, new(*mailcode.WrongError)):
		s.fail(c, codeError(err, errorf(CodeInvalid, "This code is no longer valid; ask for a new one with POST /v1/me/email/code.")))
	case errors.Is(err, emailchange.ErrNotSent):
		s.log(c).Error("send email change code", "error", err.Error())
		s.fail(c, errCodeNotSent)
	default:
		s.fail(c, err)
	}
}

// allowEmailChangeMail counts a code an account asks to be mailed, and
// refuses past maxEmailChangeMail an hour.
func (s *accountsAPI) allowEmailChangeMail(c *gin.Context, userID string) bool {
	if wait, blocked := s.limits.accountEmailChangeMail.blocked(userID); blocked {
		s.fail(c, &Error{Code: CodeRateLimited, Message: "Too many email change codes were asked for this account; try again later.", RetryAfter: retryAfterSeconds(wait)})
		return false
	}
	s.limits.accountEmailChangeMail.add(userID)
	return true
}

// maskEmail shows an address to someone who may not be its holder: the
// first letter and the domain.
func maskEmail(email string) string {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" {
		return "***"
	}
	return local[:1] + "***@" + domain
}
