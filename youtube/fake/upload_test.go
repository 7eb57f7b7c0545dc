package fake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/loomcast/loomcast/youtube"
	"github.com/loomcast/loomcast/youtube/fake"
)

const quantum = 256 << 10

// start returns the fake, its server and a valid access token.
func start(t *testing.T) (*fake.Server, *httptest.Server, string) {
	t.Helper()
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	f := fake.New(fake.Options{ClientID: "c", ClientSecret: "s", BaseURL: srv.URL})
	h = f.Handler()

	cfg := f.Config("http://127.0.0.1:9/cb")
	cfg.HTTPClient = srv.Client()
	yt := youtube.New(cfg)
	verifier := oauth2.GenerateVerifier()
	c := *srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(yt.AuthCodeURL("s", verifier))
	require.NoError(t, err)
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	tok, err := yt.ExchangeCode(context.Background(), loc.Query().Get("code"), verifier)
	require.NoError(t, err)
	return f, srv, tok.AccessToken
}

type call struct {
	method, contentRange string
	body                 []byte
	status               int
	rangeHeader          string
}

// The documented protocol: PUT chunks, real 308 answers with Range,
// status queries, a chunk sent again after its answer was lost.
func TestResumableProtocol(t *testing.T) {
	f, srv, token := start(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 3*quantum/16+10) // 3 quanta + 160 bytes
	total := strconv.Itoa(len(data))

	meta := `{"snippet":{"title":"Raw","description":"d"},"status":{"privacyStatus":"unlisted"}}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status", bytes.NewBufferString(meta))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("X-Upload-Content-Length", total)
	req.Header.Set("X-Upload-Content-Type", "video/mp4")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	sessionURI := resp.Header.Get("Location")
	require.Contains(t, sessionURI, "upload_id=")

	steps := []call{
		{method: http.MethodPut, contentRange: "bytes */" + total, status: 308},
		{method: http.MethodPut, contentRange: "bytes 0-262143/" + total, body: data[:quantum], status: 308, rangeHeader: "bytes=0-262143"},
		{method: http.MethodPut, contentRange: "bytes 0-262143/" + total, body: data[:quantum], status: 308, rangeHeader: "bytes=0-262143"},
		{method: http.MethodPut, contentRange: "bytes 262144-262243/" + total, body: data[quantum : quantum+100], status: 400, rangeHeader: ""},
		{method: http.MethodPut, contentRange: "bytes 524288-786431/" + total, body: data[2*quantum : 3*quantum], status: 400},
		{method: http.MethodPut, contentRange: "bytes 262144-786431/" + total, body: data[quantum : 3*quantum], status: 308, rangeHeader: "bytes=0-786431"},
		{method: http.MethodPut, contentRange: "bytes */" + total, status: 308, rangeHeader: "bytes=0-786431"},
		{method: http.MethodPut, contentRange: "bytes 786432-786591/" + total, body: data[3*quantum:], status: 200},
		{method: http.MethodPut, contentRange: "bytes */" + total, status: 200},
	}
	for i, st := range steps {
		req, _ := http.NewRequest(st.method, sessionURI, bytes.NewReader(st.body))
		req.Header.Set("Content-Range", st.contentRange)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		var video struct {
			ID     string `json:"id"`
			Status struct {
				PrivacyStatus string `json:"privacyStatus"`
			} `json:"status"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&video)
		resp.Body.Close()
		require.Equal(t, st.status, resp.StatusCode, "step %d: %s", i, st.contentRange)
		if st.status == 308 {
			require.Equal(t, st.rangeHeader, resp.Header.Get("Range"), "step %d", i)
		}
		if st.status == 200 {
			require.Len(t, video.ID, 11)
			require.Equal(t, "unlisted", video.Status.PrivacyStatus)
		}
	}
	videos := f.Videos()
	require.Len(t, videos, 1)
	require.Equal(t, int64(len(data)), videos[0].Received)
	require.Equal(t, int64(len(data)), videos[0].Size)
}

func TestUploadSessionUnknown(t *testing.T) {
	_, srv, _ := start(t)
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/upload/youtube/v3/videos?uploadType=resumable&upload_id=nope", nil)
	req.Header.Set("Content-Range", "bytes */10")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestNewRejectsRelativeBaseURL(t *testing.T) {
	require.Panics(t, func() { fake.New(fake.Options{BaseURL: "/sandbox/youtube"}) })
}
