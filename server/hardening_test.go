package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/media"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/server/servertest"
)

// Every answer says not to sniff and to send no Referer; every /v1 answer
// (personal data, CSRF tokens, refusals) is kept out of caches; HSTS is
// sent in production only.
func TestSecurityHeaders(t *testing.T) {
	for _, production := range []bool{false, true} {
		env := servertest.New(t, models.SQLite, servertest.Options{Production: production})
		c := env.Client()
		signedIn := http.StatusOK
		if production {
			// The jar sends no Secure cookie over plain HTTP: these are
			// refusals, which carry the headers too.
			signedIn = http.StatusUnauthorized
		} else {
			c.Register("headers@example.com", goodPassword)
		}
		notFound := map[bool]int{false: http.StatusNotFound, true: http.StatusUnauthorized}[production]
		for _, tc := range []struct {
			path    string
			status  int
			noStore bool
		}{
			{"/v1/me", signedIn, true},
			{"/v1/posts", signedIn, true},
			{"/v1/channels", signedIn, true},
			{"/v1/auth/csrf", http.StatusOK, true},
			{"/v1/posts/00000000-0000-0000-0000-000000000000", notFound, true},
			{"/v1/privacy/exports/nope?expires=1&sig=x", http.StatusForbidden, true},
			{"/healthz", http.StatusOK, false},
			{"/nowhere", http.StatusNotFound, false},
		} {
			r := c.Do(http.MethodGet, tc.path, nil)
			require.Equal(t, tc.status, r.Status, "%s: %s", tc.path, r.Body)
			require.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"), tc.path)
			require.Equal(t, "no-referrer", r.Header.Get("Referrer-Policy"), tc.path)
			if tc.noStore {
				require.Equal(t, "no-store", r.Header.Get("Cache-Control"), tc.path)
			}
			if production {
				require.Contains(t, r.Header.Get("Strict-Transport-Security"), "max-age=", tc.path)
			} else {
				require.Empty(t, r.Header.Get("Strict-Transport-Security"), tc.path)
			}
		}
	}
}

// A client's malformed cursor or ID is its mistake: a 400 or a 404 at
// once, never a 500, a hang or a redirect.
func TestMalformedCursorsAndIDs(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	c := env.Client()
	u := c.Register("cursors@example.com", goodPassword)
	admin := staffClient(t, env, "ops@example.com", models.RoleAdmin)
	for _, path := range []string{
		"/v1/posts?cursor=garbage",
		"/v1/posts?cursor=" + strings.Repeat("0", 36),
	} {
		r := c.Do(http.MethodGet, path, nil)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", path, r.Body)
		require.Contains(t, string(r.Body), "cursor")
	}
	for _, path := range []string{
		"/v1/admin/users?cursor=garbage",
		"/v1/admin/webhooks?cursor=garbage",
		"/v1/admin/users/" + u.ID + "/workflows?cursor=garbage",
		"/v1/admin/users/" + u.ID + "/workflows?cursor=Z2FyYmFnZQ.Z2FyYmFnZQ", // well-formed, not signed by us
	} {
		start := time.Now()
		r := admin.Do(http.MethodGet, path, nil)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", path, r.Body)
		require.Less(t, time.Since(start), 5*time.Second, "%s answers at once", path)
	}
	for _, path := range []string{
		"/v1/admin/workflows/%00/history",
		"/v1/admin/workflows/caf%C3%A9/history",
		"/v1/admin/workflows/" + strings.Repeat("x", 300) + "/history",
	} {
		r := admin.Do(http.MethodGet, path, nil)
		require.Equal(t, http.StatusNotFound, r.Status, "%s: %s", path, r.Body)
	}
	for _, path := range []string{"/v1/posts/%2F", "/v1/posts/", "/v1/channels/%2F/creator-info"} {
		r := c.Do(http.MethodGet, path, nil)
		require.Equal(t, http.StatusNotFound, r.Status, "%s: %s", path, r.Body)
		require.Empty(t, r.Header.Get("Location"), "%s is not redirected", path)
	}
}

// Edits racing a cancellation: edits answered 200 are in the post's
// history before the cancellation, none is recorded after it, and the
// others are refused with a 409 and leave no trace.
func TestEditsRacingCancel(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	c := env.Client()
	c.Register("racer@example.com", goodPassword)
	channel := c.ConnectChannel("youtube")
	upload := c.Upload(1<<20, 5*time.Second)
	later := env.Clock.Now().Add(3 * time.Hour).Format(time.RFC3339)
	r := createPost(t, c, map[string]any{"channel_id": channel, "upload_id": upload, "caption": "v0", "privacy": "private", "scheduled_at": later})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var p postJSON
	r.JSON(t, &p)

	const edits = 6
	statuses := make([]int, edits)
	var cancelStatus int
	var wg sync.WaitGroup
	for i := range edits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r, err := c.Try(http.MethodPatch, "/v1/posts/"+p.ID, map[string]any{"caption": "edit " + strconv.Itoa(i)}); err == nil {
				statuses[i] = r.Status
			}
		}()
		if i == edits/2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r, err := c.Try(http.MethodDelete, "/v1/posts/"+p.ID, nil); err == nil {
					cancelStatus = r.Status
				}
			}()
		}
	}
	wg.Wait()
	require.Equal(t, http.StatusOK, cancelStatus)
	ok := 0
	for _, s := range statuses {
		require.Contains(t, []int{http.StatusOK, http.StatusConflict}, s)
		if s == http.StatusOK {
			ok++
		}
	}
	done := waitForPost(t, c, p.ID, "cancelled")
	var edited, afterCancel int
	cancelled := false
	for _, e := range done.History {
		switch {
		case e.Status == "cancelled":
			cancelled = true
		case e.Detail == "edited" && cancelled:
			afterCancel++
		case e.Detail == "edited":
			edited++
		}
	}
	require.Zero(t, afterCancel, "no edit recorded after the cancellation")
	// Consecutive "edited" entries collapse into one; the caption left is
	// that of an edit answered 200, never of one refused.
	final := "v0"
	if ok > 0 {
		require.NotZero(t, edited)
		final = done.Caption
	}
	for i, s := range statuses {
		if s == http.StatusConflict {
			require.NotEqual(t, "edit "+strconv.Itoa(i), done.Caption, "a refused edit is not in the post")
		}
	}
	require.Equal(t, final, done.Caption)
	if ok > 0 {
		require.Contains(t, done.Caption, "edit ")
		i, err := strconv.Atoi(strings.TrimPrefix(done.Caption, "edit "))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, statuses[i], "the caption left is an accepted edit's")
	}
}

// Text that JSON decoding would silently turn into U+FFFD, and NULs, are
// refused with a 400 naming the field, whatever the endpoint.
func TestInvalidTextIsRefused(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	c := env.Client()
	c.Register("text@example.com", goodPassword)
	for _, tc := range []struct {
		method, path, body, field string
	}{
		{http.MethodPost, "/v1/posts", `{"channel_id":"x","upload_id":"y","caption":"hi \ud83d","privacy":"SELF_ONLY","scheduled_at":"now"}`, "caption"},
		{http.MethodPost, "/v1/posts", "{\"channel_id\":\"x\",\"upload_id\":\"y\",\"caption\":\"bad \xc3\x28\",\"privacy\":\"SELF_ONLY\",\"scheduled_at\":\"now\"}", "caption"},
		{http.MethodPatch, "/v1/me", `{"display_name":"Ada\u0000"}`, "display_name"},
		{http.MethodPost, "/v1/tokens", `{"name":"ci\u0000"}`, "name"},
	} {
		r := c.Do(tc.method, tc.path, tc.body)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s %s: %s", tc.method, tc.path, r.Body)
		p := r.Problem(t)
		require.Contains(t, p.Errors, tc.field, "%s %s names the field: %s", tc.method, tc.path, r.Body)
	}
}

// Broken videos are refused at upload with the reason, and nothing of them
// is kept; an old upload whose duration was never read cannot go to a
// creator with a maximum duration.
func TestBrokenVideosAreRefused(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	c := env.Client()
	u := c.Register("broken@example.com", goodPassword)
	var buf bytes.Buffer
	require.NoError(t, media.SyntheticMP4(&buf, 64<<10, 10*time.Second))
	good := buf.Bytes()
	box := func(typ string, payload []byte) []byte {
		out := binary.BigEndian.AppendUint32(nil, uint32(8+len(payload)))
		return append(append(out, typ...), payload...)
	}
	mvhd := make([]byte, 4+28+80)
	mvhd[0] = 1
	binary.BigEndian.PutUint32(mvhd[20:], 1000)
	binary.BigEndian.PutUint64(mvhd[24:], math.MaxUint64)
	lying := append([]byte{}, good...)
	binary.BigEndian.PutUint32(lying[20:], 1<<30)
	for _, tc := range []struct {
		name, reason string
		file         []byte
	}{
		{"only ftyp", "no moov box", good[:20]},
		{"moov cut short", "claims", good[:150]},
		{"no mvhd", "no mvhd box", append(append([]byte{}, good[:20]...), box("moov", box("trak", nil))...)},
		{"lying box size", "claims 1073741824 bytes", lying},
		{"duration 2^64-1", "unknown or empty", append(append([]byte{}, good[:20]...), box("moov", box("mvhd", mvhd))...)},
		{"not a WebM", "not webm", []byte("\x1a\x45\xdf\xa3\x84\x42\x82\x81x webm padding")},
	} {
		r := c.UploadBytes(tc.file, "video/mp4")
		require.Equal(t, http.StatusUnsupportedMediaType, r.Status, "%s: %s", tc.name, r.Body)
		require.Contains(t, r.Problem(t).Detail, tc.reason, tc.name)
	}
	keys, err := env.Blob.List(context.Background(), "uploads/")
	require.NoError(t, err)
	require.Empty(t, keys, "nothing of a refused upload is kept")

	// An upload from before durations were read.
	channel := c.ConnectChannel("tiktok")
	old := &models.Upload{ID: models.NewID(), UserID: u.ID, BlobKey: "uploads/old", Size: 1000, ContentType: media.MP4,
		CreatedAt: env.Clock.Now(), ExpiresAt: env.Clock.Now().Add(24 * time.Hour)}
	require.NoError(t, env.Store.CreateUpload(context.Background(), old))
	r := createPost(t, c, map[string]any{"channel_id": channel, "upload_id": old.ID, "privacy": "SELF_ONLY", "scheduled_at": "now"})
	require.Equal(t, http.StatusBadRequest, r.Status, "body: %s", r.Body)
	require.Contains(t, r.Problem(t).Errors["upload_id"], "duration could not be read")
}

// What staff write to a requester is bounded (it is mailed, and carried
// by a workflow Update): 2,000 characters, refused above with the field.
func TestStaffTextIsBounded(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	staff := staffClient(t, env, "dpo@example.com", models.RolePrivacy)
	long := strings.Repeat("é", 2001)
	id := "01a2352a-0000-7000-8000-000000000000"
	for _, tc := range []struct {
		path  string
		body  map[string]any
		field string
	}{
		{"/v1/admin/privacy/requests/" + id + "/clarify", map[string]any{"question": long}, "question"},
		{"/v1/admin/privacy/requests/" + id + "/extend", map[string]any{"reason": long}, "reason"},
		{"/v1/admin/privacy/requests/" + id + "/review", map[string]any{"approve": false, "reason": long}, "reason"},
		{"/v1/admin/holds", map[string]any{"user_id": id, "reason": long}, "reason"},
	} {
		r := staff.Do(http.MethodPost, tc.path, tc.body)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", tc.path, r.Body)
		require.Contains(t, r.Problem(t).Errors[tc.field], "at most 2000 characters", tc.path)
	}
}
