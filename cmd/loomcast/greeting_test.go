package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/config"
)

func TestDevGreeting(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
		not  []string
	}{
		{
			name: "everything local",
			env:  map[string]string{"LOOMCAST_DATA_DIR": "/srv/loomcast-data"},
			want: []string{
				"API             http://127.0.0.1:8080\n",
				"OpenAPI         http://127.0.0.1:8080/openapi.json\n",
				"Temporal UI     http://127.0.0.1:8233\n",
				"Temporal        127.0.0.1:7233, namespace default",
				"Data            /srv/loomcast-data\n",
				"SMTP_HOST not set: http://127.0.0.1:8080/v1/admin/outbox",
				"Mailbox         sandbox: http://127.0.0.1:8080/sandbox/mail/?to=ADDRESS",
				"TikTok          sandbox, TIKTOK_CLIENT_KEY not set\n",
				"YouTube         sandbox, YOUTUBE_CLIENT_ID (or GOOGLE_CLIENT_ID) not set\n",
				"Google sign-in  sandbox, GOOGLE_CLIENT_ID not set\n",
			},
		},
		{
			name: "real platforms and SMTP",
			env: map[string]string{"TIKTOK_CLIENT_KEY": "k", "TIKTOK_CLIENT_SECRET": "s", "GOOGLE_CLIENT_ID": "g",
				"GOOGLE_CLIENT_SECRET": "s", "SMTP_HOST": "mail.example.com", "LOOMCAST_TEMPORAL_UI_ADDR": "0.0.0.0:9233"},
			want: []string{
				"Temporal UI     http://127.0.0.1:9233\n",
				"Mail            sent by SMTP through mail.example.com:587\n",
				"TikTok          real, TIKTOK_CLIENT_KEY set\n",
				"YouTube         real, YOUTUBE_CLIENT_ID set\n",
				"Google sign-in  real, GOOGLE_CLIENT_ID set\n",
			},
			not: []string{"sandbox", "outbox"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load(config.ModeDev, func(k string) string { return tt.env[k] })
			require.NoError(t, err)
			var out bytes.Buffer
			devGreeting(cfg, "127.0.0.1:7233").write(&out)
			for _, w := range tt.want {
				require.Contains(t, out.String(), w)
			}
			for _, n := range tt.not {
				require.NotContains(t, out.String(), n)
			}
		})
	}
}

func TestLogsForAPersonOnlyOnATerminal(t *testing.T) {
	cfg, err := config.Load(config.ModeDev, func(string) string { return "" })
	require.NoError(t, err)
	var buf bytes.Buffer
	newLogger(cfg, &buf).Info("hello", "n", 1)
	require.Equal(t, byte('{'), buf.Bytes()[0], "a buffer is no terminal: JSON")

	f, err := os.CreateTemp(t.TempDir(), "log")
	require.NoError(t, err)
	defer f.Close()
	require.False(t, forPerson(cfg, f), "a file is no terminal")
	devNull, err := os.Open(os.DevNull)
	require.NoError(t, err)
	defer devNull.Close()
	require.False(t, forPerson(cfg, devNull), "/dev/null is a character device but no terminal")
}
