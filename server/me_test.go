package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/loomcast/loomcast/google"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/server/servertest"
	"github.com/loomcast/loomcast/workflows"
	"github.com/loomcast/loomcast/workflows/accounts"
)

func TestProfile(t *testing.T) {
	forEachDialect(t, servertest.Options{}, func(t *testing.T, env *servertest.Env) {
		c := env.Client()
		c.Register("nia@example.com", goodPassword)

		t.Run("patch changes only named fields", func(t *testing.T) {
			r := c.Do(http.MethodPatch, "/v1/me", map[string]string{"timezone": "America/Sao_Paulo", "avatar_url": "https://cdn.example.com/nia.png"})
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			var p servertest.SessionUser
			r.JSON(t, &p)
			require.Equal(t, "America/Sao_Paulo", p.Timezone)
			require.Equal(t, "https://cdn.example.com/nia.png", p.AvatarURL)
			require.Equal(t, "Test User", p.DisplayName)
		})

		tests := []struct {
			name, field string
			body        map[string]string
		}{
			{"Mars/Olympus is not a timezone", "timezone", map[string]string{"timezone": "Mars/Olympus"}},
			{"Local is not a timezone", "timezone", map[string]string{"timezone": "Local"}},
			{"avatar must be https", "avatar_url", map[string]string{"avatar_url": "javascript:alert(1)"}},
			{"display name cannot be blank", "display_name", map[string]string{"display_name": "   "}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := c.Do(http.MethodPatch, "/v1/me", tt.body)
				require.Equal(t, http.StatusBadRequest, r.Status)
				require.Contains(t, r.Problem(t).Errors, tt.field)
			})
		}

		t.Run("signed out is 401", func(t *testing.T) {
			r := env.Client().Do(http.MethodGet, "/v1/me", nil)
			require.Equal(t, http.StatusUnauthorized, r.Status)
			r.Problem(t)
		})
	})
}

func TestChangePasswordEndsOtherSessions(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	laptop := env.Client()
	laptop.Register("omar@example.com", goodPassword)
	phone := env.Client()
	require.Equal(t, http.StatusOK, phone.Login("omar@example.com", goodPassword).Status)

	r := laptop.Do(http.MethodPost, "/v1/me/password", map[string]string{"current_password": "wrong one entirely", "new_password": "a brand new passphrase"})
	require.Equal(t, http.StatusUnauthorized, r.Status)

	r = laptop.Do(http.MethodPost, "/v1/me/password", map[string]string{"current_password": goodPassword, "new_password": "short"})
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Contains(t, r.Problem(t).Errors, "new_password")

	r = laptop.Do(http.MethodPost, "/v1/me/password", map[string]string{"current_password": goodPassword, "new_password": "a brand new passphrase"})
	require.Equal(t, http.StatusNoContent, r.Status, "body: %s", r.Body)

	require.Equal(t, http.StatusOK, laptop.Do(http.MethodGet, "/v1/me", nil).Status, "this session stays")
	require.Equal(t, http.StatusUnauthorized, phone.Do(http.MethodGet, "/v1/me", nil).Status, "other sessions end")
	require.Equal(t, http.StatusUnauthorized, env.Client().Login("omar@example.com", goodPassword).Status)
	require.Equal(t, http.StatusOK, env.Client().Login("omar@example.com", "a brand new passphrase").Status)
}

func TestBearerTokens(t *testing.T) {
	forEachDialect(t, servertest.Options{}, func(t *testing.T, env *servertest.Env) {
		browser := env.Client()
		me := browser.Register("pat@example.com", goodPassword)

		r := browser.Do(http.MethodPost, "/v1/tokens", map[string]any{"name": "ci deploys", "expires_in_days": 30})
		require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
		var created struct {
			ID        string    `json:"id"`
			Token     string    `json:"token"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		r.JSON(t, &created)
		require.True(t, strings.HasPrefix(created.Token, "lcp_"))
		require.WithinDuration(t, env.Clock.Now().AddDate(0, 0, 30), created.ExpiresAt, time.Second)

		api := env.Client()
		api.Bearer = created.Token

		t.Run("authenticates without cookies or CSRF", func(t *testing.T) {
			r := api.Do(http.MethodGet, "/v1/me", nil)
			require.Equal(t, http.StatusOK, r.Status)
			var p servertest.SessionUser
			r.JSON(t, &p)
			require.Equal(t, me.ID, p.ID)
			require.Equal(t, http.StatusOK, api.Do(http.MethodPatch, "/v1/me", map[string]string{"display_name": "Pat via API"}).Status)
		})

		t.Run("the secret is stored hashed", func(t *testing.T) {
			var n int64
			require.NoError(t, env.Store.DB().Table("access_tokens").Where("token_hash = ?", created.Token).Count(&n).Error)
			require.Zero(t, n)
			list := browser.Do(http.MethodGet, "/v1/tokens", nil)
			require.Equal(t, http.StatusOK, list.Status)
			require.NotContains(t, string(list.Body), created.Token)
		})

		t.Run("bad tokens are refused", func(t *testing.T) {
			for _, h := range []string{"Bearer lcp_nope", "Basic abc", "Bearer "} {
				r := env.Client().Do(http.MethodGet, "/v1/me", nil, "Authorization", h)
				require.Equal(t, http.StatusUnauthorized, r.Status, h)
			}
		})

		t.Run("another user cannot revoke it", func(t *testing.T) {
			other := env.Client()
			other.Register("quinn@example.com", goodPassword)
			require.Equal(t, http.StatusNotFound, other.Do(http.MethodDelete, "/v1/tokens/"+created.ID, nil).Status)
			require.Equal(t, http.StatusOK, api.Do(http.MethodGet, "/v1/me", nil).Status)
		})

		t.Run("expiry and revocation end it", func(t *testing.T) {
			require.Equal(t, http.StatusNoContent, browser.Do(http.MethodDelete, "/v1/tokens/"+created.ID, nil).Status)
			require.Equal(t, http.StatusUnauthorized, api.Do(http.MethodGet, "/v1/me", nil).Status)

			r := browser.Do(http.MethodPost, "/v1/tokens", map[string]any{"name": "short lived", "expires_in_days": 1})
			require.Equal(t, http.StatusCreated, r.Status)
			r.JSON(t, &created)
			short := env.Client()
			short.Bearer = created.Token
			require.Equal(t, http.StatusOK, short.Do(http.MethodGet, "/v1/me", nil).Status)
			env.Clock.Advance(25 * time.Hour)
			require.Equal(t, http.StatusUnauthorized, short.Do(http.MethodGet, "/v1/me", nil).Status)
		})

		t.Run("validation", func(t *testing.T) {
			fresh := env.Client()
			fresh.Register("rae@example.com", goodPassword)
			r := fresh.Do(http.MethodPost, "/v1/tokens", map[string]any{"name": "", "expires_in_days": 999})
			require.Equal(t, http.StatusBadRequest, r.Status)
			p := r.Problem(t)
			require.Contains(t, p.Errors, "name")
			require.Contains(t, p.Errors, "expires_in_days")
		})
	})
}

func TestGoogleSignIn(t *testing.T) {
	forEachDialect(t, servertest.Options{}, func(t *testing.T, env *servertest.Env) {
		t.Run("creates an account", func(t *testing.T) {
			c := env.Client()
			env.Google.SignInAs(google.Identity{Subject: "g-100", Email: "sam@example.com", EmailVerified: true, Name: "Sam", Picture: "https://lh3.example.com/sam"})
			r := c.Do(http.MethodGet, "/v1/auth/google/start?country=GB&age=30", nil) // follows consent and callback, lands on /v1/me
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			var p servertest.SessionUser
			r.JSON(t, &p)
			require.Equal(t, "sam@example.com", p.Email)
			require.Equal(t, "Sam", p.DisplayName)
			require.Equal(t, "https://lh3.example.com/sam", p.AvatarURL)
			require.Nil(t, c.Cookie("google_oauth_state"), "flow cookies are deleted when it completes")
		})

		t.Run("links an existing account with the same verified email", func(t *testing.T) {
			pw := env.Client()
			u := pw.Register("tess@example.com", goodPassword)
			require.Equal(t, u.ID, googleSignIn(t, env, env.Client(), "tess@example.com").ID)
			got, err := env.Store.UserByID(context.Background(), u.ID)
			require.NoError(t, err)
			require.NotNil(t, got.GoogleSub)
		})

		t.Run("unverified email is refused", func(t *testing.T) {
			env.Client().Register("uma@example.com", goodPassword)
			c := env.Client()
			env.Google.SignInAs(google.Identity{Subject: "g-evil", Email: "uma@example.com", EmailVerified: false})
			r := c.Do(http.MethodGet, "/v1/auth/google/start", nil)
			require.Equal(t, http.StatusForbidden, r.Status)
		})

		t.Run("state and PKCE cookies", func(t *testing.T) {
			c := env.Client()
			c.FollowRedirects(false)
			r := c.Do(http.MethodGet, "/v1/auth/google/start", nil)
			require.Equal(t, http.StatusFound, r.Status)
			loc, err := url.Parse(r.Header.Get("Location"))
			require.NoError(t, err)
			require.Equal(t, "S256", loc.Query().Get("code_challenge_method"))
			require.NotEmpty(t, loc.Query().Get("state"))
			cookies := (&http.Response{Header: r.Header}).Cookies()
			require.NotEmpty(t, cookies, "the sign-in start sets its state cookies")
			for _, ck := range cookies {
				require.True(t, ck.HttpOnly, ck.Name)
				require.Equal(t, 600, ck.MaxAge, ck.Name)
				require.Equal(t, "/v1/auth/google", ck.Path, ck.Name)
			}

			// A callback with another state is refused.
			r = c.Do(http.MethodGet, "/v1/auth/google/callback?code=x&state=forged", nil)
			require.Equal(t, http.StatusBadRequest, r.Status)
			// And once used (or after 10 minutes) the cookies are gone.
			r = c.Do(http.MethodGet, "/v1/auth/google/callback?code=x&state="+loc.Query().Get("state"), nil)
			require.Equal(t, http.StatusBadRequest, r.Status)
		})
	})
}

func TestAdminRoles(t *testing.T) {
	forEachDialect(t, servertest.Options{}, func(t *testing.T, env *servertest.Env) {
		ctx := context.Background()
		user := env.Client()
		plain := user.Register("val@example.com", goodPassword)

		staff := map[string]*servertest.Client{}
		for _, role := range []string{models.RoleSupport, models.RolePrivacy, models.RoleAdmin} {
			c := env.Client()
			u := c.Register(role+"@loomcast.example.com", goodPassword)
			require.NoError(t, env.Store.SetRole(ctx, u.ID, role))
			staff[role] = c
		}

		t.Run("users cannot reach admin routes", func(t *testing.T) {
			r := user.Do(http.MethodGet, "/v1/admin/users", nil)
			require.Equal(t, http.StatusForbidden, r.Status)
			require.Equal(t, "https://loomcast.dev/problems/forbidden", r.Problem(t).Type)
			require.Equal(t, http.StatusUnauthorized, env.Client().Do(http.MethodGet, "/v1/admin/users", nil).Status)
		})

		t.Run("every staff role can list users", func(t *testing.T) {
			for role, c := range staff {
				r := c.Do(http.MethodGet, "/v1/admin/users?email=val@", nil)
				require.Equal(t, http.StatusOK, r.Status, role)
				var list struct {
					Users []struct {
						ID string `json:"id"`
					} `json:"users"`
				}
				r.JSON(t, &list)
				require.Len(t, list.Users, 1, role)
				require.Equal(t, plain.ID, list.Users[0].ID)
			}
		})

		t.Run("only admins change roles", func(t *testing.T) {
			body := map[string]string{"role": models.RoleSupport}
			require.Equal(t, http.StatusForbidden, staff[models.RoleSupport].Do(http.MethodPut, "/v1/admin/users/"+plain.ID+"/role", body).Status)
			require.Equal(t, http.StatusForbidden, staff[models.RolePrivacy].Do(http.MethodPut, "/v1/admin/users/"+plain.ID+"/role", body).Status)
			require.Equal(t, http.StatusOK, staff[models.RoleAdmin].Do(http.MethodPut, "/v1/admin/users/"+plain.ID+"/role", body).Status)
			require.Equal(t, http.StatusBadRequest, staff[models.RoleAdmin].Do(http.MethodPut, "/v1/admin/users/"+plain.ID+"/role", map[string]string{"role": "god"}).Status)
			require.Equal(t, http.StatusNotFound, staff[models.RoleAdmin].Do(http.MethodPut, "/v1/admin/users/"+models.NewID()+"/role", body).Status)
			// The promoted user now reaches staff routes.
			require.Equal(t, http.StatusOK, user.Do(http.MethodGet, "/v1/admin/users", nil).Status)
		})
	})
}

func TestCloseAccount(t *testing.T) {
	forEachDialect(t, servertest.Options{}, func(t *testing.T, env *servertest.Env) {
		ctx := context.Background()
		c := env.Client()
		u := c.Register("wes@example.com", goodPassword)
		other := env.Client()
		require.Equal(t, http.StatusOK, other.Login("wes@example.com", goodPassword).Status)
		api := env.Client()
		r := c.Do(http.MethodPost, "/v1/tokens", map[string]any{"name": "script"})
		require.Equal(t, http.StatusCreated, r.Status)
		var tok struct {
			Token string `json:"token"`
		}
		r.JSON(t, &tok)
		api.Bearer = tok.Token

		t.Run("needs the password", func(t *testing.T) {
			r := c.Do(http.MethodDelete, "/v1/me", nil)
			require.Equal(t, http.StatusUnauthorized, r.Status)
			require.Equal(t, "https://loomcast.dev/problems/reauthentication-required", r.Problem(t).Type)
			r = c.Do(http.MethodDelete, "/v1/me", map[string]string{"password": "not my password"})
			require.Equal(t, http.StatusUnauthorized, r.Status)
		})

		r = c.Do(http.MethodDelete, "/v1/me", map[string]string{"password": goodPassword})
		require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
		var closed struct {
			ClosedAt   time.Time `json:"closed_at"`
			PurgeAfter time.Time `json:"purge_after"`
		}
		r.JSON(t, &closed)
		require.Equal(t, closed.ClosedAt.Add(30*24*time.Hour), closed.PurgeAfter)

		for name, cl := range map[string]*servertest.Client{"this session": c, "other session": other, "access token": api} {
			require.Equal(t, http.StatusUnauthorized, cl.Do(http.MethodGet, "/v1/me", nil).Status, name)
		}
		require.Equal(t, http.StatusUnauthorized, env.Client().Login("wes@example.com", goodPassword).Status)

		got, err := env.Store.UserByID(ctx, u.ID)
		require.NoError(t, err, "the account is kept for its export grace")
		require.NotNil(t, got.ClosedAt)

		// The purge waits on a durable timer in its own workflow, findable by support.
		desc, err := env.Temporal.DescribeWorkflowExecution(ctx, accounts.ClosureWorkflowID(u.ID), "")
		require.NoError(t, err)
		require.Equal(t, "AccountClosure", desc.GetWorkflowExecutionInfo().GetType().GetName())
		sa := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()
		require.Contains(t, string(sa[workflows.UserIDKey.GetName()].GetData()), u.ID)
		require.Contains(t, string(sa[workflows.KindKey.GetName()].GetData()), workflows.KindAccountClosure)
		val, err := env.Temporal.QueryWorkflow(ctx, accounts.ClosureWorkflowID(u.ID), "", accounts.QueryPurgeDue)
		require.NoError(t, err)
		var due time.Time
		require.NoError(t, val.Get(&due))
		require.True(t, due.Equal(closed.PurgeAfter), "due %s, want %s", due, closed.PurgeAfter)
		var _ client.Client = env.Temporal
	})
}
