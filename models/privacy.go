package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/loomcast/loomcast"
	"gorm.io/gorm"
)

// PrivacyRequest is a data-subject request (policy 000 sections 7 and 8,
// 004 sections 12 to 14). It is the record that the request was handled:
// kept, restricted, after the person's data is erased.
type PrivacyRequest struct {
	ID      string
	UserID  string
	Email   string
	Type    string
	FiledAs string
	Regime  string
	Region  string
	Source  string
	Status  string
	// Details holds what the request names (fields to rectify, processing
	// to stop), as JSON.
	Details         string
	ReceivedAt      time.Time
	VerifiedAt      *time.Time
	DeadlineAt      *time.Time
	ExtendedAt      *time.Time
	ExtensionReason string
	ClosedAt        *time.Time
	Answer          string
	ProgressDone    int
	ProgressTotal   int
	ExportKey       string
	ExportExpiresAt *time.Time
	CodeHash        string
	CodeExpiresAt   *time.Time
	CodeAttempts    int
}

// PrivacyAudit is one entry of a request's append-only audit log: who did
// what and when. Entries are never changed or deleted.
type PrivacyAudit struct {
	ID        string
	RequestID string
	At        time.Time
	Actor     string
	Action    string
	Detail    string
}

// TableName keeps the audit log's table name singular like the thing.
func (PrivacyAudit) TableName() string { return "privacy_audit" }

// Consent is one decision about a purpose of processing, with its time and
// where it came from; the latest decision per purpose holds.
type Consent struct {
	ID      string
	UserID  string
	Purpose string
	Granted bool
	At      time.Time
	Source  string
}

// CreatePrivacyRequest stores a new request, unless one of the same type
// by the same email is still open: then that one is returned with
// joined=true and nothing is stored.
func (s *Store) CreatePrivacyRequest(ctx context.Context, r *PrivacyRequest) (joined bool, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var open []PrivacyRequest
		if err := tx.Where("email = ? AND type = ? AND status IN ?", r.Email, r.Type, loomcast.PrivacyOpen).
			Order("received_at").Limit(1).Find(&open).Error; err != nil {
			return err
		}
		if len(open) > 0 {
			*r, joined = open[0], true
			return nil
		}
		if r.ID == "" {
			r.ID = NewID()
		}
		r.ReceivedAt = r.ReceivedAt.UTC()
		return tx.Create(r).Error
	})
	if err != nil {
		return false, fmt.Errorf("create privacy request: %w", translate(err))
	}
	return joined, nil
}

// PrivacyRequestByID loads a request.
func (s *Store) PrivacyRequestByID(ctx context.Context, id string) (PrivacyRequest, error) {
	var r PrivacyRequest
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return PrivacyRequest{}, fmt.Errorf("privacy request %s: %w", id, translate(err))
	}
	return r, nil
}

// UserPrivacyRequests lists a user's requests, newest first.
func (s *Store) UserPrivacyRequests(ctx context.Context, userID string) ([]PrivacyRequest, error) {
	var out []PrivacyRequest
	if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("received_at DESC, id DESC").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("privacy requests: %w", err)
	}
	return out, nil
}

// OpenPrivacyRequests lists the requests still being handled, most urgent
// (earliest deadline) first; those without a deadline yet come last.
func (s *Store) OpenPrivacyRequests(ctx context.Context) ([]PrivacyRequest, error) {
	var out []PrivacyRequest
	err := s.db.WithContext(ctx).Where("status IN ?", loomcast.PrivacyOpen).
		Order("CASE WHEN deadline_at IS NULL THEN 1 ELSE 0 END, deadline_at, received_at").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("open privacy requests: %w", err)
	}
	return out, nil
}

// PrivacyFields are the columns of a request that a change sets; nil ones
// are left as they are, and a pointer to a zero value clears a column.
type PrivacyFields struct {
	UserID          *string
	Status          *string
	Details         *string
	VerifiedAt      *time.Time
	DeadlineAt      *time.Time
	ExtendedAt      *time.Time
	ExtensionReason *string
	ClosedAt        *time.Time
	Answer          *string
	ProgressDone    *int
	ProgressTotal   *int
	ExportKey       *string
	ExportExpiresAt *time.Time
	CodeHash        *string
	CodeExpiresAt   *time.Time
	CodeAttempts    *int
}

// columns are the fields as GORM column updates, times in UTC.
func (f PrivacyFields) columns() map[string]any {
	out := map[string]any{}
	str := func(col string, p *string) {
		if p != nil {
			out[col] = *p
		}
	}
	num := func(col string, p *int) {
		if p != nil {
			out[col] = *p
		}
	}
	tm := func(col string, p *time.Time) {
		if p != nil {
			out[col] = p.UTC()
		}
	}
	str("user_id", f.UserID)
	str("status", f.Status)
	str("details", f.Details)
	tm("verified_at", f.VerifiedAt)
	tm("deadline_at", f.DeadlineAt)
	tm("extended_at", f.ExtendedAt)
	str("extension_reason", f.ExtensionReason)
	tm("closed_at", f.ClosedAt)
	str("answer", f.Answer)
	num("progress_done", f.ProgressDone)
	num("progress_total", f.ProgressTotal)
	str("export_key", f.ExportKey)
	tm("export_expires_at", f.ExportExpiresAt)
	str("code_hash", f.CodeHash)
	tm("code_expires_at", f.CodeExpiresAt)
	num("code_attempts", f.CodeAttempts)
	return out
}

// UpdatePrivacyRequest sets fields of a request.
func (s *Store) UpdatePrivacyRequest(ctx context.Context, id string, set PrivacyFields) error {
	fields := set.columns()
	if len(fields) == 0 {
		return nil
	}
	res := s.db.WithContext(ctx).Model(&PrivacyRequest{}).Where("id = ?", id).Updates(fields)
	if res.Error != nil {
		return fmt.Errorf("update privacy request: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("privacy request %s: %w", id, ErrNotFound)
	}
	return nil
}

// CountPrivacyCodeAttempt records one attempt at a request's code and
// returns the attempts made so far, in one statement so that concurrent
// guesses are all counted.
func (s *Store) CountPrivacyCodeAttempt(ctx context.Context, id string) (int, error) {
	if err := s.countCodeAttempt(ctx, &PrivacyRequest{}, "id", id); err != nil {
		return 0, err
	}
	r, err := s.PrivacyRequestByID(ctx, id)
	return r.CodeAttempts, err
}

// AppendPrivacyAudit adds an entry to a request's audit log.
func (s *Store) AppendPrivacyAudit(ctx context.Context, e PrivacyAudit) error {
	if e.ID == "" {
		e.ID = NewID()
	}
	e.At = e.At.UTC()
	if err := s.db.WithContext(ctx).Create(&e).Error; err != nil {
		return fmt.Errorf("append privacy audit: %w", translate(err))
	}
	return nil
}

// AuditRequests maps audit entry IDs to the request each belongs to;
// unknown IDs are left out.
func (s *Store) AuditRequests(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []PrivacyAudit
	if err := s.db.WithContext(ctx).Select("id", "request_id").Where("id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("audit requests: %w", err)
	}
	for _, r := range rows {
		out[r.ID] = r.RequestID
	}
	return out, nil
}

// PrivacyAuditOf returns a request's audit log in order.
func (s *Store) PrivacyAuditOf(ctx context.Context, requestID string) ([]PrivacyAudit, error) {
	var out []PrivacyAudit
	if err := s.db.WithContext(ctx).Where("request_id = ?", requestID).Order("at, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("privacy audit: %w", err)
	}
	return out, nil
}

// RecordConsent stores a decision about a purpose; for marketing email it
// also sets the user's current consent.
func (s *Store) RecordConsent(ctx context.Context, c Consent) error {
	if c.ID == "" {
		c.ID = NewID()
	}
	c.At = c.At.UTC()
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&c).Error; err != nil {
			return fmt.Errorf("record consent: %w", err)
		}
		if c.Purpose == PurposeMarketingEmails {
			err := tx.Model(&User{}).Where("id = ?", c.UserID).
				Updates(map[string]any{"marketing_emails": c.Granted, "marketing_updated_at": c.At, "updated_at": c.At}).Error
			if err != nil {
				return fmt.Errorf("record consent: %w", err)
			}
		}
		return nil
	})
}

// Purposes of processing a person can consent to or object to.
const (
	PurposeMarketingEmails = "marketing_emails"
	PurposeProductUpdates  = "product_updates"
	PurposeAnalytics       = "analytics"
	PurposeSaleOrSharing   = "sale_or_sharing"
	PurposeSensitiveData   = "sensitive_data"
)

// Purposes lists every purpose of processing, as the API names them.
var Purposes = []string{PurposeMarketingEmails, PurposeProductUpdates, PurposeAnalytics, PurposeSaleOrSharing, PurposeSensitiveData}

// Permits is the gate every processing step asks before it serves a
// purpose for a person; the person's latest decision about the purpose
// rules (consents are given in the profile; objection, withdrawal, opt-out
// and limit record refusals):
//   - nothing is permitted for an account that is closed, restricted or
//     gone;
//   - marketing_emails and product_updates rest on consent: only a latest
//     decision that grants them permits them (for marketing email, the
//     account's current consent too), so a missing record, such as one
//     deleted when marketing data expired, is no consent;
//   - analytics rests on legitimate interest: permitted unless refused;
//   - sale_or_sharing and sensitive_data are never permitted: Loomcast
//     does neither, as the answers to opt-out and limit requests say.
//
// An unknown purpose is an error.
func (s *Store) Permits(ctx context.Context, userID, purpose string) (bool, error) {
	if err := knownPurpose(purpose); err != nil {
		return false, err
	}
	var u User
	err := s.db.WithContext(ctx).Where("id = ?", userID).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("permits %s: %w", purpose, err)
	}
	return permits(s.db.WithContext(ctx), u, purpose)
}

func knownPurpose(purpose string) error {
	if !slices.Contains(Purposes, purpose) {
		return fmt.Errorf("permits: unknown purpose %q", purpose)
	}
	return nil
}

// permits applies Permits' rules to the account u, read in tx.
func permits(tx *gorm.DB, u User, purpose string) (bool, error) {
	if err := knownPurpose(purpose); err != nil {
		return false, err
	}
	if u.ClosedAt != nil || u.RestrictedAt != nil || purpose == PurposeSaleOrSharing || purpose == PurposeSensitiveData {
		return false, nil
	}
	var latest []Consent
	if err := tx.Where("user_id = ? AND purpose = ?", u.ID, purpose).Order("at DESC, id DESC").Limit(1).Find(&latest).Error; err != nil {
		return false, fmt.Errorf("permits %s: %w", purpose, err)
	}
	decided, granted := len(latest) == 1, len(latest) == 1 && latest[0].Granted
	switch purpose {
	case PurposeMarketingEmails:
		return granted && u.MarketingEmails, nil
	case PurposeProductUpdates:
		return granted, nil
	case PurposeAnalytics: // legitimate interest
		return !decided || granted, nil
	}
	return false, fmt.Errorf("permits: no rule for the purpose %q", purpose)
}

// Consents returns the latest decision per purpose of a user.
func (s *Store) Consents(ctx context.Context, userID string) (map[string]Consent, error) {
	var all []Consent
	if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("at, id").Find(&all).Error; err != nil {
		return nil, fmt.Errorf("consents: %w", err)
	}
	out := map[string]Consent{}
	for _, c := range all {
		out[c.Purpose] = c
	}
	return out, nil
}

// SetRestricted marks an account restricted (only storage happens) or
// lifts the restriction with nil.
func (s *Store) SetRestricted(ctx context.Context, userID string, at *time.Time) error {
	var v any = gorm.Expr("NULL")
	if at != nil {
		v = at.UTC()
	}
	if err := s.db.WithContext(ctx).Model(&User{}).Where("id = ?", userID).Update("restricted_at", v).Error; err != nil {
		return fmt.Errorf("set restricted: %w", err)
	}
	return nil
}

// RepeatsAnsweredRequest reports whether another request of r's type by
// r's email was answered or closed after since: staff then judge whether
// r is manifestly unfounded or excessive (GDPR art. 12(5)).
func (s *Store) RepeatsAnsweredRequest(ctx context.Context, r PrivacyRequest, since time.Time) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&PrivacyRequest{}).
		Where("email = ? AND type = ? AND id <> ? AND status IN ? AND closed_at > ?", r.Email, r.Type, r.ID,
			[]string{loomcast.PrivacyClosed, loomcast.PrivacyAnswered}, since.UTC()).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("repeated privacy request: %w", err)
	}
	return n > 0, nil
}
