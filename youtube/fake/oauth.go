package fake

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// authCode is an issued authorization code, usable once within codeTTL.
type authCode struct {
	redirectURI, challenge string
	identity               identity
	scopes                 []string
	expires                time.Time
}

// grant is what a consent yields: a refresh token for one channel.
type grant struct {
	refreshToken string
	channelID    string
	title        string
	scopes       []string
	revoked      bool
}

// access is an issued access token.
type access struct {
	grant   *grant
	expires time.Time
}

const codeTTL = 10 * time.Minute

var knownScopes = map[string]bool{
	scopePrefix + "youtube":           true,
	scopePrefix + "youtube.upload":    true,
	scopePrefix + "youtube.readonly":  true,
	scopePrefix + "youtube.force-ssl": true,
	"openid":                          true,
	"email":                           true,
	"profile":                         true,
}

// authorize consents at once as the signed-in identity and redirects back
// with a code, after Google's checks: a bad client or redirect URI gets an
// error page, other mistakes an error redirect.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != s.clientID || s.clientID == "" {
		http.Error(w, "Error 401: invalid_client. The OAuth client was not found.", http.StatusUnauthorized)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || (redirect.Scheme != "http" && redirect.Scheme != "https") || redirect.Host == "" || redirect.Fragment != "" {
		http.Error(w, "Error 400: redirect_uri_mismatch. redirect_uri must be an absolute http(s) URL.", http.StatusBadRequest)
		return
	}
	state := q.Get("state")
	back := func(params url.Values) {
		rq := redirect.Query()
		for k, v := range params {
			rq[k] = v
		}
		if state != "" {
			rq.Set("state", state)
		}
		redirect.RawQuery = rq.Encode()
		http.Redirect(w, r, redirect.String(), http.StatusFound)
	}
	refuse := func(code, desc string) {
		back(url.Values{"error": {code}, "error_description": {desc}})
	}
	scopes := strings.Fields(q.Get("scope"))
	switch {
	case q.Get("response_type") != "code":
		refuse("unsupported_response_type", "response_type must be code")
		return
	case q.Get("code_challenge_method") != "S256":
		refuse("invalid_request", "code_challenge_method must be S256")
		return
	case len(q.Get("code_challenge")) != 43:
		refuse("invalid_request", "code_challenge must be a base64url SHA-256 digest")
		return
	case q.Get("access_type") != "offline":
		refuse("invalid_request", "access_type must be offline")
		return
	case len(scopes) == 0:
		refuse("invalid_request", "Missing required parameter: scope")
		return
	}
	for _, sc := range scopes {
		if !knownScopes[sc] {
			refuse("invalid_scope", "Some requested scopes were invalid: "+sc)
			return
		}
	}
	code := "4/0A" + randomID(60)
	s.mu.Lock()
	s.codes[code] = &authCode{
		redirectURI: q.Get("redirect_uri"),
		challenge:   q.Get("code_challenge"),
		identity:    s.identity,
		scopes:      scopes,
		expires:     s.now().Add(codeTTL),
	}
	s.mu.Unlock()
	back(url.Values{"code": {code}, "scope": {strings.Join(scopes, " ")}})
}

// token serves the authorization_code and refresh_token grants.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "Method not allowed")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Malformed form body")
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != s.clientID || subtle.ConstantTimeCompare([]byte(secret), []byte(s.clientSecret)) != 1 {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "Unauthorized")
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "authorization_code":
		s.exchange(w, r)
	case "refresh_token":
		s.refresh(w, r)
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+gt)
	}
}

func (s *Server) exchange(w http.ResponseWriter, r *http.Request) {
	code := r.PostForm.Get("code")
	s.mu.Lock()
	defer s.mu.Unlock()
	ac := s.codes[code]
	delete(s.codes, code) // single use, even when refused below
	switch {
	case ac == nil || !s.now().Before(ac.expires):
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Bad Request")
		return
	case r.PostForm.Get("redirect_uri") != ac.redirectURI:
		writeOAuthError(w, http.StatusBadRequest, "redirect_uri_mismatch", "Bad Request")
		return
	case r.PostForm.Get("code_verifier") == "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Missing code verifier.")
		return
	case !verifierMatches(r.PostForm.Get("code_verifier"), ac.challenge):
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Invalid code verifier.")
		return
	}
	g := &grant{
		refreshToken: "1//fake-" + randomID(64),
		channelID:    ac.identity.channelID,
		title:        ac.identity.title,
		scopes:       ac.scopes,
	}
	s.grants[g.refreshToken] = g
	resp := s.issueAccess(g)
	resp["refresh_token"] = g.refreshToken
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) refresh(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.grants[r.PostForm.Get("refresh_token")]
	if g == nil || g.revoked {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
		return
	}
	writeJSON(w, http.StatusOK, s.issueAccess(g)) // no refresh_token: the old one stays
}

// issueAccess mints an access token for g; s.mu must be held.
func (s *Server) issueAccess(g *grant) map[string]any {
	tok := "ya29.fake-" + randomID(80)
	s.access[tok] = &access{grant: g, expires: s.now().Add(s.accessTTL)}
	return map[string]any{
		"access_token": tok,
		"expires_in":   int(s.accessTTL / time.Second),
		"scope":        strings.Join(g.scopes, " "),
		"token_type":   "Bearer",
	}
}

// revoke revokes the grant of an access or refresh token.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "Method not allowed")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Malformed form body")
		return
	}
	tok := r.Form.Get("token")
	s.mu.Lock()
	g := s.grants[tok]
	if a := s.access[tok]; g == nil && a != nil {
		g = a.grant
	}
	valid := g != nil && !g.revoked
	if valid {
		g.revoked = true
	}
	s.mu.Unlock()
	if !valid {
		writeOAuthError(w, http.StatusBadRequest, "invalid_token", "Token expired or revoked")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write([]byte("{}"))
}

// verifierMatches checks RFC 7636 S256: BASE64URL(SHA256(verifier)) == challenge.
func verifierMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}
