package media

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"
)

// Accepted image types, for photo posts.
const (
	JPEG = "image/jpeg"
	PNG  = "image/png"
	WebP = "image/webp"
)

// MaxImageBytes is the largest image accepted: TikTok pulls photos of at
// most 20 MB each.
const MaxImageBytes = 20 << 20

// MaxImagePixels bounds an image's width times height, so that decoding
// one (to convert a PNG for TikTok) stays within memory: 50 megapixels.
const MaxImagePixels = 50_000_000

// SniffImage returns the content type of an image from its first bytes,
// or "" when it is none of JPEG, PNG or WebP (a GIF, say, whatever its
// name or declared type).
func SniffImage(head []byte) string {
	switch {
	case len(head) >= 3 && bytes.Equal(head[:3], []byte{0xFF, 0xD8, 0xFF}):
		return JPEG
	case len(head) >= 8 && bytes.Equal(head[:8], []byte("\x89PNG\r\n\x1a\n")):
		return PNG
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return WebP
	}
	return ""
}

// IsImage reports whether contentType is one of the accepted image types.
func IsImage(contentType string) bool {
	return contentType == JPEG || contentType == PNG || contentType == WebP
}

// ErrBadImage is returned for bytes that open like an image but whose
// header cannot be read, or whose dimensions are out of bounds.
var ErrBadImage = errors.New("not a readable image")

// ImageSize reads an image's dimensions from its header, checking that
// the bytes are the format contentType says (as SniffImage found it).
func ImageSize(r io.Reader, contentType string) (width, height int, err error) {
	var cfg image.Config
	switch contentType {
	case JPEG:
		cfg, err = jpeg.DecodeConfig(r)
	case PNG:
		cfg, err = png.DecodeConfig(r)
	case WebP:
		cfg, err = webp.DecodeConfig(r)
	default:
		return 0, 0, fmt.Errorf("%w: unsupported type %q", ErrBadImage, contentType)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
		return 0, 0, fmt.Errorf("%w: %dx%d pixels", ErrBadImage, cfg.Width, cfg.Height)
	}
	return cfg.Width, cfg.Height, nil
}

// PNGToJPEG converts a PNG to a JPEG (quality 90), laying transparent
// parts on white: TikTok takes JPEG and WebP photos, not PNG.
func PNGToJPEG(w io.Writer, r io.Reader) error {
	src, err := png.Decode(r)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	b := src.Bounds()
	if int64(b.Dx())*int64(b.Dy()) > MaxImagePixels {
		return fmt.Errorf("%w: %dx%d pixels", ErrBadImage, b.Dx(), b.Dy())
	}
	dst := image.NewRGBA(b)
	draw.Draw(dst, b, image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(dst, b, src, b.Min, draw.Over)
	return jpeg.Encode(w, dst, &jpeg.Options{Quality: 90})
}

// SyntheticImage writes a small valid image of the given type (JPEG or
// PNG), for tests and the walkthrough.
func SyntheticImage(w io.Writer, contentType string, width, height int) error {
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	for y := range height {
		for x := range width {
			img.Set(x, y, color.RGBA{uint8(x * 255 / max(width, 1)), uint8(y * 255 / max(height, 1)), 128, 255})
		}
	}
	switch contentType {
	case JPEG:
		return jpeg.Encode(w, img, &jpeg.Options{Quality: 85})
	case PNG:
		return png.Encode(w, img)
	}
	return fmt.Errorf("synthetic %s images are not made", contentType)
}
