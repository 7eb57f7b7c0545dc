package media

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSniff(t *testing.T) {
	var mp4 bytes.Buffer
	require.NoError(t, SyntheticMP4(&mp4, 4096, 12*time.Second))
	tests := []struct {
		name string
		head []byte
		want string
	}{
		{"mp4", mp4.Bytes()[:SniffLen], MP4},
		{"quicktime ftyp", append([]byte{0, 0, 0, 20}, []byte("ftypqt  \x00\x00\x02\x00qt  ")...), QuickTime},
		{"quicktime without ftyp", append([]byte{0, 0, 0, 8}, []byte("wide")...), QuickTime},
		{"webm", append([]byte{0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01}, []byte("B\x82\x84webm")...), WebM},
		{"matroska is not webm", append([]byte{0x1A, 0x45, 0xDF, 0xA3}, []byte("matroska")...), ""},
		{"png", []byte("\x89PNG\r\n\x1a\n0000000000"), ""},
		{"text", []byte("hello world, this is not a video"), ""},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Sniff(tt.head))
		})
	}
}

func TestDuration(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, SyntheticMP4(&buf, 1<<20, 95500*time.Millisecond))
	require.EqualValues(t, 1<<20, buf.Len())
	d, err := Duration(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	require.Equal(t, 95500*time.Millisecond, d)

	t.Run("moov after mdat", func(t *testing.T) {
		b := buf.Bytes()
		ftyp, moov := b[:20], b[20:20+116]
		mdat := b[20+116:]
		moved := append(append(append([]byte{}, ftyp...), mdat...), moov...)
		d, err := Duration(bytes.NewReader(moved))
		require.NoError(t, err)
		require.Equal(t, 95500*time.Millisecond, d)
	})

	t.Run("no moov", func(t *testing.T) {
		_, err := Duration(bytes.NewReader([]byte("\x00\x00\x00\x10ftypisom\x00\x00\x02\x00")))
		require.ErrorIs(t, err, ErrNoDuration)
	})
	t.Run("garbage sizes", func(t *testing.T) {
		_, err := Duration(bytes.NewReader([]byte("\x00\x00\x00\x02moov")))
		require.ErrorIs(t, err, ErrNoDuration)
	})
}

func TestImages(t *testing.T) {
	for _, ct := range []string{JPEG, PNG} {
		var buf bytes.Buffer
		require.NoError(t, SyntheticImage(&buf, ct, 64, 48))
		require.Equal(t, ct, SniffImage(buf.Bytes()))
		w, h, err := ImageSize(bytes.NewReader(buf.Bytes()), ct)
		require.NoError(t, err)
		require.Equal(t, []int{64, 48}, []int{w, h})
	}
	webp1x1 := []byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00")
	require.Equal(t, WebP, SniffImage(webp1x1))
	w, h, err := ImageSize(bytes.NewReader(webp1x1), WebP)
	require.NoError(t, err)
	require.Equal(t, []int{1, 1}, []int{w, h})
	// A GIF is refused whatever it claims, and a cut header is unreadable.
	require.Empty(t, SniffImage([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00")))
	_, _, err = ImageSize(bytes.NewReader([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10}), JPEG)
	require.ErrorIs(t, err, ErrBadImage)
	_, _, err = ImageSize(bytes.NewReader([]byte("RIFF\x10\x00\x00\x00WEBPVP8 ")), WebP)
	require.ErrorIs(t, err, ErrBadImage)

	var pngBuf, jpg bytes.Buffer
	require.NoError(t, SyntheticImage(&pngBuf, PNG, 10, 10))
	require.NoError(t, PNGToJPEG(&jpg, &pngBuf))
	require.Equal(t, JPEG, SniffImage(jpg.Bytes()))
	w, h, err = ImageSize(&jpg, JPEG)
	require.NoError(t, err)
	require.Equal(t, []int{10, 10}, []int{w, h})
}
