package server_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/privacy/scan"
	"github.com/loomcast/loomcast/server/servertest"
)

// stripeEvent posts a signed Stripe customer event naming email.
func stripeEvent(t *testing.T, env *servertest.Env, id, email, userID string) {
	t.Helper()
	payload := []byte(fmt.Sprintf(`{"id":%q,"object":"event","type":"customer.updated","api_version":"2023-10-16",`+
		`"data":{"object":{"id":"cus_%s","object":"customer","email":%q,"metadata":{"loomcast_user_id":%q}}}}`, id, id, email, userID))
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: servertest.StripeSecret})
	r := postRaw(t, env, "/webhooks/stripe", payload, "Stripe-Signature", signed.Header)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
}

// A person named in a stored Stripe event is erased with it; events that
// name someone else stay.
func TestErasureOfAPersonNamedInAStripeEvent(t *testing.T) {
	for _, d := range modelstest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			env := servertest.New(t, d, servertest.Options{})
			ctx := context.Background()
			c := env.Client()
			u := c.Register("Payer_1@example.com", pw)
			stripeEvent(t, env, "evt_by_email", "payer_1@EXAMPLE.com", "")
			stripeEvent(t, env, "evt_by_id", "billing@agency.example", u.ID)
			// An underscore in the address must not match any character.
			stripeEvent(t, env, "evt_other", "payerx1@example.com", "someone-else")
			u0, err := env.Store.UserByID(ctx, u.ID)
			require.NoError(t, err)
			ids := scan.ForAccount(u0, nil)

			r := c.Do(http.MethodPost, "/v1/privacy/requests", map[string]any{"type": "erasure", "region": "FR", "password": pw})
			require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
			var p privacyJSON
			r.JSON(t, &p)
			waitForStored(t, env, p.ID, loomcast.PrivacyClosed)

			events, err := env.Store.WebhookEvents(ctx, models.WebhookFilter{Source: models.SourceStripe, Limit: 10})
			require.NoError(t, err)
			require.Len(t, events, 1, "only the event naming someone else stays")
			require.Equal(t, "evt_other", events[0].EventKey)
			requireErased(t, env, u.ID, ids)
		})
	}
}
