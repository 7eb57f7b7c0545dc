package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// errBadCursor refuses a cursor the API did not hand out.
var errBadCursor = invalid(map[string]string{"cursor": "is not a cursor this API returned"})

// idCursor reads a page cursor that is the ID of the last row of the page
// before (a UUID): "" for the first page, errBadCursor for anything else
// than an ID, rather than a page silently started over.
func idCursor(c *gin.Context) (string, error) { return idCursorValue(c.Query("cursor")) }

func idCursorValue(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	if _, err := uuid.Parse(raw); err != nil || len(raw) != 36 {
		return "", errBadCursor
	}
	return raw, nil
}

// signCursor wraps an opaque page token (Temporal's) with a MAC bound to
// what it pages through, so that a forged or foreign cursor is refused
// here instead of reaching the store.
func (s *base) signCursor(scope string, token []byte) string {
	if len(token) == 0 {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(token) + "." + base64.RawURLEncoding.EncodeToString(s.cursorMAC(scope, token))
}

// openCursor returns the token of a cursor signCursor made for scope; ""
// is the first page.
func (s *base) openCursor(scope, cursor string) ([]byte, error) {
	if cursor == "" {
		return nil, nil
	}
	tok, mac, ok := strings.Cut(cursor, ".")
	token, err1 := base64.RawURLEncoding.DecodeString(tok)
	sum, err2 := base64.RawURLEncoding.DecodeString(mac)
	if !ok || err1 != nil || err2 != nil || len(token) == 0 || !hmac.Equal(sum, s.cursorMAC(scope, token)) {
		return nil, errBadCursor
	}
	return token, nil
}

func (s *base) cursorMAC(scope string, token []byte) []byte {
	m := hmac.New(sha256.New, s.cfg.SessionKey)
	m.Write([]byte("cursor|" + scope + "|"))
	m.Write(token)
	return m.Sum(nil)
}
