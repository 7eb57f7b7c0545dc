package models_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
)

func TestIdempotencyKeys(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		expired, abandoned := now.Add(-24*time.Hour), now.Add(-5*time.Minute)
		rec := func(key string, at time.Time) *models.IdempotencyRecord {
			return &models.IdempotencyRecord{Scope: "u1", Endpoint: "POST /v1/tokens", Key: key, RequestHash: "h1", UserID: "u1", CreatedAt: at}
		}

		t.Run("the first request reserves, the second finds the answer", func(t *testing.T) {
			_, reserved, err := store.ReserveIdempotencyKey(ctx, rec("k1", now), expired, abandoned)
			require.NoError(t, err)
			require.True(t, reserved)
			got, reserved, err := store.ReserveIdempotencyKey(ctx, rec("k1", now), expired, abandoned)
			require.NoError(t, err)
			require.False(t, reserved)
			require.Equal(t, 0, got.Status, "still in progress")

			done := *rec("k1", now)
			done.Status, done.ContentType, done.ResponseSealed = 201, "application/json", []byte("sealed")
			require.NoError(t, store.CompleteIdempotencyKey(ctx, done))
			got, reserved, err = store.ReserveIdempotencyKey(ctx, rec("k1", now.Add(time.Hour)), expired, abandoned)
			require.NoError(t, err)
			require.False(t, reserved)
			require.Equal(t, 201, got.Status)
			require.Equal(t, []byte("sealed"), got.ResponseSealed)
			require.Equal(t, "h1", got.RequestHash)
		})

		t.Run("keys are per scope and endpoint", func(t *testing.T) {
			other := rec("k1", now)
			other.Scope = "u2"
			_, reserved, err := store.ReserveIdempotencyKey(ctx, other, expired, abandoned)
			require.NoError(t, err)
			require.True(t, reserved)
			other = rec("k1", now)
			other.Endpoint = "POST /v1/uploads"
			_, reserved, err = store.ReserveIdempotencyKey(ctx, other, expired, abandoned)
			require.NoError(t, err)
			require.True(t, reserved)
		})

		t.Run("a released key may be used again", func(t *testing.T) {
			_, reserved, err := store.ReserveIdempotencyKey(ctx, rec("k2", now), expired, abandoned)
			require.NoError(t, err)
			require.True(t, reserved)
			require.NoError(t, store.ReleaseIdempotencyKey(ctx, "u1", "POST /v1/tokens", "k2"))
			_, reserved, err = store.ReserveIdempotencyKey(ctx, rec("k2", now), expired, abandoned)
			require.NoError(t, err)
			require.True(t, reserved)
		})

		t.Run("an expired answer or an abandoned reservation is replaced", func(t *testing.T) {
			old := rec("k3", now.Add(-25*time.Hour))
			_, _, err := store.ReserveIdempotencyKey(ctx, old, expired, abandoned)
			require.NoError(t, err)
			old.Status = 201
			require.NoError(t, store.CompleteIdempotencyKey(ctx, *old))
			_, reserved, err := store.ReserveIdempotencyKey(ctx, rec("k3", now), expired, abandoned)
			require.NoError(t, err)
			require.True(t, reserved)

			_, _, err = store.ReserveIdempotencyKey(ctx, rec("k4", now.Add(-10*time.Minute)), expired, abandoned)
			require.NoError(t, err)
			_, reserved, err = store.ReserveIdempotencyKey(ctx, rec("k4", now), expired, abandoned)
			require.NoError(t, err)
			require.True(t, reserved)
		})

		t.Run("expire after the period", func(t *testing.T) {
			n, err := store.DeleteRowsDue(ctx, models.ExpireIdempotency, now.Add(time.Minute), nil)
			require.NoError(t, err)
			require.EqualValues(t, 6, n)
		})
	})
}
