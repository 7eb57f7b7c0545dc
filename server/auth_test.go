package server_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/server/servertest"
	"github.com/loomcast/loomcast/signup"
)

// registrationID reads the ID of the sign-up an answer names.
func registrationID(t *testing.T, r *servertest.Response) string {
	t.Helper()
	var v struct {
		RegistrationID string `json:"registration_id"`
	}
	r.JSON(t, &v)
	require.NotEmpty(t, v.RegistrationID, "body: %s", r.Body)
	return v.RegistrationID
}

const goodPassword = "correct horse battery"

// forEachDialect runs fn against a fresh API on each database dialect.
func forEachDialect(t *testing.T, opts servertest.Options, fn func(t *testing.T, env *servertest.Env)) {
	for _, d := range modelstest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) { fn(t, servertest.New(t, d, opts)) })
	}
}

func TestRegistration(t *testing.T) {
	forEachDialect(t, servertest.Options{}, func(t *testing.T, env *servertest.Env) {
		c := env.Client()
		c.FetchCSRF()

		tests := []struct {
			name      string
			body      map[string]any
			wantField string
		}{
			{"bad email", map[string]any{"country": "FR", "age": 30, "email": "not-an-email", "password": goodPassword, "display_name": "A", "timezone": "UTC"}, "email"},
			{"email without domain dot", map[string]any{"country": "FR", "age": 30, "email": "a@localhost", "password": goodPassword, "display_name": "A", "timezone": "UTC"}, "email"},
			{"weak password", map[string]any{"country": "FR", "age": 30, "email": "a@example.com", "password": "short", "display_name": "A", "timezone": "UTC"}, "password"},
			{"common password", map[string]any{"country": "FR", "age": 30, "email": "a@example.com", "password": "password123", "display_name": "A", "timezone": "UTC"}, "password"},
			{"unknown timezone", map[string]any{"country": "FR", "age": 30, "email": "a@example.com", "password": goodPassword, "display_name": "A", "timezone": "Mars/Olympus"}, "timezone"},
			{"missing display name", map[string]any{"country": "FR", "age": 30, "email": "a@example.com", "password": goodPassword, "timezone": "UTC"}, "display_name"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := c.Do(http.MethodPost, "/v1/auth/register", tt.body)
				require.Equal(t, http.StatusBadRequest, r.Status, "body: %s", r.Body)
				p := r.Problem(t)
				require.Equal(t, "https://loomcast.dev/problems/invalid", p.Type)
				require.Contains(t, p.Errors, tt.wantField)
				require.NotEmpty(t, p.Errors[tt.wantField])
			})
		}

		t.Run("success starts a session", func(t *testing.T) {
			u := c.Register("Ada@Example.com", goodPassword)
			require.Equal(t, "ada@example.com", u.Email)
			require.Equal(t, "Europe/Paris", u.Timezone)
			me := c.Do(http.MethodGet, "/v1/me", nil)
			require.Equal(t, http.StatusOK, me.Status)
		})

		t.Run("a used address answers as a new one", func(t *testing.T) {
			other := env.Client()
			other.SignUp("ADA@example.com", goodPassword)
			require.Equal(t, http.StatusOK, other.Login("ada@example.com", goodPassword).Status, "the first account stands")
		})
	})
}

func TestMalformedRequests(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	c := env.Client()
	c.FetchCSRF()
	tests := []struct {
		name        string
		body        string
		contentType string
		wantStatus  int
		wantType    string
	}{
		{"malformed JSON", `{"email":`, "application/json", http.StatusBadRequest, "malformed"},
		{"not an object", `[1,2]`, "application/json", http.StatusBadRequest, "invalid"},
		{"unknown field", `{"email":"a@b.co","pasword":"x"}`, "application/json", http.StatusBadRequest, "invalid"},
		{"trailing data", `{"email":"a@b.co"} {}`, "application/json", http.StatusBadRequest, "malformed"},
		{"wrong content type", `email=a`, "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType, "unsupported-media-type"},
		{"too large", `{"display_name":"` + strings.Repeat("x", 2<<20) + `"}`, "application/json", http.StatusRequestEntityTooLarge, "too-large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.Do(http.MethodPost, "/v1/auth/register", []byte(tt.body), "Content-Type", tt.contentType)
			require.Equal(t, tt.wantStatus, r.Status, "body: %s", r.Body)
			require.Equal(t, "https://loomcast.dev/problems/"+tt.wantType, r.Problem(t).Type)
		})
	}

	t.Run("unknown route and wrong method are problems too", func(t *testing.T) {
		r := c.Do(http.MethodGet, "/v1/nope", nil)
		require.Equal(t, http.StatusNotFound, r.Status)
		r.Problem(t)
		r = c.Do(http.MethodPut, "/healthz", nil)
		require.Equal(t, http.StatusMethodNotAllowed, r.Status)
		r.Problem(t)
	})

	t.Run("request ID is echoed when sane, replaced otherwise", func(t *testing.T) {
		r := c.Do(http.MethodGet, "/healthz", nil, "X-Request-ID", "abcdefgh-1234")
		require.Equal(t, "abcdefgh-1234", r.Header.Get("X-Request-ID"))
		r = c.Do(http.MethodGet, "/healthz", nil, "X-Request-ID", "bad id!")
		require.NotEqual(t, "bad id", r.Header.Get("X-Request-ID"))
		require.NotEmpty(t, r.Header.Get("X-Request-ID"))
	})
}

func TestLogin(t *testing.T) {
	forEachDialect(t, servertest.Options{}, func(t *testing.T, env *servertest.Env) {
		env.Client().Register("grace@example.com", goodPassword)

		t.Run("unknown email and wrong password get one answer", func(t *testing.T) {
			unknown := env.Client().Login("nobody@example.com", goodPassword)
			wrong := env.Client().Login("grace@example.com", "wrong password here")
			require.Equal(t, http.StatusUnauthorized, unknown.Status)
			require.Equal(t, http.StatusUnauthorized, wrong.Status)
			pu, pw := unknown.Problem(t), wrong.Problem(t)
			pu.RequestID, pw.RequestID, pu.Instance, pw.Instance = "", "", "", ""
			require.Equal(t, pu, pw)
		})

		t.Run("right password signs in", func(t *testing.T) {
			c := env.Client()
			r := c.Login("GRACE@example.com", goodPassword)
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			require.Equal(t, http.StatusOK, c.Do(http.MethodGet, "/v1/me", nil).Status)
		})

		t.Run("failures are rate limited per account", func(t *testing.T) {
			env.Client().Register("henry@example.com", goodPassword)
			c := env.Client()
			for i := 0; i < 5; i++ {
				require.Equal(t, http.StatusUnauthorized, c.Login("henry@example.com", "wrong password here").Status)
			}
			r := c.Login("henry@example.com", goodPassword)
			require.Equal(t, http.StatusTooManyRequests, r.Status, "even the right password waits")
			require.NotEmpty(t, r.Header.Get("Retry-After"))
			r.Problem(t)

			env.Clock.Advance(16 * time.Minute)
			require.Equal(t, http.StatusOK, c.Login("henry@example.com", goodPassword).Status)
		})

		t.Run("attempts are rate limited per IP", func(t *testing.T) {
			c := env.Client()
			env.Clock.Advance(16 * time.Minute)
			limited := false
			for i := 0; i < 40 && !limited; i++ {
				// A forged X-Forwarded-For does not reset the count: no proxy is trusted.
				if c.CSRF == "" {
					c.FetchCSRF()
				}
				r := c.Do(http.MethodPost, "/v1/auth/login",
					map[string]string{"email": "someone" + strings.Repeat("x", i) + "@example.com", "password": "wrong password here"},
					"X-Forwarded-For", "203.0.113."+strconv.Itoa(i))
				limited = r.Status == http.StatusTooManyRequests
			}
			require.True(t, limited, "one address cannot try endless accounts")
			env.Clock.Advance(16 * time.Minute)
		})

		t.Run("logout ends the session", func(t *testing.T) {
			c := env.Client()
			require.Equal(t, http.StatusOK, c.Login("grace@example.com", goodPassword).Status)
			session := c.Cookie("loomcast_session")
			require.NotNil(t, session)
			require.Equal(t, http.StatusNoContent, c.Do(http.MethodPost, "/v1/auth/logout", nil).Status)
			require.Equal(t, http.StatusUnauthorized, c.Do(http.MethodGet, "/v1/me", nil).Status)

			// A copy of the old cookie is worthless too: the session row is revoked.
			replay := env.Client()
			r := replay.Do(http.MethodGet, "/v1/me", nil, "Cookie", "loomcast_session="+session.Value)
			require.Equal(t, http.StatusUnauthorized, r.Status)
		})
	})
}

func TestSessionExpiresAfterThirtyIdleMinutes(t *testing.T) {
	forEachDialect(t, servertest.Options{}, func(t *testing.T, env *servertest.Env) {
		c := env.Client()
		c.Register("ida@example.com", goodPassword)

		// Activity every 20 minutes keeps the session alive well past 30 minutes.
		for i := 0; i < 4; i++ {
			env.Clock.Advance(20 * time.Minute)
			require.Equal(t, http.StatusOK, c.Do(http.MethodGet, "/v1/me", nil).Status, "request %d after 20 idle minutes", i+1)
		}
		env.Clock.Advance(29 * time.Minute)
		require.Equal(t, http.StatusOK, c.Do(http.MethodGet, "/v1/me", nil).Status, "29 idle minutes is fine")

		env.Clock.Advance(30*time.Minute + time.Second)
		r := c.Do(http.MethodGet, "/v1/me", nil)
		require.Equal(t, http.StatusUnauthorized, r.Status, "30 idle minutes end the session")
		require.Equal(t, "https://loomcast.dev/problems/unauthenticated", r.Problem(t).Type)
	})
}

func TestCSRF(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	c := env.Client()
	c.Register("jo@example.com", goodPassword)
	body := map[string]string{"display_name": "Jo"}

	t.Run("missing token", func(t *testing.T) {
		token := c.CSRF
		c.CSRF = ""
		defer func() { c.CSRF = token }()
		r := c.Do(http.MethodPatch, "/v1/me", body)
		require.Equal(t, http.StatusForbidden, r.Status)
		require.Equal(t, "https://loomcast.dev/problems/csrf", r.Problem(t).Type)
	})

	t.Run("forged token", func(t *testing.T) {
		token := c.CSRF
		c.CSRF = "forged.token"
		defer func() { c.CSRF = token }()
		require.Equal(t, http.StatusForbidden, c.Do(http.MethodPatch, "/v1/me", body).Status)
	})

	t.Run("token of another session", func(t *testing.T) {
		other := env.Client()
		other.Register("kim@example.com", goodPassword)
		token := c.CSRF
		c.CSRF = other.CSRF
		defer func() { c.CSRF = token }()
		require.Equal(t, http.StatusForbidden, c.Do(http.MethodPatch, "/v1/me", body).Status)
	})

	t.Run("signed-out token after sign-in", func(t *testing.T) {
		fresh := env.Client()
		anon := fresh.FetchCSRF()
		require.Equal(t, http.StatusOK, fresh.Login("jo@example.com", goodPassword).Status)
		fresh.CSRF = anon
		require.Equal(t, http.StatusForbidden, fresh.Do(http.MethodPatch, "/v1/me", body).Status)
	})

	t.Run("valid token", func(t *testing.T) {
		require.Equal(t, http.StatusOK, c.Do(http.MethodPatch, "/v1/me", body).Status)
	})

	t.Run("sign-in itself needs a token", func(t *testing.T) {
		fresh := env.Client()
		r := fresh.Do(http.MethodPost, "/v1/auth/login", map[string]string{"email": "jo@example.com", "password": goodPassword})
		require.Equal(t, http.StatusForbidden, r.Status)
	})
}

func TestProductionCookies(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{Production: true})
	c := env.Client()
	r := c.Do(http.MethodGet, "/v1/auth/csrf", nil)
	require.Equal(t, http.StatusOK, r.Status)
	var csrf struct {
		CSRFToken string `json:"csrf_token"`
	}
	r.JSON(t, &csrf)
	// The jar does not send Secure cookies over plain HTTP: echo it by hand.
	echo := []string{"X-CSRF-Token", csrf.CSRFToken, "Cookie", "__Host-loomcast_csrf=" + csrf.CSRFToken}
	r = c.Do(http.MethodPost, "/v1/auth/register", map[string]any{
		"email": "lee@example.com", "password": goodPassword, "display_name": "Lee", "timezone": "Asia/Seoul", "country": "KR", "age": 30,
	}, echo...)
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	r = c.Do(http.MethodPost, "/v1/auth/register/"+registrationID(t, r)+"/verify",
		map[string]string{"code": env.MailedCode(signup.MailCode, "lee@example.com", "")}, echo...)
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)

	cookies := map[string]*http.Cookie{}
	for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
		cookies[ck.Name] = ck
	}
	session := cookies["__Secure-loomcast_session"]
	require.NotNil(t, session, "production session cookie has the __Secure- prefix")
	require.True(t, session.Secure)
	require.True(t, session.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, session.SameSite)
	require.Equal(t, 1800, session.MaxAge)
	require.Equal(t, "/", session.Path)

	csrfCookie := cookies["__Host-loomcast_csrf"]
	require.NotNil(t, csrfCookie)
	require.True(t, csrfCookie.Secure)
	require.False(t, csrfCookie.HttpOnly, "the page script must read the CSRF token")
	require.Equal(t, "/", csrfCookie.Path)
	require.Empty(t, csrfCookie.Domain)
}

func TestDevelopmentCookies(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	c := env.Client()
	id := c.SignUp("mo@example.com", goodPassword)
	r := c.Do(http.MethodPost, "/v1/auth/register/"+id+"/verify", map[string]string{"code": env.MailedCode(signup.MailCode, "mo@example.com", id)})
	require.Equal(t, http.StatusCreated, r.Status)
	for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
		if ck.Name == "loomcast_session" {
			require.False(t, ck.Secure)
			require.True(t, ck.HttpOnly)
			require.Equal(t, http.SameSiteLaxMode, ck.SameSite)
			return
		}
	}
	t.Fatal("no loomcast_session cookie")
}
