package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// RetentionItem is one thing whose retention period ends at DueAt: a row, a
// file, or a bucket of records (log lines) due when its next record is. It
// is keyed by category and object ID, so scheduling the same object twice
// moves its due time instead of adding a second item.
type RetentionItem struct {
	Category  string
	ObjectID  string
	UserID    string
	DueAt     time.Time
	Attempts  int
	LastError string
	CreatedAt time.Time
}

// RetentionWake is the time at which a category's expiry workflow last said
// it will wake; nil while it has nothing to wait for.
type RetentionWake struct {
	Category string `gorm:"primaryKey"`
	WakeAt   *time.Time
}

// RetentionBatch records one bounded batch of deletions.
type RetentionBatch struct {
	ID            string
	Category      string
	FinishedAt    time.Time
	Deleted       int
	Failed        int
	MaxLatenessMS int64
}

// LegalHold stops retention from deleting a user's data (UserID) or one
// record (Category and ObjectID) until staff release it.
type LegalHold struct {
	ID         string
	UserID     string
	Category   string
	ObjectID   string
	Reason     string
	PlacedBy   string
	PlacedAt   time.Time
	ReleasedBy string
	ReleasedAt *time.Time
}

// notHeld is the condition that an item (aliased i) is under no active hold.
const notHeld = `NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL AND
	((h.user_id <> '' AND h.user_id = i.user_id) OR (h.category = i.category AND h.object_id = i.object_id)))`

// ScheduleRetention stores items, or moves the due time of items already
// stored (resetting their failures).
func (s *Store) ScheduleRetention(ctx context.Context, items []RetentionItem) error {
	if len(items) == 0 {
		return nil
	}
	now := s.now()
	for i := range items {
		items[i].DueAt = items[i].DueAt.UTC()
		items[i].CreatedAt = now
		items[i].Attempts, items[i].LastError = 0, ""
	}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "category"}, {Name: "object_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"due_at", "user_id", "attempts", "last_error"}),
	}).CreateInBatches(items, 500).Error
	if err != nil {
		return fmt.Errorf("schedule retention: %w", err)
	}
	return nil
}

// CancelRetention removes an item whose data is already gone.
func (s *Store) CancelRetention(ctx context.Context, category, objectID string) error {
	if err := s.db.WithContext(ctx).Where("category = ? AND object_id = ?", category, objectID).Delete(&RetentionItem{}).Error; err != nil {
		return fmt.Errorf("cancel retention: %w", err)
	}
	return nil
}

// RetentionWakes returns the wake time of each category's workflow: a
// category absent from the map has never been armed.
func (s *Store) RetentionWakes(ctx context.Context, categories []string) (map[string]*time.Time, error) {
	var rows []RetentionWake
	if err := s.db.WithContext(ctx).Where("category IN ?", categories).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("retention wakes: %w", err)
	}
	out := make(map[string]*time.Time, len(rows))
	for _, r := range rows {
		out[r.Category] = r.WakeAt
	}
	return out, nil
}

// nextRetentionDue is the due time of the category's earliest item not
// under a hold.
func (s *Store) nextRetentionDue(ctx context.Context, category string) (*time.Time, error) {
	var items []RetentionItem
	err := s.db.WithContext(ctx).Table("retention_items AS i").Select("i.due_at").
		Where("i.category = ? AND "+notHeld, category).Order("i.due_at").Limit(1).Find(&items).Error
	if err != nil {
		return nil, fmt.Errorf("next retention due: %w", err)
	}
	if len(items) == 0 {
		return nil, nil
	}
	due := items[0].DueAt.UTC()
	return &due, nil
}

// ArmRetention returns the category's next due time and records it as the
// time its workflow will wake. It reads the due time again after recording
// it: an item scheduled concurrently is either seen by that second read or
// sees the new wake time (and signals the workflow), so none is missed.
func (s *Store) ArmRetention(ctx context.Context, category string) (*time.Time, error) {
	next, err := s.nextRetentionDue(ctx, category)
	if err != nil {
		return nil, err
	}
	for {
		err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "category"}},
			DoUpdates: clause.AssignmentColumns([]string{"wake_at"}),
		}).Create(&RetentionWake{Category: category, WakeAt: next}).Error
		if err != nil {
			return nil, fmt.Errorf("arm retention: %w", err)
		}
		again, err := s.nextRetentionDue(ctx, category)
		if err != nil {
			return nil, err
		}
		if again == nil || (next != nil && !again.Before(*next)) {
			return next, nil
		}
		next = again
	}
}

// DueRetentionItems returns up to limit items of the category due at now
// and not under a hold, earliest first.
func (s *Store) DueRetentionItems(ctx context.Context, category string, now time.Time, limit int) ([]RetentionItem, error) {
	var items []RetentionItem
	err := s.db.WithContext(ctx).Table("retention_items AS i").Select("i.*").
		Where("i.category = ? AND i.due_at <= ? AND "+notHeld, category, now.UTC()).
		Order("i.due_at").Limit(limit).Find(&items).Error
	if err != nil {
		return nil, fmt.Errorf("due retention items: %w", err)
	}
	return items, nil
}

// RetentionFailure is an item whose deletion failed, to be tried again at
// RetryAt.
type RetentionFailure struct {
	ObjectID string
	Error    string
	RetryAt  time.Time
}

// RetentionMove is a due item that is done with for now and due again at
// DueAt: a bucket of rows whose later rows' periods have not ended yet.
type RetentionMove struct {
	Item  RetentionItem
	DueAt time.Time
}

// CompleteRetentionBatch removes the items whose data is gone, moves the
// items whose data is partly gone to when the rest is due, reschedules the
// failures, and records the batch, in one transaction: an item is counted
// as deleted exactly once. An item whose due time was moved past now while
// it was being processed is kept as it now is.
func (s *Store) CompleteRetentionBatch(ctx context.Context, category string, now time.Time, done []RetentionItem, moved []RetentionMove, failed []RetentionFailure) error {
	if len(done) == 0 && len(moved) == 0 && len(failed) == 0 {
		return nil
	}
	var maxLate time.Duration
	ids := make([]string, 0, len(done))
	for _, it := range done {
		ids = append(ids, it.ObjectID)
		maxLate = max(maxLate, now.Sub(it.DueAt))
	}
	for _, m := range moved {
		maxLate = max(maxLate, now.Sub(m.Item.DueAt))
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		deleted := 0
		for start := 0; start < len(ids); start += 500 {
			end := min(start+500, len(ids))
			res := tx.Where("category = ? AND object_id IN ? AND due_at <= ?", category, ids[start:end], now.UTC()).Delete(&RetentionItem{})
			if res.Error != nil {
				return fmt.Errorf("complete retention batch: %w", res.Error)
			}
			deleted += int(res.RowsAffected)
		}
		for _, m := range moved {
			err := tx.Model(&RetentionItem{}).Where("category = ? AND object_id = ? AND due_at <= ?", category, m.Item.ObjectID, now.UTC()).
				Updates(map[string]any{"due_at": m.DueAt.UTC(), "attempts": 0, "last_error": ""}).Error
			if err != nil {
				return fmt.Errorf("move retention item: %w", err)
			}
		}
		for _, f := range failed {
			err := tx.Model(&RetentionItem{}).Where("category = ? AND object_id = ?", category, f.ObjectID).
				Updates(map[string]any{"attempts": gorm.Expr("attempts + 1"), "last_error": f.Error, "due_at": f.RetryAt.UTC()}).Error
			if err != nil {
				return fmt.Errorf("record retention failure: %w", err)
			}
		}
		b := RetentionBatch{ID: NewID(), Category: category, FinishedAt: now.UTC(), Deleted: deleted, Failed: len(failed), MaxLatenessMS: maxLate.Milliseconds()}
		if err := tx.Create(&b).Error; err != nil {
			return fmt.Errorf("record retention batch: %w", err)
		}
		return nil
	})
}

// PruneRetentionBatches forgets batch records older than before; they hold
// counts only.
func (s *Store) PruneRetentionBatches(ctx context.Context, category string, before time.Time) error {
	if err := s.db.WithContext(ctx).Where("category = ? AND finished_at < ?", category, before.UTC()).Delete(&RetentionBatch{}).Error; err != nil {
		return fmt.Errorf("prune retention batches: %w", err)
	}
	return nil
}

// RetentionBatches lists a category's batches finished at or after since,
// in order.
func (s *Store) RetentionBatches(ctx context.Context, category string, since time.Time) ([]RetentionBatch, error) {
	var out []RetentionBatch
	if err := s.db.WithContext(ctx).Where("category = ? AND finished_at >= ?", category, since.UTC()).
		Order("finished_at, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("retention batches: %w", err)
	}
	return out, nil
}

// RetentionStatus is the state of one category for staff.
type RetentionStatus struct {
	Category     string
	Pending      int64
	Held         int64
	Failing      int64
	NextDue      *time.Time
	DeletedSince int64
	FailedSince  int64
}

// RetentionStatuses reports every category that has items or recent
// batches; since bounds the deletion and failure counts.
func (s *Store) RetentionStatuses(ctx context.Context, since time.Time) (map[string]*RetentionStatus, error) {
	out := map[string]*RetentionStatus{}
	get := func(c string) *RetentionStatus {
		if out[c] == nil {
			out[c] = &RetentionStatus{Category: c}
		}
		return out[c]
	}
	var pending []struct {
		Category string
		N        int64
		Failing  int64
	}
	err := s.db.WithContext(ctx).Model(&RetentionItem{}).
		Select("category, COUNT(*) AS n, SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END) AS failing").
		Group("category").Scan(&pending).Error
	if err != nil {
		return nil, fmt.Errorf("retention status: %w", err)
	}
	for _, p := range pending {
		st := get(p.Category)
		st.Pending, st.Failing = p.N, p.Failing
	}
	var held []struct {
		Category string
		N        int64
	}
	err = s.db.WithContext(ctx).Table("retention_items AS i").Select("i.category, COUNT(*) AS n").
		Where("NOT (" + notHeld + ")").Group("i.category").Scan(&held).Error
	if err != nil {
		return nil, fmt.Errorf("retention status: %w", err)
	}
	for _, h := range held {
		get(h.Category).Held = h.N
	}
	var batches []struct {
		Category string
		Deleted  int64
		Failed   int64
	}
	err = s.db.WithContext(ctx).Model(&RetentionBatch{}).Select("category, SUM(deleted) AS deleted, SUM(failed) AS failed").
		Where("finished_at >= ?", since.UTC()).Group("category").Scan(&batches).Error
	if err != nil {
		return nil, fmt.Errorf("retention status: %w", err)
	}
	for _, b := range batches {
		st := get(b.Category)
		st.DeletedSince, st.FailedSince = b.Deleted, b.Failed
	}
	for c, st := range out {
		if st.Pending == 0 {
			continue
		}
		if st.NextDue, err = s.nextRetentionDue(ctx, c); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// UpcomingRetentionItem is an item in the staff view.
type UpcomingRetentionItem struct {
	RetentionItem
	Held bool
}

// UpcomingRetention lists a category's first items by due time, held ones
// marked.
func (s *Store) UpcomingRetention(ctx context.Context, category string, limit int) ([]UpcomingRetentionItem, error) {
	var out []UpcomingRetentionItem
	err := s.db.WithContext(ctx).Table("retention_items AS i").
		Select("i.*, CASE WHEN "+notHeld+" THEN FALSE ELSE TRUE END AS held").
		Where("i.category = ?", category).Order("i.due_at, i.object_id").Limit(limit).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("upcoming retention: %w", err)
	}
	return out, nil
}

// RetentionItemsOf lists every item of a category (a bucketed category
// has one per bucket of its period: a few thousand at most).
func (s *Store) RetentionItemsOf(ctx context.Context, category string) ([]RetentionItem, error) {
	var out []RetentionItem
	if err := s.db.WithContext(ctx).Where("category = ?", category).Order("due_at, object_id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("retention items: %w", err)
	}
	return out, nil
}

// RetentionCategoriesOf lists the categories in which the user, or the
// record, has items.
func (s *Store) RetentionCategoriesOf(ctx context.Context, h LegalHold) ([]string, error) {
	q := s.db.WithContext(ctx).Model(&RetentionItem{}).Distinct("category")
	if h.UserID != "" {
		q = q.Where("user_id = ?", h.UserID)
	} else {
		q = q.Where("category = ? AND object_id = ?", h.Category, h.ObjectID)
	}
	var out []string
	if err := q.Pluck("category", &out).Error; err != nil {
		return nil, fmt.Errorf("retention categories: %w", err)
	}
	return out, nil
}

// RetentionItemUser returns the user a retention item belongs to, empty
// when it has none or is not stored.
func (s *Store) RetentionItemUser(ctx context.Context, category, objectID string) (string, error) {
	var users []string
	if err := s.db.WithContext(ctx).Model(&RetentionItem{}).Where("category = ? AND object_id = ?", category, objectID).
		Limit(1).Pluck("user_id", &users).Error; err != nil {
		return "", fmt.Errorf("retention item user: %w", err)
	}
	if len(users) == 0 {
		return "", nil
	}
	return users[0], nil
}

// PlaceHold stores a legal hold.
func (s *Store) PlaceHold(ctx context.Context, h *LegalHold) error {
	if h.ID == "" {
		h.ID = NewID()
	}
	h.PlacedAt = s.now()
	if err := s.db.WithContext(ctx).Create(h).Error; err != nil {
		return fmt.Errorf("place hold: %w", translate(err))
	}
	return nil
}

// ReleaseHold ends an active hold; a released or unknown one is ErrNotFound.
// The released hold keeps no user ID (the security log has the event): the
// returned hold still names the user, for the caller to act on the release.
func (s *Store) ReleaseHold(ctx context.Context, id, by string) (LegalHold, error) {
	var h LegalHold
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("id = ? AND released_at IS NULL", id).Take(&h).Error; err != nil {
			return fmt.Errorf("hold %s: %w", id, translate(err))
		}
		now := s.now()
		h.ReleasedAt, h.ReleasedBy = &now, by
		return tx.Model(&LegalHold{}).Where("id = ? AND released_at IS NULL", id).
			Updates(map[string]any{"released_at": now, "released_by": by, "user_id": ""}).Error
	})
	if err != nil {
		return LegalHold{}, fmt.Errorf("release hold: %w", err)
	}
	return h, nil
}

// Holds lists holds, active ones only unless all is set, newest first.
func (s *Store) Holds(ctx context.Context, all bool) ([]LegalHold, error) {
	q := s.db.WithContext(ctx).Order("placed_at DESC, id DESC")
	if !all {
		q = q.Where("released_at IS NULL")
	}
	var out []LegalHold
	if err := q.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("holds: %w", err)
	}
	return out, nil
}

// HeldUsers lists the users under an active hold.
func (s *Store) HeldUsers(ctx context.Context) ([]string, error) {
	var out []string
	if err := s.db.WithContext(ctx).Model(&LegalHold{}).Distinct("user_id").
		Where("released_at IS NULL AND user_id <> ''").Pluck("user_id", &out).Error; err != nil {
		return nil, fmt.Errorf("held users: %w", err)
	}
	return out, nil
}

// UserHeld reports whether the user is under an active hold: on the user,
// or on one of the user's records.
func (s *Store) UserHeld(ctx context.Context, userID string) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&LegalHold{}).Where("released_at IS NULL").
		Where("user_id = ? OR (object_id <> '' AND EXISTS (SELECT 1 FROM retention_items i WHERE i.user_id = ? AND i.category = legal_holds.category AND i.object_id = legal_holds.object_id))",
			userID, userID).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("user held: %w", err)
	}
	return n > 0, nil
}
