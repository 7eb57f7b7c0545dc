package youtube

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/api/googleapi"
	ytapi "google.golang.org/api/youtube/v3"
)

// The resumable upload protocol is spoken here rather than through the
// generated client's Videos.Insert(...).Media(...): that call keeps its
// session URI inside google.golang.org/api/internal/gensupport, so a
// caller can neither store the session before the first byte is sent nor
// resume it from another attempt or another process. Without both, a
// worker that dies after the last chunk (or an answer lost beyond the
// retries) makes the next attempt open a second session and post the
// video twice. The requests and the JSON shapes are the Data API's
// (https://developers.google.com/youtube/v3/guides/using_resumable_upload_protocol);
// errors are read with googleapi.CheckResponse, as the generated client
// does.

// Video is the metadata of a video to upload.
type Video struct {
	Title, Description string
	// PrivacyStatus is public, private or unlisted; the API refuses others.
	PrivacyStatus string
}

// ErrSessionExpired is returned by ResumeUpload when the API no longer
// knows the session (404 or 410): a new one must be started.
var ErrSessionExpired = errors.New("youtube: the upload session has expired")

// defaultRetryFor is how long one upload request is sent again after a
// network error, 408, 429 or 5xx, when Config.RetryFor is 0.
const defaultRetryFor = 32 * time.Second

// StartUpload opens a resumable upload session for a video of size bytes
// (videos.insert, part=snippet,status, uploadType=resumable) and returns
// the session URI. No video exists until all bytes are sent to it.
//
// The session URI alone authorizes the upload, for a week: it works like a
// password. Keep it sealed, and out of logs and workflow histories; errors
// never show it.
func (c *Client) StartUpload(ctx context.Context, accessToken string, v Video, size int64, contentType string) (string, error) {
	if size <= 0 {
		return "", errors.New("youtube: start upload: the media's size must be known")
	}
	meta, err := json.Marshal(&ytapi.Video{
		Snippet: &ytapi.VideoSnippet{Title: v.Title, Description: v.Description},
		Status:  &ytapi.VideoStatus{PrivacyStatus: v.PrivacyStatus},
	})
	if err != nil {
		return "", fmt.Errorf("youtube: start upload: %w", err)
	}
	u := c.cfg.APIBaseURL + "upload/youtube/v3/videos?" + url.Values{
		"uploadType": {"resumable"}, "part": {"snippet,status"}, "alt": {"json"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(meta))
	if err != nil {
		return "", fmt.Errorf("youtube: start upload: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("X-Upload-Content-Length", strconv.FormatInt(size, 10))
	req.Header.Set("X-Upload-Content-Type", contentType)
	res, err := c.http.Do(req)
	if err != nil {
		return "", apiErr("start upload", err)
	}
	defer drainClose(res)
	if err := googleapi.CheckResponse(res); err != nil {
		return "", apiErr("start upload", err)
	}
	loc := res.Header.Get("Location")
	if lu, err := url.Parse(loc); err != nil || (lu.Scheme != "https" && lu.Scheme != "http") || lu.Host == "" {
		return "", errors.New("youtube: start upload: the answer has no session URI")
	}
	return loc, nil
}

// ResumeUpload sends media (size bytes) to the session at sessionURI and
// returns the ID of the video it makes. It first asks the session how
// many bytes it has committed (PUT with "Content-Range: bytes */<size>")
// and continues from there, so it may be called again, by any process,
// after an attempt that failed at any point: when the session says the
// upload is complete, it returns the video the session made instead of
// uploading anything.
//
// Media is sent in chunks of chunkSize bytes (rounded up to a multiple of
// 256 KiB; <= 0 means googleapi.DefaultUploadChunkSize). A request that
// fails with a network error, 408, 429 or 5xx is sent again, after asking
// the session what it committed, for Config.RetryFor from the last
// progress. progress, if not nil, is called with the number of bytes the
// session has committed after every chunk.
//
// The session URI, not an access token, authorizes these requests.
// ErrSessionExpired means the session is gone; API refusals are returned
// as a wrapped *APIError.
func (c *Client) ResumeUpload(ctx context.Context, sessionURI string, media io.ReadSeeker, size int64, chunkSize int, progress func(committed int64)) (string, error) {
	if size <= 0 {
		return "", errors.New("youtube: upload: the media's size must be known")
	}
	if chunkSize <= 0 {
		chunkSize = googleapi.DefaultUploadChunkSize
	}
	if q := int(googleapi.MinUploadChunkSize); chunkSize%q != 0 {
		chunkSize += q - chunkSize%q
	}
	if end, err := media.Seek(0, io.SeekEnd); err != nil || end != size {
		return "", fmt.Errorf("youtube: upload: the media has %d bytes, not the declared %d", end, size)
	}
	var reported int64
	report := func(st sessionState) {
		n := st.committed
		if st.videoID != "" {
			n = size
		}
		if progress != nil && n > reported {
			reported = n
			progress(n)
		}
	}
	u := &uploader{c: c, uri: sessionURI, media: media, size: size}
	st, err := u.retry(ctx, func() (sessionState, error) { return u.query(ctx) })
	for err == nil && st.videoID == "" {
		report(st)
		from := st.committed
		n := min(int64(chunkSize), size-from)
		st, err = u.retry(ctx, func() (sessionState, error) { return u.send(ctx, from, n) })
	}
	if err != nil {
		return "", err
	}
	report(st)
	return st.videoID, nil
}

// Upload starts a session and sends the media to it: StartUpload then
// ResumeUpload. A caller that must survive its own crash stores the
// session URI between the two instead.
func (c *Client) Upload(ctx context.Context, accessToken string, v Video, media io.ReadSeeker, size int64, contentType string, chunkSize int, progress func(committed int64)) (string, error) {
	uri, err := c.StartUpload(ctx, accessToken, v, size, contentType)
	if err != nil {
		return "", err
	}
	return c.ResumeUpload(ctx, uri, media, size, chunkSize, progress)
}

// uploader is one ResumeUpload call.
type uploader struct {
	c     *Client
	uri   string
	media io.ReadSeeker
	size  int64
}

// sessionState is what a session answered: the bytes it committed, or the
// video it made.
type sessionState struct {
	committed int64
	videoID   string
}

// retryable is a failure worth sending the request again for.
type retryable struct{ err error }

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// retry runs do until it succeeds, fails for good, or has failed
// retryably for the retry budget; after a retryable failure the session is
// asked what it committed before trying again, since the failed request
// may have been taken.
func (u *uploader) retry(ctx context.Context, do func() (sessionState, error)) (sessionState, error) {
	budget := u.c.cfg.RetryFor
	if budget == 0 {
		budget = defaultRetryFor
	}
	deadline := time.Now().Add(budget)
	wait := 250 * time.Millisecond
	for {
		st, err := do()
		var r *retryable
		if !errors.As(err, &r) {
			return st, err
		}
		if budget < 0 || time.Now().Add(wait).After(deadline) {
			return st, r.err
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("youtube: upload: %w", ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 8*time.Second)
		do = func() (sessionState, error) { return u.query(ctx) }
	}
}

// query asks the session what it committed.
func (u *uploader) query(ctx context.Context) (sessionState, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.uri, http.NoBody)
	if err != nil {
		return sessionState{}, errors.New("youtube: upload: the session URI is not a URL")
	}
	req.Header.Set("Content-Range", "bytes */"+strconv.FormatInt(u.size, 10))
	return u.do(req, "query upload session")
}

// send sends n bytes of the media from offset from.
func (u *uploader) send(ctx context.Context, from, n int64) (sessionState, error) {
	if _, err := u.media.Seek(from, io.SeekStart); err != nil {
		return sessionState{}, fmt.Errorf("youtube: upload: seek the media: %w", err)
	}
	body := &exactReader{r: io.LimitReader(u.media, n), want: n}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.uri, body)
	if err != nil {
		return sessionState{}, errors.New("youtube: upload: the session URI is not a URL")
	}
	req.ContentLength = n
	req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, from+n-1, u.size))
	st, err := u.do(req, "upload chunk")
	if body.err != nil {
		return sessionState{}, body.err // the media is shorter than declared: not the API's fault
	}
	return st, err
}

// do sends a session request and reads its answer: 308 with the committed
// Range, or 200/201 with the video resource.
func (u *uploader) do(req *http.Request, op string) (sessionState, error) {
	res, err := u.c.http.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return sessionState{}, fmt.Errorf("youtube: %s: %w", op, ctxErr)
		}
		return sessionState{}, &retryable{apiErr(op, err)}
	}
	defer drainClose(res)
	switch {
	case res.StatusCode == http.StatusPermanentRedirect: // "308 Resume Incomplete"
		committed, err := committedRange(res.Header.Get("Range"))
		if err != nil || committed > u.size {
			return sessionState{}, fmt.Errorf("youtube: %s: the session answered a bad Range %q", op, res.Header.Get("Range"))
		}
		return sessionState{committed: committed}, nil
	case res.StatusCode == http.StatusOK || res.StatusCode == http.StatusCreated:
		var v ytapi.Video
		if err := json.NewDecoder(io.LimitReader(res.Body, 4<<20)).Decode(&v); err != nil {
			return sessionState{}, &retryable{fmt.Errorf("youtube: %s: read the video resource: %w", op, err)}
		}
		if v.Id == "" {
			return sessionState{}, fmt.Errorf("youtube: %s: the answer has no video id", op)
		}
		return sessionState{videoID: v.Id}, nil
	case res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusGone:
		return sessionState{}, ErrSessionExpired
	}
	err = apiErr(op, googleapi.CheckResponse(res))
	var ae *APIError
	if res.StatusCode == http.StatusRequestTimeout || (errors.As(err, &ae) && ae.Retryable()) {
		return sessionState{}, &retryable{err}
	}
	return sessionState{}, err
}

// committedRange reads a 308's "Range: bytes=0-<last>" as the number of
// bytes committed; no Range means none.
func committedRange(h string) (int64, error) {
	if h == "" {
		return 0, nil
	}
	last, ok := strings.CutPrefix(h, "bytes=0-")
	if !ok {
		return 0, errors.New("bad range")
	}
	n, err := strconv.ParseInt(last, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("bad range")
	}
	return n + 1, nil
}

// exactReader fails when r ends before want bytes.
type exactReader struct {
	r    io.Reader
	want int64
	n    int64
	err  error
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.n += int64(n)
	if err == io.EOF && e.n < e.want {
		e.err = fmt.Errorf("youtube: media ended after %d bytes of a chunk of %d: %w", e.n, e.want, io.ErrUnexpectedEOF)
		return n, e.err
	}
	return n, err
}

// drainClose reads a little of an answer's body, so the connection can be
// reused, and closes it.
func drainClose(res *http.Response) {
	_, _ = io.CopyN(io.Discard, res.Body, 64<<10)
	res.Body.Close()
}
