package server_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/mail/smtptest"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/server/servertest"
	"github.com/loomcast/loomcast/signup"
)

var anyCodeRE = regexp.MustCompile(`code (?:is )?([0-9]{6})`)

// mailOf waits for the message of kind sent to to about a request.
func mailOf(t *testing.T, env *servertest.Env, kind, to, requestID string) smtptest.Received {
	t.Helper()
	return env.SMTP.WaitFor(t, func(m smtptest.Received) bool {
		return m.Header.Get("X-Loomcast-Kind") == kind && m.To[0] == to && strings.Contains(m.Text, requestID)
	}, 10*time.Second)
}

// sentTo lists the kinds of mail sent to an address, but for its sign-up
// code.
func sentTo(env *servertest.Env, to string) []string {
	var kinds []string
	for _, m := range env.SMTP.Messages() {
		if m.To[0] == to && m.Header.Get("X-Loomcast-Kind") != signup.MailCode {
			kinds = append(kinds, m.Header.Get("X-Loomcast-Kind"))
		}
	}
	return kinds
}

// An authorised agent files for a consumer with the consumer's written
// permission attached, proves control of their own address, and nothing is
// disclosed until the consumer confirms from theirs; the answer goes to the
// consumer.
func TestAuthorisedAgentFilesForAConsumer(t *testing.T) {
	for _, d := range modelstest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			env := servertest.New(t, d, servertest.Options{})
			ctx := context.Background()
			consumer := env.Client()
			u := consumer.Register("consumer@example.com", pw)
			agent := env.Client()
			agent.FetchCSRF()
			permission := base64.StdEncoding.EncodeToString([]byte("I, the consumer, authorise Acme Privacy to request my data. Signed, C."))
			file := func(a map[string]any) *servertest.Response {
				return agent.Do(http.MethodPost, "/v1/privacy/requests/public", map[string]any{"email": "consumer@example.com",
					"type": "ccpa_know", "region": "US-CA", "agent": a})
			}

			for name, tc := range map[string]struct {
				agent map[string]any
				field string
			}{
				"no permission":       {map[string]any{"name": "Acme Privacy", "email": "agent@acme.example"}, "agent.permission"},
				"the consumer's mail": {map[string]any{"name": "Acme", "email": "Consumer@example.com", "permission": map[string]any{"content_type": "text/plain", "data": permission}}, "agent.email"},
				"an executable":       {map[string]any{"name": "Acme", "email": "agent@acme.example", "permission": map[string]any{"content_type": "application/x-msdownload", "data": permission}}, "agent.permission.content_type"},
				"not base64":          {map[string]any{"name": "Acme", "email": "agent@acme.example", "permission": map[string]any{"content_type": "text/plain", "data": "%%%"}}, "agent.permission.data"},
				"no name":             {map[string]any{"email": "agent@acme.example", "permission": map[string]any{"content_type": "text/plain", "data": permission}}, "agent.name"},
			} {
				t.Run(name, func(t *testing.T) {
					r := file(tc.agent)
					require.Equal(t, http.StatusBadRequest, r.Status, "body: %s", r.Body)
					require.Contains(t, r.Problem(t).Errors, tc.field)
				})
			}
			r := consumer.Do(http.MethodPost, "/v1/privacy/requests", map[string]any{"type": "access", "region": "FR", "password": pw,
				"agent": map[string]any{"name": "Acme", "email": "agent@acme.example"}})
			require.Equal(t, http.StatusBadRequest, r.Status, "an agent does not file from the consumer's account")

			r = file(map[string]any{"name": "Acme Privacy", "email": "agent@acme.example", "permission": map[string]any{"content_type": "text/plain", "data": permission}})
			require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
			var filed struct {
				ID string `json:"id"`
			}
			r.JSON(t, &filed)
			req, err := env.Store.PrivacyRequestByID(ctx, filed.ID)
			require.NoError(t, err)
			require.Equal(t, "agent", req.Source)
			keys, err := env.Blob.List(ctx, "privacy/agents/"+filed.ID+"/")
			require.NoError(t, err)
			require.Len(t, keys, 1, "the written permission is kept with the request")

			// The agent proves their own address.
			m := mailOf(t, env, "agent_verification_code", "agent@acme.example", filed.ID)
			agentCode := anyCodeRE.FindStringSubmatch(m.Text)[1]
			require.Empty(t, sentTo(env, "consumer@example.com"), "the consumer hears nothing before the agent is verified")
			verify := func(code string) *servertest.Response {
				return agent.Do(http.MethodPost, "/v1/privacy/requests/public/"+filed.ID+"/verify", map[string]string{"code": code})
			}
			r = verify(agentCode)
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			require.Contains(t, string(r.Body), "consumer to confirm")

			// Nothing is disclosed before the consumer confirms.
			m = mailOf(t, env, "agent_confirmation_code", "consumer@example.com", filed.ID)
			require.Contains(t, m.Text, "Acme Privacy (agent@acme.example)")
			consumerCode := anyCodeRE.FindStringSubmatch(m.Text)[1]
			req, err = env.Store.PrivacyRequestByID(ctx, filed.ID)
			require.NoError(t, err)
			require.Equal(t, loomcast.PrivacyVerifying, req.Status)
			require.Empty(t, req.ExportKey)
			if consumerCode != agentCode {
				require.Equal(t, http.StatusBadRequest, verify(agentCode).Status, "the agent's code does not stand for the consumer's")
			}
			r = verify(consumerCode)
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			req = waitForStored(t, env, filed.ID, loomcast.PrivacyClosed)
			require.Equal(t, u.ID, req.UserID)

			_, files := archiveOf(t, env, filed.ID)
			require.Contains(t, files, "right-to-know.txt")
			ack := mailOf(t, env, "acknowledgement", "consumer@example.com", filed.ID)
			require.Contains(t, ack.Text, "Your authorised agent Acme Privacy")
			require.Equal(t, []string{"agent_verification_code"}, sentTo(env, "agent@acme.example"), "the answer goes to the consumer, not the agent")
			staff := staffClient(t, env, "dpo@example.com", models.RolePrivacy)
			require.Contains(t, auditActions(t, staff, filed.ID), "agent agent verified")
		})
	}
}
