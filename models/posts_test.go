package models_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
)

func TestPosts(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		u := &models.User{Email: "p@example.com"}
		require.NoError(t, store.CreateUser(ctx, u))
		ch := &models.Channel{UserID: u.ID, Platform: loomcast.TikTok, ExternalID: "open-1", DisplayName: "C"}
		require.NoError(t, store.UpsertChannel(ctx, ch))
		key := "idem-1"
		p := &models.Post{UserID: u.ID, ChannelID: ch.ID, UploadID: "up", Platform: loomcast.TikTok, Privacy: "SELF_ONLY",
			ScheduledAt: time.Now().Add(time.Hour), Status: loomcast.PostScheduled, IdempotencyKey: &key, RequestHash: "h"}
		require.NoError(t, store.CreatePost(ctx, p))

		t.Run("an idempotency key is unique per user", func(t *testing.T) {
			dup := *p
			dup.ID = ""
			require.ErrorIs(t, store.CreatePost(ctx, &dup), models.ErrConflict)
			got, err := store.PostByIdempotencyKey(ctx, u.ID, key)
			require.NoError(t, err)
			require.Equal(t, p.ID, got.ID)
		})

		t.Run("a repeated change adds one history entry", func(t *testing.T) {
			change := models.PostChange{Status: loomcast.PostPublishing, Detail: "publishing started"}
			_, err := store.ApplyPostChange(ctx, p.ID, change)
			require.NoError(t, err)
			_, err = store.ApplyPostChange(ctx, p.ID, change)
			require.NoError(t, err)
			events, err := store.PostEvents(ctx, p.ID)
			require.NoError(t, err)
			require.Len(t, events, 2, "scheduled, then publishing once")
			require.Equal(t, loomcast.PostPublishing, events[1].Status)
		})

		t.Run("times survive the round trip", func(t *testing.T) {
			at := time.Date(2026, 12, 24, 18, 30, 15, 0, time.UTC)
			got, err := store.ApplyPostChange(ctx, p.ID, models.PostChange{Set: models.PostFields{ScheduledAt: &at}})
			require.NoError(t, err)
			require.True(t, got.ScheduledAt.Equal(at), "got %s", got.ScheduledAt)
		})

		t.Run("an upload is in use while a post using it has not settled", func(t *testing.T) {
			inUse, err := store.UploadInUse(ctx, "up")
			require.NoError(t, err)
			require.True(t, inUse, "the post is publishing")
			inUse, err = store.UploadInUse(ctx, "another-upload")
			require.NoError(t, err)
			require.False(t, inUse)
		})

		t.Run("owner scoping", func(t *testing.T) {
			other := &models.User{Email: "o@example.com"}
			require.NoError(t, store.CreateUser(ctx, other))
			_, err := store.UserPost(ctx, other.ID, p.ID)
			require.ErrorIs(t, err, models.ErrNotFound)
			_, err = store.UserChannel(ctx, other.ID, ch.ID)
			require.ErrorIs(t, err, models.ErrNotFound)
			list, err := store.UserPosts(ctx, other.ID, models.PostFilter{})
			require.NoError(t, err)
			require.Empty(t, list)
		})

		t.Run("reauth deletes tokens; metadata deletion is idempotent", func(t *testing.T) {
			require.NoError(t, store.SetChannelStatus(ctx, ch.ID, loomcast.ChannelReauthRequired, "revoked"))
			got, err := store.ChannelByID(ctx, ch.ID)
			require.NoError(t, err)
			require.Equal(t, loomcast.ChannelReauthRequired, got.Status)
			require.Nil(t, got.AccessTokenSealed)

			require.NoError(t, store.DeletePostMetadata(ctx, p.ID))
			require.NoError(t, store.DeletePostMetadata(ctx, p.ID))
			_, err = store.PostByID(ctx, p.ID)
			require.ErrorIs(t, err, models.ErrNotFound)
			events, err := store.PostEvents(ctx, p.ID)
			require.NoError(t, err)
			require.Empty(t, events)
		})
	})
}
