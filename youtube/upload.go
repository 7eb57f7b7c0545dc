package youtube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"google.golang.org/api/googleapi"
	ytapi "google.golang.org/api/youtube/v3"
)

// Video is the metadata of a video to upload.
type Video struct {
	Title, Description string
	// PrivacyStatus is public, private or unlisted; the API refuses others.
	PrivacyStatus string
}

// Upload inserts a video (videos.insert, part=snippet,status) and returns
// its ID.
//
// The media is sent with the resumable protocol in chunks of chunkSize
// bytes (rounded up to a multiple of 256 KiB; <= 0 means
// googleapi.DefaultUploadChunkSize). A chunk that fails with a network
// error, 408, 429 or 5xx is sent again in the same session, for up to 32
// seconds per chunk, before Upload gives up. Media smaller than one chunk
// goes in a single multipart request instead (that is how the generated
// client works).
//
// size is the media's length in bytes: it is declared to the API
// (X-Upload-Content-Length) and a reader that yields more or fewer bytes
// fails the upload; size <= 0 means unknown. progress, if not nil, is
// called with the number of bytes the API has acknowledged after every
// chunk, and once at the end.
//
// API refusals are returned as a wrapped *APIError.
func (c *Client) Upload(ctx context.Context, accessToken string, v Video, r io.Reader, size int64, contentType string, chunkSize int, progress func(sent int64)) (videoID string, err error) {
	svc, err := c.service(ctx, accessToken)
	if err != nil {
		return "", err
	}
	if chunkSize <= 0 {
		chunkSize = googleapi.DefaultUploadChunkSize
	}
	media := &sizedReader{r: r, size: size}
	meta := &ytapi.Video{
		Snippet: &ytapi.VideoSnippet{Title: v.Title, Description: v.Description},
		Status:  &ytapi.VideoStatus{PrivacyStatus: v.PrivacyStatus},
	}
	var reported int64
	call := svc.Videos.Insert([]string{"snippet", "status"}, meta).
		Media(media, googleapi.ChunkSize(chunkSize), googleapi.ContentType(contentType)).
		ProgressUpdater(func(current, _ int64) {
			reported = current
			if progress != nil {
				progress(current)
			}
		}).
		Context(ctx)
	if size > 0 {
		call.Header().Set("X-Upload-Content-Length", strconv.FormatInt(size, 10))
	}
	res, err := call.Do()
	if err != nil {
		return "", apiErr("upload video", err)
	}
	if res.Id == "" {
		return "", errors.New("youtube: upload video: the answer has no video id")
	}
	if progress != nil && reported < media.n {
		progress(media.n)
	}
	return res.Id, nil
}

// sizedReader counts the bytes read and, when size > 0, fails if the
// underlying reader yields more or fewer than size bytes.
type sizedReader struct {
	r    io.Reader
	size int64
	n    int64
}

// Read implements io.Reader.
func (s *sizedReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if s.size > 0 {
		if s.n > s.size {
			return n, fmt.Errorf("youtube: media is longer than the declared %d bytes", s.size)
		}
		if err == io.EOF && s.n < s.size {
			return n, fmt.Errorf("youtube: media ended after %d of the declared %d bytes: %w", s.n, s.size, io.ErrUnexpectedEOF)
		}
	}
	return n, err
}
