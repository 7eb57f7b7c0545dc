package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/server"
	"github.com/loomcast/loomcast/server/servertest"
)

// TestSandboxesTakeLargeBodies mounts a sandbox on the API, as make run
// does, and sends it a body far over the JSON limit: platform stand-ins
// receive video chunks.
func TestSandboxesTakeLargeBodies(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	counter := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(strconv.FormatInt(n, 10) + " " + r.URL.Path))
	})
	api, err := server.New(server.Config{PublicURL: "http://x", AppURL: "http://x/", SessionKey: servertest.SessionKey, MaxBodyBytes: 1 << 20, PlatformSandbox: true},
		server.Deps{Store: env.Store, Temporal: env.Temporal, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Sandboxes: map[string]http.Handler{"tiktok": counter}})
	require.NoError(t, err)
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()

	req, err := http.NewRequest(http.MethodPut, srv.URL+"/sandbox/tiktok/upload/p1", bytes.NewReader(make([]byte, 10<<20)))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
	require.Equal(t, "10485760 /upload/p1", string(body), "the whole chunk arrives, with the prefix stripped")
	require.Equal(t, "true", resp.Header.Get("X-Loomcast-Sandbox"), "sandbox answers are labelled")
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'", "sandbox pages run no script")
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
}

// TestSessionCookieCarriesConnectedPlatforms checks the cookie's claims
// after a channel is connected.
func TestSessionCookieCarriesConnectedPlatforms(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	c := env.Client()
	c.Register("claims@example.com", goodPassword)
	c.ConnectChannel("tiktok")
	ck := c.Cookie("loomcast_session")
	require.NotNil(t, ck)
	parts := strings.Split(ck.Value, ".")
	require.Len(t, parts, 3, "a JWT")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims struct {
		Sub       string   `json:"sub"`
		Email     string   `json:"email"`
		TZ        string   `json:"tz"`
		Platforms []string `json:"platforms"`
	}
	require.NoError(t, json.Unmarshal(payload, &claims))
	require.Equal(t, "claims@example.com", claims.Email)
	require.Equal(t, "Europe/Paris", claims.TZ)
	require.Equal(t, []string{"tiktok"}, claims.Platforms)
}
