package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/loomcast/loomcast/media"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/server/servertest"
	"github.com/loomcast/loomcast/tiktok"
	tiktokfake "github.com/loomcast/loomcast/tiktok/fake"
	"github.com/loomcast/loomcast/workflows/posting"
)

type postJSON struct {
	ID             string     `json:"id"`
	Status         string     `json:"status"`
	ScheduledAt    time.Time  `json:"scheduled_at"`
	PublishedAt    *time.Time `json:"published_at"`
	PlatformPostID string     `json:"platform_post_id"`
	PublicURL      string     `json:"public_url"`
	FailureReason  string     `json:"failure_reason"`
	Caption        string     `json:"caption"`
	History        []struct {
		Status string    `json:"status"`
		Detail string    `json:"detail"`
		At     time.Time `json:"at"`
	} `json:"history"`
}

// waitForPost polls the read model until the post leaves the given statuses.
func waitForPost(t *testing.T, c *servertest.Client, id string, until ...string) postJSON {
	t.Helper()
	var p postJSON
	require.Eventually(t, func() bool {
		r := c.Do(http.MethodGet, "/v1/posts/"+id, nil)
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &p) != nil {
			return false
		}
		return slices.Contains(until, p.Status)
	}, 90*time.Second, 200*time.Millisecond, "post %s never reached %v", id, until)
	return p
}

func createPost(t *testing.T, c *servertest.Client, body map[string]any, header ...string) *servertest.Response {
	t.Helper()
	return c.Do(http.MethodPost, "/v1/posts", body, header...)
}

// TestPublishEndToEnd goes through the HTTP API, the embedded Temporal
// server, the worker and both platform fakes.
func TestPublishEndToEnd(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	c := env.Client()
	c.Register("creator@example.com", goodPassword)
	tiktokID := c.ConnectChannel("tiktok")
	youtubeID := c.ConnectChannel("youtube")

	r := c.Do(http.MethodGet, "/v1/channels", nil)
	require.Equal(t, http.StatusOK, r.Status)
	var chans struct {
		Channels []struct {
			ID, Platform, Status string
		} `json:"channels"`
	}
	r.JSON(t, &chans)
	require.Len(t, chans.Channels, 2)
	require.NotContains(t, string(r.Body), "token", "tokens never leave the server")

	uploadID := c.Upload(20<<20, 30*time.Second)
	when := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339Nano)
	ids := map[string]string{}
	for platform, ch := range map[string]string{"tiktok": tiktokID, "youtube": youtubeID} {
		privacy := "PUBLIC_TO_EVERYONE"
		if platform == "youtube" {
			privacy = "public"
		}
		r := createPost(t, c, map[string]any{"channel_id": ch, "upload_id": uploadID, "caption": "Hello from " + platform,
			"privacy": privacy, "allow_comment": true, "scheduled_at": when})
		require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
		var p postJSON
		r.JSON(t, &p)
		require.Equal(t, "scheduled", p.Status)
		ids[platform] = p.ID
	}

	for platform, id := range ids {
		p := waitForPost(t, c, id, "published", "failed")
		require.Equal(t, "published", p.Status, "%s: %s", platform, p.FailureReason)
		// TikTok's webhook may report the post published before the
		// platform's ID arrives (from status/fetch or a later webhook).
		require.Eventually(t, func() bool {
			r := c.Do(http.MethodGet, "/v1/posts/"+id, nil)
			return r.Status == http.StatusOK && json.Unmarshal(r.Body, &p) == nil && p.PlatformPostID != ""
		}, 30*time.Second, 100*time.Millisecond, "%s: the platform's post ID", platform)
		// The user sees the link to the published post.
		want := "https://www.youtube.com/watch?v=" + p.PlatformPostID
		if platform == "tiktok" {
			want = "https://www.tiktok.com/@" + externalID(t, env, tiktokID) + "/video/" + p.PlatformPostID // the sandbox's username is its open_id
		}
		require.Equal(t, want, p.PublicURL, platform)
		require.NotNil(t, p.PublishedAt)
		var statuses []string
		for _, h := range p.History {
			statuses = append(statuses, h.Status)
		}
		require.Contains(t, statuses, "publishing", platform)
		require.Equal(t, "published", statuses[len(statuses)-1], platform)
	}

	// Exactly one post reached each platform, with every byte.
	tt := env.TikTok.Posts()
	require.Len(t, tt, 1)
	require.EqualValues(t, 20<<20, tt[0].Received)
	yt := env.YouTube.Videos()
	require.Len(t, yt, 1)
	require.EqualValues(t, 20<<20, yt[0].Received)

	// The upload is deleted once published.
	require.Eventually(t, func() bool {
		up, err := env.Store.UploadByID(context.Background(), uploadID)
		return err == nil && up.DeletedAt != nil
	}, 10*time.Second, 100*time.Millisecond)
	keys, err := env.Blob.List(context.Background(), "uploads/")
	require.NoError(t, err)
	require.Empty(t, keys)

	t.Run("support sees the processes and readable histories without tokens", func(t *testing.T) {
		staff := env.Client()
		su := staff.Register("support@loomcast.example.com", goodPassword)
		require.NoError(t, env.Store.SetRole(context.Background(), su.ID, models.RoleSupport))
		me := c.Do(http.MethodGet, "/v1/me", nil)
		var u servertest.SessionUser
		me.JSON(t, &u)

		var list struct {
			Workflows []struct {
				WorkflowID string `json:"workflow_id"`
				Kind       string `json:"kind"`
				ObjectID   string `json:"object_id"`
			} `json:"workflows"`
		}
		require.Eventually(t, func() bool {
			r := staff.Do(http.MethodGet, "/v1/admin/users/"+u.ID+"/workflows", nil)
			return r.Status == http.StatusOK && json.Unmarshal(r.Body, &list) == nil &&
				len(list.Workflows) >= 4 // two posts, two token refreshes, the upload expiry...
		}, 15*time.Second, 200*time.Millisecond)
		kinds := map[string]bool{}
		for _, w := range list.Workflows {
			kinds[w.Kind] = true
		}
		require.True(t, kinds["post"] && kinds["token-refresh"], "kinds: %v", kinds)

		r := staff.Do(http.MethodGet, "/v1/admin/workflows/"+posting.PublishWorkflowID(ids["tiktok"])+"/history", nil)
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		require.Contains(t, string(r.Body), "InitTikTokPost")
		require.Contains(t, string(r.Body), "UploadTikTokChunks")

		// No token or secret in any history, raw or readable.
		ch, err := env.Store.ChannelByID(context.Background(), tiktokID)
		require.NoError(t, err)
		access, err := env.Grants.Vault.Open(*ch.AccessTokenSealed, "channel:"+ch.ID+":access")
		require.NoError(t, err)
		refresh, err := env.Grants.Vault.Open(*ch.RefreshTokenSealed, "channel:"+ch.ID+":refresh")
		require.NoError(t, err)
		for _, id := range []string{posting.PublishWorkflowID(ids["tiktok"]), "token-refresh-" + tiktokID} {
			iter := env.Temporal.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for iter.HasNext() {
				ev, err := iter.Next()
				require.NoError(t, err)
				raw, err := json.Marshal(ev)
				require.NoError(t, err)
				require.NotContains(t, string(raw), access, id)
				require.NotContains(t, string(raw), refresh, id)
			}
		}
		require.NotContains(t, string(r.Body), access)

		// Nor an upload secret: TikTok's upload URL carries an upload token
		// and YouTube's resumable session URI an upload ID; both publish
		// paths' histories are searched, and the stored session is sealed.
		for _, platform := range []string{"tiktok", "youtube"} {
			requireNotInHistory(t, env, posting.PublishWorkflowID(ids[platform]), "upload_token", "upload_id=", "uploadType=resumable")
		}
		post, err := env.Store.PostByID(context.Background(), ids["tiktok"])
		require.NoError(t, err)
		require.NotContains(t, post.UploadSession, "upload_token", "the upload URL is stored sealed")
		require.NotContains(t, post.UploadSession, "http")

		// A user is not staff.
		require.Equal(t, http.StatusForbidden, c.Do(http.MethodGet, "/v1/admin/users/"+u.ID+"/workflows", nil).Status)
	})
}

func TestPostsAPI(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	c := env.Client()
	c.Register("poster@example.com", goodPassword)
	tiktokID := c.ConnectChannel("tiktok")
	youtubeID := c.ConnectChannel("youtube")
	uploadID := c.Upload(1<<20, 20*time.Second)
	later := env.Clock.Now().Add(3 * time.Hour).Format(time.RFC3339)
	base := func() map[string]any {
		return map[string]any{"channel_id": tiktokID, "upload_id": uploadID, "caption": "hi", "privacy": "PUBLIC_TO_EVERYONE", "scheduled_at": later}
	}

	other := env.Client()
	other.Register("other@example.com", goodPassword)
	otherChannel := other.ConnectChannel("tiktok")
	otherUpload := other.Upload(1<<20, time.Second)

	t.Run("bad input is a clear 4xx", func(t *testing.T) {
		with := func(k string, v any) map[string]any {
			b := base()
			b[k] = v
			return b
		}
		tests := []struct {
			name   string
			body   map[string]any
			status int
			field  string
		}{
			{"unknown channel", with("channel_id", models.NewID()), http.StatusNotFound, "channel_id"},
			{"another user's channel", with("channel_id", otherChannel), http.StatusNotFound, "channel_id"},
			{"another user's upload", with("upload_id", otherUpload), http.StatusNotFound, "upload_id"},
			{"past time", with("scheduled_at", env.Clock.Now().Add(-time.Hour).Format(time.RFC3339)), http.StatusBadRequest, "scheduled_at"},
			{"garbage time", with("scheduled_at", "tomorrow-ish"), http.StatusBadRequest, "scheduled_at"},
			{"invalid timezone", with("timezone", "Mars/Olympus"), http.StatusBadRequest, "timezone"},
			{"after the upload expires", with("scheduled_at", env.Clock.Now().Add(25*time.Hour).Format(time.RFC3339)), http.StatusBadRequest, "scheduled_at"},
			{"privacy level not offered", with("privacy", "EVERYONE_AND_ALIENS"), http.StatusBadRequest, "privacy"},
			{"youtube privacy", map[string]any{"channel_id": youtubeID, "upload_id": uploadID, "privacy": "PUBLIC_TO_EVERYONE", "scheduled_at": later}, http.StatusBadRequest, "privacy"},
			{"caption too long", with("caption", strings.Repeat("x", 2201)), http.StatusBadRequest, "caption"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := createPost(t, c, tt.body)
				require.Equal(t, tt.status, r.Status, "body: %s", r.Body)
				require.Contains(t, r.Problem(t).Errors, tt.field)
			})
		}
		r := c.Do(http.MethodPost, "/v1/posts", `{"channel_id":`)
		require.Equal(t, http.StatusBadRequest, r.Status)
	})

	t.Run("creator info limits are enforced", func(t *testing.T) {
		ci := tiktok.CreatorInfo{PrivacyLevelOptions: []string{"SELF_ONLY"}, DuetDisabled: true, MaxVideoPostDurationSec: 10}
		env.TikTok.SetCreatorInfo(externalID(t, env, tiktokID), ci)
		defer env.TikTok.SetCreatorInfo(externalID(t, env, tiktokID), tiktok.CreatorInfo{
			PrivacyLevelOptions: []string{"PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"}, MaxVideoPostDurationSec: 600})
		b := base()
		b["privacy"], b["allow_duet"] = "SELF_ONLY", true
		r := createPost(t, c, b)
		require.Equal(t, http.StatusBadRequest, r.Status, "body: %s", r.Body)
		p := r.Problem(t)
		require.Contains(t, p.Errors, "allow_duet")
		require.Contains(t, p.Errors, "upload_id", "the 20 s video is longer than the 10 s allowed")

		r = c.Do(http.MethodGet, "/v1/channels/"+tiktokID+"/creator-info", nil)
		require.Equal(t, http.StatusOK, r.Status)
		require.Contains(t, string(r.Body), `"duet_disabled":true`)
		require.Equal(t, "no-store", r.Header.Get("Cache-Control"))
		require.Equal(t, http.StatusNotFound, other.Do(http.MethodGet, "/v1/channels/"+tiktokID+"/creator-info", nil).Status)
	})

	t.Run("idempotency key", func(t *testing.T) {
		r1 := createPost(t, c, base(), "Idempotency-Key", "k-1")
		require.Equal(t, http.StatusCreated, r1.Status, "body: %s", r1.Body)
		r2 := createPost(t, c, base(), "Idempotency-Key", "k-1")
		require.Equal(t, http.StatusCreated, r2.Status)
		var p1, p2 postJSON
		r1.JSON(t, &p1)
		r2.JSON(t, &p2)
		require.Equal(t, p1.ID, p2.ID, "a retried request never makes two posts")
		b := base()
		b["caption"] = "different"
		require.Equal(t, http.StatusConflict, createPost(t, c, b, "Idempotency-Key", "k-1").Status)
	})

	t.Run("reschedule, edit, cancel and 409 after", func(t *testing.T) {
		r := createPost(t, c, base())
		require.Equal(t, http.StatusCreated, r.Status)
		var p postJSON
		r.JSON(t, &p)

		newTime := env.Clock.Now().Add(5 * time.Hour).UTC().Truncate(time.Second)
		r = c.Do(http.MethodPatch, "/v1/posts/"+p.ID, map[string]any{"scheduled_at": newTime.Format(time.RFC3339), "caption": "edited"})
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		r.JSON(t, &p)
		require.True(t, p.ScheduledAt.Equal(newTime), "got %s", p.ScheduledAt)
		require.Equal(t, "edited", p.Caption)

		r = c.Do(http.MethodPatch, "/v1/posts/"+p.ID, map[string]any{"privacy": "NOT_AN_OPTION"})
		require.Equal(t, http.StatusBadRequest, r.Status)

		require.Equal(t, http.StatusNotFound, other.Do(http.MethodDelete, "/v1/posts/"+p.ID, nil).Status, "another user's post is a 404")

		r = c.Do(http.MethodDelete, "/v1/posts/"+p.ID, nil)
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		r.JSON(t, &p)
		require.Equal(t, "cancelled", p.Status)
		r = c.Do(http.MethodDelete, "/v1/posts/"+p.ID, nil)
		require.Equal(t, http.StatusConflict, r.Status)
		require.Equal(t, "The post is already cancelled.", r.Problem(t).Detail)
		require.Equal(t, http.StatusConflict, c.Do(http.MethodPatch, "/v1/posts/"+p.ID, map[string]any{"caption": "x"}).Status)
	})

	t.Run("local time in the user's timezone across daylight saving", func(t *testing.T) {
		// The user registered in Europe/Paris. Give the upload's window room.
		loc, _ := time.LoadLocation("Europe/Paris")
		local := env.Clock.Now().In(loc).Add(2 * time.Hour)
		b := base()
		b["scheduled_at"] = local.Format("2006-01-02T15:04")
		r := createPost(t, c, b)
		require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
		var p postJSON
		r.JSON(t, &p)
		want := time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), 0, 0, loc)
		require.True(t, p.ScheduledAt.Equal(want), "got %s want %s", p.ScheduledAt, want)
	})

	t.Run("list is paginated and filtered", func(t *testing.T) {
		r := c.Do(http.MethodGet, "/v1/posts?limit=2", nil)
		require.Equal(t, http.StatusOK, r.Status)
		var page struct {
			Posts      []postJSON `json:"posts"`
			NextCursor string     `json:"next_cursor"`
		}
		r.JSON(t, &page)
		require.Len(t, page.Posts, 2)
		require.NotEmpty(t, page.NextCursor)
		seen := map[string]bool{page.Posts[0].ID: true, page.Posts[1].ID: true}
		r = c.Do(http.MethodGet, "/v1/posts?limit=2&cursor="+page.NextCursor, nil)
		r.JSON(t, &page)
		require.NotEmpty(t, page.Posts, "the second page")
		for _, p := range page.Posts {
			require.False(t, seen[p.ID], "pages do not overlap")
		}
		r = c.Do(http.MethodGet, "/v1/posts?status=cancelled", nil)
		r.JSON(t, &page)
		require.Len(t, page.Posts, 1)
		require.Equal(t, "cancelled", page.Posts[0].Status)
		require.Equal(t, http.StatusBadRequest, c.Do(http.MethodGet, "/v1/posts?status=weird", nil).Status)
		r = other.Do(http.MethodGet, "/v1/posts", nil)
		r.JSON(t, &page)
		require.Empty(t, page.Posts, "no one sees another user's posts")
	})

	t.Run("disconnecting a channel cancels its scheduled posts with a reason", func(t *testing.T) {
		r := createPost(t, c, base())
		require.Equal(t, http.StatusCreated, r.Status)
		var p postJSON
		r.JSON(t, &p)
		require.Equal(t, http.StatusNotFound, other.Do(http.MethodDelete, "/v1/channels/"+tiktokID, nil).Status)
		require.Equal(t, http.StatusNoContent, c.Do(http.MethodDelete, "/v1/channels/"+tiktokID, nil).Status)
		r = c.Do(http.MethodGet, "/v1/posts/"+p.ID, nil)
		r.JSON(t, &p)
		require.Equal(t, "cancelled", p.Status)
		require.Contains(t, p.FailureReason, "disconnected")
		ch, err := env.Store.ChannelByID(context.Background(), tiktokID)
		require.NoError(t, err)
		require.Nil(t, ch.AccessTokenSealed, "tokens are deleted at once")
		require.Nil(t, ch.RefreshTokenSealed)

		// Its profile is erased at once by retention (policy 000 section 6:
		// "until you disconnect"); the row stays for the post's metadata.
		require.Eventually(t, func() bool {
			ch, err := env.Store.ChannelByID(context.Background(), tiktokID)
			return err == nil && ch.DisplayName == "" && ch.ExternalID == "erased:"+tiktokID
		}, 10*time.Second, 50*time.Millisecond, "the disconnected channel's profile is erased")

		// Connecting it again gives a channel with working tokens.
		again := c.ConnectChannel("tiktok")
		r = c.Do(http.MethodGet, "/v1/channels/"+again+"/creator-info", nil)
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	})
}

func externalID(t *testing.T, env *servertest.Env, channelID string) string {
	ch, err := env.Store.ChannelByID(context.Background(), channelID)
	require.NoError(t, err)
	return ch.ExternalID
}

func TestUploads(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	c := env.Client()
	c.Register("up@example.com", goodPassword)

	t.Run("mp4 with duration", func(t *testing.T) {
		id := c.Upload(3<<20, 42*time.Second)
		up, err := env.Store.UploadByID(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, "video/mp4", up.ContentType)
		require.NotNil(t, up.DurationMS)
		require.EqualValues(t, 42000, *up.DurationMS)
		require.WithinDuration(t, env.Clock.Now().Add(24*time.Hour), up.ExpiresAt, time.Second)
	})

	t.Run("wrong content type from the bytes", func(t *testing.T) {
		r := c.Do(http.MethodPost, "/v1/uploads", []byte("this is plainly not a video at all, just text"), "Content-Type", "video/mp4")
		require.Equal(t, http.StatusUnsupportedMediaType, r.Status)
		r.Problem(t)
	})
}

func TestUploadTooLarge(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{MaxUploadBytes: 1 << 20})
	c := env.Client()
	c.Register("big@example.com", goodPassword)
	var buf bytes.Buffer
	require.NoError(t, media.SyntheticMP4(&buf, 2<<20, time.Second))
	r := c.Do(http.MethodPost, "/v1/uploads", buf.Bytes(), "Content-Type", "video/mp4")
	require.Equal(t, http.StatusRequestEntityTooLarge, r.Status, "body: %s", r.Body)
	require.Contains(t, r.Problem(t).Detail, "1 MiB")
	keys, err := env.Blob.List(context.Background(), "uploads/")
	require.NoError(t, err)
	require.Empty(t, keys, "nothing of a refused upload is kept")
}

func TestSupportCancelsAndRetries(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	c := env.Client()
	c.Register("helped@example.com", goodPassword)
	channel := c.ConnectChannel("tiktok")
	staff := env.Client()
	su := staff.Register("agent@loomcast.example.com", goodPassword)
	require.NoError(t, env.Store.SetRole(context.Background(), su.ID, models.RoleSupport))

	t.Run("cancel a scheduled post", func(t *testing.T) {
		r := createPost(t, c, map[string]any{"channel_id": channel, "upload_id": c.Upload(1<<20, time.Second), "privacy": "SELF_ONLY",
			"scheduled_at": env.Clock.Now().Add(time.Hour).Format(time.RFC3339)})
		require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
		var p postJSON
		r.JSON(t, &p)
		require.Equal(t, http.StatusForbidden, c.Do(http.MethodPost, "/v1/admin/posts/"+p.ID+"/cancel", nil).Status, "users are not staff")
		r = staff.Do(http.MethodPost, "/v1/admin/posts/"+p.ID+"/cancel", nil)
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		r.JSON(t, &p)
		require.Equal(t, "cancelled", p.Status)
		require.Contains(t, p.History[len(p.History)-1].Detail, "support:"+su.ID)
		require.Equal(t, http.StatusConflict, staff.Do(http.MethodPost, "/v1/admin/posts/"+p.ID+"/retry", nil).Status, "only failed posts are retried")
	})

	t.Run("retry a failed post as a new attempt", func(t *testing.T) {
		env.TikTok.FailNext("/v2/post/publish/video/init/", tiktokfake.Failure{Code: "spam_risk_too_many_posts"})
		r := createPost(t, c, map[string]any{"channel_id": channel, "upload_id": c.Upload(1<<20, time.Second), "privacy": "SELF_ONLY",
			"scheduled_at": "now"})
		require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
		var p postJSON
		r.JSON(t, &p)
		p = waitForPost(t, c, p.ID, "failed", "published")
		require.Equal(t, "failed", p.Status)
		require.Contains(t, p.FailureReason, "spam_risk_too_many_posts", "the platform's reason reaches the user")

		// The failed run records the failure before it closes; a retry in
		// between races it (see the team note), so wait for it to close.
		require.Eventually(t, func() bool {
			d, err := env.Temporal.DescribeWorkflowExecution(context.Background(), "post-"+p.ID, "")
			return err == nil && d.GetWorkflowExecutionInfo().GetCloseTime() != nil
		}, 30*time.Second, 50*time.Millisecond)
		r = staff.Do(http.MethodPost, "/v1/admin/posts/"+p.ID+"/retry", nil)
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		p = waitForPost(t, c, p.ID, "published", "failed")
		require.Equal(t, "published", p.Status, p.FailureReason)
		var attempt struct {
			Attempt int `json:"attempt"`
		}
		c.Do(http.MethodGet, "/v1/posts/"+p.ID, nil).JSON(t, &attempt)
		require.Equal(t, 2, attempt.Attempt)
	})
}

func TestMultipartUpload(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	c := env.Client()
	c.Register("form@example.com", goodPassword)
	var video bytes.Buffer
	require.NoError(t, media.SyntheticMP4(&video, 256<<10, 3*time.Second))
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	require.NoError(t, mw.WriteField("note", "ignored"))
	fw, err := mw.CreateFormFile("file", "clip.mp4")
	require.NoError(t, err)
	_, err = fw.Write(video.Bytes())
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	r := c.Do(http.MethodPost, "/v1/uploads", body.Bytes(), "Content-Type", mw.FormDataContentType())
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var up struct {
		Size       int64  `json:"size"`
		DurationMS *int64 `json:"duration_ms"`
	}
	r.JSON(t, &up)
	require.EqualValues(t, 256<<10, up.Size)
	require.NotNil(t, up.DurationMS)
	require.EqualValues(t, 3000, *up.DurationMS)

	var empty bytes.Buffer
	mw = multipart.NewWriter(&empty)
	require.NoError(t, mw.WriteField("note", "no file here"))
	require.NoError(t, mw.Close())
	r = c.Do(http.MethodPost, "/v1/uploads", empty.Bytes(), "Content-Type", mw.FormDataContentType())
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Contains(t, r.Problem(t).Detail, `"file"`)
}
