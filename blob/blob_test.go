package blob

import (
	"context"
	"io"
	"path/filepath"
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

// Deleting the last object of a folder removes the folders it leaves
// empty (a folder named after a person is a trace of them), never the
// root or a folder that still holds something.
func TestLocalDeleteLeavesNoEmptyFolder(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	l, err := NewLocal(root)
	require.NoError(t, err)
	for _, k := range []string{"uploads/u1/a", "uploads/u1/b", "uploads/u2/c"} {
		_, err := l.Put(ctx, k, strings.NewReader("x"))
		require.NoError(t, err)
	}
	require.NoError(t, l.Delete(ctx, "uploads/u1/a"))
	require.DirExists(t, filepath.Join(root, "uploads", "u1"), "b is still there")
	require.NoError(t, l.Delete(ctx, "uploads/u1/b"))
	require.NoDirExists(t, filepath.Join(root, "uploads", "u1"))
	require.DirExists(t, filepath.Join(root, "uploads"), "u2 is still there")
	require.NoError(t, l.Delete(ctx, "uploads/u2/c"))
	require.NoDirExists(t, filepath.Join(root, "uploads"))
	require.DirExists(t, root)
	_, err = l.Put(ctx, "uploads/u1/again", strings.NewReader("x"))
	require.NoError(t, err, "a folder is made again when needed")
}
