package models

import (
	"context"
	"fmt"
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

// Expirable tables whose rows are deleted in time buckets: rows older than
// a cutoff go, except those of users under a legal hold.
const (
	ExpireRequestLogs    = "request_logs"
	ExpireSecurityEvents = "security_events"
	ExpireSessions       = "sessions"
	ExpireWebhookEvents  = "webhook_events"
	ExpireIdempotency    = "idempotency_keys"
	ExpireEmailChanges   = "email_changes"
)

// DeleteRowsBefore deletes the rows of an expirable table that are older
// than cutoff and belong to none of the held users, and returns how many
// went. Sessions are old when last seen or revoked before cutoff;
// webhook deliveries when they were received before it and are settled.
func (s *Store) DeleteRowsBefore(ctx context.Context, table string, cutoff time.Time, heldUsers []string) (int64, error) {
	cutoff = cutoff.UTC()
	var (
		q     *gorm.DB
		model any
	)
	db := s.db.WithContext(ctx)
	switch table {
	case ExpireRequestLogs:
		q, model = db.Where("at < ?", cutoff), &RequestLog{}
	case ExpireSecurityEvents:
		q, model = db.Where("at < ?", cutoff), &SecurityEvent{}
	case ExpireIdempotency:
		q, model = db.Where("created_at < ?", cutoff), &IdempotencyRecord{}
	case ExpireEmailChanges:
		q, model = db.Where("created_at < ?", cutoff), &EmailChange{}
	case ExpireSessions:
		// A session last seen before cutoff expired 30 minutes later.
		q, model = db.Where("(last_seen_at < ? OR revoked_at < ?)", cutoff, cutoff), &Session{}
	case ExpireWebhookEvents:
		// Deliveries name platform accounts, not users: holds do not apply.
		// Only settled ones go; the rest are still being worked on.
		res := db.Where("received_at < ? AND status IN ?", cutoff, []string{WebhookApplied, WebhookIgnored, WebhookFailed}).Delete(&WebhookEvent{})
		if res.Error != nil {
			return 0, fmt.Errorf("expire %s: %w", table, res.Error)
		}
		return res.RowsAffected, nil
	default:
		return 0, fmt.Errorf("expire %s: not an expirable table", table)
	}
	if len(heldUsers) > 0 {
		q = q.Where("user_id NOT IN ?", heldUsers)
	}
	res := q.Delete(model)
	if res.Error != nil {
		return 0, fmt.Errorf("expire %s: %w", table, res.Error)
	}
	return res.RowsAffected, nil
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
