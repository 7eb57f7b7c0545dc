package models

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// IdempotencyRecord remembers a create request sent with an
// Idempotency-Key and the answer it got, so that a retry is answered the
// same without creating a second object. Status is 0 while the first
// request is still being answered.
type IdempotencyRecord struct {
	// Scope is whose key it is: the user's ID, or "ip:<address>" for a
	// public endpoint.
	Scope string `gorm:"primaryKey"`
	// Endpoint is the method and route ("POST /v1/tokens").
	Endpoint string `gorm:"primaryKey"`
	Key      string `gorm:"primaryKey;column:idempotency_key"`
	// RequestHash fingerprints the request, to refuse a key reused for a
	// different one.
	RequestHash string
	// UserID is the signed-in user, empty for a public endpoint.
	UserID      string
	Status      int
	ContentType string
	Location    string
	// ResponseSealed is the answer's body, encrypted by the API.
	ResponseSealed []byte
	CreatedAt      time.Time
}

// TableName names the table after what it is keyed by.
func (IdempotencyRecord) TableName() string { return "idempotency_keys" }

// ReserveIdempotencyKey stores r as in progress, unless a record with its
// scope, endpoint and key exists: then it returns that record and
// reserved=false. A record created before expiredBefore, or still in
// progress since before abandonedBefore (its request died), is replaced.
func (s *Store) ReserveIdempotencyKey(ctx context.Context, r *IdempotencyRecord, expiredBefore, abandonedBefore time.Time) (existing IdempotencyRecord, reserved bool, err error) {
	db := s.db.WithContext(ctx)
	where := db.Where("scope = ? AND endpoint = ? AND idempotency_key = ?", r.Scope, r.Endpoint, r.Key)
	if err := where.Where("created_at < ? OR (status = 0 AND created_at < ?)", expiredBefore.UTC(), abandonedBefore.UTC()).
		Delete(&IdempotencyRecord{}).Error; err != nil {
		return IdempotencyRecord{}, false, fmt.Errorf("reserve idempotency key: %w", err)
	}
	r.Status, r.ResponseSealed = 0, nil
	if r.CreatedAt.IsZero() {
		r.CreatedAt = s.now()
	}
	r.CreatedAt = r.CreatedAt.UTC()
	err = translate(s.db.WithContext(ctx).Create(r).Error)
	if err == nil {
		return IdempotencyRecord{}, true, nil
	}
	if !errors.Is(err, ErrConflict) {
		return IdempotencyRecord{}, false, fmt.Errorf("reserve idempotency key: %w", err)
	}
	if err := s.db.WithContext(ctx).Where("scope = ? AND endpoint = ? AND idempotency_key = ?", r.Scope, r.Endpoint, r.Key).
		Take(&existing).Error; err != nil {
		return IdempotencyRecord{}, false, fmt.Errorf("read idempotency key: %w", translate(err))
	}
	return existing, false, nil
}

// CompleteIdempotencyKey records the answer of a reserved key.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, r IdempotencyRecord) error {
	err := s.db.WithContext(ctx).Model(&IdempotencyRecord{}).
		Where("scope = ? AND endpoint = ? AND idempotency_key = ? AND status = 0", r.Scope, r.Endpoint, r.Key).
		Updates(map[string]any{"status": r.Status, "content_type": r.ContentType, "location": r.Location, "response_sealed": r.ResponseSealed}).Error
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey forgets a reserved key whose request failed, so
// that it may be retried.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, scope, endpoint, key string) error {
	err := s.db.WithContext(ctx).Where("scope = ? AND endpoint = ? AND idempotency_key = ? AND status = 0", scope, endpoint, key).
		Delete(&IdempotencyRecord{}).Error
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}
