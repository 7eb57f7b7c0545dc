// Package privacy holds the activities of data-subject requests: recording
// each step in the request's audit log, sending its notices, and carrying
// it out (export, erasure with a completeness check, rectification,
// restriction, objection and consent).
package privacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/emailchange"
	"github.com/loomcast/loomcast/grants"
	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/privacy/calendar"
	"github.com/loomcast/loomcast/privacy/export"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/retention/scheduler"
	wf "github.com/loomcast/loomcast/workflows/privacy"
)

// Activities are the privacy activities with their dependencies.
type Activities struct {
	Store      *models.Store
	Blob       blob.Store
	Mail       mail.Sender
	Grants     *grants.Manager
	Retention  *scheduler.Scheduler
	Executions Executions
	// PublicURL is the API's address, for export links.
	PublicURL string
	// LinkKey signs export links and keys the codes of email changes:
	// the API's session key, since the API checks both.
	LinkKey []byte
	// StaffEmail receives deadline reminders and alerts.
	StaffEmail string
	// LeadAuthority is where EU requesters may complain; CNIL when unset.
	LeadAuthority calendar.Authority
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Executions stops and deletes a person's workflow executions.
type Executions interface {
	DeleteUserExecutions(ctx context.Context, userID string) (int, error)
	TerminateUserExecutions(ctx context.Context, userID, keepPrefix string) (int, error)
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now().UTC()
	}
	return time.Now().UTC()
}

// RecordPrivacyStep sets the request's status and fields and appends the
// step to its audit log.
func (a *Activities) RecordPrivacyStep(ctx context.Context, s wf.Step) error {
	if err := a.Store.UpdatePrivacyRequest(ctx, s.RequestID, toDBPrivacyFields(s)); err != nil {
		return err
	}
	info := activity.GetInfo(ctx)
	// The audit ID is the activity's, so a retried step is written once.
	id := "step-" + info.WorkflowExecution.RunID + "-" + info.ActivityID
	err := a.Store.AppendPrivacyAudit(ctx, models.PrivacyAudit{ID: id, RequestID: s.RequestID, At: a.now(), Actor: s.Actor, Action: s.Action, Detail: s.Detail})
	if errors.Is(err, models.ErrConflict) {
		return nil
	}
	return err
}

// toDBPrivacyFields converts a step's fields to the store's; empty ones are
// left alone.
func toDBPrivacyFields(s wf.Step) models.PrivacyFields {
	nonEmpty := func(v string) *string {
		if v == "" {
			return nil
		}
		return &v
	}
	return models.PrivacyFields{Status: nonEmpty(s.Status), DeadlineAt: s.Set.DeadlineAt, VerifiedAt: s.Set.VerifiedAt,
		ExtendedAt: s.Set.ExtendedAt, ClosedAt: s.Set.ClosedAt, ExtensionReason: nonEmpty(s.Set.ExtensionReason), Answer: nonEmpty(s.Set.Answer)}
}

// NotifyPrivacy sends one notice: to the requester, or for reminders and
// alerts to the privacy team.
func (a *Activities) NotifyPrivacy(ctx context.Context, n wf.Notice) error {
	r, err := a.Store.PrivacyRequestByID(ctx, n.RequestID)
	if err != nil {
		return err
	}
	due := ""
	if !n.Deadline.IsZero() {
		due = n.Deadline.UTC().Format("2 January 2006")
	}
	msg := mail.Message{To: r.Email, Kind: n.Kind, RequestID: r.ID}
	// Every notice that answers the requester says where they may
	// complain: the authority of their regime (000 §7.8).
	complain := "\nIf you are not satisfied with how we handle your request, you may lodge a complaint with " +
		calendar.AuthorityFor(calendar.Regime(r.Regime), a.LeadAuthority).String() + ".\n"
	switch n.Kind {
	case wf.NoticeAcknowledged:
		msg.Subject = "We received your privacy request"
		msg.Text = fmt.Sprintf("We received your %s request (reference %s) and will answer by %s.\n", r.FiledAs, r.ID, due) + complain
		if r.Source == wf.SourceAgent {
			var d wf.Details
			if err := json.Unmarshal([]byte(r.Details), &d); err == nil && d.Agent != nil {
				msg.Text = fmt.Sprintf("Your authorised agent %s (%s) filed this request for you, and you confirmed it. We answer you, at this address.\n\n",
					d.Agent.Name, d.Agent.Email) + msg.Text
			}
		}
		if r.Source == wf.SourceChildReport {
			// The account holder did not ask: say who did and why.
			msg.Subject = "Your Loomcast account is being erased"
			msg.Text = fmt.Sprintf("A parent or guardian told us that this Loomcast account belongs to a child below the minimum age where they live "+
				"(%d in the EU, the EEA and the UK, %d elsewhere). As our privacy policy promises, we are erasing the account and its data, "+
				"by %s at the latest (reference %s).\n", calendar.MinimumAgeEurope, calendar.MinimumAgeElsewhere, due, r.ID) + complain
		}
	case wf.NoticeExtended:
		msg.Subject = "Your privacy request needs more time"
		msg.Text = fmt.Sprintf("We need more time to answer your %s request (reference %s), as the law allows. We will answer by %s.\n\nWhy: %s\n", r.FiledAs, r.ID, due, n.Reason) + complain
	case wf.NoticeAnswer:
		msg.Subject = "Your privacy request is done"
		msg.Text = r.Answer + "\n\nReference: " + r.ID + "\n" + complain
		if link := a.exportLink(r); link != "" {
			msg.Text = r.Answer + "\n\nYour archive: " + link + "\n\nReference: " + r.ID + "\n" + complain
		}
	case wf.NoticeRefused:
		msg.Subject = "We cannot act on your privacy request"
		msg.Text = fmt.Sprintf("We cannot act on your %s request (reference %s).\n\nWhy: %s\n", r.FiledAs, r.ID, n.Reason) + complain
	case wf.NoticeClarify:
		msg.Subject = "A question about your privacy request"
		msg.Text = fmt.Sprintf("To handle your %s request (reference %s) we need you to clarify:\n\n%s\n\n"+
			"Answer in your Loomcast account (POST /v1/privacy/requests/%s/clarify). The legal deadline is paused until you do.\n", r.FiledAs, r.ID, n.Reason, r.ID)
	case wf.NoticeWithdrawn:
		msg.Subject = "Your privacy request was withdrawn"
		msg.Text = fmt.Sprintf("Your %s request (reference %s) was withdrawn; nothing more will be done.\n", r.FiledAs, r.ID)
	case wf.NoticeNeedsReview:
		msg.To = a.StaffEmail
		msg.Subject = fmt.Sprintf("[privacy] request %s needs review: it could not be carried out", r.ID)
		msg.Text = fmt.Sprintf("Request %s (%s, %s, due %s) could not be carried out and waits for your decision "+
			"(POST /v1/admin/privacy/requests/%s/review: approve to try again once the cause is fixed, or refuse with reasons).\n\nFindings: %s\n",
			r.ID, r.FiledAs, r.Regime, due, r.ID, n.Reason)
	case wf.NoticeReminder7, wf.NoticeReminder2, wf.NoticeOverdue:
		msg.To = a.StaffEmail
		msg.Subject = fmt.Sprintf("[privacy] %s: request %s due %s", strings.ReplaceAll(n.Kind, "_", " "), r.ID, due)
		msg.Text = fmt.Sprintf("Request %s (%s, %s) is due %s and is %s.\n", r.ID, r.FiledAs, r.Regime, due, r.Status)
	default:
		return fmt.Errorf("unknown notice %q", n.Kind)
	}
	if err := a.Mail.Send(ctx, msg); err != nil {
		return fmt.Errorf("send %s: %w", n.Kind, err)
	}
	info := activity.GetInfo(ctx)
	return a.appendOnce(ctx, models.PrivacyAudit{ID: "mail-" + info.WorkflowExecution.RunID + "-" + info.ActivityID, RequestID: r.ID,
		At: a.now(), Actor: "system", Action: "sent " + n.Kind})
}

func (a *Activities) appendOnce(ctx context.Context, e models.PrivacyAudit) error {
	err := a.Store.AppendPrivacyAudit(ctx, e)
	if errors.Is(err, models.ErrConflict) {
		return nil
	}
	return err
}

// ExecutePrivacyRequest carries the request out and returns the answer.
func (a *Activities) ExecutePrivacyRequest(ctx context.Context, in wf.ExecuteInput) (wf.ExecuteResult, error) {
	r, err := a.Store.PrivacyRequestByID(ctx, in.RequestID)
	if err != nil {
		return wf.ExecuteResult{}, err
	}
	var d wf.Details
	if r.Details != "" {
		if err := json.Unmarshal([]byte(r.Details), &d); err != nil {
			return wf.ExecuteResult{}, fmt.Errorf("request details: %w", err)
		}
	}
	if r.UserID == "" {
		return wf.ExecuteResult{Answer: "We hold no account for this email address, so we hold no personal data about you beyond this request."}, nil
	}
	switch r.Type {
	case wf.TypeAccess, wf.TypePortability:
		return a.export(ctx, r)
	case wf.TypeErasure:
		return a.erase(ctx, r)
	case wf.TypeRectification:
		return a.rectify(ctx, r, d)
	case wf.TypeRestriction:
		at := a.now()
		if err := a.Store.SetRestricted(ctx, r.UserID, &at); err != nil {
			return wf.ExecuteResult{}, err
		}
		return wf.ExecuteResult{Answer: "Processing of your data is now restricted: we store it and do nothing else with it (no publishing, no marketing) until you ask us to lift the restriction."}, nil
	case wf.TypeObjection, wf.TypeWithdrawal, wf.TypeOptOut, wf.TypeLimit:
		return a.stopProcessing(ctx, r, d)
	}
	return wf.ExecuteResult{}, fmt.Errorf("unknown request type %q", r.Type)
}

// defaultPurposes are what a request stops when it names none.
var defaultPurposes = map[string][]string{
	wf.TypeObjection:  {models.PurposeMarketingEmails, models.PurposeProductUpdates, models.PurposeAnalytics},
	wf.TypeWithdrawal: {models.PurposeMarketingEmails, models.PurposeProductUpdates, models.PurposeAnalytics},
	wf.TypeOptOut:     {models.PurposeSaleOrSharing},
	wf.TypeLimit:      {models.PurposeSensitiveData},
}

func (a *Activities) stopProcessing(ctx context.Context, r models.PrivacyRequest, d wf.Details) (wf.ExecuteResult, error) {
	purposes := d.Purposes
	if len(purposes) == 0 {
		purposes = defaultPurposes[r.Type]
	}
	for _, p := range purposes {
		if err := a.Store.RecordConsent(ctx, models.Consent{ID: "dsr-" + r.ID + "-" + p, UserID: r.UserID, Purpose: p, Granted: false,
			At: a.now(), Source: "privacy request " + r.ID}); err != nil && !errors.Is(err, models.ErrConflict) {
			return wf.ExecuteResult{}, err
		}
	}
	answer := "We have stopped: " + strings.Join(purposes, ", ") + "."
	switch r.Type {
	case wf.TypeOptOut:
		answer += " Loomcast does not sell or share personal information; your opt-out is recorded and will hold if that ever changes."
	case wf.TypeLimit:
		answer += " Loomcast uses sensitive personal information (your password, kept only as a salted hash, and your platform tokens, kept encrypted) " +
			"only to provide the service you asked for, as the law permits, and for nothing else; your choice is recorded and will hold if that ever changes."
	}
	return wf.ExecuteResult{Answer: answer}, nil
}

// rectify corrects the named profile fields. The email address is not
// set here: like a change in the profile, it takes a code mailed to the
// new address, which the person gives back signed in; this mails it, last,
// so that a retry (nothing after it can fail) at worst sends a newer code.
func (a *Activities) rectify(ctx context.Context, r models.PrivacyRequest, d wf.Details) (wf.ExecuteResult, error) {
	var upd models.ProfileUpdate
	var changed []string
	for _, k := range slices.Sorted(maps.Keys(d.Fields)) {
		v := d.Fields[k]
		switch k {
		case "display_name":
			upd.DisplayName = &v
		case "timezone":
			upd.Timezone = &v
		default:
			continue
		}
		changed = append(changed, k)
	}
	var answer []string
	if len(changed) > 0 {
		if _, err := a.Store.UpdateProfile(ctx, r.UserID, upd); err != nil {
			return wf.ExecuteResult{}, err
		}
		answer = append(answer, "We corrected: "+strings.Join(changed, ", ")+".")
	}
	if email, ok := d.Fields["email"]; ok {
		said, err := a.rectifyEmail(ctx, r, email)
		if err != nil {
			return wf.ExecuteResult{}, err
		}
		answer = append(answer, said)
	}
	return wf.ExecuteResult{Answer: strings.Join(answer, " ")}, nil
}

// rectifyEmail starts the change of the person's address to the one the
// request names, and says what the person must do. The answer names no
// address: it is kept with the request and in its process's history.
func (a *Activities) rectifyEmail(ctx context.Context, r models.PrivacyRequest, email string) (string, error) {
	u, err := a.Store.UserByID(ctx, r.UserID)
	if err != nil {
		return "", err
	}
	if u.ClosedAt != nil {
		return "Your account is closed, so its email address can no longer be changed.", nil
	}
	changes := &emailchange.Changes{Store: a.Store, Mail: a.Mail, Buckets: scheduler.NewBuckets(a.Retention), Key: a.LinkKey, Now: a.Now}
	err = changes.Start(ctx, u, email, r.ID)
	if errors.Is(err, emailchange.ErrSame) {
		return "Your email address already is the one you gave: there was nothing to change.", nil
	}
	if err != nil {
		return "", err
	}
	return "Your email address is not changed yet: we sent a 6-digit code to the new address you gave, to make sure it is yours. " +
		"Sign in to your account and send the code to POST /v1/me/email/verify within 10 minutes (POST /v1/me/email/code sends a new one, for 24 hours); " +
		"the address changes then, and you stay signed in.", nil
}

func (a *Activities) export(ctx context.Context, r models.PrivacyRequest) (wf.ExecuteResult, error) {
	key := export.ArchiveKey(r.ID)
	pr, pw := io.Pipe()
	progress := func(done, total int) {
		activity.RecordHeartbeat(ctx, done)
		_ = a.Store.UpdatePrivacyRequest(ctx, r.ID, models.PrivacyFields{ProgressDone: &done, ProgressTotal: &total})
	}
	var manifest export.Manifest
	built := make(chan struct{})
	go func() {
		defer close(built)
		var err error
		manifest, err = export.Build(ctx, a.Store, a.Blob, r.UserID, pw, progress)
		pw.CloseWithError(err)
	}()
	if _, err := a.Blob.Put(ctx, key, pr); err != nil {
		_ = pr.CloseWithError(err)
		<-built
		return wf.ExecuteResult{}, fmt.Errorf("store export: %w", err)
	}
	<-built
	created := a.now()
	expires := created.Add(wf.ExportLinkValidity)
	if err := a.Retention.Schedule(ctx, scheduler.Item{Category: retention.PrivacyExports, ObjectID: r.ID, UserID: r.UserID, Start: created}); err != nil {
		return wf.ExecuteResult{}, err
	}
	if err := a.Store.UpdatePrivacyRequest(ctx, r.ID, models.PrivacyFields{ExportKey: &key, ExportExpiresAt: &expires}); err != nil {
		return wf.ExecuteResult{}, err
	}
	// The link is a credential: it goes only into the mail (NotifyPrivacy
	// signs it when sending), never into the answer stored and carried in
	// the workflow's history.
	answer := "Your data is ready: a zip of every record we hold about you, as documented JSON, with your media files. " +
		"Download it with the link we emailed you, until " + expires.Format("2 January 2006 15:04 MST") + "; then it is deleted."
	if r.FiledAs == wf.RightToKnow {
		// The categories, sources, purposes, recipients and retention are
		// the answer itself (CCPA 1798.110); the archive holds the same
		// document with the specific pieces.
		return wf.ExecuteResult{Answer: answer + "\n\n" + export.RightToKnow(manifest)}, nil
	}
	return wf.ExecuteResult{Answer: answer + " Its " + export.RightToKnowFile + " says what we collect about you, where it comes from, " +
		"why we use it, who receives it and how long we keep it."}, nil
}

// exportLink is the signed link of a request's archive.
func (a *Activities) exportLink(r models.PrivacyRequest) string {
	if r.ExportKey == "" || r.ExportExpiresAt == nil {
		return ""
	}
	expires := r.ExportExpiresAt.UTC().Truncate(time.Second)
	return fmt.Sprintf("%s/v1/privacy/exports/%s?expires=%d&sig=%s", a.PublicURL, r.ID, expires.Unix(), wf.SignExportLink(a.LinkKey, r.ID, expires))
}
