package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/privacy/scan"
	"github.com/loomcast/loomcast/server/servertest"
	"github.com/loomcast/loomcast/workflows/accounts"
	wfchannels "github.com/loomcast/loomcast/workflows/channels"
)

// Closing an account stops its processing at once (policy 004 section 10
// keeps the data for a 30-day export grace, not the processing): each
// scheduled post is cancelled with the reason, each channel disconnected
// with its grants deleted, and its token refresh ends.
func TestClosingAnAccountStopsItsProcessing(t *testing.T) {
	for _, d := range modelstest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) { testClosingStopsProcessing(t, d) })
	}
}

func testClosingStopsProcessing(t *testing.T, d models.Dialect) {
	env := servertest.New(t, d, servertest.Options{})
	ctx := context.Background()
	c := env.Client()
	u := c.Register("closing@example.com", goodPassword)
	tiktokID := c.ConnectChannel("tiktok")
	youtubeID := c.ConnectChannel("youtube")
	upload := c.Upload(1<<20, 10*time.Second)
	later := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	r := c.Do(http.MethodPost, "/v1/posts", map[string]any{"channel_id": tiktokID, "upload_id": upload, "caption": "tomorrow",
		"privacy": "SELF_ONLY", "scheduled_at": later})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var post struct {
		ID string `json:"id"`
	}
	r.JSON(t, &post)

	r = c.Do(http.MethodDelete, "/v1/me", map[string]string{"password": goodPassword})
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)

	require.Eventually(t, func() bool {
		p, err := env.Store.PostByID(ctx, post.ID)
		return err == nil && p.Status == loomcast.PostCancelled
	}, 60*time.Second, 100*time.Millisecond, "the scheduled post is cancelled")
	p, err := env.Store.PostByID(ctx, post.ID)
	require.NoError(t, err)
	require.Equal(t, accounts.ClosedReason, p.FailureReason)

	for _, id := range []string{tiktokID, youtubeID} {
		require.Eventually(t, func() bool {
			ch, err := env.Store.ChannelByID(ctx, id)
			return err == nil && ch.Status == loomcast.ChannelDisconnected
		}, 60*time.Second, 100*time.Millisecond, "channel %s is disconnected", id)
		ch, err := env.Store.ChannelByID(ctx, id)
		require.NoError(t, err)
		require.Equal(t, accounts.ClosedReason, ch.StatusReason)
		require.Nil(t, ch.AccessTokenSealed, "its grant is deleted")
		require.Nil(t, ch.RefreshTokenSealed)
		if ch.Platform == loomcast.TikTok {
			require.Zero(t, env.TikTok.LiveGrants(ch.ExternalID), "the grant is revoked at TikTok")
		} else {
			require.Zero(t, env.YouTube.LiveGrants(ch.ExternalID), "the grant is revoked at Google")
		}
		require.Eventually(t, func() bool {
			desc, err := env.Temporal.DescribeWorkflowExecution(ctx, wfchannels.TokenRefreshWorkflowID(id), "")
			return err == nil && desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
		}, 60*time.Second, 100*time.Millisecond, "the token refresh of %s ends", id)
	}

	got, err := env.Store.UserByID(ctx, u.ID)
	require.NoError(t, err, "the account itself is kept for its export grace")
	require.NotNil(t, got.ClosedAt)

	// During the grace the person, signed out for good, still gets a copy
	// of their data through the public form.
	anon := env.Client()
	anon.FetchCSRF()
	r = anon.Do(http.MethodPost, "/v1/privacy/requests/public", map[string]any{"email": "closing@example.com", "type": "access", "region": "FR"})
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	var filed struct {
		ID string `json:"id"`
	}
	r.JSON(t, &filed)
	code := codeFor(t, env, filed.ID, 0)
	r = anon.Do(http.MethodPost, "/v1/privacy/requests/public/"+filed.ID+"/verify", map[string]string{"code": code})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	require.Eventually(t, func() bool {
		req, err := env.Store.PrivacyRequestByID(ctx, filed.ID)
		return err == nil && req.UserID == u.ID && req.Status == loomcast.PrivacyClosed
	}, 60*time.Second, 200*time.Millisecond, "the access request of a closed account is carried out")
	_, files := archiveOf(t, env, filed.ID)
	require.Contains(t, files["data/posts.json"], "tomorrow", "the closed account's posts are in its archive")
	require.Contains(t, files["data/users.json"], u.ID)

	// An erasure during the grace completes at once, and takes the pending
	// purge (which names the person) with it.
	u0, err := env.Store.UserByID(ctx, u.ID)
	require.NoError(t, err)
	channels, err := env.Store.AllUserChannels(ctx, u.ID)
	require.NoError(t, err)
	ids := scan.ForAccount(u0, channels)
	pending, err := env.Store.UpcomingRetention(ctx, "closed_accounts", 10)
	require.NoError(t, err)
	require.Len(t, pending, 1, "the purge waits for the end of the grace")
	env.Clock.Advance(2 * time.Minute) // past the public form's resend pause
	r = anon.Do(http.MethodPost, "/v1/privacy/requests/public", map[string]any{"email": "closing@example.com", "type": "erasure", "region": "FR"})
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	r.JSON(t, &filed)
	r = anon.Do(http.MethodPost, "/v1/privacy/requests/public/"+filed.ID+"/verify", map[string]string{"code": codeFor(t, env, filed.ID, 0)})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	waitForStored(t, env, filed.ID, loomcast.PrivacyClosed)
	_, err = env.Store.UserByID(ctx, u.ID)
	require.ErrorIs(t, err, models.ErrNotFound, "erased without waiting for the grace to end")
	pending, err = env.Store.UpcomingRetention(ctx, "closed_accounts", 10)
	require.NoError(t, err)
	require.Empty(t, pending, "the pending purge went with it")
	requireErased(t, env, u.ID, ids)
}
