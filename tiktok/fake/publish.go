package fake

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/loomcast/loomcast/tiktok"
)

// TikTok's media transfer limits; its "MB" is 2^20 bytes.
const (
	mb            = 1 << 20
	minChunk      = 5 * mb
	maxChunk      = 64 * mb
	maxFinalChunk = 128 * mb
	maxChunks     = 1000
	maxTitle      = 2200 // UTF-16 code units
	uploadURLTTL  = time.Hour
	firstPostID   = 7300000000000000000 // int64 ids beyond float64 precision, as on TikTok
)

// Post statuses, as TikTok names them.
const (
	StatusProcessingUpload   = "PROCESSING_UPLOAD"
	StatusProcessingDownload = "PROCESSING_DOWNLOAD"
	StatusPublishComplete    = "PUBLISH_COMPLETE"
	StatusFailed             = "FAILED"
)

// Kinds of post, as in Post.Kind.
const (
	KindVideo = "video"
	KindPhoto = "photo"
)

// defaultPrivacy is what a creator may choose unless SetCreatorInfo says.
var defaultPrivacy = []string{"PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"}

// uploadTypes are the chunk Content-Types TikTok accepts.
var uploadTypes = map[string]bool{"video/mp4": true, "video/quicktime": true, "video/webm": true}

// Post is one initialised Direct Post as the fake sees it.
type Post struct {
	// Kind is KindVideo or KindPhoto.
	Kind                                   string
	PublishID, OpenID, Title, PrivacyLevel string
	// Description is a photo post's description (videos have none).
	Description string
	// BrandOrganic and BrandContent are the commercial-content disclosures
	// of the init (brand_organic_toggle, brand_content_toggle).
	BrandOrganic, BrandContent bool
	// Size is the declared video size (0 for a photo post); Received the
	// bytes accepted so far, or for a photo post the bytes downloaded.
	Size, Received int64
	// ChunksReceived counts distinct chunks of a video accepted.
	ChunksReceived int
	// Images counts a photo post's images downloaded and accepted so
	// far, in order; ImageSHA256 is the hex SHA-256 of each of them.
	Images      int
	ImageSHA256 []string
	// CoverIndex is a photo post's photo_cover_index.
	CoverIndex int
	// Status is what status/fetch would answer now.
	Status string
	// PostID is the TikTok post id once PUBLISH_COMPLETE. status/fetch
	// shows it (in publicaly_available_post_id) only for
	// PUBLIC_TO_EVERYONE posts, as TikTok does.
	PostID string
	// Inits counts the init requests the fake accepted from the same
	// creator with the same title and size (for a photo post: the same
	// title and image URLs, query strings aside), this one included: more
	// than 1 means the same post was initialised again (e.g. after a lost
	// answer), which on TikTok makes another post.
	Inits int
}

type post struct {
	kind                                           string
	publishID, openID, title, description, privacy string
	brandOrganic, brandContent                     bool
	uploadToken                                    string
	size, chunkSize                                int64
	count, received                                int      // chunks of a video
	bytes                                          int64    // uploaded or downloaded
	images                                         string   // a photo post's image URLs without query, for Inits
	imageSHA                                       []string // of the images downloaded
	coverIndex                                     int
	initAt                                         time.Time
	settleAt                                       time.Time // when the outcome is due; zero while media is arriving
	failReason                                     string
	final                                          string // PUBLISH_COMPLETE or FAILED once decided
	postID                                         int64
}

// SetCreatorInfo sets what creator_info/query answers for the account. The
// default offers PUBLIC_TO_EVERYONE, MUTUAL_FOLLOW_FRIENDS,
// FOLLOWER_OF_CREATOR and SELF_ONLY, disables nothing, and allows 600 s.
func (s *Server) SetCreatorInfo(openID string, ci tiktok.CreatorInfo) {
	ci.PrivacyLevelOptions = append([]string(nil), ci.PrivacyLevelOptions...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creators[openID] = ci
}

// FailProcessing makes the account's next post to finish uploading (a
// video) or downloading (a photo post) end FAILED with fail_reason reason
// ("internal" when empty).
func (s *Server) FailProcessing(openID, reason string) {
	if reason == "" {
		reason = "internal"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failProcess[openID] = reason
}

// Posts lists every accepted init, oldest first.
func (s *Server) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	type key struct {
		kind, openID, title, images string
		size                        int64
	}
	inits := map[key]int{}
	keyOf := func(p *post) key { return key{p.kind, p.openID, p.title, p.images, p.size} }
	for _, p := range s.posts {
		inits[keyOf(p)]++
	}
	now := s.now()
	out := make([]Post, 0, len(s.posts))
	for _, p := range s.posts {
		out = append(out, Post{
			Kind:           p.kind,
			PublishID:      p.publishID,
			OpenID:         p.openID,
			Title:          p.title,
			PrivacyLevel:   p.privacy,
			Description:    p.description,
			BrandOrganic:   p.brandOrganic,
			BrandContent:   p.brandContent,
			Size:           p.size,
			Received:       p.bytes,
			ChunksReceived: p.received,
			Images:         len(p.imageSHA),
			ImageSHA256:    slices.Clone(p.imageSHA),
			CoverIndex:     p.coverIndex,
			Status:         s.status(p, now),
			PostID:         p.postIDText(),
			Inits:          inits[keyOf(p)],
		})
	}
	return out
}

func (p *post) postIDText() string {
	if p.postID == 0 {
		return ""
	}
	return strconv.FormatInt(p.postID, 10)
}

// status is p's status at now, deciding the outcome once processing is
// over. Until then FILE_UPLOAD posts (videos) are PROCESSING_UPLOAD and
// PULL_FROM_URL posts (photos) PROCESSING_DOWNLOAD, as on TikTok. Called
// with s.mu held.
func (s *Server) status(p *post, now time.Time) string {
	if p.final != "" {
		return p.final
	}
	if p.settleAt.IsZero() || now.Before(p.settleAt) {
		if p.kind == KindPhoto {
			return StatusProcessingDownload
		}
		return StatusProcessingUpload
	}
	if p.failReason != "" {
		p.final = StatusFailed
	} else {
		p.final = StatusPublishComplete
		p.postID = firstPostID + s.seq.Add(1)
	}
	return p.final
}

// creatorFor is the account's creator info. Called with s.mu held.
func (s *Server) creatorFor(openID string) tiktok.CreatorInfo {
	if ci, ok := s.creators[openID]; ok {
		return ci
	}
	id := s.identity(openID)
	return tiktok.CreatorInfo{
		CreatorUsername:         id.openID,
		CreatorNickname:         id.displayName,
		CreatorAvatarURL:        s.avatarURL(id.openID),
		PrivacyLevelOptions:     defaultPrivacy,
		MaxVideoPostDurationSec: 600,
	}
}

// readJSON reads a JSON body of up to 256 KiB (35 signed image URLs and
// a 4000-character description fit) into v; false when it is not JSON.
func readJSON(r *http.Request, v any) bool {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 256<<10))
	if err != nil {
		return false
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		raw = []byte("{}")
	}
	return json.Unmarshal(raw, v) == nil
}

// creatorInfo is POST /v2/post/publish/creator_info/query/.
func (s *Server) creatorInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.apiError(w, http.StatusMethodNotAllowed, "invalid_param", "method must be POST")
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<10))
	s.mu.Lock()
	defer s.mu.Unlock()
	g, tok, ok := s.authenticate(w, r, "video.publish")
	if !ok || s.overLimit(w, tiktok.EndpointCreatorInfo, tok) {
		return
	}
	ci := s.creatorFor(g.openID)
	options := ci.PrivacyLevelOptions
	if options == nil {
		options = []string{}
	}
	s.apiData(w, map[string]any{
		"creator_avatar_url":          ci.CreatorAvatarURL,
		"creator_username":            ci.CreatorUsername,
		"creator_nickname":            ci.CreatorNickname,
		"privacy_level_options":       options,
		"comment_disabled":            ci.CommentDisabled,
		"duet_disabled":               ci.DuetDisabled,
		"stitch_disabled":             ci.StitchDisabled,
		"max_video_post_duration_sec": ci.MaxVideoPostDurationSec,
	})
}

// mediaDone records that p has all its media at now and is due to
// settle after delay, failing with fail_reason reason unless it is empty
// (or FailProcessing asked for it); it starts the webhooks. Called with
// s.mu held.
func (s *Server) mediaDone(p *post, now time.Time, delay time.Duration, reason string) {
	if fr, ok := s.failProcess[p.openID]; ok && reason == "" {
		reason = fr
		delete(s.failProcess, p.openID)
	}
	p.failReason = reason
	p.settleAt = now.Add(delay)
	s.settleLater(p, delay)
}

// refusePostInfo answers TikTok's refusal, and reports whether it did,
// when privacy is not among the creator's privacy_level_options or when
// branded content would be private. Called with s.mu held.
func (s *Server) refusePostInfo(w http.ResponseWriter, openID, privacy string, brandContent bool) bool {
	ci := s.creatorFor(openID)
	if privacy == "" || !slices.Contains(ci.PrivacyLevelOptions, privacy) {
		s.apiError(w, http.StatusForbidden, "privacy_level_option_mismatch",
			fmt.Sprintf("privacy_level %q is not among the creator's privacy_level_options %v", privacy, ci.PrivacyLevelOptions))
		return true
	}
	// TikTok's content-sharing guidelines: branded content (a paid
	// partnership) cannot be private.
	if brandContent && privacy == "SELF_ONLY" {
		s.apiError(w, http.StatusBadRequest, "invalid_params", "branded content (brand_content_toggle) cannot be posted with privacy_level SELF_ONLY")
		return true
	}
	return false
}

// postInfo is what the fake reads of an init's post_info.
type postInfo struct {
	Title              string `json:"title"`
	Description        string `json:"description"` // photo posts only
	PrivacyLevel       string `json:"privacy_level"`
	BrandContentToggle bool   `json:"brand_content_toggle"`
	BrandOrganicToggle bool   `json:"brand_organic_toggle"`
}

// initRequest is the body of /v2/post/publish/video/init/.
type initRequest struct {
	PostInfo   *postInfo `json:"post_info"`
	SourceInfo *struct {
		Source          string `json:"source"`
		VideoURL        string `json:"video_url"`
		VideoSize       int64  `json:"video_size"`
		ChunkSize       int64  `json:"chunk_size"`
		TotalChunkCount int64  `json:"total_chunk_count"`
	} `json:"source_info"`
}

// checkPlan applies TikTok's chunk rules, returning what is wrong or "".
func checkPlan(size, chunk, count int64) string {
	switch {
	case size <= 0:
		return "source_info.video_size must be positive"
	case chunk <= 0 || count <= 0:
		return "source_info.chunk_size and total_chunk_count must be positive"
	case size < minChunk:
		if chunk != size || count != 1 {
			return "a video under 5 MB must be uploaded whole: chunk_size must equal video_size and total_chunk_count must be 1"
		}
		return ""
	case chunk < minChunk || chunk > maxChunk:
		return fmt.Sprintf("chunk_size %d is not between 5 MB (%d) and 64 MB (%d)", chunk, minChunk, maxChunk)
	case count != size/chunk:
		return fmt.Sprintf("total_chunk_count %d is not floor(video_size / chunk_size) = %d", count, size/chunk)
	case count > maxChunks:
		return fmt.Sprintf("total_chunk_count %d exceeds %d", count, maxChunks)
	case size > maxChunk && count < 2:
		return "a video over 64 MB must be uploaded in several chunks"
	case size-(count-1)*chunk > maxFinalChunk:
		return fmt.Sprintf("the final chunk of %d bytes exceeds 128 MB (%d)", size-(count-1)*chunk, maxFinalChunk)
	}
	return ""
}

// serveInit serves an init endpoint, video or content: POST only, the
// JSON body read into req, the token authenticated for video.publish and
// counted against their shared limit. Then it calls create with s.mu held
// and whether the body was JSON.
func (s *Server) serveInit(w http.ResponseWriter, r *http.Request, req any, create func(g *grant, parsed bool)) {
	if r.Method != http.MethodPost {
		s.apiError(w, http.StatusMethodNotAllowed, "invalid_param", "method must be POST")
		return
	}
	parsed := readJSON(r, req)
	s.mu.Lock()
	defer s.mu.Unlock()
	g, tok, ok := s.authenticate(w, r, "video.publish")
	if !ok || s.overLimit(w, tiktok.EndpointInit, tok) {
		return
	}
	create(g, parsed)
}

// initVideo is POST /v2/post/publish/video/init/.
func (s *Server) initVideo(w http.ResponseWriter, r *http.Request) {
	var req initRequest
	s.serveInit(w, r, &req, func(g *grant, parsed bool) { s.createVideo(w, g, &req, parsed) })
}

// createVideo makes a post of a video sent by FILE_UPLOAD. PULL_FROM_URL
// is refused: with url_ownership_unverified for a video_url under no
// verified prefix, as TikTok does, and otherwise as not supported by the
// fake. Called with s.mu held.
func (s *Server) createVideo(w http.ResponseWriter, g *grant, req *initRequest, parsed bool) {
	bad := func(msg string) { s.apiError(w, http.StatusBadRequest, "invalid_param", msg) }
	switch {
	case !parsed:
		bad("request body is not valid JSON")
		return
	case req.PostInfo == nil:
		bad("post_info is required")
		return
	case req.SourceInfo == nil:
		bad("source_info is required")
		return
	case req.SourceInfo.Source == "PULL_FROM_URL" && !s.verifiedURL(req.SourceInfo.VideoURL):
		s.unverified(w, "source_info.video_url", req.SourceInfo.VideoURL)
		return
	case req.SourceInfo.Source == "PULL_FROM_URL":
		bad("source_info.source PULL_FROM_URL is not supported for videos by the fake: use FILE_UPLOAD")
		return
	case req.SourceInfo.Source != "FILE_UPLOAD":
		bad("source_info.source must be FILE_UPLOAD or PULL_FROM_URL")
		return
	case len(utf16.Encode([]rune(req.PostInfo.Title))) > maxTitle:
		bad("post_info.title is longer than 2200 UTF-16 runes")
		return
	}
	si := req.SourceInfo
	if msg := checkPlan(si.VideoSize, si.ChunkSize, si.TotalChunkCount); msg != "" {
		bad(msg)
		return
	}
	if s.refusePostInfo(w, g.openID, req.PostInfo.PrivacyLevel, req.PostInfo.BrandContentToggle) {
		return
	}
	p := &post{
		kind:         KindVideo,
		publishID:    fmt.Sprintf("v_pub_file~v2-1.%d", firstPostID+s.seq.Add(1)),
		openID:       g.openID,
		title:        req.PostInfo.Title,
		privacy:      req.PostInfo.PrivacyLevel,
		brandOrganic: req.PostInfo.BrandOrganicToggle,
		brandContent: req.PostInfo.BrandContentToggle,
		uploadToken:  randomToken(""),
		size:         si.VideoSize,
		chunkSize:    si.ChunkSize,
		count:        int(si.TotalChunkCount),
		initAt:       s.now(),
	}
	s.posts = append(s.posts, p)
	s.postByID[p.publishID] = p
	s.apiData(w, map[string]string{
		"publish_id": p.publishID,
		"upload_url": s.base + UploadPath + url.PathEscape(p.publishID) + "?upload_token=" + url.QueryEscape(p.uploadToken),
	})
}

// parseContentRange reads "bytes first-last/total".
func parseContentRange(h string) (first, last, total int64, ok bool) {
	rest, found := strings.CutPrefix(h, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	span, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(span, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	first, err1 = strconv.ParseInt(a, 10, 64)
	last, err2 = strconv.ParseInt(b, 10, 64)
	total, err3 = strconv.ParseInt(tot, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || first < 0 || last < first || total <= last {
		return 0, 0, 0, false
	}
	return first, last, total, true
}

// upload is PUT on an upload_url: one chunk, in order, its Content-Range on
// the chunk boundaries declared at init. It answers 206 while chunks are
// missing and 201 once all arrived; a chunk already received is accepted
// again (206, or 201 when complete) so that a resumed upload works.
func (s *Server) upload(w http.ResponseWriter, r *http.Request, publishID string) {
	if r.Method != http.MethodPut {
		s.apiError(w, http.StatusMethodNotAllowed, "invalid_param", "method must be PUT")
		return
	}
	// Read the whole body before answering, so that the answer reaches
	// a client still sending it.
	n, readErr := io.Copy(io.Discard, io.LimitReader(r.Body, maxFinalChunk+1))
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.postByID[publishID]
	if p == nil || p.kind != KindVideo || subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("upload_token")), []byte(p.uploadToken)) != 1 {
		s.apiError(w, http.StatusNotFound, "upload_not_found", "no upload task for this upload_url")
		return
	}
	now := s.now()
	if p.received < p.count && !now.Before(p.initAt.Add(uploadURLTTL)) {
		s.apiError(w, http.StatusForbidden, "upload_url_expired", "the upload_url has expired")
		return
	}
	bad := func(msg string) { s.apiError(w, http.StatusBadRequest, "invalid_param", msg) }
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); !uploadTypes[mt] {
		bad("Content-Type must be video/mp4, video/quicktime or video/webm")
		return
	}
	first, last, total, ok := parseContentRange(r.Header.Get("Content-Range"))
	switch {
	case !ok:
		bad("Content-Range must be bytes {first}-{last}/{total}")
		return
	case total != p.size:
		bad(fmt.Sprintf("Content-Range total %d is not the video_size %d", total, p.size))
		return
	case r.ContentLength != last-first+1:
		bad(fmt.Sprintf("Content-Length %d does not match Content-Range %d-%d", r.ContentLength, first, last))
		return
	case readErr != nil || n != r.ContentLength:
		bad("the body is not Content-Length bytes long")
		return
	}
	idx := first / p.chunkSize
	end := (idx+1)*p.chunkSize - 1
	if idx == int64(p.count-1) {
		end = p.size - 1
	}
	switch {
	case first%p.chunkSize != 0 || idx >= int64(p.count) || last != end:
		s.rangeError(w, p, fmt.Sprintf("bytes %d-%d are not a chunk of this upload", first, last))
		return
	case idx > int64(p.received):
		s.rangeError(w, p, fmt.Sprintf("chunk %d sent before chunk %d", idx, p.received))
		return
	case idx == int64(p.received):
		p.received++
		p.bytes += n
		if p.received == p.count {
			s.mediaDone(p, now, s.opts.ProcessingDelay, "")
		}
	}
	w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", p.bytes-1, p.size))
	if p.received == p.count {
		w.WriteHeader(http.StatusCreated)
		return
	}
	w.WriteHeader(http.StatusPartialContent)
}

// rangeError answers 416 with the progress so far. Called with s.mu held.
func (s *Server) rangeError(w http.ResponseWriter, p *post, msg string) {
	if p.bytes > 0 {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", p.bytes-1, p.size))
	}
	s.apiError(w, http.StatusRequestedRangeNotSatisfiable, "range_not_satisfiable", msg)
}

// overLimit answers 429 rate_limit_exceeded when tok already made its
// endpoint's limit of requests in the last window, and otherwise counts
// this one; s.mu must be held.
func (s *Server) overLimit(w http.ResponseWriter, e tiktok.Endpoint, tok string) bool {
	limits := s.opts.RateLimits
	now, key := s.now(), string(e)+" "+tok
	calls := s.calls[key][:0]
	for _, t := range s.calls[key] {
		if now.Sub(t) < limits.Window {
			calls = append(calls, t)
		}
	}
	s.calls[key] = calls
	if len(calls) >= limits.Of(e) {
		s.rateRefused++
		s.apiError(w, http.StatusTooManyRequests, "rate_limit_exceeded", "Your request is blocked due to exceeding the API rate limit.")
		return true
	}
	s.calls[key] = append(calls, now)
	return false
}

// RateLimited is the number of requests refused so far for exceeding a
// rate limit.
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rateRefused
}

// fetchStatus is POST /v2/post/publish/status/fetch/, limited to 30
// requests a minute per access token.
func (s *Server) fetchStatus(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.apiError(w, http.StatusMethodNotAllowed, "invalid_param", "method must be POST")
		return
	}
	var req struct {
		PublishID string `json:"publish_id"`
	}
	parsed := readJSON(r, &req)
	s.mu.Lock()
	defer s.mu.Unlock()
	g, tok, ok := s.authenticate(w, r, "video.publish", "video.upload")
	if !ok {
		return
	}
	if s.overLimit(w, tiktok.EndpointStatus, tok) {
		return
	}
	now := s.now()
	if !parsed || req.PublishID == "" {
		s.apiError(w, http.StatusBadRequest, "invalid_param", "publish_id is required")
		return
	}
	p := s.postByID[req.PublishID]
	switch {
	case p == nil:
		s.apiError(w, http.StatusBadRequest, "invalid_publish_id", "The publish_id does not exist.")
		return
	case p.openID != g.openID:
		s.apiError(w, http.StatusBadRequest, "token_not_authorized_for_specified_publish_id", "The access_token does not have authorization for this publish_id.")
		return
	}
	status := s.status(p, now)
	ids := []int64{}
	if status == StatusPublishComplete && p.privacy == "PUBLIC_TO_EVERYONE" {
		ids = append(ids, p.postID)
	}
	data := map[string]any{
		"status":                      status,
		"publicaly_available_post_id": ids, // sic: TikTok's spelling
	}
	if p.kind == KindPhoto {
		data["downloaded_bytes"] = p.bytes
	} else {
		data["uploaded_bytes"] = p.bytes
	}
	if status == StatusFailed {
		data["fail_reason"] = p.failReason
	}
	s.apiData(w, data)
}
