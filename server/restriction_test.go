package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/server/servertest"
)

// A restriction of processing works both ways: the person lifts it with
// their password, privacy staff can lift it too, and each lifting is in
// the security log.
func TestLiftingARestriction(t *testing.T) {
	for _, d := range modelstest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) { testLiftingARestriction(t, d) })
	}
}

func testLiftingARestriction(t *testing.T, d models.Dialect) {
	env := servertest.New(t, d, servertest.Options{})
	ctx := context.Background()
	c := env.Client()
	u := c.Register("paused@example.com", pw)
	channel := c.ConnectChannel("tiktok")
	upload := c.Upload(1<<16, time.Second)
	later := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	post := func() *servertest.Response {
		return c.Do(http.MethodPost, "/v1/posts", map[string]any{"channel_id": channel, "upload_id": upload, "privacy": "SELF_ONLY", "scheduled_at": later})
	}
	restrict := func() {
		at := time.Now()
		require.NoError(t, env.Store.SetRestricted(ctx, u.ID, &at))
		require.Equal(t, http.StatusConflict, post().Status, "nothing is published while restricted")
	}

	published := publishedTikTokPost(t, env, c, channel)
	env.TikTok.WaitWebhooks()
	waitApplied(t, env, 2)

	first, err := env.Store.PostByID(ctx, published.ID)
	require.NoError(t, err)
	restrict()
	// TikTok's notifications are stored, not applied, while it holds.
	body, sig := env.TikTok.Event("post.publish.no_longer_publicaly_available", externalID(t, env, channel),
		map[string]string{"publish_id": first.PublishID}, time.Now())
	require.Equal(t, http.StatusOK, postRaw(t, env, "/webhooks/tiktok", body, "TikTok-Signature", sig).Status)
	waitForEvent(t, env, body, models.WebhookDeferred)
	stored, err := env.Store.PostByID(ctx, published.ID)
	require.NoError(t, err)
	require.Equal(t, "public", stored.PublicState, "not applied while restricted")

	r := c.Do(http.MethodDelete, "/v1/me/restriction", nil)
	require.Equal(t, http.StatusUnauthorized, r.Status, "the password confirms it")
	require.Equal(t, "https://loomcast.dev/problems/reauthentication-required", r.Problem(t).Type)
	r = c.Do(http.MethodDelete, "/v1/me/restriction", map[string]string{"password": pw})
	require.Equal(t, http.StatusNoContent, r.Status, "body: %s", r.Body)
	require.Equal(t, http.StatusCreated, post().Status, "processing resumes")
	waitForEvent(t, env, body, models.WebhookApplied)
	stored, err = env.Store.PostByID(ctx, published.ID)
	require.NoError(t, err)
	require.Equal(t, "removed", stored.PublicState, "the deferred notification is applied once lifted")
	r = c.Do(http.MethodDelete, "/v1/me/restriction", map[string]string{"password": pw})
	require.Equal(t, http.StatusConflict, r.Status)
	require.Contains(t, r.Problem(t).Detail, "not restricted")

	restrict()
	support := staffClient(t, env, "helper@example.com", models.RoleSupport)
	require.Equal(t, http.StatusForbidden, support.Do(http.MethodDelete, "/v1/admin/users/"+u.ID+"/restriction", nil).Status, "privacy staff only")
	dpo := staffClient(t, env, "dpo@example.com", models.RolePrivacy)
	dpoUser, err := env.Store.UserByEmail(ctx, "dpo@example.com")
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, dpo.Do(http.MethodDelete, "/v1/admin/users/no-such-user/restriction", nil).Status)
	r = dpo.Do(http.MethodDelete, "/v1/admin/users/"+u.ID+"/restriction", nil)
	require.Equal(t, http.StatusNoContent, r.Status, "body: %s", r.Body)
	require.Equal(t, http.StatusCreated, post().Status)

	events, err := env.Store.UserSecurityEvents(ctx, u.ID)
	require.NoError(t, err)
	var lifted []string
	for _, e := range events {
		if e.Kind == "restriction_lifted" {
			lifted = append(lifted, e.Detail)
		}
	}
	require.Len(t, lifted, 2)
	require.ElementsMatch(t, []string{"lifted by the person", "lifted by privacy staff " + dpoUser.ID}, lifted)
}
