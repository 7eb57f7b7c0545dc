package tiktok

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf16"
)

// MaxPhotos is the most images a photo post takes.
const MaxPhotos = 35

// TikTok's limits on a photo post's text, in UTF-16 code units.
const (
	maxPhotoTitle       = 90
	maxPhotoDescription = 4000
)

// PhotoPost is the metadata of a photo post. PrivacyLevel must be one of
// CreatorInfo.PrivacyLevelOptions (else TikTok answers
// privacy_level_option_mismatch). Title is at most 90 UTF-16 code units
// and Description at most 4000: PhotoTitle cuts a caption into both.
type PhotoPost struct {
	Title, Description string
	PrivacyLevel       string
	DisableComment     bool
	// AutoAddMusic lets TikTok add recommended music to the post.
	AutoAddMusic bool
	// BrandOrganic and BrandContent are the commercial-content
	// disclosures, as in PostInfo: branded content cannot be SELF_ONLY.
	BrandOrganic, BrandContent bool
}

// photoInitRequest is the body of /v2/post/publish/content/init/ for a
// Direct Post of photos pulled from URLs.
type photoInitRequest struct {
	MediaType  string          `json:"media_type"`
	PostMode   string          `json:"post_mode"`
	PostInfo   photoPostInfo   `json:"post_info"`
	SourceInfo photoSourceInfo `json:"source_info"`
}

type photoPostInfo struct {
	Title              string `json:"title,omitempty"`
	Description        string `json:"description,omitempty"`
	PrivacyLevel       string `json:"privacy_level"`
	DisableComment     bool   `json:"disable_comment"`
	AutoAddMusic       bool   `json:"auto_add_music"`
	BrandContentToggle bool   `json:"brand_content_toggle"`
	BrandOrganicToggle bool   `json:"brand_organic_toggle"`
}

type photoSourceInfo struct {
	Source          string   `json:"source"`
	PhotoCoverIndex int      `json:"photo_cover_index"`
	PhotoImages     []string `json:"photo_images"`
}

// InitPhotoPost posts images directly (content/init, DIRECT_POST,
// PULL_FROM_URL) and returns the publish ID; follow the post with
// FetchStatus as for a video. TikTok downloads each of imageURLs itself
// (JPEG or WebP, at most 20 MB each), so every URL must lie under a
// prefix verified for the app (else url_ownership_unverified) and stay
// valid until the post leaves PROCESSING_DOWNLOAD. coverIndex is the
// image shown as the cover, from 0.
//
// The number of images (1 to MaxPhotos), their being absolute http(s)
// URLs, the cover index and the text lengths are checked before anything
// is sent. The URLs may be signed: no error names them with their query
// string, and what TikTok's refusals quote of them is cut back to the
// bare URL. Each call creates a new post on TikTok's side and counts
// toward the same limit as InitDirectPost (EndpointInit).
func (c *Client) InitPhotoPost(ctx context.Context, accessToken string, p PhotoPost, imageURLs []string, coverIndex int) (publishID string, err error) {
	if err := checkPhotoPost(p, imageURLs, coverIndex); err != nil {
		return "", fmt.Errorf("tiktok: init photo post: %w", err)
	}
	in := photoInitRequest{
		MediaType: "PHOTO",
		PostMode:  "DIRECT_POST",
		PostInfo: photoPostInfo{
			Title:              p.Title,
			Description:        p.Description,
			PrivacyLevel:       p.PrivacyLevel,
			DisableComment:     p.DisableComment,
			AutoAddMusic:       p.AutoAddMusic,
			BrandContentToggle: p.BrandContent,
			BrandOrganicToggle: p.BrandOrganic,
		},
		SourceInfo: photoSourceInfo{Source: "PULL_FROM_URL", PhotoCoverIndex: coverIndex, PhotoImages: imageURLs},
	}
	var out struct {
		PublishID string `json:"publish_id"`
	}
	if err := c.callAPI(ctx, "init photo post", http.MethodPost, "/v2/post/publish/content/init/", accessToken, nil, in, &out); err != nil {
		return "", scrubURLs(err, imageURLs)
	}
	if out.PublishID == "" {
		return "", errors.New("tiktok: init photo post: answer has no publish_id")
	}
	return out.PublishID, nil
}

// checkPhotoPost applies TikTok's photo post rules that need no server.
// Its errors never quote a URL: url.Parse's would, query string and all.
func checkPhotoPost(p PhotoPost, imageURLs []string, coverIndex int) error {
	if len(imageURLs) == 0 || len(imageURLs) > MaxPhotos {
		return fmt.Errorf("%d images: a photo post takes 1 to %d", len(imageURLs), MaxPhotos)
	}
	for i, raw := range imageURLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("image %d is not an absolute http or https URL", i)
		}
	}
	if coverIndex < 0 || coverIndex >= len(imageURLs) {
		return fmt.Errorf("cover index %d is not that of one of the %d images", coverIndex, len(imageURLs))
	}
	if n := utf16Len(p.Title); n > maxPhotoTitle {
		return fmt.Errorf("title is %d UTF-16 code units, more than %d", n, maxPhotoTitle)
	}
	if n := utf16Len(p.Description); n > maxPhotoDescription {
		return fmt.Errorf("description is %d UTF-16 code units, more than %d", n, maxPhotoDescription)
	}
	return nil
}

// scrubURLs cuts every image URL that an *APIError's message quotes back
// to the bare URL, and blanks any query string of theirs that is left.
// Other errors carry only the API URL, which callAPI redacts.
func scrubURLs(err error, imageURLs []string) error {
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Message == "" {
		return err
	}
	msg := apiErr.Message
	for _, raw := range imageURLs {
		msg = strings.ReplaceAll(msg, raw, stripURL(raw))
		if _, query, ok := strings.Cut(raw, "?"); ok && query != "" {
			msg = strings.ReplaceAll(msg, query, "[redacted]")
		}
	}
	if msg == apiErr.Message {
		return err
	}
	clean := *apiErr
	clean.Message = msg
	return &clean
}

// PhotoTitle cuts a caption into a photo post's title and description.
// The title is the caption's first line that is not blank and the
// description the whole caption, both trimmed of surrounding white space
// and cut to TikTok's limits (90 and 4000 UTF-16 code units) between
// code points, never inside a surrogate pair.
func PhotoTitle(caption string) (title, description string) {
	description = strings.TrimSpace(caption)
	title, _, _ = strings.Cut(description, "\n")
	return cutUTF16(strings.TrimSpace(title), maxPhotoTitle), cutUTF16(description, maxPhotoDescription)
}

// cutUTF16 returns the longest prefix of s, ending between code points,
// that is at most n UTF-16 code units long, without trailing white space
// when it had to cut.
func cutUTF16(s string, n int) string {
	units := 0
	for i, r := range s {
		units += runeUnits(r)
		if units > n {
			return strings.TrimRightFunc(s[:i], unicode.IsSpace)
		}
	}
	return s
}

// utf16Len is the length of s in UTF-16 code units, as TikTok counts.
func utf16Len(s string) int {
	units := 0
	for _, r := range s {
		units += runeUnits(r)
	}
	return units
}

// runeUnits is how many UTF-16 code units r takes; invalid UTF-8, which
// encoding/json sends as U+FFFD, takes one.
func runeUnits(r rune) int {
	return max(utf16.RuneLen(r), 1)
}
