package tiktok

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
)

// CreatorInfo is what TikTok says the creator may do right now; the post
// form must offer exactly these privacy options and interaction settings.
type CreatorInfo struct {
	CreatorUsername         string
	CreatorNickname         string
	CreatorAvatarURL        string
	PrivacyLevelOptions     []string
	CommentDisabled         bool
	DuetDisabled            bool
	StitchDisabled          bool
	MaxVideoPostDurationSec int
}

// CreatorInfo queries the creator's current posting options (scope
// video.publish). Call it when rendering the post form, not ahead of time.
func (c *Client) CreatorInfo(ctx context.Context, accessToken string) (CreatorInfo, error) {
	var d struct {
		AvatarURL   string   `json:"creator_avatar_url"`
		Username    string   `json:"creator_username"`
		Nickname    string   `json:"creator_nickname"`
		Privacy     []string `json:"privacy_level_options"`
		NoComment   bool     `json:"comment_disabled"`
		NoDuet      bool     `json:"duet_disabled"`
		NoStitch    bool     `json:"stitch_disabled"`
		MaxDuration int      `json:"max_video_post_duration_sec"`
	}
	if err := c.callAPI(ctx, "creator info", http.MethodPost, "/v2/post/publish/creator_info/query/", accessToken, nil, nil, &d); err != nil {
		return CreatorInfo{}, err
	}
	return CreatorInfo{
		CreatorUsername:         d.Username,
		CreatorNickname:         d.Nickname,
		CreatorAvatarURL:        d.AvatarURL,
		PrivacyLevelOptions:     d.Privacy,
		CommentDisabled:         d.NoComment,
		DuetDisabled:            d.NoDuet,
		StitchDisabled:          d.NoStitch,
		MaxVideoPostDurationSec: d.MaxDuration,
	}, nil
}

// PostInfo is what the creator chose for a post. PrivacyLevel must be one
// of CreatorInfo.PrivacyLevelOptions (else TikTok answers
// privacy_level_option_mismatch); Title is the caption, at most 2200 UTF-16
// code units.
type PostInfo struct {
	Title          string
	PrivacyLevel   string
	DisableComment bool
	DisableDuet    bool
	DisableStitch  bool
	// BrandOrganic discloses that the post promotes the creator's own
	// business; BrandContent that it promotes a third party's (a paid
	// partnership), which TikTok does not allow to be private.
	BrandOrganic bool
	BrandContent bool
}

// TikTok's media transfer rules. TikTok's "MB" is 2^20 bytes: its
// whole-upload example calls 4,194,304 bytes "4 MB".
const (
	mib              = 1 << 20
	minChunk         = 5 * mib   // smallest chunk, except a whole video under it
	maxChunk         = 64 * mib  // largest chunk_size
	maxFinalChunk    = 128 * mib // the final chunk may grow to this with the remainder
	maxChunks        = 1000
	preferredChunk   = 10_000_000 // TikTok's own example chunk size
	wholeUploadBelow = 2 * preferredChunk
)

// ChunkPlan applies TikTok's media transfer rules (chunks of 5 MB to 64 MB,
// at most 1000 of them, total_chunk_count = floor(size / chunk_size), the
// final chunk absorbing the remainder up to 128 MB, a video under 5 MB sent
// whole) and returns the chunk_size and total_chunk_count to declare.
//
// The choice: a video under 20,000,000 bytes goes in one request with
// chunk_size equal to its size (required under 5 MB, allowed up to 64 MB);
// anything larger goes in 10,000,000-byte chunks, the value of TikTok's own
// example, with the final chunk between 10,000,000 and 19,999,999 bytes.
// That bounds a single PUT (and a retry of it) to under 20 MB whatever the
// file size. Past 1000 chunks (about 10 GB, beyond TikTok's 4 GB video
// limit) the chunk grows to keep to 1000; past 1000 chunks of 64 MB the
// size is refused.
func ChunkPlan(size int64) (chunkSize int64, count int, err error) {
	if size <= 0 {
		return 0, 0, fmt.Errorf("tiktok: chunk plan: video size %d is not positive", size)
	}
	if size < wholeUploadBelow {
		return size, 1, nil
	}
	chunkSize = preferredChunk
	if size/chunkSize > maxChunks {
		chunkSize = (size + maxChunks - 1) / maxChunks
	}
	if chunkSize > maxChunk {
		return 0, 0, fmt.Errorf("tiktok: chunk plan: video size %d needs more than %d chunks of 64 MB", size, maxChunks)
	}
	return chunkSize, int(size / chunkSize), nil
}

// InitResult is an initialised post: where to send the bytes, and how they
// must be cut. Chunk i (from 0) covers bytes [i*ChunkSize, (i+1)*ChunkSize)
// except the last, which runs to the end of the file. UploadURL is valid
// for one hour and is a credential: do not log it.
type InitResult struct {
	PublishID  string
	UploadURL  string
	ChunkSize  int64
	ChunkCount int
}

// initRequest is the body of /v2/post/publish/video/init/.
type initRequest struct {
	PostInfo struct {
		Title          string `json:"title,omitempty"`
		PrivacyLevel   string `json:"privacy_level"`
		DisableDuet    bool   `json:"disable_duet"`
		DisableComment bool   `json:"disable_comment"`
		DisableStitch  bool   `json:"disable_stitch"`
		// The commercial-content disclosures (PostInfo.BrandContent and
		// BrandOrganic).
		BrandContentToggle bool `json:"brand_content_toggle"`
		BrandOrganicToggle bool `json:"brand_organic_toggle"`
	} `json:"post_info"`
	SourceInfo struct {
		Source          string `json:"source"`
		VideoSize       int64  `json:"video_size"`
		ChunkSize       int64  `json:"chunk_size"`
		TotalChunkCount int    `json:"total_chunk_count"`
	} `json:"source_info"`
}

// InitDirectPost starts a Direct Post of a video of videoSize bytes sent by
// file upload (scope video.publish), with the chunking of ChunkPlan. Each
// call creates a new post on TikTok's side: do not call it again for a
// post whose init answer was received.
func (c *Client) InitDirectPost(ctx context.Context, accessToken string, info PostInfo, videoSize int64) (InitResult, error) {
	chunkSize, count, err := ChunkPlan(videoSize)
	if err != nil {
		return InitResult{}, err
	}
	var in initRequest
	in.PostInfo.Title = info.Title
	in.PostInfo.PrivacyLevel = info.PrivacyLevel
	in.PostInfo.DisableDuet = info.DisableDuet
	in.PostInfo.DisableComment = info.DisableComment
	in.PostInfo.DisableStitch = info.DisableStitch
	in.PostInfo.BrandOrganicToggle = info.BrandOrganic
	in.PostInfo.BrandContentToggle = info.BrandContent
	in.SourceInfo.Source = "FILE_UPLOAD"
	in.SourceInfo.VideoSize = videoSize
	in.SourceInfo.ChunkSize = chunkSize
	in.SourceInfo.TotalChunkCount = count
	var out struct {
		PublishID string `json:"publish_id"`
		UploadURL string `json:"upload_url"`
	}
	if err := c.callAPI(ctx, "init direct post", http.MethodPost, "/v2/post/publish/video/init/", accessToken, nil, in, &out); err != nil {
		return InitResult{}, err
	}
	if out.PublishID == "" || out.UploadURL == "" {
		return InitResult{}, errors.New("tiktok: init direct post: answer has no publish_id or upload_url")
	}
	return InitResult{PublishID: out.PublishID, UploadURL: out.UploadURL, ChunkSize: chunkSize, ChunkCount: count}, nil
}

// uploadTypes are the Content-Types TikTok accepts for video chunks.
var uploadTypes = map[string]bool{"video/mp4": true, "video/quicktime": true, "video/webm": true}

// UploadChunk sends bytes [start, start+n) of a file of total bytes; r
// yields exactly those n bytes. contentType is video/mp4, video/quicktime
// or video/webm. Chunks must go in order; sending a chunk TikTok already
// has again is harmless, so a chunk whose answer was lost can be resent.
// TikTok answers 206 for a chunk and 201 once it has them all.
func (c *Client) UploadChunk(ctx context.Context, uploadURL, contentType string, r io.Reader, start, n, total int64) error {
	switch {
	case uploadURL == "":
		return errors.New("tiktok: upload chunk: empty upload url")
	case !uploadTypes[contentType]:
		return fmt.Errorf("tiktok: upload chunk: content type %q is not video/mp4, video/quicktime or video/webm", contentType)
	case r == nil:
		return errors.New("tiktok: upload chunk: nil reader")
	case start < 0 || n <= 0 || total <= 0 || start >= total || n > total-start:
		return fmt.Errorf("tiktok: upload chunk: range of %d bytes at %d does not fit a file of %d bytes", n, start, total)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, uploadURL, io.LimitReader(r, n))
	if err != nil {
		return fmt.Errorf("tiktok: upload chunk: %w", redact(err))
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(start+n-1, 10)+"/"+strconv.FormatInt(total, 10))
	status, raw, err := c.send(req, "upload chunk")
	if err != nil {
		return err
	}
	if status/100 == 2 {
		return nil
	}
	return bareError(status, raw)
}

// Status is where a post stands. Status is one of PROCESSING_UPLOAD (bytes
// arriving, or being processed after the last chunk), PROCESSING_DOWNLOAD
// (pull from URL only), SEND_TO_USER_INBOX (inbox upload only),
// PUBLISH_COMPLETE and FAILED (with FailReason). PublicPostIDs is filled
// only once a public post has passed moderation. UploadedBytes counts the
// bytes received of a FILE_UPLOAD, DownloadedBytes those TikTok pulled
// for a PULL_FROM_URL post such as a photo post.
type Status struct {
	Status          string
	FailReason      string
	PublicPostIDs   []string
	UploadedBytes   int64
	DownloadedBytes int64
}

// FetchStatus polls a post's status (scope video.publish or video.upload).
// TikTok allows 30 calls a minute per access token.
func (c *Client) FetchStatus(ctx context.Context, accessToken, publishID string) (Status, error) {
	if publishID == "" {
		return Status{}, errors.New("tiktok: fetch status: empty publish id")
	}
	var d struct {
		Status        string            `json:"status"`
		FailReason    string            `json:"fail_reason"`
		PostIDs       []json.RawMessage `json:"publicaly_available_post_id"` // sic: TikTok's spelling
		UploadedBytes int64             `json:"uploaded_bytes"`
		Downloaded    int64             `json:"downloaded_bytes"`
	}
	in := map[string]string{"publish_id": publishID}
	if err := c.callAPI(ctx, "fetch status", http.MethodPost, "/v2/post/publish/status/fetch/", accessToken, nil, in, &d); err != nil {
		return Status{}, err
	}
	s := Status{Status: d.Status, FailReason: d.FailReason, UploadedBytes: d.UploadedBytes, DownloadedBytes: d.Downloaded}
	for _, raw := range d.PostIDs {
		id, err := postID(raw)
		if err != nil {
			return Status{}, fmt.Errorf("tiktok: fetch status: %w", err)
		}
		s.PublicPostIDs = append(s.PublicPostIDs, id)
	}
	return s, nil
}

// postID reads a post id, which TikTok documents as an int64 (too large
// for a float64, so it is kept as text) but which may come as a string.
func postID(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("decode post id: %w", err)
		}
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", fmt.Errorf("decode post id: %w", err)
	}
	return n.String(), nil
}

// PostURL is the public address of a creator's post on TikTok; empty when
// the username or the post ID is not known.
func PostURL(username, postID string) string {
	if username == "" || postID == "" {
		return ""
	}
	return "https://www.tiktok.com/@" + url.PathEscape(username) + "/video/" + url.PathEscape(postID)
}
