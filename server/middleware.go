package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/loomcast/loomcast/config"
	"github.com/loomcast/loomcast/models"
)

const (
	ctxRequestID = "loomcast.request_id"
	ctxPrincipal = "loomcast.principal"
	ctxLogger    = "loomcast.logger"
)

// sessionTouchEvery throttles the database write that slides a session: the
// cookie carries the exact expiry, the row a bound at most this much later.
const sessionTouchEvery = time.Minute

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// principal is who is calling.
type principal struct {
	User models.User
	// SessionID is set for a browser session, empty for an access token.
	SessionID string
	// Token is set for an access token.
	Token *models.AccessToken
	// SecondFactor says the session's holder gave a second factor.
	SecondFactor bool
}

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

// log returns the request's logger, carrying its request ID.
func (s *base) log(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(ctxLogger); ok {
		return l.(*slog.Logger)
	}
	return s.logger
}

// requestContext gives every request an ID (kept from X-Request-ID when it
// looks sane) and logs one line per request, never its headers or body.
func (s *Server) requestContext(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if !validRequestID.MatchString(id) {
		id = randomToken(12)
	}
	c.Set(ctxRequestID, id)
	c.Header("X-Request-ID", id)
	logger := s.logger.With(slog.String("request_id", id))
	c.Set(ctxLogger, logger)
	start := time.Now()
	c.Next()
	attrs := []any{
		slog.String("method", c.Request.Method),
		slog.String("route", c.FullPath()),
		slog.Int("status", c.Writer.Status()),
		slog.Duration("duration", time.Since(start)),
	}
	line := models.RequestLog{At: s.now(), Method: c.Request.Method, Path: c.FullPath(), Status: c.Writer.Status(),
		DurationMS: time.Since(start).Milliseconds(), IP: c.ClientIP(), RequestID: id}
	if p, ok := c.Get(ctxPrincipal); ok {
		attrs = append(attrs, slog.String("user_id", p.(*principal).User.ID))
		line.UserID = p.(*principal).User.ID
	}
	logger.Info("request", attrs...)
	s.requestLogs.add(line)
}

// securityHeaders are set on every answer: no content sniffing, no
// Referer leaving with a link (signed export and photo links carry their
// credential in the query), and, in production, HSTS.
func (s *Server) securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if s.cfg.Production {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	c.Next()
}

// noStore keeps every /v1 answer out of caches: authenticated ones hold
// personal data, and the public ones are CSRF tokens, signed downloads
// and refusals. A handler may set its own Cache-Control after it.
func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Next()
}

// sandboxCSP confines the sandboxes' pages and pictures (consent
// redirects, SVG avatars): no script, no frame, no form elsewhere.
func sandboxCSP(c *gin.Context) {
	c.Header("Content-Security-Policy", "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	c.Next()
}

func (s *Server) recoverPanic(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.fail(c, fmt.Errorf("panic: %v", v))
		}
	}()
	c.Next()
}

func (s *Server) limitBody(c *gin.Context) {
	// Uploads stream large bodies under their own limit; the sandboxes stand
	// in for external platforms, which take video chunks.
	if c.Request.Body != nil && c.FullPath() != "/v1/uploads" && !strings.HasPrefix(c.FullPath(), "/sandbox/") {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes)
	}
	c.Next()
}

// authenticate identifies the caller by a bearer access token or by the
// session cookie, and slides the session's expiry. It never refuses: routes
// that need a user add requireUser.
func (s *Server) authenticate(c *gin.Context) {
	if auth := c.GetHeader("Authorization"); auth != "" {
		scheme, secret, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "Bearer") || secret == "" {
			s.fail(c, errorf(CodeUnauthenticated, "The Authorization header must be \"Bearer <personal access token>\"."))
			return
		}
		p, err := s.principalFromToken(c, strings.TrimSpace(secret))
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Set(ctxPrincipal, p)
		c.Next()
		return
	}
	if raw, err := c.Cookie(s.cookies.sessionName()); err == nil && raw != "" {
		p, err := s.principalFromSession(c, raw)
		if err != nil {
			s.fail(c, err)
			return
		}
		if p != nil {
			c.Set(ctxPrincipal, p)
		} else {
			// Expired or revoked: tell the browser to drop it.
			http.SetCookie(c.Writer, s.cookies.cookie(s.cookies.sessionName(), "", "/", -1, true))
		}
	}
	c.Next()
}

func (s *Server) principalFromToken(c *gin.Context, secret string) (*principal, error) {
	ctx := c.Request.Context()
	tok, err := s.store.AccessTokenByHash(ctx, hashToken(secret))
	now := s.now()
	if errors.Is(err, models.ErrNotFound) || (err == nil && !tok.Active(now)) {
		return nil, errorf(CodeUnauthenticated, "The access token is unknown, expired or revoked.")
	}
	if err != nil {
		return nil, err
	}
	u, err := s.store.UserByID(ctx, tok.UserID)
	if err != nil || u.ClosedAt != nil {
		return nil, errorf(CodeUnauthenticated, "The access token is unknown, expired or revoked.")
	}
	if tok.LastUsedAt == nil || now.Sub(*tok.LastUsedAt) > sessionTouchEvery {
		if err := s.store.TouchAccessToken(ctx, tok.ID, now); err != nil {
			return nil, err
		}
	}
	return &principal{User: u, Token: &tok}, nil
}

// principalFromSession returns nil (no error) for a cookie that is no
// longer valid: the caller is then simply signed out.
func (s *Server) principalFromSession(c *gin.Context, raw string) (*principal, error) {
	ctx := c.Request.Context()
	now := s.now()
	claims, err := s.cookies.decodeSession(raw, now)
	if err != nil {
		return nil, nil
	}
	sess, err := s.store.SessionByID(ctx, claims.SessionID)
	if errors.Is(err, models.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if sess.UserID != claims.Subject || !sess.Active(now.Add(-sessionTouchEvery)) {
		return nil, nil
	}
	u, err := s.store.UserByID(ctx, sess.UserID)
	if errors.Is(err, models.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if u.ClosedAt != nil {
		return nil, nil
	}
	// Slide: a new cookie on every request, the row now and then. The
	// next request reads the row, so it is written here; its retention
	// bucket and the marketing clock are the background writer's.
	expires := now.Add(config.SessionIdle)
	if now.Sub(sess.LastSeenAt) >= sessionTouchEvery {
		if err := s.store.TouchSession(ctx, sess.ID, now, expires); err != nil {
			return nil, err
		}
		s.sessionTouches.add(sessionTouch{SessionID: sess.ID, UserID: u.ID, At: now})
		if claims.Platforms, err = s.store.ConnectedPlatforms(ctx, u.ID); err != nil {
			return nil, err
		}
	}
	claims.Email, claims.Timezone, claims.ExpiresAt = u.Email, u.Timezone, expires.Unix()
	s.setSessionCookie(c, claims)
	return &principal{User: u, SessionID: sess.ID, SecondFactor: sess.SecondFactorAt != nil}, nil
}

func (s *base) setSessionCookie(c *gin.Context, claims sessionClaims) {
	http.SetCookie(c.Writer, s.cookies.cookie(s.cookies.sessionName(), s.cookies.encodeSession(claims), "/", config.SessionIdle, true))
}

// currentPrincipal returns the caller, or nil when signed out.
func currentPrincipal(c *gin.Context) *principal {
	if p, ok := c.Get(ctxPrincipal); ok {
		return p.(*principal)
	}
	return nil
}

// checkCSRF requires a valid X-CSRF-Token on every state-changing request
// that is not authenticated by a bearer token (browsers never add one by
// themselves). The token must equal the CSRF cookie and be bound to the
// current session, or to "signed out" for sign-in requests.
func (s *Server) checkCSRF(c *gin.Context) {
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		c.Next()
		return
	}
	p := currentPrincipal(c)
	if p != nil && p.Token != nil {
		c.Next()
		return
	}
	sessionID := ""
	if p != nil {
		sessionID = p.SessionID
	}
	header := c.GetHeader("X-CSRF-Token")
	cookie, _ := c.Cookie(s.cookies.csrfName())
	if header == "" || !equalStrings(header, cookie) || !s.cookies.validCSRFToken(header, sessionID) {
		s.fail(c, errorf(CodeCSRF, "Missing or invalid X-CSRF-Token header: fetch a token from GET /v1/auth/csrf and send it with the cookie it sets."))
		return
	}
	c.Next()
}

func (s *Server) requireUser(c *gin.Context) {
	if currentPrincipal(c) == nil {
		s.fail(c, errorf(CodeUnauthenticated, "Sign in, or send a personal access token as \"Authorization: Bearer <token>\"."))
		return
	}
	c.Next()
}

// requireRole lets through users holding one of the roles; admin holds all.
func (s *base) requireRole(roles ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := currentPrincipal(c)
		if p == nil {
			s.fail(c, errorf(CodeUnauthenticated, "Sign in as a staff member."))
			return
		}
		if p.User.Role != models.RoleAdmin && !slices.Contains(roles, p.User.Role) {
			s.fail(c, errorf(CodeForbidden, "This needs one of the roles: %s.", strings.Join(roles, ", ")))
			return
		}
		c.Next()
	}
}

// bindJSON decodes a JSON body strictly: the content type must be JSON,
// unknown fields and trailing data are refused, size is capped, and text
// that decoding would silently alter (invalid UTF-8, lone surrogates) or
// a NUL is refused with the field it is in.
func (s *base) bindJSON(c *gin.Context, dst any) error {
	ct := c.GetHeader("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return errorf(CodeUnsupportedType, "Send the body as JSON with Content-Type: application/json.")
	}
	raw, err := io.ReadAll(c.Request.Body)
	if err != nil {
		return decodeError(err)
	}
	if field, problem := badText(raw); problem != "" {
		return &Error{Code: CodeInvalid, Message: "Some text is not valid; see errors.", Fields: map[string]string{field: problem}}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errorf(CodeMalformed, "The body must hold exactly one JSON object.")
	}
	return nil
}

func decodeError(err error) error {
	var (
		maxErr    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &maxErr):
		return errorf(CodeTooLarge, "The body is larger than %d bytes.", maxErr.Limit)
	case errors.As(err, &syntaxErr):
		return errorf(CodeMalformed, "The body is not valid JSON (error at byte %d).", syntaxErr.Offset)
	case errors.As(err, &typeErr):
		return &Error{Code: CodeInvalid, Message: "Some fields have the wrong type; see errors.",
			Fields: map[string]string{typeErr.Field: "must be a " + typeErr.Type.String()}}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(CodeMalformed, "The body is empty or cut short; send a JSON object.")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &Error{Code: CodeInvalid, Message: "The body has a field this endpoint does not take.",
			Fields: map[string]string{field: "is not a known field"}}
	}
	return errorf(CodeMalformed, "The body could not be read as JSON.")
}

// honourGPC records a Global Privacy Control signal (Sec-GPC: 1) from a
// signed-in person as an opt-out of sale and sharing (CPRA regulations
// 7025), once: later requests find it recorded.
func (s *base) honourGPC(c *gin.Context) {
	p := currentPrincipal(c)
	if p == nil || c.GetHeader("Sec-GPC") != "1" {
		c.Next()
		return
	}
	ctx := c.Request.Context()
	consents, err := s.store.Consents(ctx, p.User.ID)
	if err == nil {
		if cur, ok := consents[models.PurposeSaleOrSharing]; !ok || cur.Granted {
			err = s.store.RecordConsent(ctx, models.Consent{UserID: p.User.ID, Purpose: models.PurposeSaleOrSharing, Granted: false,
				At: s.now(), Source: "Global Privacy Control (Sec-GPC: 1)"})
		}
	}
	if err != nil {
		s.log(c).Warn("record Global Privacy Control", "error", err.Error())
	}
	c.Next()
}
