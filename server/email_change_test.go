package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast"
	googlefake "github.com/loomcast/loomcast/google/fake"
	"github.com/loomcast/loomcast/mail/smtptest"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/server/servertest"
)

// emailCode waits for the after+1-th email change code mailed to an
// address and returns it.
func emailCode(t *testing.T, env *servertest.Env, to string, after int) string {
	t.Helper()
	var code string
	require.Eventually(t, func() bool {
		n := 0
		for _, m := range env.SMTP.Messages() {
			if m.Header.Get("X-Loomcast-Kind") != "email_change_code" || m.To[0] != to {
				continue
			}
			if n++; n > after {
				if sub := codeRE.FindStringSubmatch(m.Text); sub != nil {
					code = sub[1]
					return true
				}
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "no code %d for %s", after+1, to)
	return code
}

// otherCode is a 6-digit code that is not code.
func otherCode(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

// sessionEmail is the email the client's session cookie carries.
func sessionEmail(t *testing.T, c *servertest.Client) string {
	t.Helper()
	ck := c.Cookie("loomcast_session")
	require.NotNil(t, ck)
	parts := strings.Split(ck.Value, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims struct {
		Email string `json:"email"`
	}
	require.NoError(t, json.Unmarshal(payload, &claims))
	return claims.Email
}

// googleSignIn signs c in with the Google account of email (the fake's
// identity for it) and returns who it signed in as.
func googleSignIn(t *testing.T, env *servertest.Env, c *servertest.Client, email string) servertest.SessionUser {
	t.Helper()
	env.Google.SignInAs(googlefake.IdentityFor(email))
	// A new account needs the age confirmation; an existing one ignores it.
	r := c.Do(http.MethodGet, "/v1/auth/google/start?country=US&age=30", nil) // follows consent and callback, lands on /v1/me
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var p servertest.SessionUser
	r.JSON(t, &p)
	return p
}

type emailChangeJSON struct {
	Message       string    `json:"message"`
	CodeExpiresAt time.Time `json:"code_expires_at"`
	ExpiresAt     time.Time `json:"expires_at"`
}

func TestEmailChangeThroughTheProfile(t *testing.T) {
	forEachDialect(t, servertest.Options{NoWorker: true}, func(t *testing.T, env *servertest.Env) {
		ctx := context.Background()
		laptop := env.Client()
		u := laptop.Register("old@example.com", goodPassword)
		phone := env.Client()
		require.Equal(t, http.StatusOK, phone.Login("old@example.com", goodPassword).Status)
		env.Client().Register("taken@example.com", goodPassword)

		start := func(c *servertest.Client, body map[string]string) *servertest.Response {
			return c.Do(http.MethodPost, "/v1/me/email", body)
		}
		verify := func(c *servertest.Client, code string) *servertest.Response {
			return c.Do(http.MethodPost, "/v1/me/email/verify", map[string]string{"code": code})
		}

		t.Run("refusals", func(t *testing.T) {
			for name, tc := range map[string]struct {
				body   map[string]string
				status int
				field  string
			}{
				"not an address":        {map[string]string{"new_email": "nope", "password": goodPassword}, http.StatusBadRequest, "new_email"},
				"the current address":   {map[string]string{"new_email": " OLD@example.com", "password": goodPassword}, http.StatusBadRequest, "new_email"},
				"no password":           {map[string]string{"new_email": "new@example.com"}, http.StatusUnauthorized, ""},
				"a wrong password":      {map[string]string{"new_email": "new@example.com", "password": "not my password at all"}, http.StatusUnauthorized, ""},
				"an unknown body field": {map[string]string{"new_email": "new@example.com", "password": goodPassword, "email": "x"}, http.StatusBadRequest, "email"},
			} {
				t.Run(name, func(t *testing.T) {
					r := start(laptop, tc.body)
					require.Equal(t, tc.status, r.Status, "body: %s", r.Body)
					if tc.field != "" {
						require.Contains(t, r.Problem(t).Errors, tc.field)
					}
				})
			}
			r := verify(laptop, "123456")
			require.Equal(t, http.StatusNotFound, r.Status, "nothing is waiting: %s", r.Body)
			require.Equal(t, http.StatusNotFound, laptop.Do(http.MethodPost, "/v1/me/email/code", nil).Status)
		})

		t.Run("a taken address gets the same answer, and is refused at verify", func(t *testing.T) {
			r := start(laptop, map[string]string{"new_email": "taken@example.com", "password": goodPassword})
			require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
			var taken emailChangeJSON
			r.JSON(t, &taken)
			code := emailCode(t, env, "taken@example.com", 0)
			r = verify(laptop, code)
			require.Equal(t, http.StatusConflict, r.Status, "body: %s", r.Body)
			require.Contains(t, r.Problem(t).Detail, "Nothing was changed")
			got, err := env.Store.UserByID(ctx, u.ID)
			require.NoError(t, err)
			require.Equal(t, "old@example.com", got.Email)
			require.Equal(t, http.StatusNotFound, verify(laptop, code).Status, "the refused change is dropped")

			env.Clock.Advance(2 * time.Minute)
			r = start(laptop, map[string]string{"new_email": "free@example.com", "password": goodPassword})
			require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
			var free emailChangeJSON
			r.JSON(t, &free)
			require.Equal(t, taken.Message, free.Message, "asking tells nothing of other accounts")
		})

		t.Run("the code goes to the new address, a notice without it to the old one", func(t *testing.T) {
			env.Clock.Advance(2 * time.Minute)
			r := start(laptop, map[string]string{"new_email": "New@Example.com", "password": goodPassword})
			require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
			var ch emailChangeJSON
			r.JSON(t, &ch)
			require.WithinDuration(t, env.Clock.Now().Add(10*time.Minute), ch.CodeExpiresAt, time.Second)
			require.WithinDuration(t, env.Clock.Now().Add(24*time.Hour), ch.ExpiresAt, time.Second)
			code := emailCode(t, env, "new@example.com", 0)
			var notices []string
			for _, m := range env.SMTP.Messages() {
				if m.To[0] == "old@example.com" && m.Header.Get("X-Loomcast-Kind") == "email_change_requested" {
					notices = append(notices, m.Text)
				}
			}
			require.Len(t, notices, 3, "one notice for each change asked")
			last := notices[len(notices)-1]
			require.NotContains(t, last, code)
			require.NotContains(t, last, "new@example.com", "the old mailbox learns the new address masked")
			require.Contains(t, last, "n***@example.com")

			// Nothing changes before the code.
			var p servertest.SessionUser
			laptop.Do(http.MethodGet, "/v1/me", nil).JSON(t, &p)
			require.Equal(t, "old@example.com", p.Email)
			require.Equal(t, http.StatusUnauthorized, env.Client().Login("new@example.com", goodPassword).Status)

			// Three wrong codes void it; even the right one then fails.
			wrong := otherCode(code)
			r = verify(laptop, wrong)
			require.Equal(t, http.StatusBadRequest, r.Status)
			require.Contains(t, r.Problem(t).Detail, "2 attempt(s) left")
			require.Contains(t, r.Problem(t).Errors, "code")
			require.Contains(t, verify(laptop, wrong).Problem(t).Detail, "1 attempt(s) left")
			require.Contains(t, verify(laptop, wrong).Problem(t).Detail, "no longer valid")
			require.Contains(t, verify(laptop, code).Problem(t).Detail, "no longer valid", "void after three attempts")

			// A new code, not sooner than a minute after the last; it
			// expires after 10 minutes.
			r = laptop.Do(http.MethodPost, "/v1/me/email/code", nil)
			require.Equal(t, http.StatusTooManyRequests, r.Status, "body: %s", r.Body)
			require.NotEmpty(t, r.Header.Get("Retry-After"))
			env.Clock.Advance(2 * time.Minute)
			require.Equal(t, http.StatusAccepted, laptop.Do(http.MethodPost, "/v1/me/email/code", nil).Status)
			code = emailCode(t, env, "new@example.com", 1)
			env.Clock.Advance(11 * time.Minute)
			require.Contains(t, verify(laptop, code).Problem(t).Detail, "no longer valid", "expired")

			require.Equal(t, http.StatusAccepted, laptop.Do(http.MethodPost, "/v1/me/email/code", nil).Status)
			code = emailCode(t, env, "new@example.com", 2)
			r = verify(laptop, code)
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			r.JSON(t, &p)
			require.Equal(t, "new@example.com", p.Email)
			require.Equal(t, u.ID, p.ID)
		})

		t.Run("sessions stay valid and show the new address", func(t *testing.T) {
			for name, c := range map[string]*servertest.Client{"this session": laptop, "another session": phone} {
				r := c.Do(http.MethodGet, "/v1/me", nil)
				require.Equal(t, http.StatusOK, r.Status, "%s: %s", name, r.Body)
				var p servertest.SessionUser
				r.JSON(t, &p)
				require.Equal(t, "new@example.com", p.Email, name)
				require.Equal(t, "new@example.com", sessionEmail(t, c), "%s: the cookie carries the new address", name)
			}
			require.Equal(t, http.StatusOK, phone.Do(http.MethodPatch, "/v1/me", map[string]string{"timezone": "UTC"}).Status,
				"the other session's CSRF token still works")
		})

		t.Run("the new address signs in, the old one no longer", func(t *testing.T) {
			require.Equal(t, http.StatusUnauthorized, env.Client().Login("old@example.com", goodPassword).Status)
			require.Equal(t, http.StatusOK, env.Client().Login("new@example.com", goodPassword).Status)
		})

		t.Run("recorded and told to the old address", func(t *testing.T) {
			kinds := securityEventKinds(t, env, u.ID)
			require.Contains(t, kinds, "email_change_requested")
			require.Contains(t, kinds, "email_changed")
			env.SMTP.WaitFor(t, func(m smtptest.Received) bool {
				return m.To[0] == "old@example.com" && m.Header.Get("X-Loomcast-Kind") == "email_changed"
			}, 10*time.Second)
			require.Equal(t, http.StatusNotFound, verify(laptop, "123456").Status, "the change is done")
			_, err := env.Store.EmailChangeOf(ctx, u.ID)
			require.ErrorIs(t, err, models.ErrNotFound, "the pending change is deleted")
		})

		t.Run("a password change cancels a change waiting", func(t *testing.T) {
			env.Clock.Advance(2 * time.Minute)
			r := start(laptop, map[string]string{"new_email": "thief@example.com", "password": goodPassword})
			require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
			code := emailCode(t, env, "thief@example.com", 0)
			r = laptop.Do(http.MethodPost, "/v1/me/password", map[string]string{"current_password": goodPassword, "new_password": "another good passphrase"})
			require.Equal(t, http.StatusNoContent, r.Status, "body: %s", r.Body)
			require.Equal(t, http.StatusNotFound, verify(laptop, code).Status)
		})

		t.Run("at most 10 codes an hour per account", func(t *testing.T) {
			c := env.Client()
			c.Register("flood@example.com", goodPassword)
			var last *servertest.Response
			for i := range 11 {
				env.Clock.Advance(2 * time.Minute)
				last = start(c, map[string]string{"new_email": "victim@example.com", "password": goodPassword})
				if i < 10 {
					require.Equal(t, http.StatusAccepted, last.Status, "body: %s", last.Body)
				}
			}
			require.Equal(t, http.StatusTooManyRequests, last.Status)
			require.NotEmpty(t, last.Header.Get("Retry-After"))
			require.Equal(t, http.StatusTooManyRequests, c.Do(http.MethodPost, "/v1/me/email/code", nil).Status, "resending counts too")
		})

		t.Run("a change lapses after 24 hours", func(t *testing.T) {
			c := env.Client()
			c.Register("slow@example.com", goodPassword)
			require.Equal(t, http.StatusAccepted, start(c, map[string]string{"new_email": "later@example.com", "password": goodPassword}).Status)
			env.Clock.Advance(24 * time.Hour)
			c.FetchCSRF()
			require.Equal(t, http.StatusOK, c.Login("slow@example.com", goodPassword).Status, "the session idled out meanwhile")
			require.Equal(t, http.StatusNotFound, c.Do(http.MethodPost, "/v1/me/email/code", nil).Status)
		})
	})
}

// Google sign-in links accounts by verified email: the Google account of
// an address the person left must not keep a way in.
func TestEmailChangeAndGoogleSignIn(t *testing.T) {
	forEachDialect(t, servertest.Options{NoWorker: true}, func(t *testing.T, env *servertest.Env) {
		ctx := context.Background()

		t.Run("an account with a password loses the link of its old address", func(t *testing.T) {
			c := env.Client()
			u := c.Register("work@corp.example", goodPassword)
			require.Equal(t, u.ID, googleSignIn(t, env, env.Client(), "work@corp.example").ID)
			linked, err := env.Store.UserByID(ctx, u.ID)
			require.NoError(t, err)
			require.NotNil(t, linked.GoogleSub, "linked through the same verified email")

			r := c.Do(http.MethodPost, "/v1/me/email", map[string]string{"new_email": "me@home.example", "password": goodPassword})
			require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
			r = c.Do(http.MethodPost, "/v1/me/email/verify", map[string]string{"code": emailCode(t, env, "me@home.example", 0)})
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			var p struct {
				GoogleLinked bool `json:"google_linked"`
			}
			r.JSON(t, &p)
			require.False(t, p.GoogleLinked)

			// The old address's Google account signs in to a new account
			// of its own, not to the person's.
			other := googleSignIn(t, env, env.Client(), "work@corp.example")
			require.NotEqual(t, u.ID, other.ID)
			require.Equal(t, "work@corp.example", other.Email)
		})

		t.Run("a Google-only account reauthenticates with Google and keeps its link", func(t *testing.T) {
			c := env.Client()
			me := googleSignIn(t, env, c, "gina@gmail.example")
			c.FetchCSRF()
			env.Clock.Advance(11 * time.Minute)
			r := c.Do(http.MethodPost, "/v1/me/email", map[string]string{"new_email": "gina@mail.example"})
			require.Equal(t, http.StatusUnauthorized, r.Status, "a Google sign-in older than 10 minutes: %s", r.Body)
			require.Contains(t, r.Problem(t).Detail, "Sign in with Google again")

			googleSignIn(t, env, c, "gina@gmail.example")
			c.FetchCSRF()
			r = c.Do(http.MethodPost, "/v1/me/email", map[string]string{"new_email": "gina@mail.example"})
			require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
			r = c.Do(http.MethodPost, "/v1/me/email/verify", map[string]string{"code": emailCode(t, env, "gina@mail.example", 0)})
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			got, err := env.Store.UserByID(ctx, me.ID)
			require.NoError(t, err)
			require.Equal(t, "gina@mail.example", got.Email)
			require.NotNil(t, got.GoogleSub, "its only way in stays")

			require.Equal(t, me.ID, googleSignIn(t, env, env.Client(), "gina@gmail.example").ID, "the same Google account still signs in to it")
		})
	})
}

// A rectification request may correct the email address: staff approve,
// the process mails a code to the new address instead of setting it, and
// the address changes when the person gives the code back.
func TestRectifyingTheEmailAddress(t *testing.T) {
	forEachDialect(t, servertest.Options{}, func(t *testing.T, env *servertest.Env) {
		ctx := context.Background()
		c := env.Client()
		u := c.Register("typo@exmaple.com", pw)
		staff := staffClient(t, env, "dpo@example.com", models.RolePrivacy)

		r := c.Do(http.MethodPost, "/v1/privacy/requests", map[string]any{"type": "rectification", "region": "FR",
			"fields": map[string]string{"email": "nope"}})
		require.Equal(t, http.StatusBadRequest, r.Status, "body: %s", r.Body)
		require.Contains(t, r.Problem(t).Errors, "fields.email")

		r = c.Do(http.MethodPost, "/v1/privacy/requests", map[string]any{"type": "rectification", "region": "FR",
			"fields": map[string]string{"email": "typo@example.com", "display_name": "Right Name"}})
		require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
		var p privacyJSON
		r.JSON(t, &p)
		waitForStatus(t, c, p.ID, "in_review")
		// The row says in_review a moment before the process does.
		require.Eventually(t, func() bool {
			return staff.Do(http.MethodPost, "/v1/admin/privacy/requests/"+p.ID+"/review", map[string]any{"approve": true}).Status == http.StatusOK
		}, 10*time.Second, 100*time.Millisecond)
		p = waitForStatus(t, c, p.ID, "closed")
		require.Contains(t, p.Answer, "We corrected: display_name.")
		require.Contains(t, p.Answer, "not changed yet")
		require.Contains(t, p.Answer, "POST /v1/me/email/verify")
		require.NotContains(t, p.Answer, "typo@example.com", "the answer names no address")

		got, err := env.Store.UserByID(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, "Right Name", got.DisplayName)
		require.Equal(t, "typo@exmaple.com", got.Email, "not set by the process")
		answer := env.SMTP.WaitFor(t, func(m smtptest.Received) bool {
			return m.Header.Get("X-Loomcast-Kind") == "answer" && strings.Contains(m.Text, p.ID)
		}, 10*time.Second)
		require.Equal(t, "typo@exmaple.com", answer.To[0], "the answer goes where the request came from")

		code := emailCode(t, env, "typo@example.com", 0)
		// The code is in the mail only, never in the process's history
		// (looked for as the mail words it: six digits alone could be in a
		// timestamp); nor is the new address.
		requireNotInHistory(t, env, "dsr-"+p.ID, "code is "+code, "code: "+code, "typo@example.com")

		r = c.Do(http.MethodPost, "/v1/me/email/verify", map[string]string{"code": code})
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		got, err = env.Store.UserByID(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, "typo@example.com", got.Email)
		var me servertest.SessionUser
		c.Do(http.MethodGet, "/v1/me", nil).JSON(t, &me)
		require.Equal(t, "typo@example.com", me.Email, "the session stays and shows the new address")

		require.Contains(t, auditActions(t, staff, p.ID), "requester confirmed the new email address", "the request's audit log shows the correction done")
		req, err := env.Store.PrivacyRequestByID(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, loomcast.PrivacyClosed, req.Status)
	})
}
