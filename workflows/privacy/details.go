package privacy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/loomcast/loomcast/retention"
)

// Details are what a request names.
type Details struct {
	// Fields to rectify: display_name, timezone, email (which changes
	// only once the new address is confirmed with a code mailed to it).
	Fields map[string]string `json:"fields,omitempty"`
	// Purposes to stop (objection, withdrawal, opt-out, limit).
	Purposes []string `json:"purposes,omitempty"`
	// Agent is the authorised agent who filed the request for the person.
	Agent *Agent `json:"agent,omitempty"`
}

// Agent is an authorised agent filing for a consumer, with the consumer's
// written permission kept beside the request.
type Agent struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	// PermissionKey is the blob key of the written permission, of
	// PermissionType.
	PermissionKey  string `json:"permission_key"`
	PermissionType string `json:"permission_type"`
	// VerifiedAt is when the agent proved control of their address; the
	// consumer's confirmation follows.
	VerifiedAt *time.Time `json:"verified_at,omitempty"`
}

// ExportLinkValidity is how long an export's link works; the archive is
// deleted by retention when it ends.
var ExportLinkValidity = retention.Fixed(retention.PrivacyExports)

// SignExportLink signs a request's export link until expires.
func SignExportLink(key []byte, requestID string, expires time.Time) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(requestID + "|" + strconv.FormatInt(expires.Unix(), 10)))
	return hex.EncodeToString(m.Sum(nil))
}
