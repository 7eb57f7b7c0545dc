package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/server/servertest"
)

// A TikTok post discloses commercial content as TikTok's direct-post
// guidelines ask: the creator's own business, or a third party's (branded
// content), which cannot be private, on create and on edit; the toggles
// reach TikTok.
func TestCommercialContentDisclosure(t *testing.T) {
	for _, d := range modelstest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			env := servertest.New(t, d, servertest.Options{})
			c := env.Client()
			c.Register("brand@example.com", goodPassword)
			tiktokID := c.ConnectChannel("tiktok")
			youtubeID := c.ConnectChannel("youtube")
			upload := c.Upload(1<<20, 5*time.Second)
			later := env.Clock.Now().Add(3 * time.Hour).Format(time.RFC3339)
			post := func(channel, privacy, when string, disclose any) *servertest.Response {
				body := map[string]any{"channel_id": channel, "upload_id": upload, "caption": "sponsored", "privacy": privacy, "scheduled_at": when}
				if disclose != nil {
					body["disclose_commercial_content"] = disclose
				}
				return createPost(t, c, body)
			}

			for name, tc := range map[string]struct {
				channel, privacy string
				disclose         any
				field            string
			}{
				"branded content cannot be private": {tiktokID, "SELF_ONLY", map[string]bool{"branded_content": true}, "disclose_commercial_content.branded_content"},
				"a disclosure must choose":          {tiktokID, "PUBLIC_TO_EVERYONE", map[string]bool{}, "disclose_commercial_content"},
				"YouTube has no such setting":       {youtubeID, "public", map[string]bool{"your_brand": true}, "disclose_commercial_content"},
			} {
				t.Run(name, func(t *testing.T) {
					r := post(tc.channel, tc.privacy, later, tc.disclose)
					require.Equal(t, http.StatusBadRequest, r.Status, "body: %s", r.Body)
					require.Contains(t, r.Problem(t).Errors, tc.field)
				})
			}

			r := post(tiktokID, "PUBLIC_TO_EVERYONE", later, map[string]bool{"your_brand": true, "branded_content": true})
			require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
			var view struct {
				ID       string `json:"id"`
				Disclose *struct {
					YourBrand      bool `json:"your_brand"`
					BrandedContent bool `json:"branded_content"`
				} `json:"disclose_commercial_content"`
			}
			r.JSON(t, &view)
			require.NotNil(t, view.Disclose)
			require.True(t, view.Disclose.YourBrand && view.Disclose.BrandedContent)

			// Edits are held to the same rule, with the post's current
			// disclosure or privacy.
			r = c.Do(http.MethodPatch, "/v1/posts/"+view.ID, map[string]any{"privacy": "SELF_ONLY"})
			require.Equal(t, http.StatusBadRequest, r.Status, "a branded post cannot become private: %s", r.Body)
			require.Contains(t, r.Problem(t).Errors, "disclose_commercial_content.branded_content")
			r = c.Do(http.MethodPatch, "/v1/posts/"+view.ID, map[string]any{"privacy": "SELF_ONLY", "disclose_commercial_content": map[string]bool{"your_brand": true}})
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			r = c.Do(http.MethodPatch, "/v1/posts/"+view.ID, map[string]any{"disclose_commercial_content": map[string]bool{"branded_content": true}})
			require.Equal(t, http.StatusBadRequest, r.Status, "branded content on a private post: %s", r.Body)
			p, err := env.Store.PostByID(t.Context(), view.ID)
			require.NoError(t, err)
			require.True(t, p.BrandOrganic)
			require.False(t, p.BrandContent)

			// Published, the toggles reach TikTok.
			r = post(tiktokID, "PUBLIC_TO_EVERYONE", "now", map[string]bool{"branded_content": true})
			require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
			r.JSON(t, &view)
			published := waitForPost(t, c, view.ID, "published", "failed")
			require.Equal(t, "published", published.Status, published.FailureReason)
			got := env.TikTok.Posts()
			require.Len(t, got, 1)
			require.True(t, got[0].BrandContent)
			require.False(t, got[0].BrandOrganic)
		})
	}
}
