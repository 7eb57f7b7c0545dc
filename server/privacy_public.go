package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/mailcode"
	"github.com/loomcast/loomcast/models"
	wfprivacy "github.com/loomcast/loomcast/workflows/privacy"
)

// createPublicPrivacyRequest answers POST /v1/privacy/requests/public:
// anyone files with an email address, then proves control of it with a
// code sent there. The answer is the same whether or not an account
// exists.
func (s *privacyAPI) createPublicPrivacyRequest(c *gin.Context) {
	if !s.allowPrivacyMail(c) {
		return
	}
	var body privacyRequestBody
	if err := s.bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	done, ok := s.beginIdempotent(c, "ip:"+c.ClientIP(), "", body)
	if !ok {
		return
	}
	defer done()
	if _, err := mailAddress(body.Email); err != nil {
		s.fail(c, invalid(map[string]string{"email": "must be a valid email address"}))
		return
	}
	right, regime, details, apiErr := parseRequest(body)
	if apiErr != nil {
		s.fail(c, apiErr)
		return
	}
	var (
		agent      wfprivacy.Agent
		permission []byte
	)
	if body.Agent != nil {
		if agent, permission, apiErr = parseAgent(body.Agent, body.Email); apiErr != nil {
			s.fail(c, apiErr)
			return
		}
	}
	ctx := c.Request.Context()
	r := &models.PrivacyRequest{Email: models.NormalizeEmail(body.Email), Type: right.Type, FiledAs: right.Name, Regime: string(regime),
		Region: strings.ToUpper(body.Region), Source: wfprivacy.SourcePublic, Status: loomcast.PrivacyVerifying, Details: details, ReceivedAt: s.now()}
	permissionKey := ""
	if body.Agent != nil {
		var err error
		if permissionKey, err = s.fileAgentRequest(ctx, r, agent, permission); err != nil {
			s.fail(c, err)
			return
		}
	}
	joined, ok := s.fileRequest(c, r, right, false, nil)
	if !ok || joined {
		// An identical open request exists: the new permission is not
		// needed (nor kept).
		if permissionKey != "" {
			_ = s.blob.Delete(context.WithoutCancel(ctx), permissionKey)
		}
	}
	if !ok {
		return
	}
	if r.Status == loomcast.PrivacyVerifying && (!joined || !storedPrivacyCode(*r).TooSoon(s.now())) {
		if err := s.sendStageCode(ctx, *r); err != nil {
			s.fail(c, err)
			return
		}
	}
	message := "If the address is yours, it has received a 6-digit code valid for 10 minutes: send it to POST /v1/privacy/requests/public/" + r.ID + "/verify."
	if body.Agent != nil {
		message = "If the agent's address is yours, it has received a 6-digit code valid for 10 minutes: send it to POST /v1/privacy/requests/public/" + r.ID +
			"/verify. The consumer then confirms from their own address before anything is disclosed or erased."
	}
	c.JSON(http.StatusAccepted, gin.H{"id": r.ID, "status": r.Status, "joined": joined, "message": message})
}

// sendStageCode sends the code the request waits for: the agent's, while
// an agent has not proved their address, else the requester's.
func (s *privacyAPI) sendStageCode(ctx context.Context, r models.PrivacyRequest) error {
	agent, err := awaitingAgent(r)
	if err != nil {
		return err
	}
	if agent != nil {
		return s.sendAgentCode(ctx, r, *agent)
	}
	if r.Source == wfprivacy.SourceAgent {
		d, err := requestDetails(r)
		if err != nil {
			return err
		}
		return s.sendConsumerConfirmation(ctx, r, *d.Agent)
	}
	return s.sendPrivacyCode(ctx, r)
}

func mailAddress(s string) (string, error) {
	a, err := netmail.ParseAddress(s)
	if err != nil || a.Name != "" || strings.ContainsAny(s, "\r\n") {
		return "", errors.New("not a bare email address")
	}
	return a.Address, nil
}

// allowPrivacyMail counts a public call that may send mail to an address
// the caller typed, and refuses it past 10 an hour from one IP address, so
// the form cannot be used to flood someone's mailbox.
func (s *privacyAPI) allowPrivacyMail(c *gin.Context) bool {
	ip := c.ClientIP()
	if wait, blocked := s.limits.ipPrivacyMail.blocked(ip); blocked {
		s.fail(c, &Error{Code: CodeRateLimited, Message: "Too many privacy requests from your network; try again later or write to the privacy team.", RetryAfter: retryAfterSeconds(wait)})
		return false
	}
	s.limits.ipPrivacyMail.add(ip)
	return true
}

// sendPrivacyCode issues a new code for a public request (voiding the
// old one) and mails it.
func (s *privacyAPI) sendPrivacyCode(ctx context.Context, r models.PrivacyRequest) error {
	code, err := s.issueRequestCode(ctx, r, privacyCodePurpose)
	if err != nil {
		return err
	}
	return s.mail.Send(ctx, mail.Message{To: r.Email, Kind: "verification_code", RequestID: r.ID,
		Subject: "Your Loomcast privacy request code: " + code,
		Text: "Someone, we hope you, filed a privacy request with this address (reference " + r.ID + ").\n\n" +
			"Your code is " + code + ". It is valid for 10 minutes and 3 attempts.\n\nIf it was not you, ignore this message: nothing will happen.\n"})
}

// privacyCodePurpose keys the codes of public requests apart from others.
const privacyCodePurpose = "privacy-code"

func storedPrivacyCode(r models.PrivacyRequest) mailcode.Stored {
	return mailcode.Stored{Hash: r.CodeHash, ExpiresAt: r.CodeExpiresAt, Attempts: r.CodeAttempts}
}

// codeRequest is the body that gives back a mailed code.
type codeRequest struct {
	Code string `json:"code"`
}

// codeError words a refused code (package mailcode) for the caller; void
// says how to get a new one.
func codeError(err error, void *Error) error {
	var wrong *mailcode.WrongError
	switch {
	case errors.Is(err, mailcode.ErrVoid):
		return void
	case errors.As(err, &wrong):
		return &Error{Code: CodeInvalid, Message: fmt.Sprintf("The code is wrong; %d attempt(s) left.", wrong.Left), Fields: map[string]string{"code": "is wrong"}}
	}
	return err
}

// unverifiedRequest loads the public request of the path that still waits
// for its email proof.
func (s *privacyAPI) unverifiedRequest(c *gin.Context) (models.PrivacyRequest, bool) {
	r, err := s.store.PrivacyRequestByID(c.Request.Context(), c.Param("id"))
	if err != nil || (r.Source != wfprivacy.SourcePublic && r.Source != wfprivacy.SourceAgent) {
		s.fail(c, errorf(CodeNotFound, "There is no public request %q.", c.Param("id")))
		return r, false
	}
	if r.Status != loomcast.PrivacyVerifying {
		s.fail(c, errorf(CodeConflict, "This request is already %s.", r.Status))
		return r, false
	}
	return r, true
}

// verifyPrivacyCode answers POST /v1/privacy/requests/public/{id}/verify.
func (s *privacyAPI) verifyPrivacyCode(c *gin.Context) {
	var body codeRequest
	if err := s.bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	r, ok := s.unverifiedRequest(c)
	if !ok {
		return
	}
	// An agent proves their own address first; the consumer's code, mailed
	// then, is the one that lets the request go on.
	agent, err := awaitingAgent(r)
	if err != nil {
		s.fail(c, err)
		return
	}
	if agent != nil {
		s.verifyAgent(c, r, *agent, body.Code)
		return
	}
	void := errorf(CodeInvalid, "This code is no longer valid; ask for a new one with POST /v1/privacy/requests/public/%s/code.", r.ID)
	count := func(ctx context.Context) (int, error) { return s.store.CountPrivacyCodeAttempt(ctx, r.ID) }
	if err := mailcode.Check(ctx, s.cfg.SessionKey, privacyCodePurpose, r.ID, body.Code, storedPrivacyCode(r), s.now(), count); err != nil {
		s.fail(c, codeError(err, void))
		return
	}
	fields := models.PrivacyFields{CodeHash: models.Ptr(""), Status: models.Ptr(loomcast.PrivacyReceived)}
	if u, err := s.store.UserByEmail(ctx, r.Email); err == nil {
		fields.UserID = &u.ID
	}
	if err := s.store.UpdatePrivacyRequest(ctx, r.ID, fields); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.temporal.SignalWorkflow(ctx, wfprivacy.WorkflowID(r.ID), "", wfprivacy.SignalVerified, s.now()); err != nil {
		s.fail(c, &Error{Code: CodeUnavailable, Message: "Your code was right but the request could not move on; send it again in a minute.", RetryAfter: 30})
		_ = s.store.UpdatePrivacyRequest(context.WithoutCancel(ctx), r.ID, models.PrivacyFields{Status: models.Ptr(loomcast.PrivacyVerifying)})
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": r.ID, "status": loomcast.PrivacyReceived,
		"message": "Thank you: your address is confirmed and your request is being handled. We will write to you there."})
}

// resendPrivacyCode answers POST /v1/privacy/requests/public/{id}/code.
func (s *privacyAPI) resendPrivacyCode(c *gin.Context) {
	if !s.allowPrivacyMail(c) {
		return
	}
	ctx := c.Request.Context()
	r, ok := s.unverifiedRequest(c)
	if !ok {
		return
	}
	if storedPrivacyCode(r).TooSoon(s.now()) {
		s.fail(c, &Error{Code: CodeRateLimited, Message: "A code was sent less than a minute ago.", RetryAfter: 60})
		return
	}
	if err := s.sendStageCode(ctx, r); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": r.ID, "message": "A new code was sent; the old one no longer works."})
}

// downloadExport answers GET /v1/privacy/exports/{id}: the archive behind
// the signed link mailed to the requester, for 7 days.
func (s *privacyAPI) downloadExport(c *gin.Context) {
	ctx := c.Request.Context()
	id := c.Param("id")
	expires, ok := signedLink(c, func(expires time.Time) string { return wfprivacy.SignExportLink(s.cfg.SessionKey, id, expires) })
	if !ok {
		s.fail(c, errorf(CodeForbidden, "This link is not valid."))
		return
	}
	if !s.now().Before(expires) {
		s.fail(c, &Error{Code: CodeNotFound, Message: "This link has expired and the archive was deleted; file a new access request."})
		return
	}
	r, err := s.store.PrivacyRequestByID(ctx, id)
	if err != nil || r.ExportKey == "" {
		s.fail(c, errorf(CodeNotFound, "The archive no longer exists."))
		return
	}
	f, err := s.blob.Open(ctx, r.ExportKey)
	if err != nil {
		s.fail(c, errorf(CodeNotFound, "The archive no longer exists."))
		return
	}
	defer f.Close()
	c.Header("Content-Type", "application/zip")
	c.Header("Content-Disposition", `attachment; filename="loomcast-data-`+id+`.zip"`)
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	_, _ = io.Copy(c.Writer, f)
}
