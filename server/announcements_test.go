package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/mail/smtptest"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/server/servertest"
)

type announcementJSON struct {
	ID         string     `json:"id"`
	Purpose    string     `json:"purpose"`
	Status     string     `json:"status"`
	Sent       int        `json:"sent"`
	Skipped    int        `json:"skipped"`
	Failed     int        `json:"failed"`
	FinishedAt *time.Time `json:"finished_at"`
	WorkflowID string     `json:"workflow_id"`
}

type consentsJSON struct {
	MarketingEmails         bool       `json:"marketing_emails"`
	ProductUpdates          bool       `json:"product_updates"`
	ProductUpdatesUpdatedAt *time.Time `json:"product_updates_updated_at"`
}

// An announcement reaches only the people who permit its purpose: one
// opted in; one who opted in, then withdrew by a privacy request; one
// never asked; one opted in whose processing is restricted (and the
// admin who sends it, never asked).
func TestAnnouncementsReachOnlyThosePermitted(t *testing.T) {
	forEachDialect(t, servertest.Options{}, func(t *testing.T, env *servertest.Env) {
		ctx := context.Background()
		admin := staffClient(t, env, "admin@loomcast.example.com", models.RoleAdmin)
		optIn := func(c *servertest.Client, body map[string]any) consentsJSON {
			r := c.Do(http.MethodPatch, "/v1/me", body)
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			var me consentsJSON
			r.JSON(t, &me)
			return me
		}
		file := func(c *servertest.Client, body map[string]any) {
			r := c.Do(http.MethodPost, "/v1/privacy/requests", body)
			require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
			var p privacyJSON
			r.JSON(t, &p)
			waitForStatus(t, c, p.ID, "closed")
		}

		in := env.Client()
		inUser := in.Register("in@example.com", pw)
		// Signing up started the marketing clock (activity moves it); the
		// consent must start it too.
		require.NoError(t, env.Store.CancelRetention(ctx, string(retention.Marketing), inUser.ID))
		me := optIn(in, map[string]any{"product_updates": true})
		require.True(t, me.ProductUpdates)
		require.NotNil(t, me.ProductUpdatesUpdatedAt)
		require.False(t, me.MarketingEmails, "only what was asked")
		items, err := env.Store.UpcomingRetention(ctx, string(retention.Marketing), 100)
		require.NoError(t, err)
		require.True(t, slices.ContainsFunc(items, func(it models.UpcomingRetentionItem) bool {
			return it.ObjectID == inUser.ID && it.DueAt.After(env.Clock.Now().AddDate(0, 23, 0))
		}), "the product-updates consent is marketing data, with its 24-month clock")
		optIn(in, map[string]any{"marketing_emails": true})
		consents, err := env.Store.Consents(ctx, inUser.ID)
		require.NoError(t, err)
		require.Equal(t, "profile settings", consents[models.PurposeProductUpdates].Source)

		withdrew := env.Client()
		withdrew.Register("withdrew@example.com", pw)
		optIn(withdrew, map[string]any{"product_updates": true, "marketing_emails": true})
		file(withdrew, map[string]any{"type": "withdraw_consent", "region": "FR", "purposes": []string{"product_updates", "marketing_emails"}})
		r := withdrew.Do(http.MethodGet, "/v1/me", nil)
		require.Equal(t, http.StatusOK, r.Status)
		r.JSON(t, &me)
		require.False(t, me.ProductUpdates, "the profile shows the withdrawal")
		require.False(t, me.MarketingEmails)

		env.Client().Register("never@example.com", pw)

		restricted := env.Client()
		restricted.Register("restricted@example.com", pw)
		optIn(restricted, map[string]any{"product_updates": true, "marketing_emails": true})
		file(restricted, map[string]any{"type": "restriction", "region": "FR"})

		for _, purpose := range []string{models.PurposeProductUpdates, models.PurposeMarketingEmails} {
			t.Run(purpose, func(t *testing.T) {
				subject := "Loomcast news for " + purpose
				r := admin.Do(http.MethodPost, "/v1/admin/announcements", map[string]any{"purpose": purpose, "subject": subject,
					"text": "Scheduling for YouTube Shorts is here."})
				require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
				var a announcementJSON
				r.JSON(t, &a)
				require.Equal(t, "/v1/admin/announcements/"+a.ID, r.Header.Get("Location"))
				require.Equal(t, "announcement-"+a.ID, a.WorkflowID)
				require.Equal(t, purpose, a.Purpose)
				require.Contains(t, securityEventKinds(t, env, adminID(t, env)), "announcement_started")

				require.Eventually(t, func() bool {
					r := admin.Do(http.MethodGet, "/v1/admin/announcements/"+a.ID, nil)
					return r.Status == http.StatusOK && json.Unmarshal(r.Body, &a) == nil && a.Status == "sent"
				}, 30*time.Second, 100*time.Millisecond, "the announcement is sent")
				require.Equal(t, 1, a.Sent)
				require.Equal(t, 4, a.Skipped, "the admin, the one who withdrew, the one never asked and the restricted one")
				require.Zero(t, a.Failed)
				require.NotNil(t, a.FinishedAt)

				var got []smtptest.Received
				for _, m := range env.SMTP.Messages() {
					if m.Header.Get("X-Loomcast-Kind") == "announcement" && m.Header.Get("Subject") == subject {
						got = append(got, m)
					}
				}
				require.Len(t, got, 1, "only the person who opted in")
				require.Equal(t, []string{"in@example.com"}, got[0].To)
				require.Contains(t, got[0].Text, "Scheduling for YouTube Shorts is here.")
				require.Contains(t, strings.Join(strings.Fields(got[0].Text), " "), `with {"`+purpose+`": false}`, "the opt-out line")
			})
		}

		t.Run("refusals", func(t *testing.T) {
			privacy := staffClient(t, env, "dpo-news@loomcast.example.com", models.RolePrivacy)
			body := map[string]any{"purpose": "product_updates", "subject": "Hi", "text": "News"}
			r := privacy.Do(http.MethodPost, "/v1/admin/announcements", body)
			require.Equal(t, http.StatusForbidden, r.Status, "only admins send announcements: %s", r.Body)
			require.Contains(t, r.Problem(t).Detail, "admin")
			require.Equal(t, http.StatusForbidden, in.Do(http.MethodPost, "/v1/admin/announcements", body).Status)

			tests := []struct {
				name  string
				body  map[string]any
				field string
			}{
				{"a purpose that is not a consent to mail", map[string]any{"purpose": "analytics", "subject": "Hi", "text": "News"}, "purpose"},
				{"no subject", map[string]any{"purpose": "product_updates", "subject": "  ", "text": "News"}, "subject"},
				{"a subject of two lines", map[string]any{"purpose": "product_updates", "subject": "Hi\nthere", "text": "News"}, "subject"},
				{"a subject too long", map[string]any{"purpose": "product_updates", "subject": strings.Repeat("s", 201), "text": "News"}, "subject"},
				{"no text", map[string]any{"purpose": "product_updates", "subject": "Hi"}, "text"},
				{"a text too long", map[string]any{"purpose": "product_updates", "subject": "Hi", "text": strings.Repeat("t", 20001)}, "text"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := admin.Do(http.MethodPost, "/v1/admin/announcements", tt.body)
					require.Equal(t, http.StatusBadRequest, r.Status, "body: %s", r.Body)
					require.Contains(t, r.Problem(t).Errors, tt.field)
				})
			}
			require.Equal(t, http.StatusNotFound, admin.Do(http.MethodGet, "/v1/admin/announcements/"+models.NewID(), nil).Status)
		})
	})
}

// adminID is the ID of the test's admin account.
func adminID(t *testing.T, env *servertest.Env) string {
	t.Helper()
	u, err := env.Store.UserByEmail(context.Background(), "admin@loomcast.example.com")
	require.NoError(t, err)
	return u.ID
}
