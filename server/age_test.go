package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/google"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/server/servertest"
	"github.com/loomcast/loomcast/signup"
)

// signUp is a registration body with the given age confirmation; a nil
// country or age leaves the field out.
func signUp(email string, country *string, age *int) map[string]any {
	body := map[string]any{"email": email, "password": goodPassword, "display_name": "Kid", "timezone": "UTC"}
	if country != nil {
		body["country"] = *country
	}
	if age != nil {
		body["age"] = *age
	}
	return body
}

// Policy 000 section 12: not intended for children under 16 in the EU, 13
// elsewhere; the EEA and the UK are held to the EU's age.
func TestRegistrationAsksForAgeConfirmation(t *testing.T) {
	forEachDialect(t, servertest.Options{}, func(t *testing.T, env *servertest.Env) {
		ctx := context.Background()
		tests := []struct {
			name    string
			country string
			age     int
			want    int
			minimum string
		}{
			{"15 in the EU is refused", "FR", 15, http.StatusForbidden, "at least 16"},
			{"15 in the UK is refused", "GB", 15, http.StatusForbidden, "at least 16"},
			{"15 in the EEA outside the EU is refused", "NO", 15, http.StatusForbidden, "at least 16"},
			{"16 in the EU is accepted", "DE", 16, http.StatusAccepted, ""},
			{"12 in the US is refused", "US", 12, http.StatusForbidden, "at least 13"},
			{"13 in the US is accepted", "US", 13, http.StatusAccepted, ""},
			{"15 in the US is accepted", "us", 15, http.StatusAccepted, ""},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := env.Client()
				c.FetchCSRF()
				email := fmt.Sprintf("age%d@example.com", i)
				r := c.Do(http.MethodPost, "/v1/auth/register", signUp(email, &tt.country, &tt.age))
				require.Equal(t, tt.want, r.Status, "body: %s", r.Body)
				if tt.want != http.StatusAccepted {
					p := r.Problem(t)
					require.Equal(t, "https://loomcast.dev/problems/under-age", p.Type)
					require.Contains(t, p.Detail, tt.minimum)
					require.Contains(t, p.Detail, "No account was created")
					for _, m := range env.SMTP.Messages() {
						require.NotEqual(t, email, m.To[0], "nothing is mailed to a child")
					}
					return
				}
				id := registrationID(t, r)
				r = c.Do(http.MethodPost, "/v1/auth/register/"+id+"/verify", map[string]string{"code": env.MailedCode(signup.MailCode, email, id)})
				require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
				_, err := env.Store.UserByEmail(ctx, email)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, c.Do(http.MethodGet, "/v1/me", nil).Status)
			})
		}

		fr, us, nowhere := "FR", "US", "ZZ"
		twenty, twelve, negative := 20, 12, -1
		invalid := []struct {
			name       string
			body       map[string]any
			wantFields []string
		}{
			{"no confirmation at all", signUp("none@example.com", nil, nil), []string{"country", "age"}},
			{"no age", signUp("noage@example.com", &fr, nil), []string{"age"}},
			{"no country", signUp("nocountry@example.com", nil, &twenty), []string{"country"}},
			{"not a country", signUp("zz@example.com", &nowhere, &twenty), []string{"country"}},
			{"not an age", signUp("neg@example.com", &fr, &negative), []string{"age"}},
		}
		for _, tt := range invalid {
			t.Run(tt.name, func(t *testing.T) {
				c := env.Client()
				c.FetchCSRF()
				r := c.Do(http.MethodPost, "/v1/auth/register", tt.body)
				require.Equal(t, http.StatusBadRequest, r.Status, "body: %s", r.Body)
				p := r.Problem(t)
				require.Equal(t, "https://loomcast.dev/problems/invalid", p.Type)
				got := make([]string, 0, len(p.Errors))
				for k := range p.Errors {
					got = append(got, k)
				}
				require.ElementsMatch(t, tt.wantFields, got, "only what is missing or wrong is listed: %v", p.Errors)
			})
		}

		t.Run("a child is refused before the rest of the form is judged", func(t *testing.T) {
			c := env.Client()
			c.FetchCSRF()
			body := signUp("not-an-email", &us, &twelve)
			r := c.Do(http.MethodPost, "/v1/auth/register", body)
			require.Equal(t, http.StatusForbidden, r.Status, "body: %s", r.Body)
			require.Empty(t, r.Problem(t).Errors)
		})
	})
}

// Creating an account with Google needs the same confirmation, given at
// the start of the flow; signing into an existing account does not.
func TestGoogleSignUpAsksForAgeConfirmation(t *testing.T) {
	forEachDialect(t, servertest.Options{}, func(t *testing.T, env *servertest.Env) {
		ctx := context.Background()
		appError := func(t *testing.T, r *servertest.Response) string {
			require.Equal(t, http.StatusFound, r.Status, "body: %s", r.Body)
			loc, err := url.Parse(r.Header.Get("Location"))
			require.NoError(t, err)
			require.Equal(t, "/v1/me", loc.Path, "back to the web app")
			return loc.Query().Get("auth_error")
		}

		t.Run("a new account without the confirmation is sent back to the app, nothing kept", func(t *testing.T) {
			env.Google.SignInAs(google.Identity{Subject: "g-new", Email: "newbie@example.com", EmailVerified: true, Name: "Newbie"})
			c := env.Client()
			require.Equal(t, "age_confirmation_required", appError(t, c.GoogleSignIn("")))
			_, err := env.Store.UserByEmail(ctx, "newbie@example.com")
			require.ErrorIs(t, err, models.ErrNotFound)
			_, err = env.Store.UserByGoogleSub(ctx, "g-new")
			require.ErrorIs(t, err, models.ErrNotFound)
		})

		t.Run("a child is refused at the start, before Google", func(t *testing.T) {
			c := env.Client()
			c.FollowRedirects(false)
			r := c.Do(http.MethodGet, "/v1/auth/google/start?country=IT&age=14", nil)
			require.Equal(t, http.StatusForbidden, r.Status, "body: %s", r.Body)
			p := r.Problem(t)
			require.Equal(t, "https://loomcast.dev/problems/under-age", p.Type)
			require.Contains(t, p.Detail, "at least 16")
			require.Empty(t, r.Header.Values("Set-Cookie"), "no flow is started")
		})

		t.Run("an incomplete confirmation lists what is missing", func(t *testing.T) {
			c := env.Client()
			c.FollowRedirects(false)
			r := c.Do(http.MethodGet, "/v1/auth/google/start?country=FR", nil)
			require.Equal(t, http.StatusBadRequest, r.Status, "body: %s", r.Body)
			require.Contains(t, r.Problem(t).Errors, "age")
			r = c.Do(http.MethodGet, "/v1/auth/google/start?age=abc&country=FR", nil)
			require.Equal(t, http.StatusBadRequest, r.Status, "body: %s", r.Body)
			require.Contains(t, r.Problem(t).Errors, "age")
		})

		t.Run("14 in the US creates the account", func(t *testing.T) {
			env.Google.SignInAs(google.Identity{Subject: "g-teen", Email: "teen@example.com", EmailVerified: true, Name: "Teen"})
			c := env.Client()
			require.Empty(t, appError(t, c.GoogleSignIn("?country=US&age=14")))
			u, err := env.Store.UserByGoogleSub(ctx, "g-teen")
			require.NoError(t, err)
			require.Equal(t, "teen@example.com", u.Email)
			require.Equal(t, http.StatusOK, c.Do(http.MethodGet, "/v1/me", nil).Status)

			// Back later, the account exists: no confirmation is asked.
			env.Google.SignInAs(google.Identity{Subject: "g-teen", Email: "teen@example.com", EmailVerified: true, Name: "Teen"})
			again := env.Client()
			require.Empty(t, appError(t, again.GoogleSignIn("")))
			require.Equal(t, http.StatusOK, again.Do(http.MethodGet, "/v1/me", nil).Status)
		})

		t.Run("linking an existing password account needs no confirmation", func(t *testing.T) {
			env.Client().Register("linked@example.com", goodPassword)
			env.Google.SignInAs(google.Identity{Subject: "g-linked", Email: "linked@example.com", EmailVerified: true})
			c := env.Client()
			require.Empty(t, appError(t, c.GoogleSignIn("")))
			u, err := env.Store.UserByGoogleSub(ctx, "g-linked")
			require.NoError(t, err)
			require.Equal(t, "linked@example.com", u.Email)
		})
	})
}
