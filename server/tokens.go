package server

import (
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/loomcast/loomcast/models"
)

// accessTokenPrefix marks Loomcast personal access tokens, so that secret
// scanners can recognise a leaked one.
const accessTokenPrefix = "lcp_"

// createTokenRequest is the body of POST /v1/tokens.
type createTokenRequest struct {
	Name string `json:"name"`
	// ExpiresInDays defaults to 90; at most 365.
	ExpiresInDays *int `json:"expires_in_days"`
}

// tokenView is an access token as listed; the secret is never shown again.
type tokenView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// createdToken answers POST /v1/tokens: the only time the secret is shown.
type createdToken struct {
	tokenView
	Token string `json:"token"`
}

func toTokenView(t models.AccessToken) tokenView {
	return tokenView{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt}
}

func (s *accountsAPI) createToken(c *gin.Context) {
	p := currentPrincipal(c)
	var req createTokenRequest
	if err := s.bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	done, ok := s.beginIdempotent(c, p.User.ID, p.User.ID, req)
	if !ok {
		return
	}
	defer done()
	fields := map[string]string{}
	name := strings.TrimSpace(req.Name)
	if n := utf8.RuneCountInString(name); n == 0 || n > 100 {
		fields["name"] = "is required, at most 100 characters (say what the token is for)"
	}
	days := 90
	if req.ExpiresInDays != nil {
		days = *req.ExpiresInDays
	}
	if days < 1 || days > 365 {
		fields["expires_in_days"] = "must be between 1 and 365"
	}
	if len(fields) > 0 {
		s.fail(c, invalid(fields))
		return
	}
	now := s.now()
	expires := now.AddDate(0, 0, days)
	secret := accessTokenPrefix + randomToken(32)
	tok := &models.AccessToken{UserID: p.User.ID, Name: name, TokenHash: hashToken(secret), CreatedAt: now, ExpiresAt: &expires}
	if err := s.store.CreateAccessToken(c.Request.Context(), tok); err != nil {
		s.fail(c, err)
		return
	}
	s.securityEvent(c.Request.Context(), "token_created", p.User.ID, c.ClientIP(), "token "+tok.ID+", expires in "+plural(days, "day"))
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, createdToken{tokenView: toTokenView(*tok), Token: secret})
}

// tokenList answers GET /v1/tokens.
type tokenList struct {
	Tokens []tokenView `json:"tokens"`
}

func (s *accountsAPI) listTokens(c *gin.Context) {
	toks, err := s.store.AccessTokens(c.Request.Context(), currentPrincipal(c).User.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := tokenList{Tokens: make([]tokenView, 0, len(toks))}
	for _, t := range toks {
		out.Tokens = append(out.Tokens, toTokenView(t))
	}
	c.JSON(http.StatusOK, out)
}

func (s *accountsAPI) revokeToken(c *gin.Context) {
	p := currentPrincipal(c)
	err := s.store.RevokeAccessToken(c.Request.Context(), p.User.ID, c.Param("id"), s.now())
	if errors.Is(err, models.ErrNotFound) {
		s.fail(c, errorf(CodeNotFound, "You have no access token with this ID."))
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	s.securityEvent(c.Request.Context(), "token_revoked", p.User.ID, c.ClientIP(), "token "+c.Param("id"))
	c.Status(http.StatusNoContent)
}
