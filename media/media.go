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
// header (moov/mvhd), wherever the moov box sits in the file.
func Duration(r io.ReadSeeker) (time.Duration, error) {
	moov, size, err := findBox(r, 0, -1, "moov")
	if err != nil {
		return 0, err
	}
	if _, _, err := findBox(r, moov, size, "mvhd"); err != nil {
		return 0, err
	}
	var version [4]byte
	if _, err := io.ReadFull(r, version[:]); err != nil {
		return 0, fmt.Errorf("read mvhd: %w", err)
	}
	var timescale uint32
	var duration uint64
	if version[0] == 1 {
		var v1 struct {
			Created, Modified uint64
			Timescale         uint32
			Duration          uint64
		}
		if err := binary.Read(r, binary.BigEndian, &v1); err != nil {
			return 0, fmt.Errorf("read mvhd: %w", err)
		}
		timescale, duration = v1.Timescale, v1.Duration
	} else {
		var v0 struct {
			Created, Modified, Timescale, Duration uint32
		}
		if err := binary.Read(r, binary.BigEndian, &v0); err != nil {
			return 0, fmt.Errorf("read mvhd: %w", err)
		}
		timescale, duration = v0.Timescale, uint64(v0.Duration)
	}
	if timescale == 0 {
		return 0, ErrNoDuration
	}
	return time.Duration(float64(duration) / float64(timescale) * float64(time.Second)), nil
}

// findBox walks the boxes in [start, start+length) (length -1: to EOF) and
// leaves r at the payload of the first box of the given type, returning the
// payload's offset and size.
func findBox(r io.ReadSeeker, start, length int64, typ string) (int64, int64, error) {
	pos := start
	for length < 0 || pos < start+length {
		if _, err := r.Seek(pos, io.SeekStart); err != nil {
			return 0, 0, err
		}
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return 0, 0, ErrNoDuration
			}
			return 0, 0, err
		}
		size := int64(binary.BigEndian.Uint32(hdr[:4]))
		header := int64(8)
		switch size {
		case 1:
			var large uint64
			if err := binary.Read(r, binary.BigEndian, &large); err != nil {
				return 0, 0, ErrNoDuration
			}
			size, header = int64(large), 16
		case 0:
			end, err := r.Seek(0, io.SeekEnd)
			if err != nil {
				return 0, 0, err
			}
			size = end - pos
			if _, err := r.Seek(pos+header, io.SeekStart); err != nil {
				return 0, 0, err
			}
		}
		if size < header {
			return 0, 0, ErrNoDuration
		}
		if string(hdr[4:8]) == typ {
			return pos + header, size - header, nil
		}
		pos += size
	}
	return 0, 0, ErrNoDuration
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
