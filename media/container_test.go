package media

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func mp4(t *testing.T, size int64, d time.Duration) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, SyntheticMP4(&b, size, d))
	return b.Bytes()
}

// movieBox builds a box.
func movieBox(typ string, payload ...[]byte) []byte {
	body := bytes.Join(payload, nil)
	out := make([]byte, 8, 8+len(body))
	binary.BigEndian.PutUint32(out, uint32(8+len(body)))
	copy(out[4:], typ)
	return append(out, body...)
}

// mvhd1 is a version 1 movie header with the given timescale and duration.
func mvhd1(timescale uint32, units uint64) []byte {
	p := make([]byte, 4+28+80)
	p[0] = 1
	binary.BigEndian.PutUint32(p[20:], timescale)
	binary.BigEndian.PutUint64(p[24:], units)
	return movieBox("mvhd", p)
}

var ftyp = movieBox("ftyp", []byte("isom\x00\x00\x02\x00isom"))

func TestCheckMovie(t *testing.T) {
	good := mp4(t, 8192, 12*time.Second)
	d, err := CheckVideo(bytes.NewReader(good), MP4, int64(len(good)))
	require.NoError(t, err)
	require.Equal(t, 12*time.Second, d)

	lying := append([]byte{}, good...)
	binary.BigEndian.PutUint32(lying[20:], 1<<30) // the moov after the 20-byte ftyp claims a gigabyte
	zeroScale := append(append([]byte{}, ftyp...), movieBox("moov", movieBox("mvhd", make([]byte, 4+16+80)))...)
	tests := []struct {
		name, reason string
		file         []byte
	}{
		{"ftyp only", "no moov box", ftyp},
		{"moov cut short", "claims", good[:200]},
		{"moov without mvhd", "no mvhd box", append(append([]byte{}, ftyp...), movieBox("moov", movieBox("trak"))...)},
		{"a box past the end", "claims", lying},
		{"duration 2^64-1", "unknown or empty", append(append([]byte{}, ftyp...), movieBox("moov", mvhd1(1000, math.MaxUint64))...)},
		{"a two-day movie", "out of range", append(append([]byte{}, ftyp...), movieBox("moov", mvhd1(1, 2*24*3600))...)},
		{"zero duration", "unknown or empty", append(append([]byte{}, ftyp...), movieBox("moov", mvhd1(1000, 0))...)},
		{"timescale 0", "timescale is 0", zeroScale},
		{"stray bytes", "stray bytes", append(append([]byte{}, good...), 1, 2, 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CheckVideo(bytes.NewReader(tt.file), MP4, int64(len(tt.file)))
			require.ErrorIs(t, err, ErrBadContainer)
			require.Contains(t, err.Error(), tt.reason)
		})
	}

	// A fragmented movie gives its duration in mvex/mehd.
	mvhd0 := make([]byte, 4+16+80)
	binary.BigEndian.PutUint32(mvhd0[12:], 1000) // timescale; duration 0
	fragmented := append(append([]byte{}, ftyp...), movieBox("moov", movieBox("mvhd", mvhd0),
		movieBox("mvex", movieBox("mehd", []byte{0, 0, 0, 0, 0, 0, 0x75, 0x30})))...)
	d, err = CheckVideo(bytes.NewReader(fragmented), MP4, int64(len(fragmented)))
	require.NoError(t, err)
	require.Equal(t, 30*time.Second, d)
}

func TestCheckWebM(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, SyntheticWebM(&b, 4096, 7500*time.Millisecond))
	good := b.Bytes()
	require.Equal(t, WebM, Sniff(good[:SniffLen]))
	d, err := CheckVideo(bytes.NewReader(good), WebM, int64(len(good)))
	require.NoError(t, err)
	require.Equal(t, 7500*time.Millisecond, d)

	notWebM := bytes.Replace(append([]byte{}, good...), []byte("webm"), []byte("mkvx"), 1)
	for _, tt := range []struct {
		name, reason string
		file         []byte
	}{
		{"cut in the header", "claims", good[:20]},
		{"another doctype", "not webm", notWebM},
		{"no segment", "no Segment", good[:bytes.Index(good, []byte{0x18, 0x53, 0x80, 0x67})]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CheckVideo(bytes.NewReader(tt.file), WebM, int64(len(tt.file)))
			require.ErrorIs(t, err, ErrBadContainer)
			require.Contains(t, err.Error(), tt.reason)
		})
	}
}
