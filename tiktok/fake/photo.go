package fake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/loomcast/loomcast/tiktok"
)

// TikTok's photo post limits.
const (
	maxPhotoTitle       = 90   // UTF-16 code units
	maxPhotoDescription = 4000 // UTF-16 code units
	maxPhotoBytes       = 20 * mb
	// pullTimeout bounds the download of a post's images, as TikTok's
	// one-hour limit on pulling media does.
	pullTimeout = time.Hour
)

// The fail_reason of a photo post whose images the fake could not take.
const (
	// FailPhotoPull: an image could not be downloaded (a network error,
	// an answer other than 200 OK, redirects included, or a download
	// unfinished after an hour).
	FailPhotoPull = "photo_pull_failed"
	// FailPictureSize: an image is larger than 20 MB.
	FailPictureSize = "picture_size_check_failed"
	// FailFileFormat: an image is neither JPEG nor WebP by its first
	// bytes; PNG is refused, as on TikTok.
	FailFileFormat = "file_format_check_failed"
)

// contentInitRequest is the body of /v2/post/publish/content/init/.
type contentInitRequest struct {
	MediaType  string    `json:"media_type"`
	PostMode   string    `json:"post_mode"`
	PostInfo   *postInfo `json:"post_info"`
	SourceInfo *struct {
		Source          string   `json:"source"`
		PhotoCoverIndex *int     `json:"photo_cover_index"`
		PhotoImages     []string `json:"photo_images"`
	} `json:"source_info"`
}

// check applies TikTok's rules on the body's fields, returning what is
// wrong or "".
func (req *contentInitRequest) check() string {
	switch {
	case req.MediaType != "PHOTO":
		return "media_type must be PHOTO"
	case req.PostMode == "MEDIA_UPLOAD":
		return "post_mode MEDIA_UPLOAD (to the creator's inbox) is not supported by the fake: use DIRECT_POST"
	case req.PostMode != "DIRECT_POST":
		return "post_mode must be DIRECT_POST or MEDIA_UPLOAD"
	case req.PostInfo == nil:
		return "post_info is required"
	case req.SourceInfo == nil:
		return "source_info is required"
	case req.SourceInfo.Source != "PULL_FROM_URL":
		return "source_info.source must be PULL_FROM_URL"
	}
	pi, si := req.PostInfo, req.SourceInfo
	switch n := len(si.PhotoImages); {
	case n == 0 || n > tiktok.MaxPhotos:
		return fmt.Sprintf("source_info.photo_images has %d images: a photo post takes 1 to %d", n, tiktok.MaxPhotos)
	case si.PhotoCoverIndex == nil:
		return "source_info.photo_cover_index is required"
	case *si.PhotoCoverIndex < 0 || *si.PhotoCoverIndex >= n:
		return fmt.Sprintf("source_info.photo_cover_index %d is not the index of one of the %d images", *si.PhotoCoverIndex, n)
	case len(utf16.Encode([]rune(pi.Title))) > maxPhotoTitle:
		return "post_info.title is longer than 90 UTF-16 runes"
	case len(utf16.Encode([]rune(pi.Description))) > maxPhotoDescription:
		return "post_info.description is longer than 4000 UTF-16 runes"
	}
	for i, raw := range si.PhotoImages {
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Sprintf("source_info.photo_images[%d] %q is not an http or https URL", i, raw)
		}
	}
	return ""
}

// initContent is POST /v2/post/publish/content/init/.
func (s *Server) initContent(w http.ResponseWriter, r *http.Request) {
	var req contentInitRequest
	s.serveInit(w, r, &req, func(g *grant, parsed bool) { s.createPhotos(w, g, &req, parsed) })
}

// createPhotos makes a Direct Post of photos pulled from URLs: the post
// exists at once and its images are downloaded in the background (see
// pull). Called with s.mu held.
//
// Like a server may, its refusals quote the offending URL as given, query
// string included; the client must not pass that on.
func (s *Server) createPhotos(w http.ResponseWriter, g *grant, req *contentInitRequest, parsed bool) {
	msg := "request body is not valid JSON"
	if parsed {
		msg = req.check()
	}
	if msg != "" {
		s.apiError(w, http.StatusBadRequest, "invalid_param", msg)
		return
	}
	pi, si := req.PostInfo, req.SourceInfo
	if s.refusePostInfo(w, g.openID, pi.PrivacyLevel, pi.BrandContentToggle) {
		return
	}
	bare := make([]string, len(si.PhotoImages))
	for i, raw := range si.PhotoImages {
		if !s.verifiedURL(raw) {
			s.unverified(w, fmt.Sprintf("source_info.photo_images[%d]", i), raw)
			return
		}
		bare[i], _, _ = strings.Cut(raw, "?")
	}
	p := &post{
		kind:         KindPhoto,
		publishID:    fmt.Sprintf("p_pub_url~v2.%d", firstPostID+s.seq.Add(1)),
		openID:       g.openID,
		title:        pi.Title,
		description:  pi.Description,
		privacy:      pi.PrivacyLevel,
		brandOrganic: pi.BrandOrganicToggle,
		brandContent: pi.BrandContentToggle,
		images:       strings.Join(bare, "\n"),
		coverIndex:   *si.PhotoCoverIndex,
		initAt:       s.now(),
	}
	s.posts = append(s.posts, p)
	s.postByID[p.publishID] = p
	go s.pull(p, si.PhotoImages)
	s.apiData(w, map[string]string{"publish_id": p.publishID})
}

// verifiedURL reports whether raw lies under one of the verified URL
// prefixes.
func (s *Server) verifiedURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || strings.Contains(u.Path+"/", "/../") {
		return false
	}
	for _, v := range s.verified {
		if strings.EqualFold(u.Scheme, v.Scheme) && strings.EqualFold(u.Host, v.Host) && strings.HasPrefix(u.Path, v.Path) {
			return true
		}
	}
	return false
}

// unverified answers TikTok's refusal of a URL under no verified prefix.
func (s *Server) unverified(w http.ResponseWriter, field, raw string) {
	s.apiError(w, http.StatusForbidden, "url_ownership_unverified",
		fmt.Sprintf("%s %q is under no URL prefix verified for this app", field, raw))
}

// pull downloads p's images in order, stopping at the first it cannot
// take, and settles the post: FAILED at once with that image's reason,
// or due ProcessingDelay after the last image arrived. It holds s.mu only
// between downloads.
func (s *Server) pull(p *post, urls []string) {
	ctx, cancel := context.WithTimeout(context.Background(), pullTimeout)
	defer cancel()
	for i, raw := range urls {
		sum, n, reason := s.pullImage(ctx, raw)
		s.mu.Lock()
		p.bytes += n
		if reason == "" {
			p.imageSHA = append(p.imageSHA, sum)
		}
		switch {
		case reason != "":
			s.mediaDone(p, s.now(), 0, reason)
		case i == len(urls)-1:
			s.mediaDone(p, s.now(), s.opts.ProcessingDelay, "")
		}
		s.mu.Unlock()
		if reason != "" {
			return
		}
	}
}

// pullImage downloads one image and returns its hex SHA-256 and the bytes
// read, or the fail_reason that refuses it.
func (s *Server) pullImage(ctx context.Context, raw string) (sum string, n int64, reason string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return "", 0, FailPhotoPull
	}
	resp, err := s.pullHTTP.Do(req)
	if err != nil {
		return "", 0, FailPhotoPull
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", 0, FailPhotoPull
	}
	// The first 12 bytes tell JPEG and WebP apart; the rest is hashed.
	var head [12]byte
	k, err := io.ReadFull(resp.Body, head[:])
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return "", int64(k), FailPhotoPull
	}
	h := sha256.New()
	h.Write(head[:k])
	rest, err := io.Copy(h, io.LimitReader(resp.Body, maxPhotoBytes+1-int64(k)))
	n = int64(k) + rest
	switch {
	case err != nil:
		return "", n, FailPhotoPull
	case n > maxPhotoBytes:
		return "", n, FailPictureSize
	case !jpegOrWebP(head[:k]):
		return "", n, FailFileFormat
	}
	return hex.EncodeToString(h.Sum(nil)), n, ""
}

// jpegOrWebP reports whether head starts a JPEG (FF D8 FF) or a WebP
// ("RIFF", a size, "WEBP") file.
func jpegOrWebP(head []byte) bool {
	jpeg := bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF})
	webp := len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP"
	return jpeg || webp
}
