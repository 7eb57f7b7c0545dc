package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// CallSlot is one call to a platform that counts against a rate limit:
// reserved for its holder at At, and used once the holder makes the call.
type CallSlot struct {
	ID     string `gorm:"primaryKey"`
	Key    string
	Holder string
	At     time.Time
	Used   bool
}

// TableName implements gorm's Tabler.
func (CallSlot) TableName() string { return "call_slots" }

// SlotRequest asks for a slot under a rate limit of Limit calls per key.
type SlotRequest struct {
	// Key names the limit: the platform, the token and the endpoint.
	Key string
	// Holder is who asks, stable across its retries (an activity's
	// workflow and activity IDs): asking again finds its reservation.
	Holder string
	// Limit is the number of calls allowed in any Span.
	Limit int
	// Span is how long a call counts against the limit: the platform's
	// window plus Grace, so that a call made up to Grace after its slot
	// still ends its window inside the slot's.
	Span time.Duration
	// Grace is how late a reservation may be used; one not used by then
	// is dropped, and its holder queues again.
	Grace time.Duration
	// MaxWait is the longest wait to reserve: when the next free slot is
	// further away, nothing is reserved.
	MaxWait time.Duration
}

// callSlotsKeptFor bounds how long any slot row stays: longer than every
// span, and short, since rows name a channel and a workflow.
const callSlotsKeptFor = time.Hour

// ReserveCall takes a slot for r.Holder under r's limit, shared by every
// process using the database (the key is locked for the transaction on
// PostgreSQL; SQLite's transactions never overlap). wait is 0 when the
// holder may call now (the slot is marked used); a positive wait with ok
// means a slot is reserved that far ahead: ask again then. ok false means
// no slot is free within r.MaxWait and nothing was reserved; wait says
// when one would be.
//
// Slots are granted in order, each no earlier than the one before and no
// earlier than Span after the Limit-th before it, so no Span ever holds
// more than Limit of them.
func (s *Store) ReserveCall(ctx context.Context, r SlotRequest) (wait time.Duration, ok bool, err error) {
	if r.Limit < 1 || r.Span <= 0 {
		return 0, false, fmt.Errorf("reserve call %s: a limit needs a positive count and span", r.Key)
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.dialect == Postgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", "call_slots:"+r.Key).Error; err != nil {
				return err
			}
		}
		now := s.now()
		if err := tx.Where("at < ?", now.Add(-callSlotsKeptFor)).Delete(&CallSlot{}).Error; err != nil {
			return err
		}
		if err := tx.Where("key = ? AND (at <= ? OR (NOT used AND at < ?))", r.Key, now.Add(-r.Span), now.Add(-r.Grace)).Delete(&CallSlot{}).Error; err != nil {
			return err
		}
		var mine []CallSlot
		if err := tx.Where("key = ? AND holder = ? AND NOT used", r.Key, r.Holder).Order("at").Limit(1).Find(&mine).Error; err != nil {
			return err
		}
		if len(mine) == 1 {
			ok = true
			if wait = mine[0].At.Sub(now); wait <= 0 {
				wait = 0
				return tx.Model(&CallSlot{}).Where("id = ?", mine[0].ID).Update("used", true).Error
			}
			return nil
		}
		var slots []CallSlot
		if err := tx.Where("key = ?", r.Key).Order("at DESC").Limit(r.Limit).Find(&slots).Error; err != nil {
			return err
		}
		at := now
		if len(slots) > 0 && slots[0].At.After(at) {
			at = slots[0].At
		}
		if len(slots) == r.Limit {
			if free := slots[r.Limit-1].At.Add(r.Span); free.After(at) {
				at = free
			}
		}
		wait = at.Sub(now)
		if wait > r.MaxWait {
			return nil
		}
		ok = true
		return tx.Create(&CallSlot{ID: NewID(), Key: r.Key, Holder: r.Holder, At: at, Used: wait == 0}).Error
	})
	if err != nil {
		return 0, false, fmt.Errorf("reserve call %s: %w", r.Key, err)
	}
	return wait, ok, nil
}
