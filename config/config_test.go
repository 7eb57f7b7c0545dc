package config

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func env(m map[string]string) Getenv { return func(k string) string { return m[k] } }

func TestLoadDefaultsForDev(t *testing.T) {
	c, err := Load(ModeDev, env(nil))
	require.NoError(t, err)
	require.Equal(t, "sqlite:data/loomcast.db", c.DatabaseURL)
	require.Equal(t, "127.0.0.1:8080", c.HTTPAddr)
	require.Equal(t, "127.0.0.1:7233", c.Temporal.Address)
	require.Equal(t, "127.0.0.1:8233", c.Temporal.UIAddr)
	require.True(t, c.Google.Sandbox())
	require.False(t, c.Production())
}

func TestLoadNamesTheVariableAtFault(t *testing.T) {
	key := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	tests := []struct {
		name    string
		mode    Mode
		vars    map[string]string
		wantVar string
	}{
		{"serve needs a database", ModeServe, nil, "DATABASE_URL"},
		{"unknown database scheme", ModeServe, map[string]string{"DATABASE_URL": "mysql://x"}, "DATABASE_URL"},
		{"session key not base64", ModeDev, map[string]string{"LOOMCAST_SESSION_KEY": "%%%"}, "LOOMCAST_SESSION_KEY"},
		{"session key too short", ModeDev, map[string]string{"LOOMCAST_SESSION_KEY": "c2hvcnQ="}, "LOOMCAST_SESSION_KEY"},
		{"production needs a session key", ModeServe, map[string]string{"LOOMCAST_ENV": "production", "DATABASE_URL": "postgres://db", "GOOGLE_CLIENT_ID": "x", "GOOGLE_CLIENT_SECRET": "y"}, "LOOMCAST_SESSION_KEY"},
		{"production needs real Google", ModeServe, map[string]string{"LOOMCAST_ENV": "production", "DATABASE_URL": "postgres://db", "LOOMCAST_SESSION_KEY": key}, "GOOGLE_CLIENT_ID"},
		{"unknown env", ModeDev, map[string]string{"LOOMCAST_ENV": "staging"}, "LOOMCAST_ENV"},
		{"bad address", ModeDev, map[string]string{"LOOMCAST_HTTP_ADDR": "8080"}, "LOOMCAST_HTTP_ADDR"},
		{"bad temporal address", ModeDev, map[string]string{"TEMPORAL_ADDRESS": "temporal"}, "TEMPORAL_ADDRESS"},
		{"cert without key", ModeWorker, map[string]string{"DATABASE_URL": "postgres://db", "TEMPORAL_TLS_CERT": "/nonexistent"}, "TEMPORAL_TLS_CERT"},
		{"bad body limit", ModeDev, map[string]string{"LOOMCAST_MAX_BODY_BYTES": "-1"}, "LOOMCAST_MAX_BODY_BYTES"},
		{"bad proxies", ModeDev, map[string]string{"LOOMCAST_TRUSTED_PROXIES": "10.0.0.0/8, nonsense"}, "LOOMCAST_TRUSTED_PROXIES"},
		{"bad log level", ModeDev, map[string]string{"LOOMCAST_LOG_LEVEL": "loud"}, "LOOMCAST_LOG_LEVEL"},
		{"google secret missing", ModeDev, map[string]string{"GOOGLE_CLIENT_ID": "id"}, "GOOGLE_CLIENT_SECRET"},
		{"serve needs token keys", ModeServe, map[string]string{"DATABASE_URL": "postgres://db"}, "LOOMCAST_TOKEN_KEYS"},
		{"tiktok secret missing", ModeDev, map[string]string{"TIKTOK_CLIENT_KEY": "ck"}, "TIKTOK_CLIENT_SECRET"},
		{"production needs real platforms", ModeWorker, map[string]string{"LOOMCAST_ENV": "production", "DATABASE_URL": "postgres://db", "LOOMCAST_TOKEN_KEYS": "k:x"}, "TIKTOK_CLIENT_KEY"},
		{"bad upload limit", ModeDev, map[string]string{"LOOMCAST_MAX_UPLOAD_BYTES": "lots"}, "LOOMCAST_MAX_UPLOAD_BYTES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.mode, env(tt.vars))
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.wantVar)
		})
	}
}

func TestSecretsStayOutOfLogs(t *testing.T) {
	key := base64.StdEncoding.EncodeToString([]byte("super-secret-session-key-0123456789"))
	c, err := Load(ModeServe, env(map[string]string{
		"DATABASE_URL":         "postgres://loomcast:hunter2-db-password@db:5432/loomcast",
		"LOOMCAST_SESSION_KEY": key,
		"GOOGLE_CLIENT_ID":     "client-id",
		"GOOGLE_CLIENT_SECRET": "google-client-secret-value",
		"LOOMCAST_TOKEN_KEYS":  "k1:dG9rZW4ta2V5LXNlY3JldC12YWx1ZS0wMTIzNDU2Nzg5YWI=",
	}))
	require.NoError(t, err)
	var sb strings.Builder
	slog.New(slog.NewJSONHandler(&sb, nil)).Info("config", slog.Any("config", c))
	out := sb.String()
	for _, secret := range []string{"hunter2-db-password", key, "google-client-secret-value", "super-secret", "dG9rZW4ta2V5"} {
		require.NotContains(t, out, secret)
	}
	require.Contains(t, out, "db:5432", "non-secret parts are still shown")
	require.NotContains(t, fmt.Sprint(c.LogValue()), "hunter2")
}
