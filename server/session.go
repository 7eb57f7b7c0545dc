package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// sessionClaims are what the session cookie carries (policy 000 section
// 10.2: user ID, email, timezone and platform connection status). It is an
// HS256 JWT signed with the session key.
type sessionClaims struct {
	Subject   string   `json:"sub"`
	SessionID string   `json:"sid"`
	Email     string   `json:"email"`
	Timezone  string   `json:"tz"`
	Platforms []string `json:"platforms"`
	IssuedAt  int64    `json:"iat"`
	ExpiresAt int64    `json:"exp"`
}

var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// cookies names and signs Loomcast's cookies.
type cookies struct {
	key        []byte
	production bool
}

func (k cookies) sessionName() string {
	if k.production {
		return "__Secure-loomcast_session"
	}
	return "loomcast_session"
}

func (k cookies) csrfName() string {
	if k.production {
		return "__Host-loomcast_csrf"
	}
	return "loomcast_csrf"
}

// flowName names a short-lived OAuth flow cookie (state or PKCE verifier).
func (k cookies) flowName(name string) string {
	if k.production {
		return "__Secure-" + name
	}
	return name
}

func (k cookies) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, k.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// encodeSession signs the claims as a JWT.
func (k cookies) encodeSession(cl sessionClaims) string {
	payload, _ := json.Marshal(cl)
	signing := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

var errBadSession = errors.New("invalid session cookie")

// decodeSession verifies the signature and expiry of a session cookie.
func (k cookies) decodeSession(v string, now time.Time) (sessionClaims, error) {
	parts := strings.Split(v, ".")
	if len(parts) != 3 || parts[0] != jwtHeader {
		return sessionClaims{}, errBadSession
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return sessionClaims{}, errBadSession
	}
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, m.Sum(nil)) {
		return sessionClaims{}, errBadSession
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return sessionClaims{}, errBadSession
	}
	var cl sessionClaims
	if err := json.Unmarshal(payload, &cl); err != nil {
		return sessionClaims{}, errBadSession
	}
	if now.Unix() >= cl.ExpiresAt || cl.SessionID == "" || cl.Subject == "" {
		return sessionClaims{}, errBadSession
	}
	return cl, nil
}

// newCSRFToken returns a token bound to the session ID ("" when signed
// out): a random nonce and its MAC, the "signed double-submit cookie".
func (k cookies) newCSRFToken(sessionID string) string {
	nonce := randomToken(16)
	return nonce + "." + base64.RawURLEncoding.EncodeToString(k.mac("csrf", sessionID, nonce))
}

// validCSRFToken checks that the token was minted for this session.
func (k cookies) validCSRFToken(token, sessionID string) bool {
	nonce, sig, ok := strings.Cut(token, ".")
	if !ok || nonce == "" {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	return hmac.Equal(got, k.mac("csrf", sessionID, nonce))
}

// ageConfirmedTag marks a Google sign-in state whose start passed the age
// confirmation: a MAC of the state, so the mark cannot be added to a
// cookie by hand nor moved to another flow.
func (k cookies) ageConfirmedTag(state string) string {
	return base64.RawURLEncoding.EncodeToString(k.mac("google-age-confirmed", state))
}

// validAgeConfirmedTag checks a mark made by ageConfirmedTag.
func (k cookies) validAgeConfirmedTag(state, tag string) bool {
	got, err := base64.RawURLEncoding.DecodeString(tag)
	return err == nil && hmac.Equal(got, k.mac("google-age-confirmed", state))
}

// cookie builds a cookie with Loomcast's attributes: HttpOnly unless the
// page script must read it, SameSite=Lax, Secure in production.
func (k cookies) cookie(name, value, path string, maxAge time.Duration, httpOnly bool) *http.Cookie {
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     path,
		HttpOnly: httpOnly,
		Secure:   k.production,
		SameSite: http.SameSiteLaxMode,
	}
	switch {
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
	case maxAge < 0:
		c.MaxAge = -1
	}
	return c
}

// randomToken returns n random bytes, base64url-encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// equalStrings compares secrets in constant time.
func equalStrings(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// hashToken is how access token secrets are stored.
func hashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
