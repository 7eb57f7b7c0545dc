package models_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
)

func TestMigrations(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()

		t.Run("reapplying is a no-op", func(t *testing.T) {
			applied, err := store.Migrate(ctx)
			require.NoError(t, err)
			require.Empty(t, applied)
			require.NoError(t, store.CheckSchema(ctx))
		})

		t.Run("a newer schema is refused", func(t *testing.T) {
			next := models.LatestVersion() + 1
			require.NoError(t, store.DB().Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				next, "from the future", time.Now().UTC()).Error)
			t.Cleanup(func() { store.DB().Exec("DELETE FROM schema_migrations WHERE version = ?", next) })

			require.ErrorIs(t, store.CheckSchema(ctx), models.ErrSchemaNewer)
			_, err := store.Migrate(ctx)
			require.ErrorIs(t, err, models.ErrSchemaNewer)
		})
	})
}

func TestUsers(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		u := &models.User{Email: "  Ada@Example.COM ", DisplayName: "Ada", Timezone: "Europe/Paris"}
		require.NoError(t, store.CreateUser(ctx, u))

		t.Run("email is normalized and unique", func(t *testing.T) {
			got, err := store.UserByEmail(ctx, "ADA@example.com")
			require.NoError(t, err)
			require.Equal(t, u.ID, got.ID)
			require.Equal(t, "ada@example.com", got.Email)
			require.Equal(t, models.RoleUser, got.Role)

			err = store.CreateUser(ctx, &models.User{Email: "ada@example.com"})
			require.ErrorIs(t, err, models.ErrConflict)
		})

		t.Run("unknown user is ErrNotFound", func(t *testing.T) {
			_, err := store.UserByID(ctx, models.NewID())
			require.ErrorIs(t, err, models.ErrNotFound)
		})

		t.Run("profile update changes only named fields", func(t *testing.T) {
			tz := "America/New_York"
			got, err := store.UpdateProfile(ctx, u.ID, models.ProfileUpdate{Timezone: &tz})
			require.NoError(t, err)
			require.Equal(t, tz, got.Timezone)
			require.Equal(t, "Ada", got.DisplayName)
		})

		t.Run("google link is unique", func(t *testing.T) {
			require.NoError(t, store.LinkGoogle(ctx, u.ID, "sub-1", "https://example.com/a.png"))
			got, err := store.UserByGoogleSub(ctx, "sub-1")
			require.NoError(t, err)
			require.Equal(t, "https://example.com/a.png", got.AvatarURL)

			other := &models.User{Email: "bob@example.com"}
			require.NoError(t, store.CreateUser(ctx, other))
			require.ErrorIs(t, store.LinkGoogle(ctx, other.ID, "sub-1", ""), models.ErrConflict)
		})

		t.Run("closing ends sessions and tokens, purge removes everything", func(t *testing.T) {
			now := time.Now().UTC()
			sess := models.Session{ID: models.NewID(), UserID: u.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
			require.NoError(t, store.CreateSession(ctx, sess))
			tok := &models.AccessToken{UserID: u.ID, Name: "ci", TokenHash: "h1", CreatedAt: now}
			require.NoError(t, store.CreateAccessToken(ctx, tok))

			require.Error(t, store.PurgeUser(ctx, u.ID), "an open account must not be purged")

			closed, err := store.CloseUser(ctx, u.ID, now)
			require.NoError(t, err)
			require.NotNil(t, closed.ClosedAt)
			gotSess, err := store.SessionByID(ctx, sess.ID)
			require.NoError(t, err)
			require.False(t, gotSess.Active(now))
			gotTok, err := store.AccessTokenByHash(ctx, "h1")
			require.NoError(t, err)
			require.False(t, gotTok.Active(now))

			require.NoError(t, store.PurgeUser(ctx, u.ID))
			require.NoError(t, store.PurgeUser(ctx, u.ID), "purge is idempotent")
			_, err = store.UserByID(ctx, u.ID)
			require.ErrorIs(t, err, models.ErrNotFound)
			_, err = store.SessionByID(ctx, sess.ID)
			require.ErrorIs(t, err, models.ErrNotFound)
		})
	})
}

func TestAccessTokensAreScopedByOwner(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		alice := &models.User{Email: "alice@example.com"}
		bob := &models.User{Email: "bob@example.com"}
		require.NoError(t, store.CreateUser(ctx, alice))
		require.NoError(t, store.CreateUser(ctx, bob))
		tok := &models.AccessToken{UserID: alice.ID, Name: "deploy", TokenHash: "hash-a", CreatedAt: time.Now()}
		require.NoError(t, store.CreateAccessToken(ctx, tok))

		err := store.RevokeAccessToken(ctx, bob.ID, tok.ID, time.Now())
		require.ErrorIs(t, err, models.ErrNotFound)
		got, err := store.AccessTokenByHash(ctx, "hash-a")
		require.NoError(t, err)
		require.True(t, got.Active(time.Now()))

		require.NoError(t, store.RevokeAccessToken(ctx, alice.ID, tok.ID, time.Now()))
		list, err := store.AccessTokens(ctx, alice.ID)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.NotNil(t, list[0].RevokedAt)
	})
}

func TestUsersListing(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		for _, e := range []string{"a_1@x.com", "ab1@x.com", "b@x.com"} {
			require.NoError(t, store.CreateUser(ctx, &models.User{Email: e}))
		}
		got, err := store.Users(ctx, models.UserFilter{Email: "a_"})
		require.NoError(t, err)
		require.Len(t, got, 1, "underscore is literal, not a wildcard")

		page1, err := store.Users(ctx, models.UserFilter{Limit: 2})
		require.NoError(t, err)
		require.Len(t, page1, 2)
		page2, err := store.Users(ctx, models.UserFilter{Limit: 2, After: page1[1].ID})
		require.NoError(t, err)
		require.Len(t, page2, 1)
		require.Equal(t, "b@x.com", page2[0].Email)
	})
}

// Migration 14 verifies the addresses of accounts linked to Google (Google
// verified them when it linked) and leaves the others to prove theirs.
func TestMigrationVerifiesGoogleAccounts(t *testing.T) {
	for _, d := range modelstest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			url := "sqlite:" + t.TempDir() + "/loomcast.db"
			if d == models.Postgres {
				url = modelstest.PostgresURL(t)
			}
			store, err := models.Open(ctx, url)
			require.NoError(t, err)
			t.Cleanup(func() { _ = store.Close() })
			_, err = store.MigrateTo(ctx, 13)
			require.NoError(t, err)
			created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			for _, row := range []struct{ id, email, sub string }{{"u-google", "g@example.com", "sub-1"}, {"u-password", "p@example.com", ""}} {
				var sub any
				if row.sub != "" {
					sub = row.sub
				}
				require.NoError(t, store.DB().Exec(`INSERT INTO users (id, email, password_hash, google_sub, display_name, timezone, role, created_at, updated_at)
					VALUES (?, ?, 'h', ?, 'Someone', 'UTC', 'user', ?, ?)`, row.id, row.email, sub, created, created).Error)
			}
			applied, err := store.Migrate(ctx)
			require.NoError(t, err)
			require.Equal(t, []int{14}, applied[:1])

			g, err := store.UserByID(ctx, "u-google")
			require.NoError(t, err)
			require.True(t, g.Verified())
			require.True(t, g.EmailVerifiedAt.Equal(created), "verified since it was made")
			p, err := store.UserByID(ctx, "u-password")
			require.NoError(t, err)
			require.False(t, p.Verified(), "a password account proves its address")
			require.Equal(t, "p@example.com", p.Email)
		})
	}
}
