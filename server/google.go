package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"github.com/loomcast/loomcast/config"
	"github.com/loomcast/loomcast/google"
	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/models"
)

// OAuth flow cookies of Google sign-in (policy 000 section 10.3): HttpOnly,
// ten minutes, scoped to the flow's path and deleted once it completes.
const (
	googleStateCookie    = "google_oauth_state"
	googleVerifierCookie = "google_code_verifier"
	googleFlowPath       = "/v1/auth/google"
)

// googleStart sends the browser to Google's consent page with a fresh
// state and PKCE verifier, each kept in a short-lived cookie.
//
// Signing up with Google needs the age confirmation that registration
// asks (country and age), and the start is the only request of the flow
// that the web app makes: Google sends the browser back to the callback.
// So the start takes them as query parameters, checks them at once (a
// child is refused before the browser goes to Google, so no Google
// identity of theirs ever reaches us), and keeps only the outcome in the
// state cookie, bound to the state by a MAC with the session key: neither
// the age nor the country is kept. Without them the
// flow still signs into an existing account; only creating one needs it.
func (s *accountsAPI) googleStart(c *gin.Context) {
	if s.google == nil {
		s.fail(c, errorf(CodeNotFound, "Google sign-in is not configured on this server."))
		return
	}
	state, verifier := randomToken(32), oauth2.GenerateVerifier()
	cookieState := state
	if conf, given := ageFromQuery(c); given {
		fields := map[string]string{}
		if err := conf.check(fields); err != nil {
			s.fail(c, err)
			return
		}
		if len(fields) > 0 {
			s.fail(c, invalid(fields))
			return
		}
		cookieState = state + "." + s.cookies.ageConfirmedTag(state)
	}
	http.SetCookie(c.Writer, s.cookies.cookie(s.cookies.flowName(googleStateCookie), cookieState, googleFlowPath, config.OAuthFlowTTL, true))
	http.SetCookie(c.Writer, s.cookies.cookie(s.cookies.flowName(googleVerifierCookie), verifier, googleFlowPath, config.OAuthFlowTTL, true))
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, s.google.AuthCodeURL(state, verifier))
}

// googleCallback completes the sign-in: it checks state, exchanges the code
// with the PKCE verifier, then signs into the linked account, links the
// account with the same verified email, or creates one.
func (s *accountsAPI) googleCallback(c *gin.Context) {
	if s.google == nil {
		s.fail(c, errorf(CodeNotFound, "Google sign-in is not configured on this server."))
		return
	}
	cookieState, _ := c.Cookie(s.cookies.flowName(googleStateCookie))
	state, tag, _ := strings.Cut(cookieState, ".")
	ageConfirmed := tag != "" && s.cookies.validAgeConfirmedTag(state, tag)
	verifier, _ := c.Cookie(s.cookies.flowName(googleVerifierCookie))
	for _, name := range []string{googleStateCookie, googleVerifierCookie} {
		http.SetCookie(c.Writer, s.cookies.cookie(s.cookies.flowName(name), "", googleFlowPath, -1, true))
	}
	if state == "" || verifier == "" {
		s.fail(c, errorf(CodeInvalid, "The sign-in took longer than 10 minutes or cookies are blocked; start again from /v1/auth/google/start."))
		return
	}
	if !equalStrings(c.Query("state"), state) {
		s.fail(c, errorf(CodeInvalid, "The sign-in state does not match; start again from /v1/auth/google/start."))
		return
	}
	if e := c.Query("error"); e != "" {
		s.redirectToApp(c, "google_"+e)
		return
	}
	code := c.Query("code")
	if code == "" {
		s.fail(c, errorf(CodeInvalid, "Google sent no authorization code; start again."))
		return
	}
	id, err := s.google.Exchange(c.Request.Context(), code, verifier)
	if errors.Is(err, google.ErrDenied) {
		s.redirectToApp(c, "google_denied")
		return
	}
	if err != nil {
		s.log(c).Error("google exchange", "error", err.Error())
		s.fail(c, &Error{Code: CodeUnavailable, Message: "Google could not be reached; try again in a minute.", RetryAfter: 30})
		return
	}
	u, err := s.googleAccount(c, id, ageConfirmed)
	if errors.Is(err, errAgeNotConfirmed) {
		s.redirectToApp(c, "age_confirmation_required")
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	if u.ClosedAt != nil {
		s.redirectToApp(c, "account_closed")
		return
	}
	if _, err := s.startSession(c, u); err != nil {
		s.fail(c, err)
		return
	}
	s.securityEvent(c.Request.Context(), "login", u.ID, c.ClientIP(), "Google")
	s.redirectToApp(c, "")
}

// errAgeNotConfirmed stops a Google sign-in that would create an account
// without the age confirmation; nothing of the identity is kept.
var errAgeNotConfirmed = errors.New("a new account needs the age confirmation")

// googleAccount finds or creates the account for a Google identity; it
// creates one only when the flow started with the age confirmation.
func (s *accountsAPI) googleAccount(c *gin.Context, id google.Identity, ageConfirmed bool) (models.User, error) {
	ctx := c.Request.Context()
	u, err := s.store.UserByGoogleSub(ctx, id.Subject)
	if err == nil {
		return u, nil
	}
	if !errors.Is(err, models.ErrNotFound) {
		return models.User{}, err
	}
	if !id.EmailVerified {
		return models.User{}, errorf(CodeForbidden, "Your Google account's email address is not verified; verify it with Google first.")
	}
	u, err = s.store.UserByEmail(ctx, id.Email)
	switch {
	case err == nil && u.ClosedAt != nil:
		return u, nil // closed: the caller refuses it, nothing is linked
	case err == nil && u.Verified():
		if err := s.store.LinkGoogle(ctx, u.ID, id.Subject, id.Picture); err != nil {
			return models.User{}, err
		}
		s.securityEvent(ctx, "google_linked", u.ID, c.ClientIP(), "Google sign-in linked through the account's verified address")
		return s.store.UserByID(ctx, u.ID)
	case err == nil:
		return s.claimByGoogle(c, u, id)
	case !errors.Is(err, models.ErrNotFound):
		return models.User{}, err
	}
	if !ageConfirmed {
		return models.User{}, errAgeNotConfirmed
	}
	name := strings.TrimSpace(id.Name)
	if name == "" {
		name, _, _ = strings.Cut(id.Email, "@")
	}
	sub := id.Subject
	// Google verified the address.
	nu := &models.User{Email: id.Email, GoogleSub: &sub, DisplayName: name, AvatarURL: id.Picture, Timezone: "UTC",
		EmailVerifiedAt: models.Ptr(s.now())}
	if err := s.store.CreateUser(ctx, nu); err != nil {
		if errors.Is(err, models.ErrConflict) {
			return models.User{}, errorf(CodeConflict, "This Google account or email is already registered; sign in with your password and try again.")
		}
		return models.User{}, err
	}
	// Sign-ups of the address waiting for their code can no longer open
	// an account: drop them now rather than at their day's end.
	if err := s.store.DropRegistrations(ctx, nu.Email); err != nil {
		s.log(c).Error("drop registrations", "error", err.Error(), "user_id", nu.ID)
	}
	s.securityEvent(ctx, "registered", nu.ID, c.ClientIP(), "with Google, whose address is verified")
	return *nu, nil
}

// claimByGoogle gives an account whose address was never proven (made
// before addresses were verified) to the Google identity that proves it.
// Whoever made the account never showed that they held the address, so
// what they set ends: the password, every session and every personal
// access token. Otherwise whoever signed up with someone else's address
// would keep a way into that person's account once they sign in with
// Google. The address is told.
func (s *accountsAPI) claimByGoogle(c *gin.Context, u models.User, id google.Identity) (models.User, error) {
	ctx := c.Request.Context()
	nu, err := s.store.ClaimByGoogle(ctx, u.ID, id.Subject, id.Picture, s.now())
	if err != nil {
		return models.User{}, err
	}
	s.securityEvent(ctx, "google_linked", u.ID, c.ClientIP(),
		"Google proved the unverified address: the password, sessions and access tokens set before were ended")
	err = s.mail.Send(context.WithoutCancel(ctx), mail.Message{To: nu.Email, Kind: "google_claimed",
		Subject: "Your Loomcast account is now signed in with Google",
		Text: "You signed in with Google to the Loomcast account of this address, whose address had not been verified.\n\n" +
			"Google verified the address, so the account is yours: any password, session and personal access token set " +
			"before were ended, in case someone else opened the account with your address. Sign in with Google from now on, " +
			"or set a password in your profile.\n"})
	if err != nil {
		s.log(c).Error("send google claimed notice", "error", err.Error(), "user_id", u.ID)
	}
	return nu, nil
}

// redirectToApp sends the browser back to the web app, with an error code
// in the query when the sign-in did not succeed.
func (s *accountsAPI) redirectToApp(c *gin.Context, errCode string) {
	target := s.cfg.AppURL
	if errCode != "" {
		u, err := url.Parse(target)
		if err == nil {
			q := u.Query()
			q.Set("auth_error", errCode)
			u.RawQuery = q.Encode()
			target = u.String()
		}
	}
	c.Redirect(http.StatusFound, target)
}
