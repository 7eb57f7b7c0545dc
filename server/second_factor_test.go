package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/password"
	"github.com/loomcast/loomcast/server/servertest"
	"github.com/loomcast/loomcast/totp"
)

// browser keeps its cookies by hand, as a browser does for Secure cookies
// over the plain HTTP of the tests (the jar sends none of them).
type browser struct {
	c       *servertest.Client
	cookies map[string]string
	csrf    string
}

func newBrowser(env *servertest.Env) *browser {
	b := &browser{c: env.Client(), cookies: map[string]string{}}
	var v struct {
		CSRFToken string `json:"csrf_token"`
	}
	b.do(http.MethodGet, "/v1/auth/csrf", nil).JSON(env.T, &v)
	b.csrf = v.CSRFToken
	return b
}

func (b *browser) do(method, path string, body any) *servertest.Response {
	var jar []string
	for k, v := range b.cookies {
		jar = append(jar, k+"="+v)
	}
	r := b.c.Do(method, path, body, "Cookie", strings.Join(jar, "; "), "X-CSRF-Token", b.csrf)
	for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
		if ck.MaxAge < 0 {
			delete(b.cookies, ck.Name)
		} else {
			b.cookies[ck.Name] = ck.Value
		}
	}
	var v struct {
		CSRFToken string `json:"csrf_token"`
	}
	if json.Unmarshal(r.Body, &v) == nil && v.CSRFToken != "" {
		b.csrf = v.CSRFToken
	}
	return r
}

// staffAccount makes a member of staff with a verified address, as
// `loomcast admin create-user` does.
func staffAccount(t *testing.T, env *servertest.Env, email, role string) models.User {
	t.Helper()
	hash, err := password.Hash(goodPassword)
	require.NoError(t, err)
	u := &models.User{Email: email, PasswordHash: &hash, DisplayName: "Staff", Role: role, Timezone: "UTC", EmailVerifiedAt: models.Ptr(time.Now().UTC())}
	require.NoError(t, env.Store.CreateUser(context.Background(), u))
	return *u
}

// enrol turns on a second factor through the API and returns its secret
// and recovery codes.
func enrol(t *testing.T, env *servertest.Env, do func(method, path string, body any) *servertest.Response) ([]byte, []string) {
	t.Helper()
	r := do(http.MethodPost, "/v1/me/second-factor", map[string]string{"password": goodPassword})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var started struct {
		Secret     string `json:"secret"`
		OTPAuthURI string `json:"otpauth_uri"`
	}
	r.JSON(t, &started)
	require.Contains(t, started.OTPAuthURI, "otpauth://totp/Loomcast:")
	require.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	secret, err := totp.Decode(started.Secret)
	require.NoError(t, err)

	now := env.Clock.Now()
	r = do(http.MethodPost, "/v1/me/second-factor/confirm", map[string]string{"code": otherCode(totp.Code(secret, now))})
	require.Equal(t, http.StatusBadRequest, r.Status, "a wrong first code confirms nothing")
	r = do(http.MethodPost, "/v1/me/second-factor/confirm", map[string]string{"code": totp.Code(secret, now)})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var confirmed struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	r.JSON(t, &confirmed)
	require.Len(t, confirmed.RecoveryCodes, totp.RecoveryCodes)
	return secret, confirmed.RecoveryCodes
}

// Staff turn on a TOTP second factor; signing in then needs a code, each
// working once, or a recovery code, each working once; an admin resets a
// lost one.
func TestSecondFactor(t *testing.T) {
	forEachDialect(t, servertest.Options{}, func(t *testing.T, env *servertest.Env) {
		ctx := context.Background()
		staff := staffAccount(t, env, "support@loomcast.example.com", models.RoleSupport)
		c := env.Client()
		require.Equal(t, http.StatusOK, c.Login(staff.Email, goodPassword).Status)
		secret, recovery := enrol(t, env, func(m, p string, b any) *servertest.Response { return c.Do(m, p, b) })
		var me map[string]any
		c.Do(http.MethodGet, "/v1/me", nil).JSON(t, &me)
		require.Equal(t, true, me["second_factor"])

		login := func(extra map[string]string) *servertest.Response {
			b := env.Client()
			b.FetchCSRF()
			body := map[string]string{"email": staff.Email, "password": goodPassword}
			for k, v := range extra {
				body[k] = v
			}
			return b.Do(http.MethodPost, "/v1/auth/login", body)
		}
		r := login(nil)
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Equal(t, "https://loomcast.dev/problems/second-factor-required", r.Problem(t).Type)

		env.Clock.Advance(totp.Period) // the confirming code's step is spent
		code := totp.Code(secret, env.Clock.Now())
		r = login(map[string]string{"totp_code": otherCode(code)})
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Equal(t, "https://loomcast.dev/problems/bad-credentials", r.Problem(t).Type)
		require.Equal(t, http.StatusOK, login(map[string]string{"totp_code": code}).Status)
		require.Equal(t, http.StatusUnauthorized, login(map[string]string{"totp_code": code}).Status, "a code works once")

		require.Equal(t, http.StatusOK, login(map[string]string{"recovery_code": strings.ToUpper(recovery[3])}).Status)
		require.Equal(t, http.StatusUnauthorized, login(map[string]string{"recovery_code": recovery[3]}).Status, "a recovery code works once")
		u, err := env.Store.UserByID(ctx, staff.ID)
		require.NoError(t, err)
		require.Len(t, u.RecoveryHashes(), totp.RecoveryCodes-1)
		require.NotContains(t, u.TOTPSecretSealed, totp.Encode(secret), "the secret is sealed at rest")

		kinds := securityEventKinds(t, env, staff.ID)
		for _, k := range []string{"second_factor_enrolment_started", "second_factor_enabled", "second_factor_failed", "recovery_code_used", "login"} {
			require.Contains(t, kinds, k)
		}

		t.Run("an admin resets a lost second factor", func(t *testing.T) {
			admin := staffClient(t, env, "boss@loomcast.example.com", models.RoleAdmin)
			r := admin.Do(http.MethodDelete, "/v1/admin/users/"+staff.ID+"/second-factor", nil)
			require.Equal(t, http.StatusNoContent, r.Status, "body: %s", r.Body)
			require.Equal(t, http.StatusUnauthorized, c.Do(http.MethodGet, "/v1/me", nil).Status, "their sessions end")
			require.Equal(t, http.StatusOK, login(nil).Status, "they sign in with the password alone, to enrol again")
			require.Contains(t, securityEventKinds(t, env, staff.ID), "second_factor_reset")

			support := env.Client()
			require.Equal(t, http.StatusOK, support.Login(staff.Email, goodPassword).Status)
			r = support.Do(http.MethodDelete, "/v1/admin/users/"+staff.ID+"/second-factor", nil)
			require.Equal(t, http.StatusForbidden, r.Status, "only admins reset")
		})
	})
}

// In production, staff routes need a session that gave the second factor:
// without one (or with an access token) they are refused; once given,
// they answer.
func TestStaffNeedASecondFactorInProduction(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{Production: true})
	staffAccount(t, env, "privacy@loomcast.example.com", models.RolePrivacy)
	b := newBrowser(env)
	r := b.do(http.MethodPost, "/v1/auth/login", map[string]string{"email": "privacy@loomcast.example.com", "password": goodPassword})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)

	r = b.do(http.MethodGet, "/v1/admin/users", nil)
	require.Equal(t, http.StatusUnauthorized, r.Status, "body: %s", r.Body)
	require.Equal(t, "https://loomcast.dev/problems/second-factor-required", r.Problem(t).Type)
	require.Contains(t, r.Problem(t).Detail, "enrol")
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/v1/me", nil).Status, "their own account needs none")

	tok := b.do(http.MethodPost, "/v1/tokens", map[string]any{"name": "script"})
	require.Equal(t, http.StatusCreated, tok.Status, "body: %s", tok.Body)
	var token struct {
		Token string `json:"token"`
	}
	tok.JSON(t, &token)

	secret, _ := enrol(t, env, b.do)
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/v1/admin/users", nil).Status, "the session that confirmed it gave it")

	bearer := env.Client()
	bearer.Bearer = token.Token
	r = bearer.Do(http.MethodGet, "/v1/admin/users", nil)
	require.Equal(t, http.StatusUnauthorized, r.Status, "an access token carries no second factor")

	again := newBrowser(env)
	env.Clock.Advance(totp.Period)
	r = again.do(http.MethodPost, "/v1/auth/login", map[string]any{"email": "privacy@loomcast.example.com", "password": goodPassword,
		"totp_code": totp.Code(secret, env.Clock.Now())})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	require.Equal(t, http.StatusOK, again.do(http.MethodGet, "/v1/admin/users", nil).Status)
}

// Staff reads of people's data, role changes and access tokens are in the
// security log.
func TestStaffActsAreInTheSecurityLog(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	ctx := context.Background()
	user := env.Client()
	u := user.Register("someone@example.com", goodPassword)
	admin := staffClient(t, env, "admin@loomcast.example.com", models.RoleAdmin)
	adminUser, err := env.Store.UserByEmail(ctx, "admin@loomcast.example.com")
	require.NoError(t, err)

	require.Equal(t, http.StatusOK, admin.Do(http.MethodGet, "/v1/admin/users/"+u.ID, nil).Status)
	events, err := env.Store.UserSecurityEvents(ctx, adminUser.ID)
	require.NoError(t, err)
	found := false
	for _, e := range events {
		if e.Kind == "staff_read" && strings.Contains(e.Detail, "GET /v1/admin/users/:id") && strings.Contains(e.Detail, "id="+u.ID) {
			found = true
		}
	}
	require.True(t, found, "the read names the route and whose data: %+v", events)
	require.Equal(t, http.StatusNotFound, admin.Do(http.MethodGet, "/v1/admin/users/"+models.NewID(), nil).Status)

	r := admin.Do(http.MethodPut, "/v1/admin/users/"+u.ID+"/role", map[string]string{"role": models.RoleSupport})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	require.Contains(t, securityEventKinds(t, env, u.ID), "role_changed")
	require.Contains(t, securityEventKinds(t, env, adminUser.ID), "role_changed_by_me")

	tok := user.Do(http.MethodPost, "/v1/tokens", map[string]any{"name": "script"})
	require.Equal(t, http.StatusCreated, tok.Status)
	var created struct {
		ID string `json:"id"`
	}
	tok.JSON(t, &created)
	require.Equal(t, http.StatusNoContent, user.Do(http.MethodDelete, "/v1/tokens/"+created.ID, nil).Status)
	kinds := securityEventKinds(t, env, u.ID)
	require.Contains(t, kinds, "token_created")
	require.Contains(t, kinds, "token_revoked")
}
