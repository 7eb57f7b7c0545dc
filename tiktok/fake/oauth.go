package fake

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"html"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// identity is a sandbox TikTok account.
type identity struct {
	openID, displayName string
}

// defaultIdentity is who the consent signs in as until SignInAs.
var defaultIdentity = identity{openID: "sandbox_creator", displayName: "Sandbox Creator"}

// codeTTL is how long an authorization code may wait to be exchanged.
const codeTTL = 10 * time.Minute

// knownScopes are the scopes the consent page accepts.
var knownScopes = map[string]bool{
	"user.info.basic": true, "user.info.profile": true, "user.info.stats": true,
	"video.list": true, "video.publish": true, "video.upload": true,
}

type authCode struct {
	id          identity
	redirectURI string
	challenge   string
	scopes      string
	expires     time.Time
	used        bool
}

// grant is one consent: what its tokens may do, and whether it still holds.
type grant struct {
	openID         string
	scopes         string
	revoked        bool
	refreshExpires time.Time // fixed at consent: refreshing does not extend it
}

type accessToken struct {
	grant   *grant
	expires time.Time
}

type refreshToken struct {
	grant *grant
	used  bool
}

// SignInAs makes the consent page sign in as this account from now on (the
// default is "sandbox_creator"), as if it were logged in on tiktok.com.
func (s *Server) SignInAs(openID, displayName string) {
	if openID == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := identity{openID: openID, displayName: displayName}
	s.signedIn = id
	s.identities[openID] = id
}

// LiveGrants counts the grants of openID that are not revoked, for tests
// that check an account's access was given up at the platform.
func (s *Server) LiveGrants(openID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, g := range s.grants {
		if g.openID == openID && !g.revoked {
			n++
		}
	}
	return n
}

// RevokeGrants simulates the user removing the app: refreshing their
// tokens answers invalid_grant and API calls answer access_token_invalid.
// A new consent works again.
func (s *Server) RevokeGrants(openID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.grants {
		if g.openID == openID {
			g.revoked = true
		}
	}
}

// ExpireAccessTokens ends the life of every access token the account has;
// their refresh tokens still work.
func (s *Server) ExpireAccessTokens(openID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, at := range s.access {
		if at.grant.openID == openID && at.expires.After(now) {
			at.expires = now
		}
	}
}

// authorize is the consent page: it validates the request and, with
// automatic consent, redirects to redirect_uri with code, scopes and state
// (or error and error_description).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	if q.Get("client_key") == "" || q.Get("client_key") != s.opts.ClientKey {
		http.Error(w, "client_key is not a registered app", http.StatusBadRequest)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() || (redirect.Scheme != "https" && redirect.Scheme != "http") || redirect.Fragment != "" {
		http.Error(w, "redirect_uri must be an absolute http(s) URI without a fragment", http.StatusBadRequest)
		return
	}
	state := q.Get("state")
	back := func(v url.Values) {
		out := redirect.Query()
		for k, vs := range v {
			out[k] = vs
		}
		if state != "" {
			out.Set("state", state)
		}
		u := *redirect
		u.RawQuery = out.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	refuse := func(code, desc string) {
		back(url.Values{"error": {code}, "error_description": {desc}})
	}
	if q.Get("response_type") != "code" {
		refuse("unsupported_response_type", "response_type must be code")
		return
	}
	scopes := q.Get("scope")
	if scopes == "" {
		refuse("invalid_scope", "scope is required")
		return
	}
	for _, sc := range strings.Split(scopes, ",") {
		if !knownScopes[sc] {
			refuse("invalid_scope", "unknown scope "+sc)
			return
		}
	}
	if state == "" {
		refuse("invalid_request", "state is required")
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if challenge != "" || method != "" {
		if method != "S256" {
			refuse("invalid_request", "code_challenge_method must be S256")
			return
		}
		if raw, err := hex.DecodeString(challenge); err != nil || len(raw) != sha256.Size {
			refuse("invalid_request", "code_challenge must be the hex SHA-256 of the code verifier")
			return
		}
	}
	code := randomToken("")
	s.mu.Lock()
	s.codes[code] = &authCode{id: s.signedIn, redirectURI: q.Get("redirect_uri"), challenge: challenge, scopes: scopes, expires: s.now().Add(codeTTL)}
	s.mu.Unlock()
	back(url.Values{"code": {code}, "scopes": {scopes}})
}

// readForm parses a form-encoded POST, answering the OAuth error itself
// when the request is not one or the client credentials are wrong.
func (s *Server) readForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if r.Method != http.MethodPost {
		s.oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "method must be POST")
		return nil, false
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		s.oauthError(w, http.StatusBadRequest, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.oauthError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return nil, false
	}
	f := r.PostForm
	keyOK := f.Get("client_key") != "" && f.Get("client_key") == s.opts.ClientKey
	secretOK := subtle.ConstantTimeCompare([]byte(f.Get("client_secret")), []byte(s.opts.ClientSecret)) == 1
	if !keyOK || !secretOK {
		s.oauthError(w, http.StatusUnauthorized, "invalid_client", "Client key or secret is incorrect.")
		return nil, false
	}
	return f, true
}

// hexChallenge is TikTok's S256 challenge: hex(SHA-256(verifier)).
func hexChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return hex.EncodeToString(sum[:])
}

// token is /v2/oauth/token/: authorization_code (single-use codes, PKCE
// checked) and refresh_token (rotating: a refresh token works once).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	f, ok := s.readForm(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	switch f.Get("grant_type") {
	case "authorization_code":
		c := s.codes[f.Get("code")]
		switch {
		case f.Get("code") == "":
			s.oauthError(w, http.StatusBadRequest, "invalid_request", "code is required")
		case c == nil || c.used || !now.Before(c.expires):
			s.oauthError(w, http.StatusBadRequest, "invalid_grant", "Authorization code is expired or has been used.")
		case f.Get("redirect_uri") != c.redirectURI:
			s.oauthError(w, http.StatusBadRequest, "invalid_request", "Redirect_uri is not matched with the uri when requesting code.")
		case c.challenge != "" && (f.Get("code_verifier") == "" || subtle.ConstantTimeCompare([]byte(hexChallenge(f.Get("code_verifier"))), []byte(c.challenge)) != 1):
			s.oauthError(w, http.StatusBadRequest, "invalid_request", "Code verifier or code challenge is invalid.")
		default:
			c.used = true
			g := &grant{openID: c.id.openID, scopes: c.scopes, refreshExpires: now.Add(s.opts.RefreshTTL)}
			s.grants = append(s.grants, g)
			s.issue(w, g, now)
		}
	case "refresh_token":
		rt := s.refresh[f.Get("refresh_token")]
		if rt == nil || rt.used || rt.grant.revoked || !now.Before(rt.grant.refreshExpires) {
			s.oauthError(w, http.StatusBadRequest, "invalid_grant", "Refresh token is invalid or expired.")
			return
		}
		rt.used = true
		s.issue(w, rt.grant, now)
	case "":
		s.oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
	default:
		s.oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
	}
}

// issue writes a new access and refresh token for g. Called with s.mu held.
func (s *Server) issue(w http.ResponseWriter, g *grant, now time.Time) {
	at, rt := randomToken("act."), randomToken("rft.")
	s.access[at] = &accessToken{grant: g, expires: now.Add(s.opts.AccessTTL)}
	s.refresh[rt] = &refreshToken{grant: g}
	s.writeJSON(w, http.StatusOK, map[string]any{
		"access_token":       at,
		"expires_in":         int64(s.opts.AccessTTL / time.Second),
		"open_id":            g.openID,
		"refresh_expires_in": int64(g.refreshExpires.Sub(now) / time.Second),
		"refresh_token":      rt,
		"scope":              g.scopes,
		"token_type":         "Bearer",
	})
}

// revoke is /v2/oauth/revoke/: it ends the grant the access token belongs
// to (its access and refresh tokens) and answers with an empty body.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	f, ok := s.readForm(w, r)
	if !ok {
		return
	}
	if f.Get("token") == "" {
		s.oauthError(w, http.StatusBadRequest, "invalid_request", "token is required")
		return
	}
	s.mu.Lock()
	if at := s.access[f.Get("token")]; at != nil {
		at.grant.revoked = true
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// authenticate checks the bearer token and that its grant holds one of
// scopes, answering the error itself when not. Called with s.mu held.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, scopes ...string) (*grant, string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	at := s.access[tok]
	if !ok || tok == "" || at == nil || at.grant.revoked || !s.now().Before(at.expires) {
		s.apiError(w, http.StatusUnauthorized, "access_token_invalid", "The access token is invalid or not found in the request.")
		return nil, "", false
	}
	granted := strings.Split(at.grant.scopes, ",")
	for _, want := range scopes {
		for _, have := range granted {
			if want == have {
				return at.grant, tok, true
			}
		}
	}
	s.apiError(w, http.StatusUnauthorized, "scope_not_authorized", "The user did not authorize the scope required for completing this request.")
	return nil, "", false
}

// userFields are the user info fields the fake knows (user.info.basic).
var userFields = map[string]bool{
	"open_id": true, "union_id": true, "avatar_url": true, "avatar_url_100": true,
	"avatar_large_url": true, "display_name": true,
}

// userInfo is GET /v2/user/info/?fields=...
func (s *Server) userInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.apiError(w, http.StatusMethodNotAllowed, "invalid_params", "method must be GET")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, _, ok := s.authenticate(w, r, "user.info.basic")
	if !ok {
		return
	}
	fields := r.URL.Query().Get("fields")
	if fields == "" {
		s.apiError(w, http.StatusBadRequest, "invalid_params", "fields is required")
		return
	}
	id := s.identity(g.openID)
	user := map[string]string{}
	for _, f := range strings.Split(fields, ",") {
		switch {
		case !userFields[f]:
			s.apiError(w, http.StatusBadRequest, "invalid_params", "unknown field "+f)
			return
		case f == "open_id":
			user[f] = id.openID
		case f == "union_id":
			user[f] = "union_" + id.openID
		case f == "display_name":
			user[f] = id.displayName
		default:
			user[f] = s.avatarURL(id.openID)
		}
	}
	s.apiData(w, map[string]any{"user": user})
}

// identity is the account with this open_id. Called with s.mu held.
func (s *Server) identity(openID string) identity {
	if id, ok := s.identities[openID]; ok {
		return id
	}
	return identity{openID: openID, displayName: openID}
}

func (s *Server) avatarURL(openID string) string {
	return s.base + avatarPath + url.PathEscape(openID) + ".svg"
}

// avatar serves a placeholder avatar so that the sandbox UI shows one.
func (s *Server) avatar(w http.ResponseWriter, r *http.Request, name string) {
	openID := strings.TrimSuffix(name, ".svg")
	initial := "?"
	for _, c := range openID {
		initial = strings.ToUpper(string(c))
		break
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><circle cx="50" cy="50" r="50" fill="#25f4ee"/><text x="50" y="64" font-size="44" text-anchor="middle" font-family="sans-serif">%s</text></svg>`, html.EscapeString(initial))
}
