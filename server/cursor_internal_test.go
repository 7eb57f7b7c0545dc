package server

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSignedCursors(t *testing.T) {
	s := &base{cfg: Config{SessionKey: []byte("0123456789abcdef0123456789abcdef")}}
	c := s.signCursor("workflows:u1", []byte("temporal page token"))
	tok, err := s.openCursor("workflows:u1", c)
	require.NoError(t, err)
	require.Equal(t, "temporal page token", string(tok))
	_, err = s.openCursor("workflows:u2", c)
	require.ErrorIs(t, err, errBadCursor, "another user's cursor")
	_, err = s.openCursor("workflows:u1", c+"x")
	require.ErrorIs(t, err, errBadCursor)
	tok, err = s.openCursor("workflows:u1", "")
	require.NoError(t, err)
	require.Nil(t, tok, "the first page")
	require.Empty(t, s.signCursor("workflows:u1", nil), "no next page")
}
