package vault

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func key(id string, b byte) Key { return Key{ID: id, Secret: bytes.Repeat([]byte{b}, 32)} }

func TestSealOpen(t *testing.T) {
	ring, err := New(key("k1", 1))
	require.NoError(t, err)
	sealed, err := ring.Seal("refresh-token-value", "channel:c1:refresh")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(sealed, "k1."))
	require.NotContains(t, sealed, "refresh-token-value")

	got, err := ring.Open(sealed, "channel:c1:refresh")
	require.NoError(t, err)
	require.Equal(t, "refresh-token-value", got)

	again, err := ring.Seal("refresh-token-value", "channel:c1:refresh")
	require.NoError(t, err)
	require.NotEqual(t, sealed, again, "a fresh nonce every time")

	t.Run("bound to its context", func(t *testing.T) {
		_, err := ring.Open(sealed, "channel:c2:refresh")
		require.ErrorIs(t, err, ErrCorrupt)
	})
	t.Run("tampering is detected", func(t *testing.T) {
		b := []byte(sealed)
		b[len(b)-3] ^= 1
		_, err := ring.Open(string(b), "channel:c1:refresh")
		require.ErrorIs(t, err, ErrCorrupt)
		_, err = ring.Open("garbage", "x")
		require.ErrorIs(t, err, ErrCorrupt)
	})
}

func TestRotation(t *testing.T) {
	old, err := New(key("k1", 1))
	require.NoError(t, err)
	sealed, err := old.Seal("token", "ctx")
	require.NoError(t, err)

	rotated, err := New(key("k2", 2), key("k1", 1))
	require.NoError(t, err)
	got, err := rotated.Open(sealed, "ctx")
	require.NoError(t, err, "old values open during rotation")
	require.Equal(t, "token", got)
	resealed, err := rotated.Seal(got, "ctx")
	require.NoError(t, err)
	require.Equal(t, "k2", KeyID(resealed))

	onlyNew, err := New(key("k2", 2))
	require.NoError(t, err)
	_, err = onlyNew.Open(sealed, "ctx")
	require.ErrorIs(t, err, ErrUnknownKey)
	got, err = onlyNew.Open(resealed, "ctx")
	require.NoError(t, err)
	require.Equal(t, "token", got)
}

func TestParseKeys(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	keys, err := ParseKeys("new:" + b64 + ", old:" + b64)
	require.NoError(t, err)
	require.Len(t, keys, 2)
	require.Equal(t, "new", keys[0].ID)

	for _, bad := range []string{"", "nocolon", "id:%%%"} {
		_, err := ParseKeys(bad)
		require.Error(t, err, bad)
	}
	_, err = New(Key{ID: "short", Secret: []byte("x")})
	require.Error(t, err)
	_, err = New(key("bad id!", 1))
	require.Error(t, err)
	_, err = New(key("a", 1), key("a", 2))
	require.Error(t, err)
}
