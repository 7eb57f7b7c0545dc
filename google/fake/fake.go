// Package fake is a local stand-in for Google's OAuth 2.0 authorization
// server and OpenID Connect userinfo endpoint, speaking the same wire
// protocol: the consent redirect with code and state, the form-encoded
// token exchange with PKCE (S256) verification, and bearer-authenticated
// userinfo. Tests use it, and `loomcast dev` serves it as the sandbox.
package fake

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/loomcast/loomcast/google"
)

// Paths of the fake's endpoints, mirroring Google's.
const (
	AuthPath     = "/o/oauth2/v2/auth"
	TokenPath    = "/token"
	UserInfoPath = "/v1/userinfo"
)

// Server is the fake. The zero value is not usable; call New.
type Server struct {
	clientID, clientSecret string

	mu     sync.Mutex
	codes  map[string]grant
	tokens map[string]google.Identity
	// next, when set, is the identity the next consent signs in as.
	next *google.Identity
	now  func() time.Time
}

type grant struct {
	identity    google.Identity
	redirectURI string
	challenge   string
	expires     time.Time
}

// New returns a fake that accepts only the given client credentials.
func New(clientID, clientSecret string) *Server {
	return &Server{clientID: clientID, clientSecret: clientSecret, codes: map[string]grant{}, tokens: map[string]google.Identity{}, now: time.Now}
}

// Endpoints returns the fake's endpoints under baseURL (where Handler is served).
func Endpoints(baseURL string) google.Endpoints {
	baseURL = strings.TrimRight(baseURL, "/")
	return google.Endpoints{AuthURL: baseURL + AuthPath, TokenURL: baseURL + TokenPath, UserInfoURL: baseURL + UserInfoPath}
}

// SignInAs makes the next consent sign in as id.
func (s *Server) SignInAs(id google.Identity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next = &id
}

// IdentityFor is the identity the sandbox gives an email address.
func IdentityFor(email string) google.Identity {
	sum := sha256.Sum256([]byte(strings.ToLower(email)))
	local, _, _ := strings.Cut(email, "@")
	return google.Identity{
		Subject:       fmt.Sprintf("sandbox-%x", sum[:8]),
		Email:         email,
		EmailVerified: true,
		Name:          local + " (Google sandbox)",
		Picture:       "https://lh3.googleusercontent.com/a/sandbox-avatar",
	}
}

// Handler serves the fake's endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+AuthPath, s.authorize)
	mux.HandleFunc("POST "+TokenPath, s.token)
	mux.HandleFunc("GET "+UserInfoPath, s.userinfo)
	return mux
}

// authorize plays the consent screen: it approves at once and redirects
// back with a code, as Google does after the user clicks "Allow".
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != s.clientID {
		http.Error(w, "Error 401: invalid_client. The OAuth client was not found.", http.StatusUnauthorized)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || redirect.Scheme == "" || redirect.Host == "" {
		http.Error(w, "Error 400: redirect_uri_mismatch", http.StatusBadRequest)
		return
	}
	back := redirect.Query()
	back.Set("state", q.Get("state"))
	switch {
	case q.Get("response_type") != "code":
		back.Set("error", "unsupported_response_type")
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		back.Set("error", "invalid_request")
		back.Set("error_description", "PKCE with S256 is required")
	case !strings.Contains(q.Get("scope"), "openid") || !strings.Contains(q.Get("scope"), "email"):
		back.Set("error", "invalid_scope")
	default:
		s.mu.Lock()
		id := IdentityFor("sandbox.user@example.com")
		if hint := q.Get("login_hint"); hint != "" {
			id = IdentityFor(hint)
		}
		if s.next != nil {
			id, s.next = *s.next, nil
		}
		code := "4/" + random()
		s.codes[code] = grant{identity: id, redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), expires: s.now().Add(10 * time.Minute)}
		s.mu.Unlock()
		back.Set("code", code)
		back.Set("scope", q.Get("scope"))
	}
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

type tokenError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, tokenError{"invalid_request", "malformed form body"})
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != s.clientID || secret != s.clientSecret {
		writeJSON(w, http.StatusUnauthorized, tokenError{"invalid_client", "Unauthorized"})
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		writeJSON(w, http.StatusBadRequest, tokenError{"unsupported_grant_type", ""})
		return
	}
	code := r.PostForm.Get("code")
	s.mu.Lock()
	g, found := s.codes[code]
	delete(s.codes, code) // a code works once
	s.mu.Unlock()
	switch {
	case !found || s.now().After(g.expires):
		writeJSON(w, http.StatusBadRequest, tokenError{"invalid_grant", "Malformed auth code."})
		return
	case r.PostForm.Get("redirect_uri") != g.redirectURI:
		writeJSON(w, http.StatusBadRequest, tokenError{"redirect_uri_mismatch", "Bad Request"})
		return
	case challenge(r.PostForm.Get("code_verifier")) != g.challenge:
		writeJSON(w, http.StatusBadRequest, tokenError{"invalid_grant", "Invalid code verifier."})
		return
	}
	access := "ya29." + random()
	s.mu.Lock()
	s.tokens[access] = g.identity
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": access, "expires_in": 3599, "token_type": "Bearer",
		"scope": "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile",
	})
}

func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	id, found := s.tokens[tok]
	s.mu.Unlock()
	if !ok || !found {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, tokenError{"invalid_token", "Invalid Credentials"})
		return
	}
	writeJSON(w, http.StatusOK, id)
}

func challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func random() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
