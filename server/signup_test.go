package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/mail/smtptest"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/password"
	"github.com/loomcast/loomcast/server"
	"github.com/loomcast/loomcast/server/servertest"
	"github.com/loomcast/loomcast/signup"
)

// mailsTo lists the mail of kind sent to an address.
func mailsTo(env *servertest.Env, kind, to string) []smtptest.Received {
	var out []smtptest.Received
	for _, m := range env.SMTP.Messages() {
		if m.Header.Get("X-Loomcast-Kind") == kind && m.To[0] == to {
			out = append(out, m)
		}
	}
	return out
}

// signUpBody is a valid sign-up form for an address.
func signUpBody(email, pw string) map[string]any {
	return map[string]any{"email": email, "password": pw, "display_name": "Someone", "timezone": "UTC", "country": "FR", "age": 30}
}

// An account exists only once the code mailed to its address comes back;
// signing up with an address in use answers exactly as with a new one and
// mails its owner a notice instead of a code.
func TestSignUpProvesTheAddress(t *testing.T) {
	forEachDialect(t, servertest.Options{}, func(t *testing.T, env *servertest.Env) {
		ctx := context.Background()
		env.Client().Register("owner@example.com", goodPassword)

		answer := func(email string) (*servertest.Client, *servertest.Response) {
			c := env.Client()
			c.FetchCSRF()
			r := c.Do(http.MethodPost, "/v1/auth/register", signUpBody(email, "another good passphrase"))
			require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
			return c, r
		}
		_, used := answer("owner@example.com")
		newcomer, fresh := answer("newcomer@example.com")

		t.Run("the answers are alike", func(t *testing.T) {
			shape := func(r *servertest.Response, email string) map[string]any {
				var v map[string]any
				r.JSON(t, &v)
				for _, k := range []string{"registration_id", "code_expires_at", "expires_at"} {
					require.NotEmpty(t, v[k], k)
					v[k] = "…"
				}
				v["message"] = strings.ReplaceAll(v["message"].(string), email, "EMAIL")
				v["message"] = strings.ReplaceAll(v["message"].(string), registrationID(t, r), "ID")
				return v
			}
			require.Equal(t, shape(fresh, "newcomer@example.com"), shape(used, "owner@example.com"))
			for _, r := range []*servertest.Response{used, fresh} {
				for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
					require.NotEqual(t, "loomcast_session", ck.Name, "no session before the address is proven")
				}
			}
		})

		t.Run("the owner of a used address gets a notice, no code", func(t *testing.T) {
			require.Len(t, mailsTo(env, signup.MailInUse, "owner@example.com"), 1)
			require.Empty(t, mailsTo(env, signup.MailCode, "owner@example.com")[1:], "only the owner's own sign-up code")
			notice := mailsTo(env, signup.MailInUse, "owner@example.com")[0]
			require.NotRegexp(t, `[0-9]{6}`, notice.Text)
			require.Equal(t, http.StatusOK, env.Client().Login("owner@example.com", goodPassword).Status, "the account is untouched")
			require.Equal(t, http.StatusUnauthorized, env.Client().Login("owner@example.com", "another good passphrase").Status)
		})

		t.Run("a wrong code answers alike for a used and a new address", func(t *testing.T) {
			wrongAt := func(r *servertest.Response) server.Problem {
				c := env.Client()
				c.FetchCSRF()
				got := c.Do(http.MethodPost, "/v1/auth/register/"+registrationID(t, r)+"/verify", map[string]string{"code": "000000"})
				require.Equal(t, http.StatusBadRequest, got.Status, "body: %s", got.Body)
				p := got.Problem(t)
				p.RequestID, p.Instance = "", ""
				return p
			}
			require.Equal(t, wrongAt(fresh), wrongAt(used))
		})

		t.Run("until the code comes back there is no account", func(t *testing.T) {
			_, err := env.Store.UserByEmail(ctx, "newcomer@example.com")
			require.ErrorIs(t, err, models.ErrNotFound)
			require.Equal(t, http.StatusUnauthorized, env.Client().Login("newcomer@example.com", "another good passphrase").Status)
		})

		t.Run("the code opens the account, verified, and signs in", func(t *testing.T) {
			id := registrationID(t, fresh)
			code := env.MailedCode(signup.MailCode, "newcomer@example.com", id)
			r := newcomer.Do(http.MethodPost, "/v1/auth/register/"+id+"/verify", map[string]string{"code": code})
			require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
			require.Equal(t, "/v1/me", r.Header.Get("Location"))
			var me map[string]any
			newcomer.Do(http.MethodGet, "/v1/me", nil).JSON(t, &me)
			require.Equal(t, true, me["email_verified"])
			require.Equal(t, http.StatusOK, env.Client().Login("newcomer@example.com", "another good passphrase").Status)
			u, err := env.Store.UserByEmail(ctx, "newcomer@example.com")
			require.NoError(t, err)
			require.Contains(t, securityEventKinds(t, env, u.ID), "registered")

			other := env.Client()
			other.FetchCSRF()
			again := other.Do(http.MethodPost, "/v1/auth/register/"+id+"/verify", map[string]string{"code": code})
			require.Equal(t, http.StatusNotFound, again.Status, "a sign-up opens one account, once")
		})

		t.Run("a code works for its own sign-up only", func(t *testing.T) {
			a, b := env.Client(), env.Client()
			ida, idb := a.SignUp("twice@example.com", "first good passphrase"), b.SignUp("twice@example.com", "second good passphrase")
			codeB := env.MailedCode(signup.MailCode, "twice@example.com", idb)
			r := a.Do(http.MethodPost, "/v1/auth/register/"+ida+"/verify", map[string]string{"code": codeB})
			if r.Status != http.StatusBadRequest { // the two codes may be equal, one time in a million
				require.Equal(t, env.MailedCode(signup.MailCode, "twice@example.com", ida), codeB)
			}
			r = b.Do(http.MethodPost, "/v1/auth/register/"+idb+"/verify", map[string]string{"code": codeB})
			require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
			r = a.Do(http.MethodPost, "/v1/auth/register/"+ida+"/verify",
				map[string]string{"code": env.MailedCode(signup.MailCode, "twice@example.com", ida)})
			require.Equal(t, http.StatusNotFound, r.Status, "the other sign-up of the address is void: body %s", r.Body)
			require.Equal(t, http.StatusOK, env.Client().Login("twice@example.com", "second good passphrase").Status)
			require.Equal(t, http.StatusUnauthorized, env.Client().Login("twice@example.com", "first good passphrase").Status)
		})

		t.Run("a new code replaces the old, a minute after it", func(t *testing.T) {
			c := env.Client()
			id := c.SignUp("resend@example.com", goodPassword)
			first := env.MailedCode(signup.MailCode, "resend@example.com", id)
			r := c.Do(http.MethodPost, "/v1/auth/register/"+id+"/code", nil)
			require.Equal(t, http.StatusTooManyRequests, r.Status, "body: %s", r.Body)
			env.Clock.Advance(time.Minute)
			r = c.Do(http.MethodPost, "/v1/auth/register/"+id+"/code", nil)
			require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
			require.Len(t, mailsTo(env, signup.MailCode, "resend@example.com"), 2)
			second := codeOf(t, mailsTo(env, signup.MailCode, "resend@example.com")[1])
			if first != second {
				r = c.Do(http.MethodPost, "/v1/auth/register/"+id+"/verify", map[string]string{"code": first})
				require.Equal(t, http.StatusBadRequest, r.Status, "the old code is void")
			}
			r = c.Do(http.MethodPost, "/v1/auth/register/"+id+"/verify", map[string]string{"code": second})
			require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
		})

		t.Run("a sign-up lapses after 24 hours", func(t *testing.T) {
			c := env.Client()
			id := c.SignUp("late@example.com", goodPassword)
			code := env.MailedCode(signup.MailCode, "late@example.com", id)
			env.Clock.Advance(24 * time.Hour)
			r := c.Do(http.MethodPost, "/v1/auth/register/"+id+"/verify", map[string]string{"code": code})
			require.Equal(t, http.StatusNotFound, r.Status, "body: %s", r.Body)
		})

		t.Run("IDs that are not sign-ups are 404", func(t *testing.T) {
			c := env.Client()
			c.FetchCSRF()
			for _, id := range []string{"nope", models.NewID(), "%00", "%C3%A9"} {
				r := c.Do(http.MethodPost, "/v1/auth/register/"+id+"/verify", map[string]string{"code": "123456"})
				require.Equal(t, http.StatusNotFound, r.Status, "%s: %s", id, r.Body)
			}
		})

		t.Run("an address gets at most five sign-up mails an hour", func(t *testing.T) {
			for i := 0; i < 5; i++ {
				answer("flood@example.com")
			}
			c := env.Client()
			c.FetchCSRF()
			r := c.Do(http.MethodPost, "/v1/auth/register", signUpBody("flood@example.com", goodPassword))
			require.Equal(t, http.StatusTooManyRequests, r.Status)
			require.Len(t, mailsTo(env, signup.MailCode, "flood@example.com"), 5)
		})
	})
}

// codeOf reads the code a mail carries.
func codeOf(t *testing.T, m smtptest.Received) string {
	t.Helper()
	sub := anyCodeRE.FindStringSubmatch(m.Text)
	require.NotNil(t, sub, "no code in %q", m.Text)
	return sub[1]
}

// legacyAccount makes an account as registration did before addresses
// were verified: a password, never proven.
func legacyAccount(t *testing.T, env *servertest.Env, email, pw string) models.User {
	t.Helper()
	hash, err := password.Hash(pw)
	require.NoError(t, err)
	u := &models.User{Email: email, PasswordHash: &hash, DisplayName: "Legacy", Timezone: "UTC"}
	require.NoError(t, env.Store.CreateUser(context.Background(), u))
	require.False(t, u.Verified())
	return *u
}

// The pre-hijack: an attacker opens an account with the victim's address
// and keeps a password, a session and a token, waiting for the victim to
// sign in with Google. With sign-ups proven by a code, the attacker gets
// no account at all; for an account made before that, the victim's Google
// sign-in ends everything the attacker set.
func TestPreHijackLeavesTheAttackerNothing(t *testing.T) {
	forEachDialect(t, servertest.Options{}, func(t *testing.T, env *servertest.Env) {
		ctx := context.Background()
		t.Run("a sign-up the attacker cannot confirm opens nothing", func(t *testing.T) {
			attacker := env.Client()
			attacker.SignUp("victim@example.com", "attacker passphrase 1")
			require.Equal(t, http.StatusUnauthorized, attacker.Login("victim@example.com", "attacker passphrase 1").Status)

			victim := env.Client()
			me := googleSignIn(t, env, victim, "victim@example.com")
			require.Equal(t, "victim@example.com", me.Email)
			u, err := env.Store.UserByEmail(ctx, "victim@example.com")
			require.NoError(t, err)
			require.True(t, u.Verified())
			require.Nil(t, u.PasswordHash)
			require.Equal(t, http.StatusUnauthorized, env.Client().Login("victim@example.com", "attacker passphrase 1").Status)
		})

		t.Run("an account made before is the Google user's, and the attacker's keys end", func(t *testing.T) {
			legacyAccount(t, env, "prey@example.com", "attacker passphrase 2")
			attacker := env.Client()
			require.Equal(t, http.StatusOK, attacker.Login("prey@example.com", "attacker passphrase 2").Status)
			tok := attacker.Do(http.MethodPost, "/v1/tokens", map[string]any{"name": "kept"})
			require.Equal(t, http.StatusCreated, tok.Status, "body: %s", tok.Body)
			var token struct {
				Token string `json:"token"`
			}
			tok.JSON(t, &token)
			bearer := env.Client()
			bearer.Bearer = token.Token
			require.Equal(t, http.StatusOK, bearer.Do(http.MethodGet, "/v1/me", nil).Status)

			t.Run("unverified, it cannot publish or connect a channel", func(t *testing.T) {
				r := attacker.Do(http.MethodGet, "/v1/channels/tiktok/connect", nil)
				require.Equal(t, http.StatusForbidden, r.Status)
				require.Equal(t, "https://loomcast.dev/problems/email-unverified", r.Problem(t).Type)
				r = attacker.Do(http.MethodPost, "/v1/posts", map[string]any{"caption": "x"})
				require.Equal(t, http.StatusForbidden, r.Status)
				require.Equal(t, "https://loomcast.dev/problems/email-unverified", r.Problem(t).Type)
			})

			victim := env.Client()
			me := googleSignIn(t, env, victim, "prey@example.com")
			require.Equal(t, "prey@example.com", me.Email)

			require.Equal(t, http.StatusUnauthorized, env.Client().Login("prey@example.com", "attacker passphrase 2").Status, "the password")
			require.Equal(t, http.StatusUnauthorized, attacker.Do(http.MethodGet, "/v1/me", nil).Status, "the session")
			require.Equal(t, http.StatusUnauthorized, bearer.Do(http.MethodGet, "/v1/me", nil).Status, "the token")
			var mine map[string]any
			victim.Do(http.MethodGet, "/v1/me", nil).JSON(t, &mine)
			require.Equal(t, true, mine["email_verified"])
			require.Equal(t, false, mine["has_password"])
			require.Len(t, mailsTo(env, "google_claimed", "prey@example.com"), 1)
			u, err := env.Store.UserByEmail(ctx, "prey@example.com")
			require.NoError(t, err)
			require.Contains(t, securityEventKinds(t, env, u.ID), "google_linked")
			victim.ConnectChannel("tiktok") // the verified owner connects channels
		})
	})
}

// An account made before addresses were verified proves its address with
// a mailed code, and may then publish.
func TestAnOlderAccountVerifiesItsAddress(t *testing.T) {
	forEachDialect(t, servertest.Options{}, func(t *testing.T, env *servertest.Env) {
		legacyAccount(t, env, "old@example.com", goodPassword)
		c := env.Client()
		require.Equal(t, http.StatusOK, c.Login("old@example.com", goodPassword).Status)
		var me map[string]any
		c.Do(http.MethodGet, "/v1/me", nil).JSON(t, &me)
		require.Equal(t, false, me["email_verified"])

		r := c.Do(http.MethodPost, "/v1/me/email/verification", nil)
		require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
		code := env.MailedCode(signup.MailVerify, "old@example.com", "")
		r = c.Do(http.MethodPost, "/v1/me/email/verification/verify", map[string]string{"code": otherCode(code)})
		require.Equal(t, http.StatusBadRequest, r.Status)
		require.Contains(t, r.Problem(t).Detail, "2 attempt(s) left")
		r = c.Do(http.MethodPost, "/v1/me/email/verification/verify", map[string]string{"code": code})
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		r.JSON(t, &me)
		require.Equal(t, true, me["email_verified"])

		c.ConnectChannel("tiktok")
		r = c.Do(http.MethodPost, "/v1/me/email/verification", nil)
		require.Equal(t, http.StatusConflict, r.Status, "verified already")
	})
}
