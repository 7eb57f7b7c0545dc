package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// ErrBadContainer is wrapped by the errors of CheckVideo: the bytes open
// like a video container but do not hold together.
var ErrBadContainer = errors.New("not a well-formed video")

// MaxDuration is the longest video accepted: no platform takes more.
const MaxDuration = 24 * time.Hour

func badContainer(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadContainer, fmt.Sprintf(format, args...))
}

// CheckVideo checks a video of size bytes, of the type Sniff found, to
// its last box and returns its duration.
//
// MP4 and QuickTime files are read as a tree of boxes, every one of which
// must lie inside its parent and the file: one moov at the top with one
// mvhd inside, whose duration must be positive and at most MaxDuration.
// WebM files must open with an EBML header of doctype webm and hold a
// Segment whose Info gives a positive duration up to MaxDuration. Any
// other failure is ErrBadContainer with the reason.
func CheckVideo(r io.ReadSeeker, contentType string, size int64) (time.Duration, error) {
	switch contentType {
	case MP4, QuickTime:
		return checkMovie(r, size)
	case WebM:
		return checkWebM(r, size)
	}
	return 0, badContainer("unsupported type %q", contentType)
}

// box is an MP4/QuickTime box: its type and where its payload is.
type box struct {
	typ           string
	start, length int64 // payload
}

// boxes lists the boxes in [start, end), checking that each lies inside.
func boxes(r io.ReadSeeker, start, end int64, where string) ([]box, error) {
	var out []box
	for pos := start; pos < end; {
		if end-pos < 8 {
			return nil, badContainer("%d stray bytes at offset %d in %s", end-pos, pos, where)
		}
		if _, err := r.Seek(pos, io.SeekStart); err != nil {
			return nil, err
		}
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, badContainer("the box header at offset %d in %s is cut short", pos, where)
		}
		size, header := int64(binary.BigEndian.Uint32(hdr[:4])), int64(8)
		typ := string(hdr[4:8])
		switch size {
		case 1:
			var large uint64
			if err := binary.Read(r, binary.BigEndian, &large); err != nil {
				return nil, badContainer("the %q box at offset %d has a cut 64-bit size", typ, pos)
			}
			if large > uint64(math.MaxInt64) {
				return nil, badContainer("the %q box at offset %d claims %d bytes", typ, pos, large)
			}
			size, header = int64(large), 16
		case 0: // to the end of the enclosing box
			size = end - pos
		}
		if size < header || size > end-pos {
			return nil, badContainer("the %q box at offset %d claims %d bytes, but %s has %d left", typ, pos, size, where, end-pos)
		}
		out = append(out, box{typ: typ, start: pos + header, length: size - header})
		pos += size
	}
	return out, nil
}

func only(bs []box, typ, where string) (box, error) {
	var found []box
	for _, b := range bs {
		if b.typ == typ {
			found = append(found, b)
		}
	}
	switch len(found) {
	case 0:
		return box{}, badContainer("no %s box in %s", typ, where)
	case 1:
		return found[0], nil
	}
	return box{}, badContainer("%d %s boxes in %s", len(found), typ, where)
}

func checkMovie(r io.ReadSeeker, size int64) (time.Duration, error) {
	top, err := boxes(r, 0, size, "the file")
	if err != nil {
		return 0, err
	}
	moov, err := only(top, "moov", "the file")
	if err != nil {
		return 0, err
	}
	inner, err := boxes(r, moov.start, moov.start+moov.length, "moov")
	if err != nil {
		return 0, err
	}
	mvhd, err := only(inner, "mvhd", "moov")
	if err != nil {
		return 0, err
	}
	if _, err := r.Seek(mvhd.start, io.SeekStart); err != nil {
		return 0, err
	}
	var timescale uint32
	var units uint64
	var version [4]byte
	if mvhd.length < 4 {
		return 0, badContainer("the mvhd box is too short")
	}
	if _, err := io.ReadFull(r, version[:]); err != nil {
		return 0, badContainer("the mvhd box is cut short")
	}
	switch version[0] {
	case 0:
		var v0 struct{ Created, Modified, Timescale, Duration uint32 }
		if mvhd.length < 4+16 || binary.Read(r, binary.BigEndian, &v0) != nil {
			return 0, badContainer("the mvhd box is too short for version 0")
		}
		timescale, units = v0.Timescale, uint64(v0.Duration)
	case 1:
		var v1 struct {
			Created, Modified uint64
			Timescale         uint32
			Duration          uint64
		}
		if mvhd.length < 4+28 || binary.Read(r, binary.BigEndian, &v1) != nil {
			return 0, badContainer("the mvhd box is too short for version 1")
		}
		timescale, units = v1.Timescale, v1.Duration
	default:
		return 0, badContainer("the mvhd box has unknown version %d", version[0])
	}
	if timescale == 0 {
		return 0, badContainer("the movie's timescale is 0")
	}
	if units == 0 {
		// A fragmented file gives its duration in mvex/mehd.
		units = fragmentDuration(r, inner)
	}
	if units == 0 || (units == math.MaxUint32 && version[0] == 0) || units == math.MaxUint64 {
		return 0, badContainer("the movie's duration is unknown or empty")
	}
	return inRange(float64(units) / float64(timescale))
}

// fragmentDuration reads moov/mvex/mehd's fragment duration, in the
// movie's timescale; 0 when there is none.
func fragmentDuration(r io.ReadSeeker, moov []box) uint64 {
	mvex, err := only(moov, "mvex", "moov")
	if err != nil {
		return 0
	}
	inner, err := boxes(r, mvex.start, mvex.start+mvex.length, "mvex")
	if err != nil {
		return 0
	}
	mehd, err := only(inner, "mehd", "mvex")
	if err != nil || mehd.length < 8 {
		return 0
	}
	if _, err := r.Seek(mehd.start, io.SeekStart); err != nil {
		return 0
	}
	var version [4]byte
	if _, err := io.ReadFull(r, version[:]); err != nil {
		return 0
	}
	if version[0] == 1 {
		var d uint64
		if mehd.length < 12 || binary.Read(r, binary.BigEndian, &d) != nil {
			return 0
		}
		return d
	}
	var d uint32
	if binary.Read(r, binary.BigEndian, &d) != nil {
		return 0
	}
	return uint64(d)
}

// inRange turns seconds into a duration, refusing what is not positive or
// longer than MaxDuration (and so never overflows).
func inRange(seconds float64) (time.Duration, error) {
	if !(seconds > 0) || seconds > MaxDuration.Seconds() {
		return 0, badContainer("the duration of %.3g s is out of range (0 to %.0f s)", seconds, MaxDuration.Seconds())
	}
	return time.Duration(seconds * float64(time.Second)), nil
}

// EBML element IDs of WebM.
const (
	ebmlHeaderID    = 0x1A45DFA3
	ebmlDocTypeID   = 0x4282
	segmentID       = 0x18538067
	infoID          = 0x1549A966
	timecodeScaleID = 0x2AD7B1
	durationID      = 0x4489
	unknownSize     = -1
)

// ebmlReader reads EBML elements from a bounded region.
type ebmlReader struct {
	r   io.ReadSeeker
	pos int64
}

func (e *ebmlReader) byte() (byte, error) {
	var b [1]byte
	if _, err := io.ReadFull(e.r, b[:]); err != nil {
		return 0, err
	}
	e.pos++
	return b[0], nil
}

// vint reads a variable-length integer; keepMarker keeps the length
// marker (for IDs). A size with every value bit set is unknownSize.
func (e *ebmlReader) vint(keepMarker bool) (int64, error) {
	first, err := e.byte()
	if err != nil {
		return 0, err
	}
	n := 1
	for mask := byte(0x80); n <= 8 && first&mask == 0; mask >>= 1 {
		n++
	}
	if n > 8 {
		return 0, badContainer("an EBML number at offset %d has no length marker", e.pos-1)
	}
	v := int64(first)
	if !keepMarker {
		v &= int64(0xFF >> n)
	}
	allOnes := v == int64(0xFF>>n)
	for i := 1; i < n; i++ {
		b, err := e.byte()
		if err != nil {
			return 0, err
		}
		allOnes = allOnes && b == 0xFF
		v = v<<8 | int64(b)
	}
	if !keepMarker && allOnes {
		return unknownSize, nil
	}
	return v, nil
}

// element reads an element header: its ID, payload offset and size.
func (e *ebmlReader) element(end int64) (id, start, size int64, err error) {
	if id, err = e.vint(true); err != nil {
		return 0, 0, 0, badContainer("an EBML element at offset %d is cut short", e.pos)
	}
	if size, err = e.vint(false); err != nil {
		return 0, 0, 0, badContainer("the size of EBML element %X is cut short", id)
	}
	start = e.pos
	if size == unknownSize {
		size = end - start
	}
	if size < 0 || size > end-start {
		return 0, 0, 0, badContainer("EBML element %X claims %d bytes, but %d are left", id, size, end-start)
	}
	return id, start, size, nil
}

// children calls fn for each element in [start, end); fn returns false to
// stop.
func (e *ebmlReader) children(start, end int64, fn func(id, start, size int64) (bool, error)) error {
	for pos := start; pos < end; {
		if _, err := e.r.Seek(pos, io.SeekStart); err != nil {
			return err
		}
		e.pos = pos
		id, s, size, err := e.element(end)
		if err != nil {
			return err
		}
		more, err := fn(id, s, size)
		if err != nil || !more {
			return err
		}
		pos = s + size
	}
	return nil
}

func (e *ebmlReader) payload(start, size int64) ([]byte, error) {
	if size > 64 {
		return nil, badContainer("an EBML value of %d bytes is too long", size)
	}
	b := make([]byte, size)
	if _, err := e.r.Seek(start, io.SeekStart); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(e.r, b); err != nil {
		return nil, badContainer("an EBML value is cut short")
	}
	return b, nil
}

func checkWebM(r io.ReadSeeker, size int64) (time.Duration, error) {
	e := &ebmlReader{r: r}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	id, start, hsize, err := e.element(size)
	if err != nil {
		return 0, err
	}
	if id != ebmlHeaderID {
		return 0, badContainer("the file does not open with an EBML header")
	}
	doctype := ""
	if err := e.children(start, start+hsize, func(id, s, n int64) (bool, error) {
		if id == ebmlDocTypeID {
			b, err := e.payload(s, n)
			doctype = string(b)
			return false, err
		}
		return true, nil
	}); err != nil {
		return 0, err
	}
	if doctype != "webm" {
		return 0, badContainer("the EBML doctype is %q, not webm", doctype)
	}
	scale, duration := int64(1_000_000), -1.0
	found := false
	err = e.children(start+hsize, size, func(id, s, n int64) (bool, error) {
		if id != segmentID {
			return true, nil
		}
		found = true
		return false, e.children(s, s+n, func(id, s, n int64) (bool, error) {
			if id != infoID {
				return true, nil
			}
			return false, e.children(s, s+n, func(id, s, n int64) (bool, error) {
				b, err := e.payload(s, n)
				if err != nil {
					return false, err
				}
				switch id {
				case timecodeScaleID:
					var v int64
					for _, x := range b {
						v = v<<8 | int64(x)
					}
					scale = v
				case durationID:
					switch len(b) {
					case 4:
						duration = float64(math.Float32frombits(binary.BigEndian.Uint32(b)))
					case 8:
						duration = math.Float64frombits(binary.BigEndian.Uint64(b))
					default:
						return false, badContainer("the WebM duration has %d bytes", len(b))
					}
				}
				return true, nil
			})
		})
	})
	if err != nil {
		return 0, err
	}
	switch {
	case !found:
		return 0, badContainer("no Segment in the WebM file")
	case duration < 0:
		return 0, badContainer("the WebM file gives no duration")
	case scale <= 0:
		return 0, badContainer("the WebM timecode scale is %d", scale)
	}
	return inRange(duration * float64(scale) / 1e9)
}

// SyntheticWebM writes a minimal WebM header (EBML header, a Segment with
// Info giving d) followed by filler up to size bytes, for tests.
func SyntheticWebM(w io.Writer, size int64, d time.Duration) error {
	el := func(id []byte, payload []byte) []byte {
		n := len(payload)
		out := append([]byte{}, id...)
		out = append(out, 0x88, 0, 0, 0, 0, 0, 0, 0) // 8-byte size
		binary.BigEndian.PutUint64(out[len(id):], uint64(n))
		out[len(id)] = 0x01 // marker for an 8-byte vint
		return append(out, payload...)
	}
	var dur [8]byte
	binary.BigEndian.PutUint64(dur[:], math.Float64bits(float64(d.Milliseconds())))
	head := el([]byte{0x1A, 0x45, 0xDF, 0xA3}, el([]byte{0x42, 0x82}, []byte("webm")))
	info := el([]byte{0x15, 0x49, 0xA9, 0x66}, append(el([]byte{0x2A, 0xD7, 0xB1}, []byte{0x0F, 0x42, 0x40}), el([]byte{0x44, 0x89}, dur[:])...))
	rest := size - int64(len(head)) - int64(4+8) - int64(len(info))
	if rest < 0 {
		return fmt.Errorf("size %d is too small for a WebM file", size)
	}
	seg := append([]byte{0x18, 0x53, 0x80, 0x67, 0x01, 0, 0, 0, 0, 0, 0, 0}, info...)
	binary.BigEndian.PutUint64(seg[4:12], uint64(len(info))+uint64(rest))
	seg[4] = 0x01
	if _, err := w.Write(append(head, seg...)); err != nil {
		return err
	}
	_, err := w.Write(make([]byte, rest)) // a Void-free filler inside the Segment
	return err
}
