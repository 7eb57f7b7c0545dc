package models_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
)

// Stripe deliveries go 30 days after they were processed or found
// irrelevant; platform deliveries keep their own rule (received, and
// settled), and neither expiry touches the other's rows.
func TestWebhookDeliveriesExpire(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		received := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
		processed := received.Add(10 * 24 * time.Hour)
		insert := func(source, key, status string, applied *time.Time) {
			_, err := store.InsertWebhookEvent(ctx, &models.WebhookEvent{Source: source, EventKey: key, EventType: "t", Payload: "{}",
				Status: status, ReceivedAt: received, AppliedAt: applied})
			require.NoError(t, err)
		}
		insert(models.SourceStripe, "stripe-processed", models.WebhookApplied, &processed)
		insert(models.SourceStripe, "stripe-pending", models.WebhookReceived, nil)
		insert(models.SourceTikTok, "tiktok-settled", models.WebhookApplied, &processed)
		keys := func() []string {
			evs, err := store.WebhookEvents(ctx, models.WebhookFilter{Limit: 10})
			require.NoError(t, err)
			var out []string
			for _, e := range evs {
				out = append(out, e.EventKey)
			}
			return out
		}

		// 35 days after reception, 25 after processing: the cutoff (30
		// days before) falls between them, and the event stays.
		n, err := store.DeleteRowsDue(ctx, models.ExpireStripeEvents, received.Add(5*24*time.Hour), nil)
		require.NoError(t, err)
		require.Zero(t, n)
		n, err = store.DeleteRowsDue(ctx, models.ExpireStripeEvents, processed.Add(time.Second), nil)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		require.ElementsMatch(t, []string{"stripe-pending", "tiktok-settled"}, keys(), "a pending event stays; TikTok's are not Stripe's to expire")

		n, err = store.DeleteRowsDue(ctx, models.ExpireWebhookEvents, processed.Add(365*24*time.Hour), nil)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		require.Equal(t, []string{"stripe-pending"}, keys(), "the platform expiry leaves Stripe's deliveries to their own clock")
	})
}
