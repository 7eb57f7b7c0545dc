package server_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/media"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/server/servertest"
)

// TestCreatesHonourIdempotencyKey sends each create twice with one key:
// the same request gets the same answer and creates nothing more; a
// different request with the key is a 409.
func TestCreatesHonourIdempotencyKey(t *testing.T) {
	forEachDialect(t, servertest.Options{}, func(t *testing.T, env *servertest.Env) {
		c := env.Client()
		u := c.Register("idem@example.com", pw)
		anon := env.Client()
		anon.FetchCSRF()
		reported := env.Client().Register("reported@example.com", pw)
		dpo := staffClient(t, env, "dpo-idem@loomcast.example.com", models.RolePrivacy)
		admin := staffClient(t, env, "admin-idem@loomcast.example.com", models.RoleAdmin)
		ctx := context.Background()
		count := func(model any, where string, args ...any) int64 {
			var n int64
			require.NoError(t, env.Store.DB().Model(model).Where(where, args...).Count(&n).Error)
			return n
		}
		video := func(d time.Duration) []byte {
			var buf bytes.Buffer
			require.NoError(t, media.SyntheticMP4(&buf, 64<<10, d))
			return buf.Bytes()
		}
		first, other := video(3*time.Second), video(4*time.Second)
		upload := func(key string, body []byte) *servertest.Response {
			return c.Do(http.MethodPost, "/v1/uploads", body, "Content-Type", "video/mp4", "Idempotency-Key", key)
		}

		tests := []struct {
			name    string
			send    func(key string, variant int) *servertest.Response
			status  int
			created func() int64
		}{
			{
				name: "POST /v1/tokens",
				send: func(key string, variant int) *servertest.Response {
					return c.Do(http.MethodPost, "/v1/tokens", map[string]any{"name": "ci", "expires_in_days": 30 + variant}, "Idempotency-Key", key)
				},
				status:  http.StatusCreated,
				created: func() int64 { return count(&models.AccessToken{}, "user_id = ?", u.ID) },
			},
			{
				name: "POST /v1/uploads (same length and type stand for the same body)",
				send: func(key string, variant int) *servertest.Response {
					if variant == 0 {
						return upload(key, first)
					}
					return upload(key, other[:len(other)-1])
				},
				status:  http.StatusCreated,
				created: func() int64 { return count(&models.Upload{}, "user_id = ?", u.ID) },
			},
			{
				name: "POST /v1/privacy/requests",
				send: func(key string, variant int) *servertest.Response {
					region := []string{"FR", "DE"}[variant]
					return c.Do(http.MethodPost, "/v1/privacy/requests", map[string]any{"type": "objection", "region": region}, "Idempotency-Key", key)
				},
				status:  http.StatusAccepted,
				created: func() int64 { return count(&models.PrivacyRequest{}, "user_id = ?", u.ID) },
			},
			{
				name: "POST /v1/privacy/requests/public",
				send: func(key string, variant int) *servertest.Response {
					typ := []string{"withdraw_consent", "objection"}[variant]
					return anon.Do(http.MethodPost, "/v1/privacy/requests/public", map[string]any{"email": "someone@example.com", "type": typ, "region": "FR"}, "Idempotency-Key", key)
				},
				status:  http.StatusAccepted,
				created: func() int64 { return count(&models.PrivacyRequest{}, "email = ?", "someone@example.com") },
			},
			{
				name: "POST /v1/admin/users/{id}/child-report",
				send: func(key string, variant int) *servertest.Response {
					region := []string{"FR", "DE"}[variant]
					return dpo.Do(http.MethodPost, "/v1/admin/users/"+reported.ID+"/child-report", map[string]any{"reporter_contact": "parent@example.com",
						"statement": "This is my daughter's account; she is 11.", "region": region}, "Idempotency-Key", key)
				},
				status: http.StatusAccepted,
				created: func() int64 {
					return count(&models.PrivacyRequest{}, "user_id = ? AND source = ?", reported.ID, "child_report")
				},
			},
			{
				name: "POST /v1/admin/announcements",
				send: func(key string, variant int) *servertest.Response {
					subject := []string{"News", "Other news"}[variant]
					return admin.Do(http.MethodPost, "/v1/admin/announcements", map[string]any{"purpose": "product_updates", "subject": subject,
						"text": "Hello."}, "Idempotency-Key", key)
				},
				status:  http.StatusCreated,
				created: func() int64 { return count(&models.Announcement{}, "subject = ?", "News") },
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				key := "key-" + models.NewID()
				r := tt.send(key, 0)
				require.Equal(t, tt.status, r.Status, "body: %s", r.Body)
				before := tt.created()
				require.EqualValues(t, 1, before)

				again := tt.send(key, 0)
				require.Equal(t, tt.status, again.Status, "body: %s", again.Body)
				require.JSONEq(t, string(r.Body), string(again.Body), "a retry gets the first answer")
				require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
				require.Equal(t, before, tt.created(), "a retry creates nothing")

				conflict := tt.send(key, 1)
				require.Equal(t, http.StatusConflict, conflict.Status, "body: %s", conflict.Body)
				require.Contains(t, conflict.Problem(t).Detail, "Idempotency-Key was used for a different request")
				require.Equal(t, before, tt.created())

				fresh := tt.send("key-"+models.NewID(), 0)
				require.Contains(t, []int{tt.status, http.StatusOK}, fresh.Status, "another key is another request: body %s", fresh.Body)
			})
		}

		t.Run("a failed request does not hold its key", func(t *testing.T) {
			key := "key-" + models.NewID()
			r := c.Do(http.MethodPost, "/v1/tokens", map[string]any{"name": "", "expires_in_days": 30}, "Idempotency-Key", key)
			require.Equal(t, http.StatusBadRequest, r.Status)
			r = c.Do(http.MethodPost, "/v1/tokens", map[string]any{"name": "fixed", "expires_in_days": 30}, "Idempotency-Key", key)
			require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
		})

		t.Run("a key over 255 characters is refused", func(t *testing.T) {
			r := c.Do(http.MethodPost, "/v1/tokens", map[string]any{"name": "x"}, "Idempotency-Key", string(bytes.Repeat([]byte("k"), 256)))
			require.Equal(t, http.StatusBadRequest, r.Status)
			require.Contains(t, string(r.Body), "Idempotency-Key")
		})

		t.Run("the stored answer is encrypted", func(t *testing.T) {
			var recs []models.IdempotencyRecord
			require.NoError(t, env.Store.DB().WithContext(ctx).Where("endpoint = ?", "POST /v1/tokens").Find(&recs).Error)
			require.NotEmpty(t, recs)
			for _, rec := range recs {
				require.NotContains(t, string(rec.ResponseSealed), "lcp_", "no token secret in the clear")
				require.NotContains(t, string(rec.ResponseSealed), "expires_at")
			}
		})
	})
}
