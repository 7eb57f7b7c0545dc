package tiktok_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/tiktok"
	"github.com/loomcast/loomcast/tiktok/fake"
)

// signature is the query of the media server's signed URLs: a bearer
// secret that no error may show.
const signature = "sig=s3cr3t-signature&expires=1772366400"

// media serves files under /media/ to holders of a signed URL, as the
// app's media storage does for TikTok, and "/private/" for nobody TikTok
// trusts. A request for a file not in files answers 404.
type media struct {
	srv   *httptest.Server
	files map[string][]byte
	// hold, when set, keeps every answer until it is closed.
	hold chan struct{}
}

func newMedia(t *testing.T, files map[string][]byte) *media {
	t.Helper()
	m := &media{files: files}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.hold != nil {
			<-m.hold
		}
		if r.URL.RawQuery != signature {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		if r.URL.Path == "/media/moved.jpg" {
			http.Redirect(w, r, "/media/a.jpg?"+signature, http.StatusFound)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, "/media/")
		body, found := m.files[name]
		if !ok || !found {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(m.srv.Close)
	return m
}

// url is the signed URL of a file under /media/.
func (m *media) url(name string) string { return m.srv.URL + "/media/" + name + "?" + signature }

// urls are the signed URLs of files under /media/.
func (m *media) urls(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = m.url(n)
	}
	return out
}

// newPhotoEnv is an env whose fake trusts m's /media/ and pulls from it.
func newPhotoEnv(t *testing.T, m *media, opts ...func(*fake.Options)) *env {
	t.Helper()
	return newEnv(t, true, append([]func(*fake.Options){func(o *fake.Options) {
		o.VerifiedURLPrefixes = []string{m.srv.URL + "/media/"}
		o.HTTPClient = m.srv.Client()
	}}, opts...)...)
}

// jpegImage is a small valid JPEG.
func jpegImage(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, image.NewRGBA(image.Rect(0, 0, 4, 3)), nil))
	return b.Bytes()
}

// pngImage is a small valid PNG, which TikTok refuses.
func pngImage(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 4, 3))))
	return b.Bytes()
}

// webpImage starts like a WebP file (RIFF, size, WEBP, a VP8L chunk):
// the fake checks only that.
func webpImage() []byte {
	return []byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00")
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// waitPulled waits until the fake has downloaded n images of its post i
// or failed it.
func (e *env) waitPulled(t *testing.T, i, n int) fake.Post {
	t.Helper()
	var p fake.Post
	require.Eventually(t, func() bool {
		p = e.fake.Posts()[i]
		return p.Images == n || p.Status == fake.StatusFailed
	}, 5*time.Second, time.Millisecond)
	return p
}

var photo = tiktok.PhotoPost{Title: "three photos", Description: "three photos\n#loomcast", PrivacyLevel: "PUBLIC_TO_EVERYONE", AutoAddMusic: true}

func TestPhotoPost(t *testing.T) {
	a, b, c := jpegImage(t), webpImage(), append(jpegImage(t), "trailing"...)
	m := newMedia(t, map[string][]byte{"a.jpg": a, "b.webp": b, "c.jpg": c})
	m.hold = make(chan struct{})
	release := sync.OnceFunc(func() { close(m.hold) })
	t.Cleanup(release) // before m.srv.Close, which waits for held answers
	e := newPhotoEnv(t, m)
	ctx := context.Background()
	tok := e.login(t)

	id, err := e.client.InitPhotoPost(ctx, tok.AccessToken, photo, m.urls("a.jpg", "b.webp", "c.jpg"), 1)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(id, "p_pub_url~v2."), id)
	st, err := e.client.FetchStatus(ctx, tok.AccessToken, id)
	require.NoError(t, err)
	require.Equal(t, tiktok.Status{Status: "PROCESSING_DOWNLOAD"}, st, "downloading")

	release()
	e.waitPulled(t, 0, 3)
	total := int64(len(a) + len(b) + len(c))
	st, err = e.client.FetchStatus(ctx, tok.AccessToken, id)
	require.NoError(t, err)
	require.Equal(t, tiktok.Status{Status: "PROCESSING_DOWNLOAD", DownloadedBytes: total}, st, "processing")

	e.clock.Advance(2 * time.Second)
	st, err = e.client.FetchStatus(ctx, tok.AccessToken, id)
	require.NoError(t, err)
	require.Equal(t, "PUBLISH_COMPLETE", st.Status)
	posts := e.fake.Posts()
	require.Len(t, posts, 1)
	p := posts[0]
	require.Equal(t, fake.Post{
		Kind: fake.KindPhoto, PublishID: id, OpenID: tok.OpenID, Title: photo.Title, Description: photo.Description,
		PrivacyLevel: "PUBLIC_TO_EVERYONE", Received: total, Images: 3, ImageSHA256: []string{sha(a), sha(b), sha(c)},
		CoverIndex: 1, Status: "PUBLISH_COMPLETE", PostID: p.PostID, Inits: 1,
	}, p)
	require.Len(t, p.PostID, 19)
	require.Equal(t, tiktok.Status{Status: "PUBLISH_COMPLETE", PublicPostIDs: []string{p.PostID}, DownloadedBytes: total}, st)

	// The same images again, under new signatures, make a second post.
	_, err = e.client.InitPhotoPost(ctx, tok.AccessToken, photo, []string{
		m.srv.URL + "/media/a.jpg?sig=other", m.srv.URL + "/media/b.webp", m.srv.URL + "/media/c.jpg?x=1",
	}, 0)
	require.NoError(t, err)
	require.Equal(t, 2, e.fake.Posts()[1].Inits)
}

func TestPhotoPostPullFailures(t *testing.T) {
	ok := jpegImage(t)
	big := make([]byte, 20*mib+1)
	copy(big, ok)
	m := newMedia(t, map[string][]byte{
		"ok.jpg":      ok,
		"ok.webp":     webpImage(),
		"photo.png":   pngImage(t),
		"text.jpg":    []byte("not an image at all"),
		"empty.jpg":   {},
		"20mb.jpg":    big[:20*mib],
		"too-big.jpg": big,
	})
	for _, tc := range []struct {
		name       string
		urls       []string
		wantReason string // "" for success
		wantImages int
	}{
		{name: "png", urls: m.urls("ok.jpg", "photo.png"), wantReason: fake.FailFileFormat, wantImages: 1},
		{name: "not an image", urls: m.urls("text.jpg"), wantReason: fake.FailFileFormat},
		{name: "empty", urls: m.urls("empty.jpg"), wantReason: fake.FailFileFormat},
		{name: "not found", urls: m.urls("ok.webp", "missing.jpg", "ok.jpg"), wantReason: fake.FailPhotoPull, wantImages: 1},
		{name: "refused", urls: []string{m.srv.URL + "/media/ok.jpg?sig=expired"}, wantReason: fake.FailPhotoPull},
		{name: "redirect", urls: m.urls("moved.jpg"), wantReason: fake.FailPhotoPull},
		{name: "over 20 MB", urls: m.urls("too-big.jpg"), wantReason: fake.FailPictureSize},
		{name: "20 MB", urls: m.urls("20mb.jpg"), wantImages: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPhotoEnv(t, m, func(o *fake.Options) { o.ProcessingDelay = -1 })
			ctx := context.Background()
			tok := e.login(t)
			id, err := e.client.InitPhotoPost(ctx, tok.AccessToken, photo, tc.urls, 0)
			require.NoError(t, err)
			p := e.waitPulled(t, 0, len(tc.urls))
			require.Equal(t, tc.wantImages, p.Images)
			st, err := e.client.FetchStatus(ctx, tok.AccessToken, id)
			require.NoError(t, err)
			if tc.wantReason == "" {
				require.Equal(t, "PUBLISH_COMPLETE", st.Status)
				return
			}
			require.Equal(t, "FAILED", st.Status)
			require.Equal(t, tc.wantReason, st.FailReason)
			require.Empty(t, st.PublicPostIDs)
		})
	}
}

// A download failure is final at once; a post whose images all arrived
// goes through ProcessingDelay and FailProcessing as a video does.
func TestPhotoPostFailProcessing(t *testing.T) {
	m := newMedia(t, map[string][]byte{"a.jpg": jpegImage(t)})
	e := newPhotoEnv(t, m)
	ctx := context.Background()
	tok := e.login(t)
	e.fake.FailProcessing(tok.OpenID, "internal")

	id, err := e.client.InitPhotoPost(ctx, tok.AccessToken, photo, m.urls("a.jpg"), 0)
	require.NoError(t, err)
	e.waitPulled(t, 0, 1)
	st, err := e.client.FetchStatus(ctx, tok.AccessToken, id)
	require.NoError(t, err)
	require.Equal(t, "PROCESSING_DOWNLOAD", st.Status)
	e.clock.Advance(2 * time.Second)
	st, err = e.client.FetchStatus(ctx, tok.AccessToken, id)
	require.NoError(t, err)
	require.Equal(t, "FAILED", st.Status)
	require.Equal(t, "internal", st.FailReason)

	id, err = e.client.InitPhotoPost(ctx, tok.AccessToken, photo, m.urls("gone.jpg"), 0)
	require.NoError(t, err)
	e.waitPulled(t, 1, 1)
	st, err = e.client.FetchStatus(ctx, tok.AccessToken, id)
	require.NoError(t, err)
	require.Equal(t, tiktok.Status{Status: "FAILED", FailReason: fake.FailPhotoPull}, st, "without waiting for ProcessingDelay")
}

func TestPhotoPostWebhooks(t *testing.T) {
	m := newMedia(t, map[string][]byte{"a.jpg": jpegImage(t), "b.png": pngImage(t)})
	e := newPhotoEnv(t, m, func(o *fake.Options) { o.ProcessingDelay = -1 })
	events := make(chan string, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		_, _ = body.ReadFrom(r.Body)
		if tiktok.VerifyWebhook(clientSecret, r.Header.Get(tiktok.WebhookSignatureHeader), body.Bytes(), e.clock.Now(), 0) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		ev, err := tiktok.ParseWebhook(body.Bytes())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c, err := ev.PostContent()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		events <- fmt.Sprintf("%s %s %s", ev.Event, c.PublishID, c.Reason)
	}))
	t.Cleanup(hook.Close)
	e.fake.SetWebhookURL(hook.URL)
	ctx := context.Background()
	tok := e.login(t)

	ok, err := e.client.InitPhotoPost(ctx, tok.AccessToken, photo, m.urls("a.jpg"), 0)
	require.NoError(t, err)
	bad, err := e.client.InitPhotoPost(ctx, tok.AccessToken, photo, m.urls("a.jpg", "b.png"), 0)
	require.NoError(t, err)
	e.waitPulled(t, 0, 1)
	e.waitPulled(t, 1, 2)
	e.fake.WaitWebhooks()
	close(events)
	var got []string
	for ev := range events {
		got = append(got, ev)
	}
	require.ElementsMatch(t, []string{
		"post.publish.complete " + ok + " ",
		"post.publish.publicly_available " + ok + " ",
		"post.publish.failed " + bad + " " + fake.FailFileFormat,
	}, got)
}

// Every URL must lie under a verified prefix; TikTok's refusal, which
// quotes the URL, reaches the caller without its query string.
func TestPhotoPostUnverifiedURL(t *testing.T) {
	m := newMedia(t, map[string][]byte{"a.jpg": jpegImage(t)})
	for _, tc := range []struct {
		name string
		urls []string
	}{
		{"another path", []string{m.srv.URL + "/private/a.jpg?" + signature}},
		{"one of several", []string{m.url("a.jpg"), m.srv.URL + "/private/a.jpg?" + signature}},
		{"another host", []string{"http://media.example/media/a.jpg?" + signature}},
		{"climbing out", []string{m.srv.URL + "/media/../private/a.jpg?" + signature}},
		{"user info", []string{"http://" + strings.TrimPrefix(m.srv.URL, "http://") + "@media.example/media/a.jpg?" + signature}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPhotoEnv(t, m)
			tok := e.login(t)
			_, err := e.client.InitPhotoPost(context.Background(), tok.AccessToken, photo, tc.urls, 0)
			apiErr := apiError(t, err)
			require.Equal(t, "url_ownership_unverified", apiErr.Code)
			require.Equal(t, http.StatusForbidden, apiErr.HTTPStatus)
			require.False(t, apiErr.Retryable())
			bare, perr := url.Parse(tc.urls[len(tc.urls)-1])
			require.NoError(t, perr)
			bare.User, bare.RawQuery = nil, ""
			require.Contains(t, apiErr.Message, bare.String(), "the refusal names the URL, bare")
			require.NotContains(t, err.Error(), "sig=")
			require.NotContains(t, err.Error(), "s3cr3t")
			require.Empty(t, e.fake.Posts())
		})
	}

	t.Run("no verified prefix", func(t *testing.T) {
		e := newEnv(t, true)
		tok := e.login(t)
		_, err := e.client.InitPhotoPost(context.Background(), tok.AccessToken, photo, m.urls("a.jpg"), 0)
		require.Equal(t, "url_ownership_unverified", apiError(t, err).Code)
		require.NotContains(t, err.Error(), "s3cr3t")
	})
}

// The client refuses what TikTok would before sending anything, and its
// errors never quote a URL.
func TestPhotoPostLocalChecks(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "unexpected", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	c := tiktok.New(tiktok.Config{APIBaseURL: srv.URL, HTTPClient: srv.Client()})
	signed := "https://media.example/a.jpg?" + signature
	many := make([]string, tiktok.MaxPhotos+1)
	for i := range many {
		many[i] = signed
	}
	longTitle := photo
	longTitle.Title = strings.Repeat("é", 91)
	longDescription := photo
	longDescription.Description = strings.Repeat("😀", 2001) // 4002 UTF-16 code units
	for _, tc := range []struct {
		name  string
		post  tiktok.PhotoPost
		urls  []string
		cover int
	}{
		{"no images", photo, nil, 0},
		{"36 images", photo, many, 0},
		{"relative url", photo, []string{"/media/a.jpg?" + signature}, 0},
		{"ftp url", photo, []string{"ftp://media.example/a.jpg?" + signature}, 0},
		{"malformed url", photo, []string{"https://media example/a.jpg?" + signature}, 0},
		{"negative cover", photo, []string{signed}, -1},
		{"cover past the end", photo, []string{signed, signed}, 2},
		{"title over 90", longTitle, []string{signed}, 0},
		{"description over 4000", longDescription, []string{signed}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.InitPhotoPost(context.Background(), "token", tc.post, tc.urls, tc.cover)
			require.Error(t, err)
			var apiErr *tiktok.APIError
			require.False(t, errors.As(err, &apiErr))
			require.NotContains(t, err.Error(), "sig=")
			require.NotContains(t, err.Error(), "media")
		})
	}
	require.Zero(t, requests.Load(), "nothing was sent")

	_, err := c.InitPhotoPost(context.Background(), "token", photo, many[:tiktok.MaxPhotos], tiktok.MaxPhotos-1)
	require.Equal(t, http.StatusTeapot, apiError(t, err).HTTPStatus, "35 images and the last as cover are sent")
	require.EqualValues(t, 1, requests.Load())
}

// What TikTok refuses of a well-formed request, through the client.
func TestPhotoPostRefusals(t *testing.T) {
	m := newMedia(t, map[string][]byte{"a.jpg": jpegImage(t)})
	e := newPhotoEnv(t, m)
	tok := e.login(t)
	for _, tc := range []struct {
		name       string
		privacy    string
		branded    bool
		wantStatus int
		wantCode   string
	}{
		{"branded content, private", "SELF_ONLY", true, http.StatusBadRequest, "invalid_params"},
		{"privacy level not offered", "FRIENDS_OF_FRIENDS", false, http.StatusForbidden, "privacy_level_option_mismatch"},
		{"no privacy level", "", false, http.StatusForbidden, "privacy_level_option_mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.clock.Advance(time.Minute)
			p := photo
			p.PrivacyLevel, p.BrandContent = tc.privacy, tc.branded
			_, err := e.client.InitPhotoPost(context.Background(), tok.AccessToken, p, m.urls("a.jpg"), 0)
			apiErr := apiError(t, err)
			require.Equal(t, tc.wantStatus, apiErr.HTTPStatus)
			require.Equal(t, tc.wantCode, apiErr.Code)
			require.Empty(t, e.fake.Posts())
		})
	}
}

// The fake checks content/init bodies as TikTok does, whatever the client.
func TestContentInitRules(t *testing.T) {
	m := newMedia(t, nil)
	e := newPhotoEnv(t, m)
	tok := e.login(t)
	img := fmt.Sprintf("%q", m.url("a.jpg"))
	images := func(n int) string { return "[" + strings.TrimSuffix(strings.Repeat(img+",", n), ",") + "]" }
	body := func(mediaType, mode, postInfo, source, cover, imgs string) string {
		return fmt.Sprintf(`{"media_type":%q,"post_mode":%q,"post_info":{%s},"source_info":{"source":%q%s,"photo_images":%s}}`,
			mediaType, mode, postInfo, source, cover, imgs)
	}
	const public = `"title":"t","description":"d","privacy_level":"PUBLIC_TO_EVERYONE"`
	const cover0 = `,"photo_cover_index":0`
	for _, tc := range []struct {
		name, body string
		wantStatus int
		wantCode   string
	}{
		{"valid", body("PHOTO", "DIRECT_POST", public, "PULL_FROM_URL", cover0, images(2)), 200, "ok"},
		{"35 images", body("PHOTO", "DIRECT_POST", public, "PULL_FROM_URL", `,"photo_cover_index":34`, images(35)), 200, "ok"},
		{"title of 90", body("PHOTO", "DIRECT_POST", `"title":"`+strings.Repeat("😀", 45)+`","privacy_level":"SELF_ONLY"`, "PULL_FROM_URL", cover0, images(1)), 200, "ok"},
		{"video", body("VIDEO", "DIRECT_POST", public, "PULL_FROM_URL", cover0, images(1)), 400, "invalid_param"},
		{"inbox upload", body("PHOTO", "MEDIA_UPLOAD", public, "PULL_FROM_URL", cover0, images(1)), 400, "invalid_param"},
		{"no post mode", body("PHOTO", "", public, "PULL_FROM_URL", cover0, images(1)), 400, "invalid_param"},
		{"file upload", body("PHOTO", "DIRECT_POST", public, "FILE_UPLOAD", cover0, images(1)), 400, "invalid_param"},
		{"no images", body("PHOTO", "DIRECT_POST", public, "PULL_FROM_URL", cover0, "[]"), 400, "invalid_param"},
		{"36 images", body("PHOTO", "DIRECT_POST", public, "PULL_FROM_URL", cover0, images(36)), 400, "invalid_param"},
		{"no cover index", body("PHOTO", "DIRECT_POST", public, "PULL_FROM_URL", "", images(1)), 400, "invalid_param"},
		{"cover index out of range", body("PHOTO", "DIRECT_POST", public, "PULL_FROM_URL", `,"photo_cover_index":2`, images(2)), 400, "invalid_param"},
		{"negative cover index", body("PHOTO", "DIRECT_POST", public, "PULL_FROM_URL", `,"photo_cover_index":-1`, images(2)), 400, "invalid_param"},
		{"title of 91", body("PHOTO", "DIRECT_POST", `"title":"`+strings.Repeat("😀", 45)+`!","privacy_level":"SELF_ONLY"`, "PULL_FROM_URL", cover0, images(1)), 400, "invalid_param"},
		{"description of 4001", body("PHOTO", "DIRECT_POST", `"description":"`+strings.Repeat("a", 4001)+`","privacy_level":"SELF_ONLY"`, "PULL_FROM_URL", cover0, images(1)), 400, "invalid_param"},
		{"not a url", body("PHOTO", "DIRECT_POST", public, "PULL_FROM_URL", cover0, `["a.jpg"]`), 400, "invalid_param"},
		{"not json", `{"media_type":`, 400, "invalid_param"},
		{"no post info", `{"media_type":"PHOTO","post_mode":"DIRECT_POST","source_info":{"source":"PULL_FROM_URL","photo_cover_index":0,"photo_images":[` + img + `]}}`, 400, "invalid_param"},
		{"privacy level not offered", body("PHOTO", "DIRECT_POST", `"privacy_level":"EVERYONE_PLEASE"`, "PULL_FROM_URL", cover0, images(1)), 403, "privacy_level_option_mismatch"},
		{"branded content, private", body("PHOTO", "DIRECT_POST", `"privacy_level":"SELF_ONLY","brand_content_toggle":true`, "PULL_FROM_URL", cover0, images(1)), 400, "invalid_params"},
		{"unverified url", body("PHOTO", "DIRECT_POST", public, "PULL_FROM_URL", cover0, `["https://elsewhere.example/a.jpg"]`), 403, "url_ownership_unverified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.clock.Advance(time.Minute) // 6 inits a minute per token
			status, code := e.rawAPI(t, tok.AccessToken, fake.ContentInitPath, tc.body)
			require.Equal(t, tc.wantStatus, status)
			require.Equal(t, tc.wantCode, code)
		})
	}

	t.Run("video pulled from a verified url", func(t *testing.T) {
		e.clock.Advance(time.Minute)
		status, code := e.rawAPI(t, tok.AccessToken, fake.VideoInitPath,
			`{"post_info":{"privacy_level":"SELF_ONLY"},"source_info":{"source":"PULL_FROM_URL","video_url":`+fmt.Sprintf("%q", m.url("v.mp4"))+`}}`)
		require.Equal(t, http.StatusBadRequest, status, "verified, but the fake does not pull videos")
		require.Equal(t, "invalid_param", code)
	})
}

// Photo and video inits share TikTok's limit of 6 a minute per token.
func TestPhotoInitRateLimit(t *testing.T) {
	m := newMedia(t, map[string][]byte{"a.jpg": jpegImage(t)})
	e := newPhotoEnv(t, m)
	ctx := context.Background()
	tok := e.login(t)
	initPhoto := func() error {
		_, err := e.client.InitPhotoPost(ctx, tok.AccessToken, photo, m.urls("a.jpg"), 0)
		return err
	}
	initVideo := func() error {
		_, err := e.client.InitDirectPost(ctx, tok.AccessToken, post, 1000)
		return err
	}
	for i := range 3 {
		require.NoError(t, initVideo(), i)
		require.NoError(t, initPhoto(), i)
		e.clock.Advance(time.Second)
	}
	for _, call := range []func() error{initPhoto, initVideo} {
		apiErr := apiError(t, call())
		require.Equal(t, "rate_limit_exceeded", apiErr.Code)
		require.Equal(t, http.StatusTooManyRequests, apiErr.HTTPStatus)
		require.True(t, apiErr.Retryable())
	}
	e.clock.Advance(time.Minute)
	require.NoError(t, initPhoto())
}

func TestPhotoInitFailures(t *testing.T) {
	m := newMedia(t, map[string][]byte{"a.jpg": jpegImage(t)})
	ctx := context.Background()

	t.Run("answer never comes", func(t *testing.T) {
		e := newPhotoEnv(t, m)
		tok := e.login(t)
		e.fake.FailNext(fake.ContentInitPath, fake.Failure{Drop: true})
		_, err := e.client.InitPhotoPost(ctx, tok.AccessToken, photo, m.urls("a.jpg"), 0)
		require.Error(t, err)
		var apiErr *tiktok.APIError
		require.False(t, errors.As(err, &apiErr), "a network error is not an API error")
		require.NotContains(t, err.Error(), "sig=")
		require.NotContains(t, err.Error(), tok.AccessToken)
		require.Empty(t, e.fake.Posts())
	})

	t.Run("init succeeds but its answer is lost", func(t *testing.T) {
		e := newPhotoEnv(t, m)
		tok := e.login(t)
		e.fake.FailNext(fake.ContentInitPath, fake.Failure{Status: http.StatusBadGateway, AfterBody: true})
		_, err := e.client.InitPhotoPost(ctx, tok.AccessToken, photo, m.urls("a.jpg"), 0)
		require.True(t, apiError(t, err).Retryable())
		require.Len(t, e.fake.Posts(), 1, "the post was made")
		_, err = e.client.InitPhotoPost(ctx, tok.AccessToken, photo, m.urls("a.jpg"), 0)
		require.NoError(t, err, "the failure applies once")
		require.Equal(t, 2, e.fake.Posts()[1].Inits)
	})
}

func TestPhotoTitle(t *testing.T) {
	long := strings.Repeat("a", 100)
	units := func(s string) int { return len(utf16.Encode([]rune(s))) }
	for _, tc := range []struct {
		name, caption, wantTitle, wantDescription string
	}{
		{"one line", "Sunset", "Sunset", "Sunset"},
		{"empty", "", "", ""},
		{"multi-line", "Sunset at the pier\r\nshot on film\n#sunset", "Sunset at the pier", "Sunset at the pier\r\nshot on film\n#sunset"},
		{"blank lines first", "\n\n  Sunset  \nmore", "Sunset", "Sunset  \nmore"},
		{"long first line", long + "\nsecond", long[:90], long + "\nsecond"},
		{"emoji across the boundary", strings.Repeat("a", 89) + "😀b", strings.Repeat("a", 89), strings.Repeat("a", 89) + "😀b"},
		{"emoji at the boundary", strings.Repeat("a", 88) + "😀b", strings.Repeat("a", 88) + "😀", strings.Repeat("a", 88) + "😀b"},
		{"space at the cut", strings.Repeat("a", 85) + "     bcdef", strings.Repeat("a", 85), strings.Repeat("a", 85) + "     bcdef"},
		{"long description", strings.Repeat("😀", 2001), strings.Repeat("😀", 45), strings.Repeat("😀", 2000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			title, description := tiktok.PhotoTitle(tc.caption)
			require.Equal(t, tc.wantTitle, title)
			require.Equal(t, tc.wantDescription, description)
			require.LessOrEqual(t, units(title), 90)
			require.LessOrEqual(t, units(description), 4000)
		})
	}
}
