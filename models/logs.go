package models

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// RequestLog is one API request, kept 30 days (policy 000 section 6,
// "server logs").
type RequestLog struct {
	ID         string
	At         time.Time
	Method     string
	Path       string
	Status     int
	DurationMS int64
	UserID     string
	IP         string
	RequestID  string
}

// SecurityEvent is one entry of the security log (sign-ins, failed
// sign-ins, password and role changes, tokens), kept 12 months (policy 004
// section 10).
type SecurityEvent struct {
	ID     string
	At     time.Time
	Kind   string
	UserID string
	IP     string
	Detail string
}

// InsertRequestLogs stores request log lines.
func (s *Store) InsertRequestLogs(ctx context.Context, logs []RequestLog) error {
	if len(logs) == 0 {
		return nil
	}
	for i := range logs {
		if logs[i].ID == "" {
			logs[i].ID = NewID()
		}
		logs[i].At = logs[i].At.UTC()
	}
	if err := s.db.WithContext(ctx).CreateInBatches(logs, 500).Error; err != nil {
		return fmt.Errorf("insert request logs: %w", err)
	}
	return nil
}

// InsertSecurityEvent stores a security log entry.
func (s *Store) InsertSecurityEvent(ctx context.Context, e *SecurityEvent) error {
	if e.ID == "" {
		e.ID = NewID()
	}
	e.At = e.At.UTC()
	if err := s.db.WithContext(ctx).Create(e).Error; err != nil {
		return fmt.Errorf("insert security event: %w", err)
	}
	return nil
}

// UserSecurityEvents lists a user's security log, newest first.
func (s *Store) UserSecurityEvents(ctx context.Context, userID string) ([]SecurityEvent, error) {
	var out []SecurityEvent
	if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("at DESC, id DESC").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("security events: %w", err)
	}
	return out, nil
}

// UserRequestLogs lists a user's request log, newest first.
func (s *Store) UserRequestLogs(ctx context.Context, userID string) ([]RequestLog, error) {
	var out []RequestLog
	if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("at DESC, id DESC").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("request logs: %w", err)
	}
	return out, nil
}

// Expirable tables whose rows are deleted in time buckets: a row goes once
// its own period, counted from its clock, has ended, except the rows of
// users under a legal hold.
const (
	ExpireRequestLogs    = "request_logs"
	ExpireSecurityEvents = "security_events"
	ExpireSessions       = "sessions"
	ExpireWebhookEvents  = "webhook_events"
	ExpireStripeEvents   = "webhook_events:stripe"
	ExpireIdempotency    = "idempotency_keys"
	ExpireEmailChanges   = "email_changes"
	ExpireRegistrations  = "registrations"
)

// expirable says how the rows of an expirable table age.
type expirable struct {
	model func() any
	// clock is the SQL of the time a row's period starts from.
	clock string
	// columns are the plain time columns whose earliest is the clock.
	columns []string
	// where is a condition a row must meet to go at all ("" for none).
	where string
	args  []any
	// holds says whether a legal hold on a user keeps the user's rows.
	holds bool
}

var expirables = map[string]expirable{
	ExpireRequestLogs:    {model: func() any { return &RequestLog{} }, clock: "at", columns: []string{"at"}, holds: true},
	ExpireSecurityEvents: {model: func() any { return &SecurityEvent{} }, clock: "at", columns: []string{"at"}, holds: true},
	ExpireIdempotency:    {model: func() any { return &IdempotencyRecord{} }, clock: "created_at", columns: []string{"created_at"}, holds: true},
	// A pending email change is a code in flight, not evidence: holds do
	// not keep it.
	ExpireEmailChanges: {model: func() any { return &EmailChange{} }, clock: "created_at", columns: []string{"created_at"}},
	// A sign-up belongs to no account yet: holds cannot name it.
	ExpireRegistrations: {model: func() any { return &Registration{} }, clock: "created_at", columns: []string{"created_at"}},
	// A session expires 30 minutes after its last use, or after its
	// revocation should that come first.
	ExpireSessions: {model: func() any { return &Session{} }, holds: true,
		clock:   "CASE WHEN revoked_at < last_seen_at THEN revoked_at ELSE last_seen_at END",
		columns: []string{"last_seen_at", "revoked_at"}},
	// Deliveries name platform accounts, not users: holds do not apply.
	// Only settled ones go; the rest are still being worked on.
	ExpireWebhookEvents: {model: func() any { return &WebhookEvent{} }, clock: "received_at", columns: []string{"received_at"},
		where: "source <> ? AND status IN ?", args: []any{SourceStripe, settledWebhooks}},
	// Stripe's deliveries age from when they were processed or found
	// irrelevant (applied_at), whatever their reception; billing must set
	// it on every outcome it records, or the event stays.
	ExpireStripeEvents: {model: func() any { return &WebhookEvent{} }, clock: "applied_at", columns: []string{"applied_at"},
		where: "source = ? AND status IN ? AND applied_at IS NOT NULL", args: []any{SourceStripe, settledWebhooks}},
}

func expirableTable(table string) (expirable, error) {
	e, ok := expirables[table]
	if !ok {
		return expirable{}, fmt.Errorf("expire %s: not an expirable table", table)
	}
	return e, nil
}

func (e expirable) query(db *gorm.DB) *gorm.DB {
	q := db.Model(e.model())
	if e.where != "" {
		q = q.Where(e.where, e.args...)
	}
	return q
}

// DeleteRowsDue deletes the rows of an expirable table whose clock is at or
// before cutoff and that belong to none of the held users, and returns how
// many went. A session's clock is its last use (or its revocation, if
// earlier); a webhook delivery's is its receipt, and only settled ones go.
func (s *Store) DeleteRowsDue(ctx context.Context, table string, cutoff time.Time, heldUsers []string) (int64, error) {
	e, err := expirableTable(table)
	if err != nil {
		return 0, err
	}
	q := e.query(s.db.WithContext(ctx)).Where(e.clock+" <= ?", cutoff.UTC())
	if e.holds && len(heldUsers) > 0 {
		q = q.Where("user_id NOT IN ?", heldUsers)
	}
	res := q.Delete(e.model())
	if res.Error != nil {
		return 0, fmt.Errorf("expire %s: %w", table, res.Error)
	}
	return res.RowsAffected, nil
}

// NextRowDue returns the earliest clock, after after and before before, of
// the rows of an expirable table that DeleteRowsDue will delete once their
// period ends (held or not), or nil when there is none.
func (s *Store) NextRowDue(ctx context.Context, table string, after, before time.Time) (*time.Time, error) {
	e, err := expirableTable(table)
	if err != nil {
		return nil, err
	}
	// The plain columns are read rather than the clock's SQL, so that
	// each driver parses them as the times they are declared.
	cols := make([]string, 2)
	for i := range cols {
		cols[i] = "NULL AS c" + strconv.Itoa(i)
		if i < len(e.columns) {
			cols[i] = e.columns[i] + " AS c" + strconv.Itoa(i)
		}
	}
	var rows []struct{ C0, C1 *time.Time }
	err = e.query(s.db.WithContext(ctx)).Select(strings.Join(cols, ", ")).
		Where(e.clock+" > ? AND "+e.clock+" < ?", after.UTC(), before.UTC()).
		Order(e.clock).Limit(1).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("next %s due: %w", table, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	var next *time.Time
	for _, t := range []*time.Time{rows[0].C0, rows[0].C1} {
		if t != nil && (next == nil || t.Before(*next)) {
			v := t.UTC()
			next = &v
		}
	}
	return next, nil
}

// DeleteUserLogs deletes a user's request and security log lines and
// idempotency records (erasure: rows written after the account was
// deleted, by requests in flight).
func (s *Store) DeleteUserLogs(ctx context.Context, userID string) error {
	for _, model := range []any{&RequestLog{}, &SecurityEvent{}, &IdempotencyRecord{}} {
		if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Delete(model).Error; err != nil {
			return fmt.Errorf("delete user logs: %w", err)
		}
	}
	return nil
}
