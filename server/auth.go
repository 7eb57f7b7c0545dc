package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/loomcast/loomcast/config"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/password"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/signup"
)

// csrfResponse answers GET /v1/auth/csrf.
type csrfResponse struct {
	CSRFToken string `json:"csrf_token"`
}

// csrfToken returns the CSRF token for the current session (or for signed
// out requests), minting one and setting its cookie when needed.
func (s *accountsAPI) csrfToken(c *gin.Context) {
	sessionID := ""
	if p := currentPrincipal(c); p != nil {
		sessionID = p.SessionID
	}
	token, _ := c.Cookie(s.cookies.csrfName())
	if !s.cookies.validCSRFToken(token, sessionID) {
		token = s.setCSRFCookie(c, sessionID)
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, csrfResponse{CSRFToken: token})
}

func (s *base) setCSRFCookie(c *gin.Context, sessionID string) string {
	token := s.cookies.newCSRFToken(sessionID)
	// Readable by the page's script (not HttpOnly), so it can echo it in
	// X-CSRF-Token; SameSite=Lax and, in production, __Host- and Secure.
	http.SetCookie(c.Writer, s.cookies.cookie(s.cookies.csrfName(), token, "/", 0, false))
	return token
}

// registerRequest is the body of POST /v1/auth/register: the account and
// the age confirmation (country and age), which is checked, not stored.
type registerRequest struct {
	Email       string `json:"email"`
	Password    string `json:"password"`
	DisplayName string `json:"display_name"`
	Timezone    string `json:"timezone"`
	ageConfirmation
}

// sessionResponse answers a sign-in: the profile and the CSRF token of the
// new session.
type sessionResponse struct {
	User      profile `json:"user"`
	CSRFToken string  `json:"csrf_token"`
}

// register answers POST /v1/auth/register: it checks the sign-up and
// mails its address, and opens no account yet (POST
// /v1/auth/register/{id}/verify with the mailed code does). An address
// that has an account answers exactly as a new one, and its owner gets a
// notice instead of a code.
func (s *accountsAPI) register(c *gin.Context) {
	ip := c.ClientIP()
	if wait, blocked := s.limits.ipRegistrations.blocked(ip); blocked {
		s.fail(c, &Error{Code: CodeRateLimited, Message: "Too many sign-ups from this address; try again later.", RetryAfter: retryAfterSeconds(wait)})
		return
	}
	var req registerRequest
	if err := s.bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	fields := map[string]string{}
	if err := req.check(fields); err != nil {
		s.fail(c, err)
		return
	}
	email, msg := validateEmail(req.Email)
	if msg != "" {
		fields["email"] = msg
	}
	if msg := password.Check(req.Password, email); msg != "" {
		fields["password"] = msg
	}
	if msg := validateDisplayName(req.DisplayName); msg != "" {
		fields["display_name"] = msg
	}
	if msg := validateTimezone(req.Timezone); msg != "" {
		fields["timezone"] = msg
	}
	if len(fields) > 0 {
		s.fail(c, invalid(fields))
		return
	}
	if !s.allowSignUpMail(c, email) {
		return
	}
	// Hashed whether or not the address is free, so that the answer takes
	// as long either way.
	hash, err := password.Hash(req.Password)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.limits.ipRegistrations.add(ip)
	r, err := s.signups.Start(c.Request.Context(), signup.Request{Email: email, PasswordHash: hash,
		DisplayName: strings.TrimSpace(req.DisplayName), Timezone: req.Timezone})
	if err != nil {
		s.failSignUp(c, err)
		return
	}
	s.answerSignUp(c, r, "We sent a 6-digit code to "+email+": send it to POST /v1/auth/register/"+r.ID+
		"/verify within 24 hours to open your account.")
}

// loginRequest is the body of POST /v1/auth/login: with a second factor,
// one of its codes too.
type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	secondFactorCodes
}

// errBadCredentials is the one answer for an unknown email, a wrong
// password, a Google-only or a closed account.
var errBadCredentials = errorf(CodeBadCredentials, "The email or password is incorrect.")

func (s *accountsAPI) login(c *gin.Context) {
	var req loginRequest
	if err := s.bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if strings.TrimSpace(req.Email) == "" || req.Password == "" {
		s.fail(c, invalid(map[string]string{"email": "is required", "password": "is required"}))
		return
	}
	ip, account := c.ClientIP(), models.NormalizeEmail(req.Email)
	for _, w := range []struct {
		win *window
		key string
	}{{s.limits.ipAttempts, ip}, {s.limits.accountFailures, account}} {
		if wait, blocked := w.win.blocked(w.key); blocked {
			s.fail(c, &Error{Code: CodeRateLimited, Message: "Too many sign-in attempts; wait before trying again.", RetryAfter: retryAfterSeconds(wait)})
			return
		}
	}
	s.limits.ipAttempts.add(ip)

	u, err := s.store.UserByEmail(c.Request.Context(), account)
	switch {
	case errors.Is(err, models.ErrNotFound):
		_ = password.VerifyDummy(req.Password)
		s.limits.accountFailures.add(account)
		s.fail(c, errBadCredentials)
		return
	case err != nil:
		s.fail(c, err)
		return
	}
	if u.PasswordHash == nil || u.ClosedAt != nil {
		_ = password.VerifyDummy(req.Password)
		s.limits.accountFailures.add(account)
		s.fail(c, errBadCredentials)
		return
	}
	if err := password.Verify(*u.PasswordHash, req.Password); err != nil {
		s.limits.accountFailures.add(account)
		s.securityEvent(c.Request.Context(), "login_failed", u.ID, ip, "wrong password")
		if !errors.Is(err, password.ErrMismatch) {
			s.log(c).Error("verify password", "error", err.Error(), "user_id", u.ID)
		}
		s.fail(c, errBadCredentials)
		return
	}
	s.limits.accountFailures.reset(account)
	how := "password"
	if u.SecondFactor() {
		if req.empty() {
			s.fail(c, &Error{Code: CodeSecondFactorRequired, Message: "This account has a second factor: send the code of your authenticator app as totp_code (or a recovery code as recovery_code) with the password.",
				Fields: map[string]string{"totp_code": "is required"}})
			return
		}
		used, err := s.checkSecondFactor(c, u, req.secondFactorCodes)
		if err != nil {
			s.fail(c, err)
			return
		}
		how += " and " + used
	}
	s.securityEvent(c.Request.Context(), "login", u.ID, ip, how)
	resp, err := s.startSessionWith(c, u, u.SecondFactor())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, resp)
}

// startSession creates a session for u, sets its cookie and a CSRF token
// bound to it, and ends the session the browser held before (if any).
func (s *base) startSession(c *gin.Context, u models.User) (sessionResponse, error) {
	return s.startSessionWith(c, u, false)
}

// startSessionWith is startSession for a sign-in that gave the second
// factor when secondFactor is set.
func (s *base) startSessionWith(c *gin.Context, u models.User, secondFactor bool) (sessionResponse, error) {
	ctx := c.Request.Context()
	now := s.now()
	if old := currentPrincipal(c); old != nil && old.SessionID != "" {
		if err := s.store.RevokeSession(ctx, old.User.ID, old.SessionID, now); err != nil {
			return sessionResponse{}, err
		}
	}
	sess := models.Session{ID: models.NewID(), UserID: u.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(config.SessionIdle)}
	if secondFactor {
		sess.SecondFactorAt = &now
	}
	if err := s.buckets.Note(ctx, retention.Sessions, now); err != nil {
		return sessionResponse{}, err
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return sessionResponse{}, err
	}
	s.noteActivity(ctx, u.ID, now)
	platforms, err := s.store.ConnectedPlatforms(ctx, u.ID)
	if err != nil {
		return sessionResponse{}, err
	}
	s.setSessionCookie(c, sessionClaims{
		Subject: u.ID, SessionID: sess.ID, Email: u.Email, Timezone: u.Timezone,
		Platforms: platforms, IssuedAt: now.Unix(), ExpiresAt: sess.ExpiresAt.Unix(),
	})
	c.Set(ctxPrincipal, &principal{User: u, SessionID: sess.ID, SecondFactor: secondFactor})
	prof, err := s.profileOf(ctx, u, platforms)
	if err != nil {
		return sessionResponse{}, err
	}
	return sessionResponse{User: prof, CSRFToken: s.setCSRFCookie(c, sess.ID)}, nil
}

// logout ends the current session. Signed out already is fine.
func (s *accountsAPI) logout(c *gin.Context) {
	if p := currentPrincipal(c); p != nil && p.SessionID != "" {
		if err := s.store.RevokeSession(c.Request.Context(), p.User.ID, p.SessionID, s.now()); err != nil {
			s.fail(c, err)
			return
		}
	}
	s.clearSession(c)
	c.Status(http.StatusNoContent)
}

// clearSession drops the session cookie and starts a signed-out CSRF token.
func (s *base) clearSession(c *gin.Context) {
	http.SetCookie(c.Writer, s.cookies.cookie(s.cookies.sessionName(), "", "/", -1, true))
	s.setCSRFCookie(c, "")
}

func validateEmail(raw string) (string, string) {
	email := models.NormalizeEmail(raw)
	switch {
	case email == "":
		return "", "is required"
	case len(email) > 254:
		return "", "must be at most 254 characters"
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" || !strings.Contains(email[strings.LastIndexByte(email, '@'):], ".") {
		return "", "must be an email address like name@example.com"
	}
	return email, ""
}

func validateDisplayName(name string) string {
	name = strings.TrimSpace(name)
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return "is required"
	case n > 100:
		return "must be at most 100 characters"
	case strings.ContainsAny(name, "\x00\r\n"):
		return "must be a single line"
	}
	return ""
}

// validateTimezone accepts IANA zone names such as Europe/Paris or UTC.
func validateTimezone(tz string) string {
	if tz == "" {
		return "is required (an IANA time zone such as Europe/Paris)"
	}
	if tz == "Local" || strings.HasPrefix(tz, "/") || strings.Contains(tz, "..") {
		return fmt.Sprintf("%q is not an IANA time zone (such as Europe/Paris)", tz)
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return fmt.Sprintf("%q is not an IANA time zone (such as Europe/Paris)", tz)
	}
	return ""
}

func (s *accountsAPI) addRoutes(r routers) {
	r.public.GET("/auth/csrf", s.csrfToken)
	r.public.POST("/auth/register", s.register)
	r.public.POST("/auth/register/:id/verify", s.verifySignUp)
	r.public.POST("/auth/register/:id/code", s.resendSignUpCode)
	r.public.POST("/auth/login", s.login)
	r.public.POST("/auth/logout", s.logout)
	r.public.GET("/auth/google/start", s.googleStart)
	r.public.GET("/auth/google/callback", s.googleCallback)

	r.user.GET("/me", s.getMe)
	r.user.PATCH("/me", s.patchMe)
	r.user.DELETE("/me", s.deleteMe)
	r.user.POST("/me/password", s.changePassword)
	r.user.POST("/me/email", s.startEmailChange)
	r.user.POST("/me/email/code", s.resendEmailChangeCode)
	r.user.POST("/me/email/verify", s.verifyEmailChange)
	r.user.POST("/me/email/verification", s.sendVerification)
	r.user.POST("/me/email/verification/verify", s.verifyAddress)
	r.user.POST("/me/second-factor", s.enrolSecondFactor)
	r.user.POST("/me/second-factor/confirm", s.confirmSecondFactor)
	r.user.POST("/auth/second-factor", s.giveSecondFactor)
	r.user.POST("/tokens", s.createToken)
	r.user.GET("/tokens", s.listTokens)
	r.user.DELETE("/tokens/:id", s.revokeToken)

	r.staff.GET("/users", s.adminListUsers)
	r.staff.GET("/users/:id", s.adminGetUser)
	r.staff.PUT("/users/:id/role", s.requireRole(models.RoleAdmin), s.adminSetRole)
	r.staff.DELETE("/users/:id/second-factor", s.requireRole(models.RoleAdmin), s.adminResetSecondFactor)
}
