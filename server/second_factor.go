package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/totp"
)

// totpIssuer names Loomcast in authenticator apps.
const totpIssuer = "Loomcast"

// sealContext binds a sealed TOTP secret to its account.
func totpSealContext(userID string) string { return "user:" + userID + ":totp" }

// secondFactorCodes are the ways to give the second factor: a code of the
// authenticator app, or one of the recovery codes.
type secondFactorCodes struct {
	TOTPCode     string `json:"totp_code"`
	RecoveryCode string `json:"recovery_code"`
}

func (f secondFactorCodes) empty() bool { return f.TOTPCode == "" && f.RecoveryCode == "" }

// errWrongSecondFactor is the one answer for a wrong, replayed or used
// code.
var errWrongSecondFactor = &Error{Code: CodeBadCredentials, Message: "The second-factor code is wrong or was already used.",
	Fields: map[string]string{"totp_code": "is wrong or was already used"}}

// checkSecondFactor checks a code of u's second factor, spending it: a
// TOTP time step and a recovery code each work once. It returns which kind
// was used ("totp" or "recovery code"). Wrong codes count as failed
// sign-ins of the account.
func (s *base) checkSecondFactor(c *gin.Context, u models.User, f secondFactorCodes) (string, error) {
	ctx := c.Request.Context()
	key := "second-factor:" + u.ID
	if wait, blocked := s.limits.accountFailures.blocked(key); blocked {
		return "", &Error{Code: CodeRateLimited, Message: "Too many wrong second-factor codes; wait before trying again.", RetryAfter: retryAfterSeconds(wait)}
	}
	fail := func(detail string) error {
		s.limits.accountFailures.add(key)
		s.securityEvent(ctx, "second_factor_failed", u.ID, c.ClientIP(), detail)
		return errWrongSecondFactor
	}
	if f.RecoveryCode != "" {
		hashes := u.RecoveryHashes()
		i, ok := totp.MatchRecoveryCode(s.cfg.SessionKey, hashes, f.RecoveryCode)
		if !ok {
			return "", fail("wrong recovery code")
		}
		left := append(append([]string{}, hashes[:i]...), hashes[i+1:]...)
		used, err := s.store.UseRecoveryCode(ctx, u.ID, hashes, left)
		if err != nil {
			return "", err
		}
		if !used {
			return "", fail("recovery code used concurrently")
		}
		s.securityEvent(ctx, "recovery_code_used", u.ID, c.ClientIP(), strings.TrimSpace(plural(len(left), "recovery code")+" left"))
		return "recovery code", nil
	}
	secret, err := s.openTOTP(u.ID, u.TOTPSecretSealed)
	if err != nil {
		return "", err
	}
	step, err := totp.Verify(secret, f.TOTPCode, s.now(), u.TOTPLastStep)
	if errors.Is(err, totp.ErrWrong) || errors.Is(err, totp.ErrReplayed) {
		return "", fail("wrong or replayed code")
	}
	if err != nil {
		return "", err
	}
	used, err := s.store.UseTOTPStep(ctx, u.ID, step)
	if err != nil {
		return "", err
	}
	if !used {
		return "", fail("code used concurrently")
	}
	s.limits.accountFailures.reset(key)
	return "totp", nil
}

func (s *base) openTOTP(userID, sealed string) ([]byte, error) {
	if s.vault == nil {
		return nil, errors.New("second factor: no vault to open the secret")
	}
	encoded, err := s.vault.Open(sealed, totpSealContext(userID))
	if err != nil {
		return nil, err
	}
	return totp.Decode(encoded)
}

// plural says n things.
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}

// enrolRequest is the body of POST /v1/me/second-factor.
type enrolRequest struct {
	// Password re-authenticates accounts that have one.
	Password string `json:"password"`
}

// enrolResponse gives the new secret, once, to put in an authenticator
// app.
type enrolResponse struct {
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauth_uri"`
	Message    string `json:"message"`
}

// enrolSecondFactor answers POST /v1/me/second-factor: a new TOTP secret,
// waiting for its first code at .../confirm. A second factor already set
// stays until the new one is confirmed.
func (s *accountsAPI) enrolSecondFactor(c *gin.Context) {
	p := currentPrincipal(c)
	var req enrolRequest
	if err := s.bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.recentAuth(c, p, req.Password); err != nil {
		s.fail(c, err)
		return
	}
	if s.vault == nil {
		s.fail(c, errors.New("second factor: no vault to seal the secret"))
		return
	}
	secret, err := totp.NewSecret()
	if err != nil {
		s.fail(c, err)
		return
	}
	sealed, err := s.vault.Seal(totp.Encode(secret), totpSealContext(p.User.ID))
	if err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	if err := s.store.SetPendingTOTP(ctx, p.User.ID, sealed); err != nil {
		s.fail(c, err)
		return
	}
	s.securityEvent(ctx, "second_factor_enrolment_started", p.User.ID, c.ClientIP(), "a new TOTP secret waits for its first code")
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, enrolResponse{Secret: totp.Encode(secret), OTPAuthURI: totp.URI(totpIssuer, p.User.Email, secret),
		Message: "Add the secret to your authenticator app (or scan the otpauth URI as a QR code), then send its current code to POST /v1/me/second-factor/confirm."})
}

// confirmResponse gives the recovery codes, once.
type confirmResponse struct {
	EnabledAt     time.Time `json:"enabled_at"`
	RecoveryCodes []string  `json:"recovery_codes"`
	Message       string    `json:"message"`
}

// confirmSecondFactor answers POST /v1/me/second-factor/confirm: the first
// code of the waiting secret makes it the account's second factor, and
// new recovery codes are shown, once. The current session counts as
// having given it.
func (s *accountsAPI) confirmSecondFactor(c *gin.Context) {
	p := currentPrincipal(c)
	var body codeRequest
	if err := s.bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	if p.User.TOTPPendingSealed == "" {
		s.fail(c, errorf(CodeNotFound, "No second factor waits for its first code: start with POST /v1/me/second-factor."))
		return
	}
	secret, err := s.openTOTP(p.User.ID, p.User.TOTPPendingSealed)
	if err != nil {
		s.fail(c, err)
		return
	}
	step, err := totp.Verify(secret, body.Code, s.now(), 0)
	if errors.Is(err, totp.ErrWrong) || errors.Is(err, totp.ErrReplayed) {
		s.fail(c, invalid(map[string]string{"code": "is not the current code of the new secret (check the app's clock)"}))
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	codes, hashes, err := totp.NewRecoveryCodes(s.cfg.SessionKey, totp.RecoveryCodes)
	if err != nil {
		s.fail(c, err)
		return
	}
	now := s.now()
	if err := s.store.EnableTOTP(ctx, p.User.ID, p.User.TOTPPendingSealed, step, hashes, now); err != nil {
		s.fail(c, err)
		return
	}
	if p.SessionID != "" {
		if err := s.store.MarkSecondFactor(ctx, p.SessionID, now); err != nil {
			s.fail(c, err)
			return
		}
	}
	s.securityEvent(ctx, "second_factor_enabled", p.User.ID, c.ClientIP(), "TOTP confirmed; "+plural(len(codes), "recovery code")+" issued")
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, confirmResponse{EnabledAt: now, RecoveryCodes: codes,
		Message: "Your second factor is on: signing in now needs a code of the app. Keep the recovery codes somewhere safe; each works once, for when the app is lost."})
}

// giveSecondFactor answers POST /v1/auth/second-factor: a signed-in
// session (such as a Google sign-in) gives the second factor, as staff
// routes in production need.
func (s *accountsAPI) giveSecondFactor(c *gin.Context) {
	p := currentPrincipal(c)
	var body secondFactorCodes
	if err := s.bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	if p.SessionID == "" {
		s.fail(c, errorf(CodeForbidden, "A second factor is given in a browser session, not with an access token."))
		return
	}
	if !p.User.SecondFactor() {
		s.fail(c, errorf(CodeConflict, "This account has no second factor: enrol with POST /v1/me/second-factor."))
		return
	}
	if body.empty() {
		s.fail(c, invalid(map[string]string{"totp_code": "is required (or recovery_code)"}))
		return
	}
	how, err := s.checkSecondFactor(c, p.User, body)
	if err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	if err := s.store.MarkSecondFactor(ctx, p.SessionID, s.now()); err != nil {
		s.fail(c, err)
		return
	}
	p.SecondFactor = true
	s.securityEvent(ctx, "second_factor", p.User.ID, c.ClientIP(), "given in the session with a "+how)
	s.answerProfile(c, p.User)
}

// adminResetSecondFactor answers DELETE /v1/admin/users/{id}/second-factor:
// an admin removes the second factor of someone who lost it; their
// sessions end, and they enrol again after signing in.
func (s *accountsAPI) adminResetSecondFactor(c *gin.Context) {
	admin := currentPrincipal(c).User
	id := c.Param("id")
	if !validID(id) {
		s.fail(c, errorf(CodeNotFound, "No user has this ID."))
		return
	}
	if id == admin.ID {
		s.fail(c, errorf(CodeConflict, "You cannot reset your own second factor; ask another admin."))
		return
	}
	ctx := c.Request.Context()
	if err := s.store.ResetSecondFactor(ctx, id, s.now()); err != nil {
		if errors.Is(err, models.ErrNotFound) {
			s.fail(c, errorf(CodeNotFound, "No user has this ID."))
			return
		}
		s.fail(c, err)
		return
	}
	s.securityEvent(ctx, "second_factor_reset", id, c.ClientIP(), "by admin "+admin.ID+"; sessions ended")
	s.securityEvent(ctx, "second_factor_reset_by_me", admin.ID, c.ClientIP(), "of user "+id)
	c.Status(http.StatusNoContent)
}

// requireStaffSecondFactor keeps staff routes, in production, to sessions
// that gave a second factor (policy 004 section 11: multi-factor
// authentication for personnel with access to production). In
// development it is optional.
func (s *base) requireStaffSecondFactor(c *gin.Context) {
	p := currentPrincipal(c)
	if !s.cfg.Production || p == nil || p.SecondFactor {
		c.Next()
		return
	}
	msg := "Staff routes need a browser session signed in with a second factor: sign in with your password and totp_code, or give it with POST /v1/auth/second-factor."
	if !p.User.SecondFactor() {
		msg = "Staff routes need a second factor: enrol with POST /v1/me/second-factor and confirm it, then sign in with its code."
	}
	s.fail(c, errorf(CodeSecondFactorRequired, "%s", msg))
}
