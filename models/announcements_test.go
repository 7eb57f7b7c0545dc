package models_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
)

// decision is one consent record of a test account, in order.
type decision struct {
	purpose string
	granted bool
}

// TestPermits asks the purpose gate about each purpose in each state an
// account can be in: consent purposes need a latest grant, legitimate
// interest holds until refused, sale, sharing and sensitive data never,
// and nothing for a closed, restricted or missing account.
func TestPermits(t *testing.T) {
	var (
		mkt   = models.PurposeMarketingEmails
		upd   = models.PurposeProductUpdates
		ana   = models.PurposeAnalytics
		sale  = models.PurposeSaleOrSharing
		sens  = models.PurposeSensitiveData
		grant = func(p string) decision { return decision{p, true} }
		deny  = func(p string) decision { return decision{p, false} }
	)
	tests := []struct {
		name      string
		purpose   string
		decisions []decision
		// account changes the account after its decisions.
		account func(t *testing.T, store *models.Store, u models.User)
		want    bool
	}{
		{name: "marketing email: no decision", purpose: mkt, want: false},
		{name: "marketing email: granted", purpose: mkt, decisions: []decision{grant(mkt)}, want: true},
		{name: "marketing email: granted, then withdrawn", purpose: mkt, decisions: []decision{grant(mkt), deny(mkt)}, want: false},
		{name: "marketing email: withdrawn, then granted again", purpose: mkt, decisions: []decision{deny(mkt), grant(mkt)}, want: true},
		{name: "marketing email: only product updates granted", purpose: mkt, decisions: []decision{grant(upd)}, want: false},
		{name: "marketing email: granted, but the account's consent is off", purpose: mkt, decisions: []decision{grant(mkt)},
			account: func(t *testing.T, store *models.Store, u models.User) {
				require.NoError(t, store.DB().Model(&models.User{}).Where("id = ?", u.ID).Update("marketing_emails", false).Error)
			}, want: false},
		{name: "marketing email: granted, then expired with marketing data", purpose: mkt, decisions: []decision{grant(mkt)},
			account: func(t *testing.T, store *models.Store, u models.User) {
				require.NoError(t, store.EndMarketing(context.Background(), u.ID, time.Now(), []string{mkt, upd}))
			}, want: false},
		{name: "product updates: no decision", purpose: upd, want: false},
		{name: "product updates: granted", purpose: upd, decisions: []decision{grant(upd)}, want: true},
		{name: "product updates: granted, then withdrawn", purpose: upd, decisions: []decision{grant(upd), deny(upd)}, want: false},
		{name: "product updates: only marketing email granted", purpose: upd, decisions: []decision{grant(mkt)}, want: false},
		{name: "product updates: granted, then expired with marketing data", purpose: upd, decisions: []decision{grant(upd)},
			account: func(t *testing.T, store *models.Store, u models.User) {
				require.NoError(t, store.EndMarketing(context.Background(), u.ID, time.Now(), []string{mkt, upd}))
			}, want: false},
		{name: "product updates: granted, account closed", purpose: upd, decisions: []decision{grant(upd)},
			account: func(t *testing.T, store *models.Store, u models.User) {
				_, err := store.CloseUser(context.Background(), u.ID, time.Now())
				require.NoError(t, err)
			}, want: false},
		{name: "product updates: granted, account restricted", purpose: upd, decisions: []decision{grant(upd)},
			account: func(t *testing.T, store *models.Store, u models.User) {
				require.NoError(t, store.SetRestricted(context.Background(), u.ID, models.Ptr(time.Now())))
			}, want: false},
		{name: "product updates: granted, restriction lifted", purpose: upd, decisions: []decision{grant(upd)},
			account: func(t *testing.T, store *models.Store, u models.User) {
				require.NoError(t, store.SetRestricted(context.Background(), u.ID, models.Ptr(time.Now())))
				require.NoError(t, store.SetRestricted(context.Background(), u.ID, nil))
			}, want: true},
		{name: "analytics: no decision", purpose: ana, want: true},
		{name: "analytics: objected to", purpose: ana, decisions: []decision{deny(ana)}, want: false},
		{name: "analytics: objected to, then granted", purpose: ana, decisions: []decision{deny(ana), grant(ana)}, want: true},
		{name: "analytics: account restricted", purpose: ana,
			account: func(t *testing.T, store *models.Store, u models.User) {
				require.NoError(t, store.SetRestricted(context.Background(), u.ID, models.Ptr(time.Now())))
			}, want: false},
		{name: "analytics: account closed", purpose: ana,
			account: func(t *testing.T, store *models.Store, u models.User) {
				_, err := store.CloseUser(context.Background(), u.ID, time.Now())
				require.NoError(t, err)
			}, want: false},
		{name: "sale or sharing: no decision", purpose: sale, want: false},
		{name: "sale or sharing: even granted", purpose: sale, decisions: []decision{grant(sale)}, want: false},
		{name: "sensitive data: no decision", purpose: sens, want: false},
		{name: "sensitive data: even granted", purpose: sens, decisions: []decision{grant(sens)}, want: false},
	}
	t.Run("every purpose has its cases", func(t *testing.T) {
		for _, p := range models.Purposes {
			var allowed, refused bool
			for _, tt := range tests {
				if tt.purpose == p {
					allowed, refused = allowed || tt.want, refused || !tt.want
				}
			}
			require.True(t, refused, "no case in which %s is refused", p)
			if p != sale && p != sens {
				require.True(t, allowed, "no case in which %s is permitted", p)
			}
		}
	})
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				u := &models.User{Email: fmt.Sprintf("gate%d@example.com", i)}
				require.NoError(t, store.CreateUser(ctx, u))
				at := time.Now().UTC().Add(-time.Hour)
				for _, d := range tt.decisions {
					at = at.Add(time.Minute)
					require.NoError(t, store.RecordConsent(ctx, models.Consent{UserID: u.ID, Purpose: d.purpose, Granted: d.granted, At: at, Source: "test"}))
				}
				if tt.account != nil {
					tt.account(t, store, *u)
				}
				got, err := store.Permits(ctx, u.ID, tt.purpose)
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
			})
		}
		t.Run("nothing for an account that does not exist", func(t *testing.T) {
			for _, p := range models.Purposes {
				got, err := store.Permits(ctx, models.NewID(), p)
				require.NoError(t, err)
				require.False(t, got, p)
			}
		})
		t.Run("an unknown purpose is an error", func(t *testing.T) {
			u := &models.User{Email: "unknown-purpose@example.com"}
			require.NoError(t, store.CreateUser(ctx, u))
			_, err := store.Permits(ctx, u.ID, "profiling")
			require.ErrorContains(t, err, "unknown purpose")
		})
	})
}

// An announcement's turns: each account once, in ID order, the gate
// asked each time; a second call takes nothing; the end clears the cursor.
func TestAnnouncementTurns(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		mk := func(email string, optIn bool) models.User {
			u := &models.User{Email: email}
			require.NoError(t, store.CreateUser(ctx, u))
			if optIn {
				require.NoError(t, store.RecordConsent(ctx, models.Consent{UserID: u.ID, Purpose: models.PurposeProductUpdates, Granted: true, At: time.Now(), Source: "test"}))
			}
			return *u
		}
		in, out, in2 := mk("in@example.com", true), mk("out@example.com", false), mk("in2@example.com", true)
		a := &models.Announcement{Purpose: models.PurposeProductUpdates, Subject: "New", Body: "Hello", Status: loomcast.AnnouncementSending, CreatedAt: time.Now()}
		require.NoError(t, store.CreateAnnouncement(ctx, a))

		ids, err := store.AnnouncementRecipients(ctx, a.ID, 10)
		require.NoError(t, err)
		require.Equal(t, []string{in.ID, out.ID, in2.ID}, ids)

		turn, err := store.TakeAnnouncementTurn(ctx, a.ID, in.ID)
		require.NoError(t, err)
		require.Equal(t, models.AnnouncementTurn{Taken: true, Send: true, Email: in.Email}, turn)
		again, err := store.TakeAnnouncementTurn(ctx, a.ID, in.ID)
		require.NoError(t, err)
		require.False(t, again.Taken, "a turn is taken once")
		require.NoError(t, store.CountAnnouncementMail(ctx, a.ID, true))

		turn, err = store.TakeAnnouncementTurn(ctx, a.ID, out.ID)
		require.NoError(t, err)
		require.Equal(t, models.AnnouncementTurn{Taken: true}, turn, "the gate refuses: skipped, nothing to send")
		back, err := store.TakeAnnouncementTurn(ctx, a.ID, in.ID)
		require.NoError(t, err)
		require.False(t, back.Taken, "an account before the cursor has had its turn")

		ids, err = store.AnnouncementRecipients(ctx, a.ID, 10)
		require.NoError(t, err)
		require.Equal(t, []string{in2.ID}, ids)
		gone, err := store.TakeAnnouncementTurn(ctx, a.ID, models.NewID())
		require.NoError(t, err)
		require.False(t, gone.Taken, "no turn for an account that does not exist")

		turn, err = store.TakeAnnouncementTurn(ctx, a.ID, in2.ID)
		require.NoError(t, err)
		require.True(t, turn.Send)
		require.NoError(t, store.CountAnnouncementMail(ctx, a.ID, false))

		got, err := store.AnnouncementByID(ctx, a.ID)
		require.NoError(t, err)
		require.Equal(t, [3]int{1, 1, 1}, [3]int{got.Sent, got.Skipped, got.Failed})
		require.Equal(t, in2.ID, got.LastUserID)

		done, err := store.FinishAnnouncement(ctx, a.ID, time.Now())
		require.NoError(t, err)
		require.Equal(t, loomcast.AnnouncementSent, done.Status)
		require.Empty(t, done.LastUserID, "the cursor names nobody once the announcement ends")
		require.NotNil(t, done.FinishedAt)
		late := mk("late@example.com", true)
		turn, err = store.TakeAnnouncementTurn(ctx, a.ID, late.ID)
		require.NoError(t, err)
		require.False(t, turn.Taken, "an ended announcement takes no turn")
		_, err = store.TakeAnnouncementTurn(ctx, models.NewID(), late.ID)
		require.ErrorIs(t, err, models.ErrNotFound)
	})
}

// Purging the account at an announcement's cursor moves the cursor to the
// account before it: the erased ID is kept nowhere, and nobody is mailed
// twice.
func TestPurgeMovesAnnouncementCursors(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		var users []models.User
		for _, e := range []string{"first@example.com", "second@example.com", "third@example.com"} {
			u := &models.User{Email: e}
			require.NoError(t, store.CreateUser(ctx, u))
			users = append(users, *u)
		}
		purge := func(u models.User) {
			_, err := store.CloseUser(ctx, u.ID, time.Now())
			require.NoError(t, err)
			require.NoError(t, store.PurgeUser(ctx, u.ID))
		}
		tests := []struct {
			name       string
			cursor     int // index of the account at the cursor
			purge      int
			wantCursor string
			wantNext   []string
		}{
			{"the account at the cursor", 1, 1, users[0].ID, []string{users[2].ID}},
			{"the first account, at the cursor", 0, 0, "", []string{users[1].ID, users[2].ID}},
			{"an account before the cursor", 2, 0, users[2].ID, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a := &models.Announcement{Purpose: models.PurposeProductUpdates, Subject: "S", Body: "B", Status: loomcast.AnnouncementSending,
					LastUserID: users[tt.cursor].ID, CreatedAt: time.Now()}
				require.NoError(t, store.CreateAnnouncement(ctx, a))
				purge(users[tt.purge])
				got, err := store.AnnouncementByID(ctx, a.ID)
				require.NoError(t, err)
				require.Equal(t, tt.wantCursor, got.LastUserID)
				next, err := store.AnnouncementRecipients(ctx, a.ID, 10)
				require.NoError(t, err)
				if len(tt.wantNext) == 0 {
					require.Empty(t, next)
				} else {
					require.Equal(t, tt.wantNext, next)
				}
				// Put the account back for the next case, with its ID.
				u := users[tt.purge]
				u.ClosedAt = nil
				require.NoError(t, store.CreateUser(ctx, &u))
				require.NoError(t, store.DB().Where("id = ?", a.ID).Delete(&models.Announcement{}).Error)
			})
		}
	})
}
