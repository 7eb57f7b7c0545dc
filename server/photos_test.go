package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/media"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/server/servertest"
	"github.com/loomcast/loomcast/workflows/posting"
)

// webp1x1 is a lossless 1x1 WebP image.
var webp1x1 = []byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00")

// photoUpload is what POST /v1/uploads answers for an image.
type photoUpload struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	ContentType string `json:"content_type"`
	Width       *int   `json:"width"`
	Height      *int   `json:"height"`
}

func uploadPhoto(t *testing.T, c *servertest.Client, body []byte, contentType string) photoUpload {
	t.Helper()
	r := c.UploadBytes(body, contentType)
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var u photoUpload
	r.JSON(t, &u)
	return u
}

func syntheticImage(t *testing.T, contentType string, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, media.SyntheticImage(&buf, contentType, w, h))
	return buf.Bytes()
}

// TestPhotoPost publishes a TikTok photo post of a JPEG, a PNG and a WebP
// in the sandbox: TikTok pulls each from a signed link of ours (the PNG
// as a JPEG), the post shows its kind and link, and the images are
// deleted once it is published.
func TestPhotoPost(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	c := env.Client()
	c.Register("photos@example.com", goodPassword)
	channel := c.ConnectChannel("tiktok")

	jpg := syntheticImage(t, media.JPEG, 64, 48)
	a := uploadPhoto(t, c, jpg, "image/jpeg")
	require.Equal(t, "image", a.Kind)
	require.Equal(t, media.JPEG, a.ContentType)
	require.Equal(t, 64, *a.Width)
	require.Equal(t, 48, *a.Height)
	b := uploadPhoto(t, c, syntheticImage(t, media.PNG, 20, 20), "image/png")
	w := uploadPhoto(t, c, webp1x1, "application/octet-stream") // the type comes from the bytes
	require.Equal(t, media.WebP, w.ContentType)
	ids := []string{a.ID, b.ID, w.ID}

	r := createPost(t, c, map[string]any{"channel_id": channel, "upload_ids": ids, "caption": "Three photos\nfrom the weekend",
		"privacy": "PUBLIC_TO_EVERYONE", "allow_comment": true, "scheduled_at": "now"})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var created struct {
		postJSON
		Kind      string   `json:"kind"`
		UploadIDs []string `json:"upload_ids"`
	}
	r.JSON(t, &created)
	require.Equal(t, "photo", created.Kind)
	require.Equal(t, ids, created.UploadIDs)

	done := waitForPost(t, c, created.ID, "published", "failed")
	require.Equal(t, "published", done.Status, done.FailureReason)
	// TikTok gives a public post's ID once it is publicly available,
	// which may be after it is published.
	require.Eventually(t, func() bool {
		r := c.Do(http.MethodGet, "/v1/posts/"+created.ID, nil)
		return r.Status == http.StatusOK && json.Unmarshal(r.Body, &done) == nil && done.PlatformPostID != ""
	}, 30*time.Second, 100*time.Millisecond, "the post's ID never came")
	require.Contains(t, done.PublicURL, "https://www.tiktok.com/@")

	posts := env.TikTok.Posts()
	require.Len(t, posts, 1)
	require.Equal(t, "photo", posts[0].Kind)
	require.Equal(t, 3, posts[0].Images)
	sum := sha256.Sum256(jpg)
	require.Equal(t, hex.EncodeToString(sum[:]), posts[0].ImageSHA256[0], "TikTok got the JPEG as uploaded")
	require.Equal(t, "Three photos", posts[0].Title)

	// The images go once the post is published.
	for _, id := range ids {
		require.Eventually(t, func() bool {
			up, err := env.Store.UploadByID(context.Background(), id)
			return err == nil && up.DeletedAt != nil
		}, 10*time.Second, 100*time.Millisecond, "upload %s deleted", id)
	}
	// No signed link is in the post's history.
	requireNotInHistory(t, env, posting.PublishWorkflowID(created.ID), "sig=", posting.PhotoLinkPath)
}

// A Loomcast whose photo links are under an address not verified at
// TikTok: TikTok refuses to pull, and the post fails saying what to fix.
func TestPhotoPostUnverifiedAddress(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{NoWorker: true})
	env.StartWorkerWith(servertest.WorkerClients{PublicURL: "https://loomcast.unverified.example"})
	c := env.Client()
	c.Register("unverified@example.com", goodPassword)
	channel := c.ConnectChannel("tiktok")
	img := uploadPhoto(t, c, syntheticImage(t, media.JPEG, 8, 8), "image/jpeg").ID
	r := createPost(t, c, map[string]any{"channel_id": channel, "upload_ids": []string{img}, "privacy": "SELF_ONLY", "scheduled_at": "now"})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var p postJSON
	r.JSON(t, &p)
	done := waitForPost(t, c, p.ID, "published", "failed")
	require.Equal(t, "failed", done.Status)
	require.Contains(t, done.FailureReason, "https://loomcast.unverified.example/v1/media/photos/")
	require.Contains(t, done.FailureReason, "not verified for the app at TikTok")
	require.NotContains(t, done.FailureReason, "sig=")
	require.Empty(t, env.TikTok.Posts())
}

// TestPhotoPostRefusals: the bad inputs of photo posts.
func TestPhotoPostRefusals(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	c := env.Client()
	c.Register("refused@example.com", goodPassword)
	tiktokID := c.ConnectChannel("tiktok")
	youtubeID := c.ConnectChannel("youtube")
	img := uploadPhoto(t, c, syntheticImage(t, media.JPEG, 8, 8), "image/jpeg").ID
	video := c.Upload(1<<20, 5*time.Second)
	later := env.Clock.Now().Add(time.Hour).Format(time.RFC3339)
	post := func(body map[string]any) *servertest.Response {
		t.Helper()
		body["scheduled_at"] = later
		if body["privacy"] == nil {
			body["privacy"] = "PUBLIC_TO_EVERYONE"
		}
		return createPost(t, c, body)
	}

	t.Run("a GIF posing as a JPEG", func(t *testing.T) {
		gif := []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
		r := c.UploadBytes(gif, "image/jpeg")
		require.Equal(t, http.StatusUnsupportedMediaType, r.Status, "body: %s", r.Body)
		require.Contains(t, string(r.Body), "JPEG, PNG or WebP")
	})
	t.Run("a cut JPEG", func(t *testing.T) {
		r := c.UploadBytes([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F'}, "image/jpeg")
		require.Equal(t, http.StatusUnsupportedMediaType, r.Status, "body: %s", r.Body)
	})
	t.Run("36 images", func(t *testing.T) {
		ids := make([]string, 36)
		for i := range ids {
			ids[i] = uploadPhoto(t, c, syntheticImage(t, media.JPEG, 4, 4), "image/jpeg").ID
		}
		r := post(map[string]any{"channel_id": tiktokID, "upload_ids": ids})
		require.Equal(t, http.StatusBadRequest, r.Status, "body: %s", r.Body)
		require.Contains(t, string(r.Body), "at most 35 images")
		r = post(map[string]any{"channel_id": tiktokID, "upload_ids": ids[:35]})
		require.Equal(t, http.StatusCreated, r.Status, "35 is fine: %s", r.Body)
	})
	t.Run("an image for YouTube", func(t *testing.T) {
		for _, body := range []map[string]any{
			{"channel_id": youtubeID, "upload_id": img, "privacy": "public"},
			{"channel_id": youtubeID, "upload_ids": []string{img}, "privacy": "public"},
		} {
			r := post(body)
			require.Equal(t, http.StatusBadRequest, r.Status, "body: %s", r.Body)
			require.Contains(t, string(r.Body), "YouTube takes videos only")
		}
	})
	t.Run("branded content set private", func(t *testing.T) {
		r := post(map[string]any{"channel_id": tiktokID, "upload_ids": []string{img}, "privacy": "SELF_ONLY",
			"disclose_commercial_content": map[string]bool{"branded_content": true}})
		require.Equal(t, http.StatusBadRequest, r.Status, "body: %s", r.Body)
	})
	t.Run("a video among the images", func(t *testing.T) {
		r := post(map[string]any{"channel_id": tiktokID, "upload_ids": []string{img, video}})
		require.Equal(t, http.StatusBadRequest, r.Status, "body: %s", r.Body)
		require.Contains(t, string(r.Body), "must all be images")
	})
	t.Run("both fields, repeats, duets", func(t *testing.T) {
		for _, body := range []map[string]any{
			{"channel_id": tiktokID, "upload_id": video, "upload_ids": []string{img}},
			{"channel_id": tiktokID, "upload_ids": []string{img, img}},
			{"channel_id": tiktokID, "upload_ids": []string{img}, "allow_duet": true},
		} {
			r := post(body)
			require.Equal(t, http.StatusBadRequest, r.Status, "body: %s", r.Body)
		}
	})
	t.Run("another user's image", func(t *testing.T) {
		other := env.Client()
		other.Register("other-photos@example.com", goodPassword)
		theirs := uploadPhoto(t, other, syntheticImage(t, media.JPEG, 4, 4), "image/jpeg").ID
		r := post(map[string]any{"channel_id": tiktokID, "upload_ids": []string{img, theirs}})
		require.Equal(t, http.StatusNotFound, r.Status, "body: %s", r.Body)
	})
	t.Run("an image alone is a photo post", func(t *testing.T) {
		r := post(map[string]any{"channel_id": tiktokID, "upload_id": img})
		require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
		require.Contains(t, string(r.Body), `"kind":"photo"`)
	})
}

// The link TikTok pulls a photo from works only as signed and in time.
func TestPhotoLinks(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	c := env.Client()
	c.Register("links@example.com", goodPassword)
	png := uploadPhoto(t, c, syntheticImage(t, media.PNG, 10, 10), "image/png").ID
	get := func(id string, expires time.Time, sig string) *http.Response {
		t.Helper()
		u := env.HTTP.URL + posting.PhotoLinkPath + id + "?" + url.Values{
			"expires": {strconv.FormatInt(expires.Unix(), 10)}, "sig": {sig}}.Encode()
		resp, err := http.Get(u)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	expires := time.Now().Add(time.Hour)
	resp := get(png, expires, posting.SignPhotoLink(servertest.SessionKey, png, expires))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, media.JPEG, resp.Header.Get("Content-Type"), "a PNG goes to TikTok as a JPEG")
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	require.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))

	require.Equal(t, http.StatusForbidden, get(png, expires, strings.Repeat("0", 64)).StatusCode, "a forged signature")
	later := expires.Add(time.Hour)
	require.Equal(t, http.StatusForbidden, get(png, later, posting.SignPhotoLink(servertest.SessionKey, png, expires)).StatusCode, "another expiry")
	past := time.Now().Add(-time.Minute)
	require.Equal(t, http.StatusForbidden, get(png, past, posting.SignPhotoLink(servertest.SessionKey, png, past)).StatusCode, "expired")
	video := c.Upload(1<<20, 5*time.Second)
	require.Equal(t, http.StatusNotFound, get(video, expires, posting.SignPhotoLink(servertest.SessionKey, video, expires)).StatusCode, "only images are served")
}
