package tiktok_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/tiktok"
)

// signature is the query of the media server's signed URLs: a bearer
// secret that no error may show.
const signature = "sig=s3cr3t-signature&expires=1772366400"

var photo = tiktok.PhotoPost{Title: "three photos", Description: "three photos\n#loomcast", PrivacyLevel: "PUBLIC_TO_EVERYONE", AutoAddMusic: true}

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
