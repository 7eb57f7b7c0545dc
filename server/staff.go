package server

import (
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/models"
)

// logStaffRead writes a security-log event for every read of staff
// routes that answered: who read, what (the route and its parameters) and
// from where, so that staff access to people's data is accountable.
func (s *base) logStaffRead(c *gin.Context) {
	c.Next()
	if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead {
		return
	}
	p := currentPrincipal(c)
	if p == nil || c.Writer.Status() >= http.StatusBadRequest {
		return
	}
	detail := c.Request.Method + " " + c.FullPath()
	var params []string
	for _, prm := range c.Params {
		params = append(params, prm.Key+"="+prm.Value)
	}
	for k, v := range c.Request.URL.Query() {
		if k == "cursor" {
			continue // a page token, not what was asked
		}
		params = append(params, k+"="+strings.Join(v, ","))
	}
	sort.Strings(params)
	if len(params) > 0 {
		detail += " (" + strings.Join(params, " ") + ")"
	}
	if len(detail) > 500 {
		detail = detail[:500]
	}
	s.securityEvent(c.Request.Context(), "staff_read", p.User.ID, c.ClientIP(), detail)
}

var (
	// exportLinkRE finds the signature of an export link.
	exportLinkRE = regexp.MustCompile(`(/v1/privacy/exports/[^\s?]+)\?\S*`)
	// mailedCodeRE finds a 6-digit code.
	mailedCodeRE = regexp.MustCompile(`\b[0-9]{6}\b`)
)

// redactForSupport hides from support staff what would let them act as
// the person the mail is for: the signature of export links (a bearer
// URL to a whole archive) and mailed codes. Privacy staff and admins
// read mail whole.
func redactForSupport(msgs []mail.Stored) []mail.Stored {
	out := make([]mail.Stored, len(msgs))
	for i, m := range msgs {
		for _, f := range []*string{&m.Subject, &m.Text} {
			*f = exportLinkRE.ReplaceAllString(*f, "$1?[signature redacted: privacy staff only]")
			*f = mailedCodeRE.ReplaceAllString(*f, "[code redacted]")
		}
		out[i] = m
	}
	return out
}

// seesWholeMail says whether a member of staff may read mail bodies
// whole, export links and codes included.
func seesWholeMail(u models.User) bool {
	return u.Role == models.RolePrivacy || u.Role == models.RoleAdmin
}
