package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/privacy/scan"
	"github.com/loomcast/loomcast/server/servertest"
	"github.com/loomcast/loomcast/workflows"
)

// waitForStored waits for a request to reach one of the statuses, read
// from the store (the person's sessions may be gone).
func waitForStored(t *testing.T, env *servertest.Env, id string, statuses ...string) models.PrivacyRequest {
	t.Helper()
	var req models.PrivacyRequest
	require.Eventually(t, func() bool {
		var err error
		req, err = env.Store.PrivacyRequestByID(context.Background(), id)
		if err != nil {
			return false
		}
		for _, s := range statuses {
			if req.Status == s {
				return true
			}
		}
		return false
	}, 60*time.Second, 200*time.Millisecond, "request %s never reached %v", id, statuses)
	return req
}

// requireErased runs the completeness scan independently of the erasure:
// nothing of the person is left outside the request's own records, in the
// database or in blob storage, and Temporal keeps no execution of theirs
// but their requests' own. allowed, when given, accepts a trace the answer
// names (a shared platform account's own records).
func requireErased(t *testing.T, env *servertest.Env, userID string, ids scan.Identifiers, allowed ...func(scan.Trace) bool) {
	t.Helper()
	ctx := context.Background()
	traces, err := scan.Scan(ctx, env.Store.DB(), env.Store.Dialect(), env.Blob, ids,
		scan.Options{Exclude: []scan.Exclusion{{Table: "privacy_requests"}, {Table: "privacy_audit"}}})
	require.NoError(t, err)
	for _, tr := range traces {
		ok := false
		for _, a := range allowed {
			ok = ok || a(tr)
		}
		require.True(t, ok, "a trace of the person is left: %s", tr)
	}
	require.Eventually(t, func() bool {
		resp, err := env.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("%s = %q", workflows.UserIDKey.GetName(), userID)})
		if err != nil {
			return false
		}
		for _, e := range resp.GetExecutions() {
			if !strings.HasPrefix(e.GetExecution().GetWorkflowId(), "dsr-") {
				return false
			}
		}
		return true
	}, 20*time.Second, 200*time.Millisecond, "the person's workflow executions are deleted")
}

// A person under a legal hold asks for erasure: staff review it before
// anything is deleted; on approval everything the hold does not keep goes
// and the held records are restricted; when the hold is released the
// erasure completes by itself and leaves no trace, not even in the hold.
func TestErasureOfAHeldPerson(t *testing.T) {
	for _, d := range modelstest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			env := servertest.New(t, d, servertest.Options{})
			env.StartWorker(nil)
			ctx := context.Background()
			c := env.Client()
			u := c.Register("held@example.com", pw)
			channel := c.ConnectChannel("tiktok")
			upload := c.Upload(1<<16, time.Second)
			r := c.Do(http.MethodPost, "/v1/posts", map[string]any{"channel_id": channel, "upload_id": upload, "caption": "later",
				"privacy": "SELF_ONLY", "scheduled_at": env.Clock.Now().Add(12 * time.Hour).Format(time.RFC3339)})
			require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
			var post struct {
				ID string `json:"id"`
			}
			r.JSON(t, &post)
			u0, err := env.Store.UserByID(ctx, u.ID)
			require.NoError(t, err)
			channels, err := env.Store.UserChannels(ctx, u.ID)
			require.NoError(t, err)
			ids := scan.ForAccount(u0, channels)

			staff := staffClient(t, env, "dpo@example.com", models.RolePrivacy)
			r = staff.Do(http.MethodPost, "/v1/admin/holds", map[string]any{"user_id": u.ID, "reason": "litigation 2026-114"})
			require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
			var hold struct {
				ID string `json:"id"`
			}
			r.JSON(t, &hold)

			r = c.Do(http.MethodPost, "/v1/privacy/requests", map[string]any{"type": "erasure", "region": "FR", "password": pw})
			require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
			var p privacyJSON
			r.JSON(t, &p)
			waitForStored(t, env, p.ID, loomcast.PrivacyInReview)
			ch, err := env.Store.ChannelByID(ctx, channel)
			require.NoError(t, err)
			require.NotNil(t, ch.AccessTokenSealed, "nothing is touched before staff decide")
			require.Equal(t, http.StatusOK, c.Do(http.MethodGet, "/v1/me", nil).Status)

			r = staff.Do(http.MethodPost, "/v1/admin/privacy/requests/"+p.ID+"/review", map[string]any{"approve": true})
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			req := waitForStored(t, env, p.ID, loomcast.PrivacyAnswered)
			require.Contains(t, req.Answer, "legal hold", "the answer names the held records and why")
			require.Nil(t, req.ClosedAt, "the erasure is not complete while the hold lasts")

			// What the hold does not keep is gone; what it keeps is
			// restricted.
			held, err := env.Store.UserByID(ctx, u.ID)
			require.NoError(t, err, "the held account stays")
			require.NotNil(t, held.ClosedAt)
			require.NotNil(t, held.RestrictedAt)
			ch, err = env.Store.ChannelByID(ctx, channel)
			require.NoError(t, err)
			require.Nil(t, ch.AccessTokenSealed, "the grant is revoked and its tokens deleted")
			require.Equal(t, loomcast.ChannelDisconnected, ch.Status)
			_, err = env.Store.PostByID(ctx, post.ID)
			require.NoError(t, err, "the held posts stay")
			require.Equal(t, http.StatusUnauthorized, c.Do(http.MethodGet, "/v1/me", nil).Status, "the sessions ended")

			r = staff.Do(http.MethodDelete, "/v1/admin/holds/"+hold.ID, nil)
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			req = waitForStored(t, env, p.ID, loomcast.PrivacyClosed)
			require.Contains(t, req.Answer, "record of this request", "the final answer names what is kept and why")
			_, err = env.Store.UserByID(ctx, u.ID)
			require.ErrorIs(t, err, models.ErrNotFound)

			holds, err := env.Store.Holds(ctx, true)
			require.NoError(t, err)
			require.Len(t, holds, 1)
			require.Empty(t, holds[0].UserID, "a released hold keeps no user ID")
			requireErased(t, env, u.ID, ids)
		})
	}
}
