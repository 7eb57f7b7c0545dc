package blob

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLocal(t *testing.T) {
	ctx := context.Background()
	l, err := NewLocal(t.TempDir())
	require.NoError(t, err)

	n, err := l.Put(ctx, "uploads/u1/a.mp4", strings.NewReader("hello"))
	require.NoError(t, err)
	require.EqualValues(t, 5, n)

	r, err := l.Open(ctx, "uploads/u1/a.mp4")
	require.NoError(t, err)
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.Equal(t, "hello", string(b))

	keys, err := l.List(ctx, "uploads/")
	require.NoError(t, err)
	require.Equal(t, []string{"uploads/u1/a.mp4"}, keys)

	require.NoError(t, l.Delete(ctx, "uploads/u1/a.mp4"))
	require.NoError(t, l.Delete(ctx, "uploads/u1/a.mp4"), "deleting twice succeeds")
	_, err = l.Open(ctx, "uploads/u1/a.mp4")
	require.ErrorIs(t, err, ErrNotFound)

	for _, bad := range []string{"", "/etc/passwd", "../x", "a/../../x", "a//b", "a/.tmp-1"} {
		t.Run("refuses "+bad, func(t *testing.T) {
			_, err := l.Put(ctx, bad, strings.NewReader("x"))
			require.Error(t, err)
		})
	}

	t.Run("a cancelled put leaves nothing", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := l.Put(cctx, "x/y", strings.NewReader("data"))
		require.Error(t, err)
		keys, err := l.List(ctx, "x/")
		require.NoError(t, err)
		require.Empty(t, keys)
	})
}
