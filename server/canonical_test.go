package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
)

func TestCanonicalHost(t *testing.T) {
	tests := []struct {
		name      string
		publicURL string
		method    string
		target    string // absolute: its host is the request's Host
		header    http.Header
		want      string // the Location of a redirect; empty: served here
	}{
		{name: "channel connect on localhost goes to 127.0.0.1",
			publicURL: "http://127.0.0.1:8080", target: "http://localhost:8080/v1/channels/tiktok/connect",
			want: "http://127.0.0.1:8080/v1/channels/tiktok/connect"},
		{name: "channel callback keeps its query",
			publicURL: "http://127.0.0.1:8080", target: "http://localhost:8080/v1/channels/youtube/callback?code=c%2F1&state=s",
			want: "http://127.0.0.1:8080/v1/channels/youtube/callback?code=c%2F1&state=s"},
		{name: "google start on 127.0.0.1 goes to localhost when that is the public URL",
			publicURL: "http://localhost:8080/", target: "http://127.0.0.1:8080/v1/auth/google/start?login_hint=a%40b.c",
			want: "http://localhost:8080/v1/auth/google/start?login_hint=a%40b.c"},
		{name: "google callback on ::1", publicURL: "http://127.0.0.1:8080",
			target: "http://[::1]:8080/v1/auth/google/callback?code=x", want: "http://127.0.0.1:8080/v1/auth/google/callback?code=x"},
		{name: "HEAD is a navigation too", method: http.MethodHead,
			publicURL: "http://127.0.0.1:8080", target: "http://localhost:8080/v1/channels/tiktok/connect",
			want: "http://127.0.0.1:8080/v1/channels/tiktok/connect"},
		{name: "a public URL with a path prefix keeps it",
			publicURL: "http://127.0.0.1:8080/loomcast", target: "http://localhost:8080/v1/auth/google/start",
			want: "http://127.0.0.1:8080/loomcast/v1/auth/google/start"},
		{name: "default port on both sides",
			publicURL: "http://localhost", target: "http://127.0.0.1/v1/auth/google/start",
			want: "http://localhost/v1/auth/google/start"},

		{name: "already on the public host", publicURL: "http://127.0.0.1:8080",
			target: "http://127.0.0.1:8080/v1/channels/tiktok/connect"},
		{name: "host compared without case or default port", publicURL: "http://LocalHost",
			target: "http://localhost:80/v1/channels/tiktok/connect"},
		{name: "a JSON API read is left alone", publicURL: "http://127.0.0.1:8080",
			target: "http://localhost:8080/v1/channels"},
		{name: "a POST is left alone", method: http.MethodPost, publicURL: "http://127.0.0.1:8080",
			target: "http://localhost:8080/v1/auth/login"},
		{name: "a DELETE on a channel is left alone", method: http.MethodDelete, publicURL: "http://127.0.0.1:8080",
			target: "http://localhost:8080/v1/channels/ch1"},
		{name: "a longer path is no flow", publicURL: "http://127.0.0.1:8080",
			target: "http://localhost:8080/v1/channels/tiktok/connect/extra"},
		{name: "a public URL that is not loopback turns it off", publicURL: "https://api.loomcast.example",
			target: "http://127.0.0.1:8080/v1/channels/tiktok/connect"},
		{name: "a request on a LAN address is not sent to this machine's loopback", publicURL: "http://127.0.0.1:8080",
			target: "http://192.168.1.20:8080/v1/channels/tiktok/connect"},
		{name: "a proxied request is left alone", publicURL: "http://localhost:8080",
			target: "http://127.0.0.1:8080/v1/auth/google/start", header: http.Header{"X-Forwarded-For": {"10.0.0.1"}}},
		{name: "an unparsable public URL turns it off", publicURL: "http://[::1",
			target: "http://localhost:8080/v1/auth/google/start"},
	}
	gin.SetMode(gin.ReleaseMode)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := gin.New()
			r.Use(canonicalHost(tt.publicURL))
			served := func(c *gin.Context) { c.String(http.StatusOK, "served") }
			r.Any("/v1/*rest", served)
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, tt.target, nil)
			for k, v := range tt.header {
				req.Header[k] = v
			}
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			if tt.want == "" {
				require.Equal(t, http.StatusOK, rec.Code)
				require.Empty(t, rec.Header().Get("Location"))
				return
			}
			require.Equal(t, http.StatusTemporaryRedirect, rec.Code)
			require.Equal(t, tt.want, rec.Header().Get("Location"))
			require.NotContains(t, rec.Body.String(), "served")
		})
	}
}
