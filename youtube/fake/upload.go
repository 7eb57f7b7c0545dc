package fake

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Video is a video the fake received or is receiving.
type Video struct {
	// ID is the video's ID, set once all its bytes arrived.
	ID, ChannelID, Title, Description, PrivacyStatus string
	// Size is the media's length: the declared X-Upload-Content-Length
	// until the client states the total, 0 while unknown. Received is the
	// number of media bytes stored.
	Size, Received int64
	// Sessions is the number of resumable sessions that carried the
	// video: 1, or 0 for a single-request (multipart) upload.
	Sessions int
	// SHA256 is the hex SHA-256 of the received media, set once complete.
	SHA256 string
}

// record is a Video with its upload state; fields of v change under s.mu.
type record struct {
	v            Video
	channelTitle string
	parts        map[string]bool
	hash         hash.Hash
	done         bool
	published    time.Time
}

// session is a resumable upload session. mu serializes its requests.
type session struct {
	mu       sync.Mutex
	rec      *record
	declared int64 // X-Upload-Content-Length, -1 if not given
	// total is the media length once a Content-Range stated it, else -1.
	// Only a stated total completes an upload; the declared length is
	// checked against it.
	total int64
}

// chunkQuantum is the multiple of which every chunk but the last must be.
const chunkQuantum = 256 << 10

// Videos returns the videos received so far, completed or not, oldest first.
func (s *Server) Videos() []Video {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Video, len(s.videos))
	for i, rec := range s.videos {
		out[i] = rec.v
	}
	return out
}

// apiFault is an API error to answer.
type apiFault struct {
	status      int
	reason, msg string
}

func (f *apiFault) Error() string { return f.msg }

func badRequest(reason, format string, args ...any) *apiFault {
	return &apiFault{http.StatusBadRequest, reason, fmt.Sprintf(format, args...)}
}

func writeFault(w http.ResponseWriter, err error) {
	var f *apiFault
	if errors.As(err, &f) {
		writeAPIError(w, f.status, f.reason, f.msg)
		return
	}
	writeAPIError(w, http.StatusBadRequest, "badRequest", err.Error())
}

// uploadStart serves videos.insert on the upload path: it opens a
// resumable session or takes a whole multipart upload.
func (s *Server) uploadStart(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeAPIError(w, http.StatusMethodNotAllowed, "methodNotAllowed", "Method not allowed.")
		return
	}
	g, ok := s.authenticate(w, r, uploadScopes)
	if !ok {
		return
	}
	q := r.URL.Query()
	parts := splitParts(q["part"])
	declared := int64(-1)
	if v := r.Header.Get("X-Upload-Content-Length"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeFault(w, badRequest("badRequest", "Invalid X-Upload-Content-Length: %q", v))
			return
		}
		declared = n
	}
	var err error
	switch ut := q.Get("uploadType"); ut {
	case "resumable":
		err = s.startResumable(w, r, g, parts, declared)
	case "multipart":
		err = s.multipart(w, r, g, parts, declared)
	default:
		err = badRequest("invalidParameter", "Invalid uploadType %q: the fake takes resumable or multipart.", ut)
	}
	if err != nil {
		drain(r)
		writeFault(w, err)
	}
}

func (s *Server) startResumable(w http.ResponseWriter, r *http.Request, g *grant, parts map[string]bool, declared int64) error {
	if err := checkMediaType(r.Header.Get("X-Upload-Content-Type")); err != nil {
		return err
	}
	rec, err := s.newRecord(io.LimitReader(r.Body, 1<<20), g, parts)
	if err != nil {
		return err
	}
	rec.v.Sessions = 1
	rec.v.Size = max(declared, 0)
	id := randomID(64)
	s.mu.Lock()
	s.sessions[id] = &session{rec: rec, declared: declared, total: -1}
	s.videos = append(s.videos, rec)
	s.mu.Unlock()
	w.Header().Set("Location", s.base+"/upload/youtube/v3/videos?uploadType=resumable&upload_id="+id)
	w.Header().Set("X-GUploader-UploadID", id)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// multipart takes metadata and media in one multipart/related request.
func (s *Server) multipart(w http.ResponseWriter, r *http.Request, g *grant, parts map[string]bool, declared int64) error {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/related" || params["boundary"] == "" {
		return badRequest("badRequest", "A multipart upload needs Content-Type multipart/related with a boundary.")
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	meta, err := mr.NextPart()
	if err != nil {
		return badRequest("badRequest", "Missing metadata part.")
	}
	rec, err := s.newRecord(io.LimitReader(meta, 1<<20), g, parts)
	if err != nil {
		return err
	}
	media, err := mr.NextPart()
	if err != nil {
		return &apiFault{http.StatusBadRequest, "mediaBodyRequired", "The request does not include the video content."}
	}
	if err := checkMediaType(media.Header.Get("Content-Type")); err != nil {
		return err
	}
	n, err := io.Copy(rec.hash, media)
	if err != nil {
		return badRequest("badRequest", "Reading the media failed.")
	}
	if n == 0 {
		return &apiFault{http.StatusBadRequest, "mediaBodyRequired", "The request does not include the video content."}
	}
	if declared >= 0 && n != declared {
		return badRequest("badContent", "The media has %d bytes, X-Upload-Content-Length said %d.", n, declared)
	}
	s.mu.Lock()
	rec.v.Received = n
	s.complete(rec, n)
	s.videos = append(s.videos, rec)
	s.mu.Unlock()
	s.writeVideo(w, rec)
	return nil
}

// uploadSession serves a request to a resumable session URI: a chunk
// ("bytes a-b/total" or "bytes a-b/*") or a status query ("bytes */total"
// or "bytes */*", empty body), with PUT as documented or POST as
// google.golang.org/api sends. An incomplete session answers 308 with the
// Range stored, or 200 with "X-Http-Status-Code-Override: 308" when the
// client sent "X-GUploader-No-308: yes". A complete one answers 200 with
// the video resource.
func (s *Server) uploadSession(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		writeAPIError(w, http.StatusMethodNotAllowed, "methodNotAllowed", "Method not allowed.")
		return
	}
	s.mu.Lock()
	sess := s.sessions[r.URL.Query().Get("upload_id")]
	s.mu.Unlock()
	if sess == nil {
		drain(r)
		writeAPIError(w, http.StatusNotFound, "notFound", "The upload session was not found or has expired.")
		return
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := s.uploadChunk(r, sess); err != nil {
		drain(r)
		writeFault(w, err)
		return
	}
	rec := sess.rec
	if rec.done {
		if s.takeLostAnswer() {
			dropConnection(w)
			return
		}
		s.writeVideo(w, rec)
		return
	}
	if rec.v.Received > 0 {
		w.Header().Set("Range", fmt.Sprintf("bytes=0-%d", rec.v.Received-1))
	}
	w.Header().Set("Content-Length", "0")
	if r.Header.Get("X-GUploader-No-308") == "yes" {
		w.Header().Set("X-Http-Status-Code-Override", "308")
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusPermanentRedirect) // "308 Resume Incomplete"
}

// ExpireSessions forgets every open or completed upload session, as
// YouTube does a week after a session starts: its URI answers 404.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.sessions)
}

// LoseCompletedAnswers makes the next n answers that would carry a
// completed video (to the last chunk, or to a status query or chunk sent
// to a completed session) be lost: the request is served in full, the
// video exists, and the connection closes without an answer, as when the
// network fails on the way back.
func (s *Server) LoseCompletedAnswers(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseCompleted += n
}

func (s *Server) takeLostAnswer() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loseCompleted == 0 {
		return false
	}
	s.loseCompleted--
	return true
}

// uploadChunk stores the request's bytes of sess and completes the video
// when all bytes of a known total arrived; sess.mu must be held. Bytes the
// session already has (a chunk sent again) are skipped.
func (s *Server) uploadChunk(r *http.Request, sess *session) error {
	rec := sess.rec
	if rec.done {
		return nil
	}
	cr, err := parseContentRange(r.Header.Get("Content-Range"), r.ContentLength)
	if err != nil {
		return err
	}
	if cr.total >= 0 {
		if sess.declared >= 0 && cr.total != sess.declared {
			return badRequest("badContent", "Content-Range total %d differs from X-Upload-Content-Length %d.", cr.total, sess.declared)
		}
		sess.total = cr.total
	}
	received := rec.v.Received
	if !cr.query {
		n := cr.end - cr.start + 1
		final := sess.total >= 0 && cr.end+1 == sess.total
		switch {
		case r.ContentLength >= 0 && r.ContentLength != n:
			return badRequest("badRequest", "Content-Length %d does not match Content-Range (%d bytes).", r.ContentLength, n)
		case sess.total >= 0 && cr.end >= sess.total:
			return badRequest("badRequest", "Content-Range ends past the total of %d bytes.", sess.total)
		case sess.declared >= 0 && cr.end >= sess.declared:
			return badRequest("badContent", "Content-Range ends past the declared X-Upload-Content-Length of %d bytes.", sess.declared)
		case !final && n%chunkQuantum != 0:
			return badRequest("badRequest", "Invalid chunk size %d: chunks but the last must be multiples of %d bytes.", n, chunkQuantum)
		case cr.start > received:
			return badRequest("badRequest", "Content-Range starts at %d but the session has %d bytes.", cr.start, received)
		}
		body := io.LimitReader(r.Body, n)
		skip := min(received-cr.start, n)
		if _, err := io.CopyN(io.Discard, body, skip); err != nil {
			return badRequest("badRequest", "The chunk body is shorter than its Content-Range.")
		}
		stored, copyErr := io.Copy(rec.hash, body)
		s.mu.Lock()
		rec.v.Received += stored
		if sess.total >= 0 {
			rec.v.Size = sess.total
		}
		s.mu.Unlock()
		if copyErr != nil || skip+stored < n {
			return badRequest("badRequest", "The chunk body is shorter than its Content-Range.")
		}
	}
	if sess.total >= 0 && rec.v.Received == sess.total {
		s.mu.Lock()
		s.complete(rec, sess.total)
		s.mu.Unlock()
	}
	return nil
}

// complete gives rec its ID; s.mu must be held.
func (s *Server) complete(rec *record, total int64) {
	rec.v.ID = randomID(11)
	rec.v.Size = total
	rec.v.SHA256 = hex.EncodeToString(rec.hash.Sum(nil))
	rec.published = s.now().UTC()
	rec.done = true
}

type contentRange struct {
	start, end, total int64 // total -1 if "*"
	query             bool  // "bytes */..."
}

var contentRangeRE = regexp.MustCompile(`^bytes (?:\*|(\d+)-(\d+))/(\*|\d+)$`)

// parseContentRange parses a session request's Content-Range. Without one,
// a non-empty body is the whole media and an empty one a status query.
func parseContentRange(h string, contentLength int64) (contentRange, error) {
	if h == "" {
		if contentLength > 0 {
			return contentRange{start: 0, end: contentLength - 1, total: contentLength}, nil
		}
		return contentRange{total: -1, query: true}, nil
	}
	m := contentRangeRE.FindStringSubmatch(strings.TrimSpace(h))
	if m == nil {
		return contentRange{}, badRequest("badRequest", "Invalid Content-Range %q.", h)
	}
	cr := contentRange{total: -1, query: m[1] == ""}
	if m[3] != "*" {
		cr.total, _ = strconv.ParseInt(m[3], 10, 64)
	}
	if !cr.query {
		cr.start, _ = strconv.ParseInt(m[1], 10, 64)
		cr.end, _ = strconv.ParseInt(m[2], 10, 64)
		if cr.end < cr.start {
			return contentRange{}, badRequest("badRequest", "Invalid Content-Range %q.", h)
		}
	}
	return cr, nil
}

// videoResource is the part of a video resource a client sends.
type videoResource struct {
	Snippet *struct {
		Title       string `json:"title"`
		Description string `json:"description"`
	} `json:"snippet"`
	Status *struct {
		PrivacyStatus string `json:"privacyStatus"`
	} `json:"status"`
}

var videoParts = map[string]bool{
	"contentDetails": true, "fileDetails": true, "id": true, "liveStreamingDetails": true,
	"localizations": true, "player": true, "processingDetails": true, "recordingDetails": true,
	"snippet": true, "statistics": true, "status": true, "suggestions": true, "topicDetails": true,
}

// newRecord validates the metadata JSON in body and returns the video's
// record. Unlike YouTube, which makes a video without privacyStatus
// public, the fake insists on one.
func (s *Server) newRecord(body io.Reader, g *grant, parts map[string]bool) (*record, error) {
	if len(parts) == 0 {
		return nil, badRequest("required", "Required parameter: part")
	}
	for p := range parts {
		if !videoParts[p] {
			return nil, badRequest("unknownPart", "'%s'", p)
		}
	}
	var v videoResource
	if err := json.NewDecoder(body).Decode(&v); err != nil {
		return nil, badRequest("parseError", "Parse Error")
	}
	if !parts["snippet"] || v.Snippet == nil {
		return nil, badRequest("invalidVideoMetadata", "The request metadata is invalid: part=snippet with a snippet is required.")
	}
	t := strings.TrimSpace(v.Snippet.Title)
	if t == "" || utf8.RuneCountInString(t) > 100 || strings.ContainsAny(t, "<>") {
		return nil, badRequest("invalidTitle", "The request metadata specifies an invalid or empty video title.")
	}
	if len(v.Snippet.Description) > 5000 || strings.ContainsAny(v.Snippet.Description, "<>") {
		return nil, badRequest("invalidDescription", "The request metadata specifies an invalid video description.")
	}
	privacy := ""
	if parts["status"] && v.Status != nil {
		privacy = v.Status.PrivacyStatus
	}
	switch privacy {
	case "public", "private", "unlisted":
	default:
		return nil, badRequest("invalidVideoMetadata", "The request metadata is invalid: status.privacyStatus must be public, private or unlisted, not %q.", privacy)
	}
	return &record{
		v: Video{
			ChannelID:     g.channelID,
			Title:         v.Snippet.Title,
			Description:   v.Snippet.Description,
			PrivacyStatus: privacy,
		},
		channelTitle: g.title,
		parts:        parts,
		hash:         sha256.New(),
	}, nil
}

// checkMediaType accepts what YouTube takes: video/* or
// application/octet-stream (or nothing said).
func checkMediaType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (strings.HasPrefix(mt, "video/") || mt == "application/octet-stream") {
		return nil
	}
	return badRequest("badContent", "Media type '%s' is not supported. Valid media types: [video/*, application/octet-stream]", ct)
}

// writeVideo answers the video resource with the parts asked for.
func (s *Server) writeVideo(w http.ResponseWriter, rec *record) {
	s.mu.Lock()
	v := rec.v
	s.mu.Unlock()
	res := map[string]any{"kind": "youtube#video", "etag": etag(), "id": v.ID}
	if rec.parts["snippet"] {
		res["snippet"] = map[string]any{
			"publishedAt":          rec.published.Format(time.RFC3339),
			"channelId":            v.ChannelID,
			"title":                v.Title,
			"description":          v.Description,
			"channelTitle":         rec.channelTitle,
			"categoryId":           "22",
			"liveBroadcastContent": "none",
			"localized":            map[string]any{"title": v.Title, "description": v.Description},
		}
	}
	if rec.parts["status"] {
		res["status"] = map[string]any{
			"uploadStatus":        "uploaded",
			"privacyStatus":       v.PrivacyStatus,
			"license":             "youtube",
			"embeddable":          true,
			"publicStatsViewable": true,
		}
	}
	writeJSON(w, http.StatusOK, res)
}

// drain reads what is left of the request body (up to a bound) so that
// the client reads the answer instead of a reset connection.
func drain(r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<20))
}
