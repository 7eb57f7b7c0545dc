package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/loomcast/loomcast"
)

// Announcement is a product announcement that staff mail to every account
// whose person permits its purpose. Accounts take their turn in ID order,
// and the only trace of its progress is a cursor, the ID of the last
// account whose turn came, beside the counts: no row per recipient is
// kept. The cursor is cleared when the announcement ends, and an account
// deleted meanwhile moves it off its ID (see PurgeUser), so that it never
// outlives the account it names.
type Announcement struct {
	ID      string
	Purpose string
	Subject string
	Body    string
	Status  string
	// LastUserID is the cursor: every account up to it has had its turn.
	LastUserID string
	// Sent counts the mails the mail server took, Skipped the accounts the
	// purpose gate refused, Failed the mails the server did not take (not
	// tried again: each person gets the mail at most once).
	Sent       int
	Skipped    int
	Failed     int
	CreatedAt  time.Time
	FinishedAt *time.Time
}

// CreateAnnouncement stores a new announcement.
func (s *Store) CreateAnnouncement(ctx context.Context, a *Announcement) error {
	if a.ID == "" {
		a.ID = NewID()
	}
	a.CreatedAt = a.CreatedAt.UTC()
	if err := s.db.WithContext(ctx).Create(a).Error; err != nil {
		return fmt.Errorf("create announcement: %w", translate(err))
	}
	return nil
}

// DeleteAnnouncement removes an announcement whose process never started.
func (s *Store) DeleteAnnouncement(ctx context.Context, id string) error {
	if err := s.db.WithContext(ctx).Where("id = ?", id).Delete(&Announcement{}).Error; err != nil {
		return fmt.Errorf("delete announcement: %w", err)
	}
	return nil
}

// AnnouncementByID loads an announcement.
func (s *Store) AnnouncementByID(ctx context.Context, id string) (Announcement, error) {
	var a Announcement
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&a).Error; err != nil {
		return Announcement{}, fmt.Errorf("announcement %s: %w", id, translate(err))
	}
	return a, nil
}

// AnnouncementRecipients lists, in ID order, up to limit accounts whose
// turn in the announcement has not come yet.
func (s *Store) AnnouncementRecipients(ctx context.Context, id string, limit int) ([]string, error) {
	var out []string
	cursor := s.db.Model(&Announcement{}).Select("last_user_id").Where("id = ?", id)
	err := s.db.WithContext(ctx).Model(&User{}).Where("id > (?)", cursor).Order("id").Limit(limit).Pluck("id", &out).Error
	if err != nil {
		return nil, fmt.Errorf("announcement recipients: %w", err)
	}
	return out, nil
}

// AnnouncementTurn is what an account's turn in an announcement came to.
type AnnouncementTurn struct {
	// Taken is false when the turn was not this call's to take: an earlier
	// attempt took it, the account is gone, or the announcement has ended.
	Taken bool
	// Send is true when the purpose gate permits the mail, to Email (set
	// only then).
	Send  bool
	Email string
}

// TakeAnnouncementTurn gives the account its turn: it asks the purpose
// gate (Permits) and moves the cursor to the account, counting it skipped
// when the gate refuses, in one transaction. A turn is taken once: a
// second call, or one for an account before the cursor, takes nothing, so
// that a retried batch never mails anyone twice. The account's row is
// locked while the turn is taken, so that an erasure running at the same
// time either waits for the cursor to be written (and then moves it) or
// has deleted the account first (and nothing is taken).
func (s *Store) TakeAnnouncementTurn(ctx context.Context, announcementID, userID string) (AnnouncementTurn, error) {
	var turn AnnouncementTurn
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var a Announcement
		if err := tx.Where("id = ?", announcementID).Take(&a).Error; err != nil {
			return translate(err)
		}
		if a.Status != loomcast.AnnouncementSending {
			return nil
		}
		var u User
		err := s.forShare(tx).Where("id = ?", userID).Take(&u).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		ok, err := permits(tx, u, a.Purpose)
		if err != nil {
			return err
		}
		set := map[string]any{"last_user_id": userID}
		if !ok {
			set["skipped"] = gorm.Expr("skipped + 1")
		}
		res := tx.Model(&Announcement{}).Where("id = ? AND last_user_id < ?", announcementID, userID).Updates(set)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 1 {
			turn = AnnouncementTurn{Taken: true, Send: ok}
			if ok {
				turn.Email = u.Email
			}
		}
		return nil
	})
	if err != nil {
		return AnnouncementTurn{}, fmt.Errorf("announcement %s: take a turn: %w", announcementID, err)
	}
	return turn, nil
}

// CountAnnouncementMail counts the outcome of the mail of a turn: taken
// by the mail server (sent) or not (failed).
func (s *Store) CountAnnouncementMail(ctx context.Context, id string, sent bool) error {
	col := "failed"
	if sent {
		col = "sent"
	}
	if err := s.db.WithContext(ctx).Model(&Announcement{}).Where("id = ?", id).Update(col, gorm.Expr(col+" + 1")).Error; err != nil {
		return fmt.Errorf("count announcement mail: %w", err)
	}
	return nil
}

// FinishAnnouncement marks an announcement sent and clears its cursor,
// once; it returns the announcement as it ends.
func (s *Store) FinishAnnouncement(ctx context.Context, id string, at time.Time) (Announcement, error) {
	err := s.db.WithContext(ctx).Model(&Announcement{}).Where("id = ? AND status = ?", id, loomcast.AnnouncementSending).
		Updates(map[string]any{"status": loomcast.AnnouncementSent, "last_user_id": "", "finished_at": at.UTC()}).Error
	if err != nil {
		return Announcement{}, fmt.Errorf("finish announcement: %w", err)
	}
	return s.AnnouncementByID(ctx, id)
}

// moveAnnouncementCursors moves every announcement cursor at an account
// being deleted to the account before it (or to the start): every account
// up to that one has had its turn, so nobody is mailed twice, and the
// deleted account's ID is left nowhere. The account before is locked, so
// that its own deletion at the same time waits and then moves the cursor
// on again.
func (s *Store) moveAnnouncementCursors(tx *gorm.DB, userID string) error {
	var before []string
	if err := s.forShare(tx.Model(&User{})).Where("id < ?", userID).Order("id DESC").Limit(1).Pluck("id", &before).Error; err != nil {
		return fmt.Errorf("move announcement cursors: %w", err)
	}
	to := ""
	if len(before) == 1 {
		to = before[0]
	}
	if err := tx.Model(&Announcement{}).Where("last_user_id = ?", userID).Update("last_user_id", to).Error; err != nil {
		return fmt.Errorf("move announcement cursors: %w", err)
	}
	return nil
}

// forShare locks the rows a query reads against deletion until the
// transaction ends, on PostgreSQL; SQLite's transactions (BEGIN
// IMMEDIATE on one connection) never overlap.
func (s *Store) forShare(tx *gorm.DB) *gorm.DB {
	if s.dialect == Postgres {
		return tx.Clauses(clause.Locking{Strength: clause.LockingStrengthShare})
	}
	return tx
}
