package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/loomcast/loomcast/media"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/retention/scheduler"
)

// UploadRetention is how long an upload for publishing is kept at most
// (the retention table: 24 hours, policy 000 section 2.4).
var UploadRetention = retention.Fixed(retention.Uploads)

// uploadView answers POST /v1/uploads.
type uploadView struct {
	ID string `json:"id"`
	// Kind is "video" or "image".
	Kind        string    `json:"kind"`
	Size        int64     `json:"size"`
	ContentType string    `json:"content_type"`
	DurationMS  *int64    `json:"duration_ms"`
	Width       *int      `json:"width"`
	Height      *int      `json:"height"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// uploadKind is "image" for JPEG, PNG and WebP, "video" otherwise.
func uploadKind(contentType string) string {
	if media.IsImage(contentType) {
		return "image"
	}
	return "video"
}

// createUpload streams the body (raw, or the "file" part of a multipart
// form) to blob storage without holding it in memory, checks its type from
// its bytes, reads its duration, and schedules its deletion 24 hours on.
func (s *postsAPI) createUpload(c *gin.Context) {
	user := currentPrincipal(c).User
	ctx := c.Request.Context()
	// The body streams and cannot be hashed before it is stored: a key
	// stands for its length and media type (without a multipart boundary).
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	done, ok := s.beginIdempotent(c, user.ID, user.ID, struct {
		Length int64
		Type   string
	}{c.Request.ContentLength, mt})
	if !ok {
		return
	}
	defer done()
	body := http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxUploadBytes)
	src, err := uploadSource(c.GetHeader("Content-Type"), body)
	if err != nil {
		s.fail(c, err)
		return
	}
	head := bufio.NewReaderSize(src, media.SniffLen)
	peek, err := head.Peek(media.SniffLen)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		s.fail(c, readError(err, s.cfg.MaxUploadBytes))
		return
	}
	contentType := media.Sniff(peek)
	if contentType == "" {
		contentType = media.SniffImage(peek)
	}
	if contentType == "" {
		s.fail(c, errorf(CodeUnsupportedType, "The file is not an MP4, MOV or WebM video, nor a JPEG, PNG or WebP image (checked from its bytes)."))
		return
	}
	id := models.NewID()
	key := "uploads/" + user.ID + "/" + id
	size, err := s.blob.Put(ctx, key, head)
	if err != nil {
		_ = s.blob.Delete(context.WithoutCancel(ctx), key)
		s.fail(c, readError(err, s.cfg.MaxUploadBytes))
		return
	}
	var durationMS *int64
	var width, height *int
	if media.IsImage(contentType) {
		w, h, err := s.imageSize(ctx, key, contentType, size)
		if err != nil {
			_ = s.blob.Delete(context.WithoutCancel(ctx), key)
			s.fail(c, err)
			return
		}
		width, height = &w, &h
	} else {
		d, err := s.checkVideo(ctx, key, contentType, size)
		if err != nil {
			_ = s.blob.Delete(context.WithoutCancel(ctx), key)
			s.fail(c, err)
			return
		}
		ms := d.Milliseconds()
		durationMS = &ms
	}
	now := s.now()
	up := &models.Upload{ID: id, UserID: user.ID, BlobKey: key, Size: size, ContentType: contentType, DurationMS: durationMS,
		Width: width, Height: height, CreatedAt: now, ExpiresAt: now.Add(UploadRetention)}
	if err := s.store.CreateUpload(ctx, up); err != nil {
		_ = s.blob.Delete(ctx, key)
		s.fail(c, err)
		return
	}
	if err := s.retention.Schedule(ctx, scheduler.Item{Category: retention.Uploads, ObjectID: id, UserID: user.ID, Start: now}); err != nil {
		// Without its deletion scheduled the file must not stay: undo.
		_ = s.blob.Delete(ctx, key)
		_ = s.store.MarkUploadDeleted(ctx, id, now)
		s.log(c).Error("schedule upload retention", slog.String("error", err.Error()))
		s.fail(c, &Error{Code: CodeUnavailable, Message: "The upload could not be scheduled for deletion, so it was not kept; try again in a minute.", RetryAfter: 30})
		return
	}
	c.JSON(http.StatusCreated, uploadView{ID: id, Kind: uploadKind(contentType), Size: size, ContentType: contentType, DurationMS: durationMS,
		Width: width, Height: height, CreatedAt: up.CreatedAt, ExpiresAt: up.ExpiresAt})
}

// uploadSource returns the bytes of the upload: the raw body, or the
// "file" part of a multipart form, streamed.
func uploadSource(contentType string, body io.Reader) (io.Reader, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, errorf(CodeUnsupportedType, "Send the video or image as the raw body (Content-Type: video/mp4, video/quicktime, video/webm, image/jpeg, image/png or image/webp) or as the \"file\" part of multipart/form-data.")
	}
	if mt != "multipart/form-data" {
		return body, nil
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, errorf(CodeInvalid, "The multipart form has no \"file\" part.")
		}
		if err != nil {
			return nil, errorf(CodeMalformed, "The multipart form could not be read.")
		}
		if part.FormName() == "file" {
			return part, nil
		}
	}
}

func readError(err error, limit int64) error {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return errorf(CodeTooLarge, "The video is larger than the limit of %s.", humanBytes(limit))
	}
	return fmt.Errorf("store upload: %w", err)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// imageSize checks a stored image: at most media.MaxImageBytes (TikTok's
// limit per photo), and a header that reads as the type its bytes claim.
func (s *postsAPI) imageSize(ctx context.Context, key, contentType string, size int64) (int, int, error) {
	if size > media.MaxImageBytes {
		return 0, 0, errorf(CodeTooLarge, "The image is larger than the limit of %s per photo.", humanBytes(media.MaxImageBytes))
	}
	f, err := s.blob.Open(ctx, key)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	w, h, err := media.ImageSize(f, contentType)
	if errors.Is(err, media.ErrBadImage) {
		return 0, 0, errorf(CodeUnsupportedType, "The file starts like a %s image but is not a readable one (or is larger than %d megapixels).",
			strings.TrimPrefix(contentType, "image/"), media.MaxImagePixels/1_000_000)
	}
	return w, h, err
}

// checkVideo checks a stored video to its last box (media.CheckVideo)
// and returns its duration; a file that does not hold together is a 415
// saying why.
func (s *postsAPI) checkVideo(ctx context.Context, key, contentType string, size int64) (time.Duration, error) {
	f, err := s.blob.Open(ctx, key)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		return 0, errors.New("blob store returned a reader that cannot seek")
	}
	d, err := media.CheckVideo(rs, contentType, size)
	if errors.Is(err, media.ErrBadContainer) {
		return 0, errorf(CodeUnsupportedType, "The file opens like a %s video but is not a well-formed one (%s).",
			strings.TrimPrefix(contentType, "video/"), strings.TrimPrefix(err.Error(), media.ErrBadContainer.Error()+": "))
	}
	return d, err
}
