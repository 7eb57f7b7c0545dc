package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/media"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/password"
)

func TestSubcommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbURL := "sqlite:" + filepath.Join(dir, "loomcast.db")
	t.Setenv("DATABASE_URL", dbURL)
	t.Setenv("LOOMCAST_DATA_DIR", dir)
	t.Setenv("LOOMCAST_TOKEN_KEYS", newTokenKey(time.Now()))

	t.Run("unknown command", func(t *testing.T) {
		err := run(ctx, []string{"frobnicate"}, nil, &bytes.Buffer{})
		require.ErrorContains(t, err, `unknown command "frobnicate"`)
	})

	t.Run("serve refuses an unmigrated database", func(t *testing.T) {
		err := runServe(ctx, io.Discard)
		require.ErrorIs(t, err, models.ErrSchemaOutdated)
	})

	t.Run("migrate", func(t *testing.T) {
		var out bytes.Buffer
		require.NoError(t, run(ctx, []string{"migrate"}, nil, &out))
		require.Contains(t, out.String(), fmt.Sprintf("database is at version %d", models.LatestVersion()))
		out.Reset()
		require.NoError(t, run(ctx, []string{"migrate"}, nil, &out))
		require.Contains(t, out.String(), "up to date")
	})

	t.Run("admin create-user with a password from stdin, then a role change", func(t *testing.T) {
		var out bytes.Buffer
		err := run(ctx, []string{"admin", "create-user", "--email", "Boss@Example.com", "--role", "admin", "--password-stdin"},
			strings.NewReader("a strong staff passphrase\n"), &out)
		require.NoError(t, err)
		require.Contains(t, out.String(), "with role admin")
		require.NotContains(t, out.String(), "a strong staff passphrase")

		store, err := models.Open(ctx, dbURL)
		require.NoError(t, err)
		defer store.Close()
		u, err := store.UserByEmail(ctx, "boss@example.com")
		require.NoError(t, err)
		require.Equal(t, models.RoleAdmin, u.Role)
		require.NoError(t, password.Verify(*u.PasswordHash, "a strong staff passphrase"))

		out.Reset()
		require.NoError(t, run(ctx, []string{"admin", "create-user", "--email", "boss@example.com", "--role", "support"}, nil, &out))
		u, err = store.UserByEmail(ctx, "boss@example.com")
		require.NoError(t, err)
		require.Equal(t, models.RoleSupport, u.Role)
	})

	t.Run("keys generate and rotate", func(t *testing.T) {
		var out bytes.Buffer
		require.NoError(t, run(ctx, []string{"keys", "generate"}, nil, &out))
		id, secret, ok := strings.Cut(strings.TrimSpace(out.String()), ":")
		require.True(t, ok)
		require.True(t, strings.HasPrefix(id, "k"))
		raw, err := base64.StdEncoding.DecodeString(secret)
		require.NoError(t, err)
		require.Len(t, raw, 32)
		out.Reset()
		require.NoError(t, run(ctx, []string{"keys", "rotate"}, nil, &out))
		require.Contains(t, out.String(), "re-encrypted 0 channels")
	})

	t.Run("sample-video writes an MP4 that uploads accept", func(t *testing.T) {
		path := filepath.Join(dir, "my-video.mp4")
		var out bytes.Buffer
		require.NoError(t, run(ctx, []string{"sample-video", path}, nil, &out))
		require.Contains(t, out.String(), "wrote "+path)
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		head := make([]byte, media.SniffLen)
		_, err = io.ReadFull(f, head)
		require.NoError(t, err)
		require.Equal(t, media.MP4, media.Sniff(head))
		d, err := media.Duration(f)
		require.NoError(t, err)
		require.Equal(t, sampleVideoDuration, d)
	})

	t.Run("admin create-user refuses a bad role and a weak password", func(t *testing.T) {
		err := run(ctx, []string{"admin", "create-user", "--email", "x@example.com", "--role", "root"}, nil, &bytes.Buffer{})
		require.ErrorContains(t, err, "--role")
		err = run(ctx, []string{"admin", "create-user", "--email", "y@example.com", "--password-stdin"}, strings.NewReader("short\n"), &bytes.Buffer{})
		require.ErrorContains(t, err, "password")
	})
}
