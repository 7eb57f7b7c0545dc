package models_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
)

func TestEmailChanges(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		hash, sub := "pw-hash", "google-sub-1"
		ada := &models.User{Email: "ada@example.com", PasswordHash: &hash, GoogleSub: &sub, DisplayName: "Ada"}
		require.NoError(t, store.CreateUser(ctx, ada))
		bob := &models.User{Email: "bob@example.com", DisplayName: "Bob"}
		require.NoError(t, store.CreateUser(ctx, bob))
		put := func(userID, email string, at time.Time) {
			t.Helper()
			expires := at.Add(10 * time.Minute)
			require.NoError(t, store.PutEmailChange(ctx, models.EmailChange{UserID: userID, NewEmail: email, CreatedAt: at,
				CodeHash: "h-" + email, CodeExpiresAt: &expires}))
		}

		t.Run("asking again replaces the change and its code", func(t *testing.T) {
			put(ada.ID, "first@example.com", now)
			n, err := store.CountEmailChangeAttempt(ctx, ada.ID)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			put(ada.ID, "Second@Example.com", now.Add(time.Minute))
			got, err := store.EmailChangeOf(ctx, ada.ID)
			require.NoError(t, err)
			require.Equal(t, "second@example.com", got.NewEmail, "normalised")
			require.Equal(t, "h-Second@Example.com", got.CodeHash)
			require.True(t, got.CreatedAt.Equal(now.Add(time.Minute)), "got %s", got.CreatedAt)
			require.True(t, got.CodeExpiresAt.Equal(now.Add(11*time.Minute)), "got %s", got.CodeExpiresAt)
			require.Zero(t, got.CodeAttempts)
		})

		t.Run("a new code resets the attempts", func(t *testing.T) {
			for want := 1; want <= 2; want++ {
				n, err := store.CountEmailChangeAttempt(ctx, ada.ID)
				require.NoError(t, err)
				require.Equal(t, want, n)
			}
			require.NoError(t, store.SetEmailChangeCode(ctx, ada.ID, "h-new", now.Add(20*time.Minute)))
			got, err := store.EmailChangeOf(ctx, ada.ID)
			require.NoError(t, err)
			require.Equal(t, "h-new", got.CodeHash)
			require.Zero(t, got.CodeAttempts)
			require.ErrorIs(t, store.SetEmailChangeCode(ctx, bob.ID, "h", now), models.ErrNotFound)
		})

		t.Run("an address another account holds changes nothing", func(t *testing.T) {
			put(bob.ID, "ada@example.com", now)
			_, err := store.ApplyEmailChange(ctx, bob.ID, "ada@example.com", false)
			require.ErrorIs(t, err, models.ErrConflict)
			got, err := store.UserByID(ctx, bob.ID)
			require.NoError(t, err)
			require.Equal(t, "bob@example.com", got.Email)
			_, err = store.EmailChangeOf(ctx, bob.ID)
			require.NoError(t, err, "the change stays for the caller to drop")
			require.NoError(t, store.DeleteEmailChange(ctx, bob.ID))
			_, err = store.EmailChangeOf(ctx, bob.ID)
			require.ErrorIs(t, err, models.ErrNotFound)
		})

		t.Run("only the address of the change waiting is applied", func(t *testing.T) {
			_, err := store.ApplyEmailChange(ctx, ada.ID, "first@example.com", true)
			require.ErrorIs(t, err, models.ErrNotFound)
			got, err := store.ApplyEmailChange(ctx, ada.ID, "second@example.com", true)
			require.NoError(t, err)
			require.Equal(t, "second@example.com", got.Email)
			require.Nil(t, got.GoogleSub, "unlinked")
			require.NotNil(t, got.PasswordHash)
			_, err = store.EmailChangeOf(ctx, ada.ID)
			require.ErrorIs(t, err, models.ErrNotFound, "applied changes are dropped")
			_, err = store.UserByEmail(ctx, "ada@example.com")
			require.ErrorIs(t, err, models.ErrNotFound, "the old address is free")
		})

		t.Run("retention and purge delete waiting changes", func(t *testing.T) {
			put(ada.ID, "old@example.com", now)
			put(bob.ID, "young@example.com", now.Add(2*time.Hour))
			n, err := store.DeleteRowsDue(ctx, models.ExpireEmailChanges, now.Add(time.Hour), nil)
			require.NoError(t, err)
			require.Equal(t, int64(1), n)
			_, err = store.EmailChangeOf(ctx, ada.ID)
			require.ErrorIs(t, err, models.ErrNotFound)
			_, err = store.CloseUser(ctx, bob.ID, now)
			require.NoError(t, err)
			_, err = store.ApplyEmailChange(ctx, bob.ID, "young@example.com", false)
			require.ErrorIs(t, err, models.ErrNotFound, "a closed account keeps its address")
			put(bob.ID, "young@example.com", now.Add(2*time.Hour))
			require.NoError(t, store.PurgeUser(ctx, bob.ID))
			_, err = store.EmailChangeOf(ctx, bob.ID)
			require.ErrorIs(t, err, models.ErrNotFound)
		})
	})
}
