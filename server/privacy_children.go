package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/models"
	wfprivacy "github.com/loomcast/loomcast/workflows/privacy"
)

// childReportBody is a parent's or guardian's report, as privacy staff
// received it, that an account belongs to a child under the minimum age
// (policy 000 section 12: "If you are a parent or guardian and believe
// that your child has provided us with personal information, please
// contact us"; 004 section 16: "please contact us ... and we will delete
// it").
type childReportBody struct {
	// ReporterName is who reported, if they gave a name.
	ReporterName string `json:"reporter_name"`
	// ReporterContact is how to reach them: an email address, a phone
	// number, a postal address.
	ReporterContact string `json:"reporter_contact"`
	// Statement is what they said.
	Statement string `json:"statement"`
	// Region is where the child lives, which sets the legal deadline.
	Region string `json:"region"`
}

// check returns what is missing or wrong.
func (b childReportBody) check() map[string]string {
	fields := map[string]string{}
	line := func(field, v string, required bool, max int) {
		v = strings.TrimSpace(v)
		switch n := utf8.RuneCountInString(v); {
		case n == 0 && required:
			fields[field] = "is required"
		case n > max:
			fields[field] = "must be at most " + strconv.Itoa(max) + " characters"
		case strings.ContainsAny(v, "\x00\r\n"):
			fields[field] = "must be a single line"
		}
	}
	line("reporter_name", b.ReporterName, false, 200)
	line("reporter_contact", b.ReporterContact, true, 320)
	switch n := utf8.RuneCountInString(strings.TrimSpace(b.Statement)); {
	case n == 0:
		fields["statement"] = "is required: what the parent or guardian told us, kept as the reason for the erasure"
	case n > 5000:
		fields["statement"] = "must be at most 5000 characters"
	}
	return fields
}

// record is the report as the request's audit log keeps it.
func (b childReportBody) record() string {
	who := strings.TrimSpace(b.ReporterName)
	if who == "" {
		who = "a parent or guardian (no name given)"
	}
	return "Reported by " + who + ", contact " + strings.TrimSpace(b.ReporterContact) +
		", that the account belongs to a child under the minimum age. Their statement: " + strings.TrimSpace(b.Statement)
}

// adminChildReport answers POST /v1/admin/users/{id}/child-report: privacy
// staff record a parent's or guardian's report about an account and file
// the erasure of that account. The request is verified (staff checked the
// report) and goes through the PrivacyRequest process like any erasure;
// the report is the first entry of its audit log, kept with the request
// as the record of why the account was erased. An erasure already open for
// the account gets the report added to its log instead.
func (s *privacyAPI) adminChildReport(c *gin.Context) {
	var body childReportBody
	if err := s.bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	staff := currentPrincipal(c).User.ID
	// Keyed to the reported account, so that its erasure deletes the
	// record of this call too.
	done, ok := s.beginIdempotent(c, staff, c.Param("id"), body)
	if !ok {
		return
	}
	defer done()
	fields := body.check()
	right, regime, _, apiErr := parseRequest(privacyRequestBody{Type: wfprivacy.TypeErasure, Region: body.Region})
	if apiErr != nil {
		for k, v := range apiErr.Fields {
			fields[k] = v
		}
	}
	if len(fields) > 0 {
		s.fail(c, invalid(fields))
		return
	}
	ctx := c.Request.Context()
	u, ok := s.userByID(c, c.Param("id"))
	if !ok {
		return
	}
	now := s.now()
	deadline := wfprivacy.NewClock(regime, now).Deadline()
	r := &models.PrivacyRequest{UserID: u.ID, Email: u.Email, Type: right.Type, FiledAs: right.Name, Regime: string(regime),
		Region: strings.ToUpper(strings.TrimSpace(body.Region)), Source: wfprivacy.SourceChildReport, Status: loomcast.PrivacyReceived,
		ReceivedAt: now, DeadlineAt: &deadline}
	// The report is written before the process starts, so that nothing
	// is erased without its reason on record.
	joined, ok := s.fileRequest(c, r, right, true, func(ctx context.Context, joined bool) error {
		if joined && r.Status == loomcast.PrivacyVerifying {
			return errorf(CodeConflict, "An erasure request for this account (reference %s) waits for its requester to confirm their email; "+
				"record the report once it is confirmed or closed.", r.ID)
		}
		return s.store.AppendPrivacyAudit(ctx, models.PrivacyAudit{RequestID: r.ID, At: now, Actor: "staff:" + staff,
			Action: "child report", Detail: body.record()})
	})
	if !ok {
		return
	}
	// The security log names the staff member and the request, not the
	// account: the erasure deletes what names the person, and this entry
	// must outlive it.
	s.securityEvent(ctx, "child_report", staff, c.ClientIP(), "filed erasure request "+r.ID+" on a parent's or guardian's report")
	detail, err := s.adminRequestDetail(ctx, *r)
	if err != nil {
		s.fail(c, err)
		return
	}
	detail.Request.Joined = joined
	status := http.StatusAccepted
	if joined {
		status = http.StatusOK
	}
	c.JSON(status, detail)
}
