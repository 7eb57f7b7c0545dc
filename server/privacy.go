package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	netmail "net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	privacyact "github.com/loomcast/loomcast/activities/privacy"
	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/privacy/calendar"
	"github.com/loomcast/loomcast/workflows"
	wfprivacy "github.com/loomcast/loomcast/workflows/privacy"
)

// Verification codes of public requests (the issue: 6 digits, 10 minutes,
// 3 attempts, then void).
const (
	codeLifetime    = 10 * time.Minute
	codeMaxAttempts = 3
	codeResendAfter = time.Minute
)

// privacyRequestBody files a request.
type privacyRequestBody struct {
	Type     string            `json:"type"`
	Region   string            `json:"region"`
	Email    string            `json:"email"`
	Password string            `json:"password"`
	Fields   map[string]string `json:"fields"`
	Purposes []string          `json:"purposes"`
}

// privacyRequestView is a request as its requester sees it.
type privacyRequestView struct {
	ID            string     `json:"id"`
	Type          string     `json:"type"`
	Right         string     `json:"right"`
	Law           string     `json:"law"`
	Regime        string     `json:"regime"`
	Status        string     `json:"status"`
	ReceivedAt    time.Time  `json:"received_at"`
	VerifiedAt    *time.Time `json:"verified_at"`
	DeadlineAt    *time.Time `json:"deadline_at"`
	DaysLeft      *int       `json:"days_left,omitempty"`
	Extended      bool       `json:"extended"`
	ExtensionWhy  string     `json:"extension_reason,omitempty"`
	ClosedAt      *time.Time `json:"closed_at"`
	Answer        string     `json:"answer,omitempty"`
	Progress      *progress  `json:"progress,omitempty"`
	ExportExpires *time.Time `json:"export_expires_at,omitempty"`
	Joined        bool       `json:"joined,omitempty"`
}

type progress struct {
	Done  int `json:"done"`
	Total int `json:"total"`
}

func (s *Server) toPrivacyView(r models.PrivacyRequest) privacyRequestView {
	right, _ := wfprivacy.RightNamed(r.FiledAs)
	v := privacyRequestView{ID: r.ID, Type: r.Type, Right: r.FiledAs, Law: right.Law, Regime: r.Regime, Status: r.Status,
		ReceivedAt: r.ReceivedAt.UTC(), VerifiedAt: utcPtr(r.VerifiedAt), DeadlineAt: utcPtr(r.DeadlineAt),
		Extended: r.ExtendedAt != nil, ExtensionWhy: r.ExtensionReason, ClosedAt: utcPtr(r.ClosedAt), Answer: r.Answer,
		ExportExpires: utcPtr(r.ExportExpiresAt)}
	if r.DeadlineAt != nil && r.ClosedAt == nil {
		days := daysLeft(*r.DeadlineAt, s.now())
		v.DaysLeft = &days
	}
	if r.ProgressTotal > 0 {
		v.Progress = &progress{Done: r.ProgressDone, Total: r.ProgressTotal}
	}
	return v
}

// daysLeft counts the calendar days (UTC) from now to the deadline's day:
// 0 on the last day, negative once overdue.
func daysLeft(deadline, now time.Time) int {
	d := time.Date(deadline.UTC().Year(), deadline.UTC().Month(), deadline.UTC().Day(), 0, 0, 0, 0, time.UTC)
	n := time.Date(now.UTC().Year(), now.UTC().Month(), now.UTC().Day(), 0, 0, 0, 0, time.UTC)
	return int(d.Sub(n).Hours() / 24)
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// parseRequest checks the type, region and details of a request body.
func parseRequest(body privacyRequestBody) (wfprivacy.Right, calendar.Regime, string, *Error) {
	problems := map[string]string{}
	right, ok := wfprivacy.RightNamed(body.Type)
	if !ok {
		names := make([]string, len(wfprivacy.Rights))
		for i, r := range wfprivacy.Rights {
			names[i] = r.Name
		}
		problems["type"] = "must be one of: " + strings.Join(names, ", ")
	}
	regime, err := calendar.RegimeForRegion(body.Region)
	if err != nil {
		problems["region"] = err.Error()
	}
	if ok && right.Type == wfprivacy.TypeRectification {
		if len(body.Fields) == 0 {
			problems["fields"] = "name the profile fields to correct and their right values: display_name, timezone"
		}
		for k, v := range body.Fields {
			switch k {
			case "display_name":
				if msg := validateDisplayName(v); msg != "" {
					problems["fields."+k] = msg
				}
			case "timezone":
				if msg := validateTimezone(v); msg != "" {
					problems["fields."+k] = msg
				}
			default:
				problems["fields."+k] = "cannot be corrected this way; correctable: display_name, timezone (email: change it in your profile)"
			}
		}
	}
	for _, p := range body.Purposes {
		switch p {
		case models.PurposeMarketingEmails, models.PurposeProductUpdates, models.PurposeAnalytics, models.PurposeSaleOrSharing, models.PurposeSensitiveData:
		default:
			problems["purposes"] = "each must be one of: marketing_emails, product_updates, analytics, sale_or_sharing, sensitive_data"
		}
	}
	if len(problems) > 0 {
		return right, regime, "", invalid(problems)
	}
	details, _ := json.Marshal(privacyact.Details{Fields: body.Fields, Purposes: body.Purposes})
	return right, regime, string(details), nil
}

// createPrivacyRequest answers POST /v1/privacy/requests: a signed-in
// person files a request about their own account.
func (s *Server) createPrivacyRequest(c *gin.Context) {
	p := currentPrincipal(c)
	var body privacyRequestBody
	if err := s.bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	// The password proves who asks; it is not part of what is asked.
	fingerprint := body
	fingerprint.Password = ""
	done, ok := s.beginIdempotent(c, p.User.ID, p.User.ID, fingerprint)
	if !ok {
		return
	}
	defer done()
	if body.Email != "" && models.NormalizeEmail(body.Email) != p.User.Email {
		s.fail(c, &Error{Code: CodeForbidden, Message: "A signed-in request is about your own account; for someone else's data, that person must file it."})
		return
	}
	right, regime, details, apiErr := parseRequest(body)
	if apiErr != nil {
		s.fail(c, apiErr)
		return
	}
	if wfprivacy.NeedsRecentAuth(right.Type) {
		if err := s.recentAuth(c, p, body.Password); err != nil {
			s.fail(c, err)
			return
		}
	}
	now := s.now()
	// Verified at once: the deadline is known now (the process records the
	// same one).
	deadline := wfprivacy.NewClock(regime, now).Deadline()
	r := &models.PrivacyRequest{UserID: p.User.ID, Email: p.User.Email, Type: right.Type, FiledAs: right.Name, Regime: string(regime),
		Region: strings.ToUpper(body.Region), Source: "account", Status: models.PrivacyReceived, Details: details, ReceivedAt: now, DeadlineAt: &deadline}
	s.filePrivacyRequest(c, r, right, true)
}

// recentAuthWindow is how recent a Google sign-in must be to stand in for
// a password re-entry.
const recentAuthWindow = 10 * time.Minute

// recentAuth checks that the person just proved who they are: the
// password again, or for an account without one, a Google sign-in in the
// last 10 minutes.
func (s *Server) recentAuth(c *gin.Context, p *principal, password string) error {
	if p.User.PasswordHash != nil {
		return s.checkPassword(p.User, password)
	}
	again := errorf(CodeReauthRequired, "Sign in with Google again (GET /v1/auth/google/start), then file the request within 10 minutes.")
	if p.SessionID == "" {
		return again
	}
	sess, err := s.store.SessionByID(c.Request.Context(), p.SessionID)
	if err != nil {
		return err
	}
	if s.now().Sub(sess.CreatedAt) > recentAuthWindow {
		return again
	}
	return nil
}

// filePrivacyRequest stores the request (or joins the open identical one)
// and starts its process.
func (s *Server) filePrivacyRequest(c *gin.Context, r *models.PrivacyRequest, right wfprivacy.Right, verified bool) {
	ctx := c.Request.Context()
	joined, err := s.store.CreatePrivacyRequest(ctx, r)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !joined {
		if err := s.startPrivacyWorkflow(ctx, *r, right, verified); err != nil {
			_ = s.store.UpdatePrivacyRequest(context.WithoutCancel(ctx), r.ID, map[string]any{"status": models.PrivacyClosed, "answer": "could not be started"})
			s.log(c).Error("start privacy request", "request_id", r.ID, "error", err.Error())
			s.fail(c, &Error{Code: CodeUnavailable, Message: "The request could not be filed right now; nothing was recorded. Try again in a minute.", RetryAfter: 30})
			return
		}
	}
	v := s.toPrivacyView(*r)
	v.Joined = joined
	status := http.StatusAccepted
	if joined {
		status = http.StatusOK
	}
	c.JSON(status, v)
}

func (s *Server) startPrivacyWorkflow(ctx context.Context, r models.PrivacyRequest, right wfprivacy.Right, verified bool) error {
	repeated, err := s.repeatedRequest(ctx, r)
	if err != nil {
		return err
	}
	// Data under a legal hold may be kept despite an erasure request (GDPR
	// art. 17(3)(e)): staff decide, with the hold's reason in view.
	held := false
	if r.Type == wfprivacy.TypeErasure && r.UserID != "" {
		if held, err = s.store.UserHeld(ctx, r.UserID); err != nil {
			return err
		}
	}
	in := wfprivacy.Input{RequestID: r.ID, UserID: r.UserID, Type: r.Type, Regime: calendar.Regime(r.Regime), ReceivedAt: r.ReceivedAt,
		Verified: verified, NeedsReview: right.Review || repeated || held}
	_, err = s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    wfprivacy.WorkflowID(r.ID),
		TaskQueue:             workflows.TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: workflows.SearchAttributes(r.UserID, workflows.KindPrivacyRequest, r.ID),
	}, wfprivacy.WorkflowName, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil
	}
	return err
}

// repeatedRequest reports a request of the same type by the same email
// answered in the last 30 days: staff judge whether it is manifestly
// unfounded or excessive (GDPR art. 12(5)).
func (s *Server) repeatedRequest(ctx context.Context, r models.PrivacyRequest) (bool, error) {
	return s.store.RepeatsAnsweredRequest(ctx, r, s.now().AddDate(0, 0, -30))
}

// createPublicPrivacyRequest answers POST /v1/privacy/requests/public:
// anyone files with an email address, then proves control of it with a
// code sent there. The answer is the same whether or not an account
// exists.
func (s *Server) createPublicPrivacyRequest(c *gin.Context) {
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
	ctx := c.Request.Context()
	r := &models.PrivacyRequest{Email: models.NormalizeEmail(body.Email), Type: right.Type, FiledAs: right.Name, Regime: string(regime),
		Region: strings.ToUpper(body.Region), Source: "public", Status: models.PrivacyVerifying, Details: details, ReceivedAt: s.now()}
	joined, err := s.store.CreatePrivacyRequest(ctx, r)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !joined {
		if err := s.startPrivacyWorkflow(ctx, *r, right, false); err != nil {
			_ = s.store.UpdatePrivacyRequest(context.WithoutCancel(ctx), r.ID, map[string]any{"status": models.PrivacyClosed, "answer": "could not be started"})
			s.fail(c, &Error{Code: CodeUnavailable, Message: "The request could not be filed right now; try again in a minute.", RetryAfter: 30})
			return
		}
	}
	if r.Status == models.PrivacyVerifying && (!joined || r.CodeExpiresAt == nil || s.now().After(r.CodeExpiresAt.Add(-codeLifetime+codeResendAfter))) {
		if err := s.sendPrivacyCode(ctx, *r); err != nil {
			s.fail(c, err)
			return
		}
	}
	c.JSON(http.StatusAccepted, gin.H{"id": r.ID, "status": r.Status, "joined": joined,
		"message": "If the address is yours, it has received a 6-digit code valid for 10 minutes: send it to POST /v1/privacy/requests/public/" + r.ID + "/verify."})
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
func (s *Server) allowPrivacyMail(c *gin.Context) bool {
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
func (s *Server) sendPrivacyCode(ctx context.Context, r models.PrivacyRequest) error {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return err
	}
	code := fmt.Sprintf("%06d", n.Int64())
	expires := s.now().Add(codeLifetime)
	if err := s.store.UpdatePrivacyRequest(ctx, r.ID, map[string]any{"code_hash": s.codeHash(r.ID, code), "code_expires_at": expires, "code_attempts": 0}); err != nil {
		return err
	}
	return s.mail.Send(ctx, mail.Message{To: r.Email, Kind: "verification_code", RequestID: r.ID,
		Subject: "Your Loomcast privacy request code: " + code,
		Text: "Someone, we hope you, filed a privacy request with this address (reference " + r.ID + ").\n\n" +
			"Your code is " + code + ". It is valid for 10 minutes and 3 attempts.\n\nIf it was not you, ignore this message: nothing will happen.\n"})
}

func (s *Server) codeHash(requestID, code string) string {
	m := hmac.New(sha256.New, s.cfg.SessionKey)
	m.Write([]byte("privacy-code|" + requestID + "|" + code))
	return hex.EncodeToString(m.Sum(nil))
}

// unverifiedRequest loads the public request of the path that still waits
// for its email proof.
func (s *Server) unverifiedRequest(c *gin.Context) (models.PrivacyRequest, bool) {
	r, err := s.store.PrivacyRequestByID(c.Request.Context(), c.Param("id"))
	if err != nil || r.Source != "public" {
		s.fail(c, errorf(CodeNotFound, "There is no public request %q.", c.Param("id")))
		return r, false
	}
	if r.Status != models.PrivacyVerifying {
		s.fail(c, errorf(CodeConflict, "This request is already %s.", r.Status))
		return r, false
	}
	return r, true
}

// verifyPrivacyCode answers POST /v1/privacy/requests/public/{id}/verify.
func (s *Server) verifyPrivacyCode(c *gin.Context) {
	var body struct {
		Code string `json:"code"`
	}
	if err := s.bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	r, ok := s.unverifiedRequest(c)
	if !ok {
		return
	}
	void := errorf(CodeInvalid, "This code is no longer valid; ask for a new one with POST /v1/privacy/requests/public/%s/code.", r.ID)
	if r.CodeHash == "" || r.CodeExpiresAt == nil || !s.now().Before(*r.CodeExpiresAt) || r.CodeAttempts >= codeMaxAttempts {
		s.fail(c, void)
		return
	}
	attempts, err := s.store.CountPrivacyCodeAttempt(ctx, r.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if attempts > codeMaxAttempts {
		s.fail(c, void)
		return
	}
	if !hmac.Equal([]byte(s.codeHash(r.ID, strings.TrimSpace(body.Code))), []byte(r.CodeHash)) {
		left := codeMaxAttempts - attempts
		if left <= 0 {
			s.fail(c, void)
			return
		}
		s.fail(c, &Error{Code: CodeInvalid, Message: fmt.Sprintf("The code is wrong; %d attempt(s) left.", left), Fields: map[string]string{"code": "is wrong"}})
		return
	}
	fields := map[string]any{"code_hash": "", "status": models.PrivacyReceived}
	if u, err := s.store.UserByEmail(ctx, r.Email); err == nil {
		fields["user_id"] = u.ID
	}
	if err := s.store.UpdatePrivacyRequest(ctx, r.ID, fields); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.temporal.SignalWorkflow(ctx, wfprivacy.WorkflowID(r.ID), "", wfprivacy.SignalVerified, s.now()); err != nil {
		s.fail(c, &Error{Code: CodeUnavailable, Message: "Your code was right but the request could not move on; send it again in a minute.", RetryAfter: 30})
		_ = s.store.UpdatePrivacyRequest(context.WithoutCancel(ctx), r.ID, map[string]any{"status": models.PrivacyVerifying})
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": r.ID, "status": models.PrivacyReceived,
		"message": "Thank you: your address is confirmed and your request is being handled. We will write to you there."})
}

// resendPrivacyCode answers POST /v1/privacy/requests/public/{id}/code.
func (s *Server) resendPrivacyCode(c *gin.Context) {
	if !s.allowPrivacyMail(c) {
		return
	}
	ctx := c.Request.Context()
	r, ok := s.unverifiedRequest(c)
	if !ok {
		return
	}
	if r.CodeExpiresAt != nil && s.now().Before(r.CodeExpiresAt.Add(-codeLifetime+codeResendAfter)) {
		s.fail(c, &Error{Code: CodeRateLimited, Message: "A code was sent less than a minute ago.", RetryAfter: 60})
		return
	}
	if err := s.sendPrivacyCode(ctx, r); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": r.ID, "message": "A new code was sent; the old one no longer works."})
}

// ownPrivacyRequest loads one of the signed-in user's requests.
func (s *Server) ownPrivacyRequest(c *gin.Context) (models.PrivacyRequest, bool) {
	r, err := s.store.PrivacyRequestByID(c.Request.Context(), c.Param("id"))
	if err != nil || r.UserID != currentPrincipal(c).User.ID {
		s.fail(c, errorf(CodeNotFound, "You have no privacy request %q.", c.Param("id")))
		return r, false
	}
	return r, true
}

func (s *Server) getPrivacyRequest(c *gin.Context) {
	if r, ok := s.ownPrivacyRequest(c); ok {
		c.JSON(http.StatusOK, s.toPrivacyView(r))
	}
}

func (s *Server) listPrivacyRequests(c *gin.Context) {
	rs, err := s.store.UserPrivacyRequests(c.Request.Context(), currentPrincipal(c).User.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]privacyRequestView, len(rs))
	for i, r := range rs {
		out[i] = s.toPrivacyView(r)
	}
	c.JSON(http.StatusOK, gin.H{"requests": out})
}

// withdrawPrivacyRequest answers POST /v1/privacy/requests/{id}/withdraw.
func (s *Server) withdrawPrivacyRequest(c *gin.Context) {
	r, ok := s.ownPrivacyRequest(c)
	if !ok {
		return
	}
	s.privacyUpdate(c, r.ID, wfprivacy.UpdateWithdraw, wfprivacy.WithdrawRequest{By: "requester"})
}

// clarifyPrivacyRequest answers POST /v1/privacy/requests/{id}/clarify:
// the requester answers staff's question, and the legal clock runs again.
func (s *Server) clarifyPrivacyRequest(c *gin.Context) {
	r, ok := s.ownPrivacyRequest(c)
	if !ok {
		return
	}
	var body struct {
		Answer string `json:"answer"`
	}
	if err := s.bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	if strings.TrimSpace(body.Answer) == "" || len(body.Answer) > 5000 {
		s.fail(c, invalid(map[string]string{"answer": "is required, at most 5000 characters"}))
		return
	}
	s.privacyUpdate(c, r.ID, wfprivacy.UpdateClarified, wfprivacy.Clarification{Answer: strings.TrimSpace(body.Answer), By: "requester"})
}

// privacyUpdate sends an Update to a request's process and answers with
// the request as it then is.
func (s *Server) privacyUpdate(c *gin.Context, id, name string, arg any) {
	ctx := c.Request.Context()
	h, err := s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: wfprivacy.WorkflowID(id), UpdateName: name,
		Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			s.fail(c, errorf(CodeConflict, "This request is finished."))
			return
		}
		s.fail(c, &Error{Code: CodeConflict, Message: updateMessage(err)})
		return
	}
	r, err := s.store.PrivacyRequestByID(ctx, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, s.toPrivacyView(r))
}

func updateMessage(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.Contains(msg, "not possible") {
		return msg[strings.Index(msg, "not possible"):]
	}
	return msg
}

// downloadExport answers GET /v1/privacy/exports/{id}: the archive behind
// the signed link mailed to the requester, for 7 days.
func (s *Server) downloadExport(c *gin.Context) {
	ctx := c.Request.Context()
	id := c.Param("id")
	exp, err := strconv.ParseInt(c.Query("expires"), 10, 64)
	expires := time.Unix(exp, 0)
	want := privacyact.SignExportLink(s.cfg.SessionKey, id, expires)
	if err != nil || !hmac.Equal([]byte(want), []byte(c.Query("sig"))) {
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

// adminPrivacyView is a request as the privacy team sees it.
type adminPrivacyView struct {
	privacyRequestView
	UserID string `json:"user_id,omitempty"`
	Email  string `json:"email"`
	Source string `json:"source"`
}

// adminPrivacyRequests answers GET /v1/admin/privacy/requests: the open
// requests, most urgent first, with their due date and days left.
func (s *Server) adminPrivacyRequests(c *gin.Context) {
	rs, err := s.store.OpenPrivacyRequests(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]adminPrivacyView, len(rs))
	for i, r := range rs {
		out[i] = adminPrivacyView{privacyRequestView: s.toPrivacyView(r), UserID: r.UserID, Email: r.Email, Source: r.Source}
	}
	c.JSON(http.StatusOK, gin.H{"requests": out})
}

// adminPrivacyRequest answers GET /v1/admin/privacy/requests/{id}, with
// the request's audit log.
func (s *Server) adminPrivacyRequest(c *gin.Context) {
	ctx := c.Request.Context()
	r, err := s.store.PrivacyRequestByID(ctx, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	audit, err := s.store.PrivacyAuditOf(ctx, r.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	type entry struct {
		At     time.Time `json:"at"`
		Actor  string    `json:"actor"`
		Action string    `json:"action"`
		Detail string    `json:"detail,omitempty"`
	}
	entries := make([]entry, len(audit))
	for i, a := range audit {
		entries[i] = entry{At: a.At.UTC(), Actor: a.Actor, Action: a.Action, Detail: a.Detail}
	}
	c.JSON(http.StatusOK, gin.H{"request": adminPrivacyView{privacyRequestView: s.toPrivacyView(r), UserID: r.UserID, Email: r.Email, Source: r.Source},
		"audit": entries})
}

// adminReviewPrivacyRequest answers POST /v1/admin/privacy/requests/{id}/review.
func (s *Server) adminReviewPrivacyRequest(c *gin.Context) {
	var body struct {
		Approve *bool  `json:"approve"`
		Reason  string `json:"reason"`
	}
	if err := s.bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	if body.Approve == nil {
		s.fail(c, invalid(map[string]string{"approve": "is required: true to carry the request out, false to refuse it"}))
		return
	}
	if !*body.Approve && strings.TrimSpace(body.Reason) == "" {
		s.fail(c, invalid(map[string]string{"reason": "is required to refuse: the reasons are sent to the requester"}))
		return
	}
	if _, err := s.store.PrivacyRequestByID(c.Request.Context(), c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	s.privacyUpdate(c, c.Param("id"), wfprivacy.UpdateReview, wfprivacy.ReviewDecision{Approve: *body.Approve, Reason: strings.TrimSpace(body.Reason),
		By: "staff:" + currentPrincipal(c).User.ID})
}

// adminExtendPrivacyRequest answers POST /v1/admin/privacy/requests/{id}/extend.
func (s *Server) adminExtendPrivacyRequest(c *gin.Context) {
	s.staffTextUpdate(c, "reason", "is required: it is sent to the requester with the new deadline", wfprivacy.UpdateExtend,
		func(text, by string) any { return wfprivacy.ExtendRequest{Reason: text, By: by} })
}

// adminClarifyPrivacyRequest answers POST /v1/admin/privacy/requests/{id}/clarify.
func (s *Server) adminClarifyPrivacyRequest(c *gin.Context) {
	s.staffTextUpdate(c, "question", "is required: it is sent to the requester", wfprivacy.UpdateClarify,
		func(text, by string) any { return wfprivacy.ClarifyRequest{Question: text, By: by} })
}

// staffTextUpdate reads a body of one required text field and sends the
// request's process the Update that arg builds from it and the staff
// member.
func (s *Server) staffTextUpdate(c *gin.Context, field, required, update string, arg func(text, by string) any) {
	var body map[string]string
	if err := s.bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	text := strings.TrimSpace(body[field])
	if text == "" || len(body) > 1 {
		s.fail(c, invalid(map[string]string{field: required}))
		return
	}
	if _, err := s.store.PrivacyRequestByID(c.Request.Context(), c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	s.privacyUpdate(c, c.Param("id"), update, arg(text, "staff:"+currentPrincipal(c).User.ID))
}

// adminOutbox answers GET /v1/admin/outbox: the mail make run kept
// instead of sending.
func (s *Server) adminOutbox(c *gin.Context) {
	box, ok := s.mail.(*mail.Outbox)
	if !ok {
		s.fail(c, errorf(CodeNotFound, "Mail is sent by SMTP here; there is no local outbox."))
		return
	}
	msgs, err := box.List(c.Request.Context(), 200)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"messages": msgs})
}

// honourGPC records a Global Privacy Control signal (Sec-GPC: 1) from a
// signed-in person as an opt-out of sale and sharing (CPRA regulations
// 7025), once: later requests find it recorded.
func (s *Server) honourGPC(c *gin.Context) {
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
