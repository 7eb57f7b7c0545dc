// Package media recognises the video containers Loomcast accepts from their
// bytes (never from a file name or a client's Content-Type) and reads what
// it can of them without decoding: the duration of MP4 and QuickTime files.
package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Accepted content types.
const (
	MP4       = "video/mp4"
	QuickTime = "video/quicktime"
	WebM      = "video/webm"
)

// SniffLen is how many leading bytes Sniff wants.
const SniffLen = 64

// Sniff returns the content type of a video from its first bytes, or ""
// when it is none of MP4, QuickTime or WebM.
func Sniff(head []byte) string {
	if len(head) >= 12 && string(head[4:8]) == "ftyp" {
		if string(head[8:12]) == "qt  " {
			return QuickTime
		}
		return MP4
	}
	// QuickTime files may open with other atoms than ftyp.
	if len(head) >= 8 {
		switch string(head[4:8]) {
		case "moov", "mdat", "wide", "free", "skip":
			return QuickTime
		}
	}
	if len(head) >= 4 && bytes.Equal(head[:4], []byte{0x1A, 0x45, 0xDF, 0xA3}) && bytes.Contains(head, []byte("webm")) {
		return WebM
	}
	return ""
}

// ErrNoDuration is returned when a file's duration cannot be read.
var ErrNoDuration = errors.New("duration not found in the container")

// Duration reads the duration of an MP4 or QuickTime file from its movie
// header (moov/mvhd), wherever the moov box sits in the file, checking the
// file as CheckVideo does; a file it cannot read is ErrNoDuration (and
// ErrBadContainer).
func Duration(r io.ReadSeeker) (time.Duration, error) {
	size, err := r.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	d, err := checkMovie(r, size)
	if errors.Is(err, ErrBadContainer) {
		return 0, fmt.Errorf("%w: %w", ErrNoDuration, err)
	}
	return d, err
}

// SyntheticMP4 writes a minimal, well-formed MP4 container of exactly size
// bytes with the given duration: ftyp, moov/mvhd and an mdat of filler.
// Tests and the sandbox use it in place of real footage.
func SyntheticMP4(w io.Writer, size int64, d time.Duration) error {
	var head bytes.Buffer
	head.Write([]byte{0, 0, 0, 20})
	head.WriteString("ftypisom")
	head.Write([]byte{0, 0, 2, 0})
	head.WriteString("isom")
	mvhd := make([]byte, 8+100)
	binary.BigEndian.PutUint32(mvhd[0:], uint32(len(mvhd)))
	copy(mvhd[4:], "mvhd")
	binary.BigEndian.PutUint32(mvhd[20:], 1000)                     // timescale
	binary.BigEndian.PutUint32(mvhd[24:], uint32(d.Milliseconds())) // duration
	binary.BigEndian.PutUint32(mvhd[28:], 0x00010000)               // rate 1.0
	moovLen := 8 + len(mvhd)
	head.Write([]byte{byte(moovLen >> 24), byte(moovLen >> 16), byte(moovLen >> 8), byte(moovLen)})
	head.WriteString("moov")
	head.Write(mvhd)
	rest := size - int64(head.Len()) - 8
	if rest < 0 {
		return fmt.Errorf("size %d is too small for a container", size)
	}
	var mdat [8]byte
	binary.BigEndian.PutUint32(mdat[:4], uint32(rest+8))
	copy(mdat[4:], "mdat")
	head.Write(mdat[:])
	if _, err := w.Write(head.Bytes()); err != nil {
		return err
	}
	filler := bytes.Repeat([]byte{0x42}, 64<<10)
	for rest > 0 {
		n := min(rest, int64(len(filler)))
		if _, err := w.Write(filler[:n]); err != nil {
			return err
		}
		rest -= n
	}
	return nil
}
