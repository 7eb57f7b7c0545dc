package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/media"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/workflows/posting"
)

// maxCaption is TikTok's caption limit, applied to every platform.
const maxCaption = 2200

// createPostRequest is the body of POST /v1/posts.
type createPostRequest struct {
	ChannelID string `json:"channel_id"`
	// UploadID is the video (or a single image); UploadIDs a TikTok photo
	// post's images, 1 to 35, in order.
	UploadID     string   `json:"upload_id"`
	UploadIDs    []string `json:"upload_ids"`
	Caption      string   `json:"caption"`
	Privacy      string   `json:"privacy"`
	AllowComment bool     `json:"allow_comment"`
	AllowDuet    bool     `json:"allow_duet"`
	AllowStitch  bool     `json:"allow_stitch"`
	// ScheduledAt is RFC 3339 with an offset, a local time
	// ("2026-03-29T02:30") read in Timezone (or the user's), or "now".
	ScheduledAt string `json:"scheduled_at"`
	Timezone    string `json:"timezone"`
	// Disclose says the post is commercial content (TikTok only).
	Disclose *disclosureBody `json:"disclose_commercial_content"`
}

// disclosureBody discloses commercial content on TikTok, as its direct-post
// guidelines ask an app to offer: the post promotes the creator's own
// business (your_brand), or a third party's (branded_content, a paid
// partnership, which cannot be private).
type disclosureBody struct {
	YourBrand      bool `json:"your_brand"`
	BrandedContent bool `json:"branded_content"`
}

// checkDisclosure words what is wrong with a disclosure for a post of
// platform at privacy; none (nil) is always right. Creating needs at least
// one choice; an edit may clear both.
func checkDisclosure(platform, privacy string, d *disclosureBody, creating bool) map[string]string {
	switch {
	case d == nil:
		return nil
	case platform != loomcast.TikTok:
		return map[string]string{"disclose_commercial_content": "is a TikTok setting; leave it out for " + platform}
	case creating && !d.YourBrand && !d.BrandedContent:
		return map[string]string{"disclose_commercial_content": "choose your_brand and/or branded_content, or leave it out"}
	case d.BrandedContent && privacy == "SELF_ONLY":
		return map[string]string{"disclose_commercial_content.branded_content": "branded content cannot be private on TikTok: choose a privacy other than SELF_ONLY"}
	}
	return nil
}

// postView is a post as the API shows it.
type postView struct {
	ID             string          `json:"id"`
	ChannelID      string          `json:"channel_id"`
	UploadID       string          `json:"upload_id"`
	Kind           string          `json:"kind"`
	UploadIDs      []string        `json:"upload_ids,omitempty"`
	Platform       string          `json:"platform"`
	Caption        string          `json:"caption"`
	Privacy        string          `json:"privacy"`
	AllowComment   bool            `json:"allow_comment"`
	AllowDuet      bool            `json:"allow_duet"`
	AllowStitch    bool            `json:"allow_stitch"`
	Status         string          `json:"status"`
	ScheduledAt    time.Time       `json:"scheduled_at"`
	Timezone       string          `json:"timezone"`
	PublishedAt    *time.Time      `json:"published_at"`
	PlatformPostID string          `json:"platform_post_id"`
	PublicURL      string          `json:"public_url"`
	Disclose       *disclosureBody `json:"disclose_commercial_content"`
	FailureReason  string          `json:"failure_reason"`
	Attempt        int             `json:"attempt"`
	Sandbox        bool            `json:"sandbox"`
	CreatedAt      time.Time       `json:"created_at"`
	History        []postEventView `json:"history,omitempty"`
}

type postEventView struct {
	Status string    `json:"status"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
}

func (s *postsAPI) toPostView(p models.Post, events []models.PostEvent) postView {
	v := postView{ID: p.ID, ChannelID: p.ChannelID, UploadID: p.UploadID, Platform: p.Platform, Caption: p.Caption, Privacy: p.Privacy,
		AllowComment: p.AllowComment, AllowDuet: p.AllowDuet, AllowStitch: p.AllowStitch, Status: p.Status, ScheduledAt: p.ScheduledAt,
		Timezone: p.Timezone, PublishedAt: p.PublishedAt, PlatformPostID: p.PlatformPostID, PublicURL: p.PublicURL,
		FailureReason: p.FailureReason, Attempt: p.Attempt, Sandbox: s.cfg.PlatformSandbox, CreatedAt: p.CreatedAt,
		Kind: "video", UploadIDs: p.Photos()}
	if len(v.UploadIDs) > 0 {
		v.Kind = "photo"
	}
	if p.BrandOrganic || p.BrandContent {
		v.Disclose = &disclosureBody{YourBrand: p.BrandOrganic, BrandedContent: p.BrandContent}
	}
	for _, e := range events {
		v.History = append(v.History, postEventView{Status: e.Status, Detail: e.Detail, At: e.At})
	}
	return v
}

// futureSchedule is resolveSchedule that also refuses a time in the past
// (a minute's grace absorbs clock skew; "now" is always fine).
func futureSchedule(raw, tz string, now time.Time) (time.Time, string) {
	t, msg := resolveSchedule(raw, tz, now)
	if msg == "" && t.Before(now.Add(-time.Minute)) {
		msg = "is in the past; use a future time or \"now\""
	}
	return t, msg
}

// afterUploadExpiry explains why a time after the upload's deletion cannot
// be its post's time, or returns "".
func afterUploadExpiry(t time.Time, up models.Upload) string {
	if !t.After(up.ExpiresAt) {
		return ""
	}
	return fmt.Sprintf("is after %s, when the upload is deleted (uploads are kept 24 hours); schedule earlier or upload the video closer to the time",
		up.ExpiresAt.Format(time.RFC3339))
}

// resolveSchedule reads a scheduled time: RFC 3339 with an offset, "now",
// or a local wall time in the IANA zone tz. A local time that does not
// exist (skipped by a daylight-saving change) is refused; one that exists
// twice takes its first occurrence.
func resolveSchedule(raw, tz string, now time.Time) (time.Time, string) {
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		return time.Time{}, "is required: RFC 3339 (2026-05-01T18:00:00+02:00), a local time (2026-05-01T18:00) with timezone, or \"now\""
	case strings.EqualFold(raw, "now"):
		return now, ""
	}
	if t, err := time.Parse(time.RFC3339, raw); err == nil {
		return t.UTC(), ""
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return time.Time{}, "cannot be read in timezone " + tz
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		wall, err := time.Parse(layout, raw)
		if err != nil {
			continue
		}
		t := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), 0, loc)
		if t.Hour() != wall.Hour() || t.Minute() != wall.Minute() || t.Day() != wall.Day() {
			return time.Time{}, fmt.Sprintf("%s does not exist in %s (the clocks skip it for daylight saving time); pick another time", raw, tz)
		}
		// Of two instants with this wall time (clocks going back), take the earlier.
		if earlier := t.Add(-time.Hour); earlier.Hour() == t.Hour() && earlier.Minute() == t.Minute() && earlier.Day() == t.Day() {
			t = earlier
		}
		return t.UTC(), ""
	}
	return time.Time{}, "must be RFC 3339 with an offset (2026-05-01T18:00:00+02:00), a local time (2026-05-01T18:00) or \"now\""
}

func (s *postsAPI) createPost(c *gin.Context) {
	user := currentPrincipal(c).User
	ctx := c.Request.Context()
	if user.RestrictedAt != nil {
		s.fail(c, errorf(CodeConflict, "Processing of your data is restricted at your request: Loomcast only stores it, so it publishes nothing until the restriction is lifted."))
		return
	}
	key := c.GetHeader("Idempotency-Key")
	if len(key) > 255 {
		s.fail(c, invalid(map[string]string{"Idempotency-Key": "must be at most 255 characters"}))
		return
	}
	var req createPostRequest
	if err := s.bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	raw, _ := json.Marshal(req)
	sum := sha256.Sum256(raw)
	hash := hex.EncodeToString(sum[:])
	if key != "" {
		existing, err := s.store.PostByIdempotencyKey(ctx, user.ID, key)
		switch {
		case err == nil && existing.RequestHash == hash:
			c.Header("Location", "/v1/posts/"+existing.ID)
			s.answerPost(c, http.StatusCreated, existing)
			return
		case err == nil:
			s.fail(c, errorf(CodeConflict, "This Idempotency-Key was used for a different request; use a new key for a new post."))
			return
		case !errors.Is(err, models.ErrNotFound):
			s.fail(c, err)
			return
		}
	}

	fields := map[string]string{}
	tz := req.Timezone
	if tz == "" {
		tz = user.Timezone
	} else if msg := validateTimezone(tz); msg != "" {
		fields["timezone"] = msg
	}
	now := s.now()
	var scheduledAt time.Time
	if fields["timezone"] == "" {
		var msg string
		if scheduledAt, msg = futureSchedule(req.ScheduledAt, tz, now); msg != "" {
			fields["scheduled_at"] = msg
		}
	}
	if utf8.RuneCountInString(req.Caption) > maxCaption {
		fields["caption"] = fmt.Sprintf("must be at most %d characters", maxCaption)
	}
	if req.Privacy == "" {
		fields["privacy"] = "is required"
	}
	if req.ChannelID == "" {
		fields["channel_id"] = "is required"
	}
	switch {
	case req.UploadID != "" && len(req.UploadIDs) > 0:
		fields["upload_ids"] = "send upload_id for a video or upload_ids for photos, not both"
	case req.UploadID == "" && len(req.UploadIDs) == 0:
		fields["upload_id"] = "is required (or upload_ids, for a photo post)"
	case len(req.UploadIDs) > posting.MaxPhotos:
		fields["upload_ids"] = fmt.Sprintf("a photo post takes at most %d images, not %d", posting.MaxPhotos, len(req.UploadIDs))
	default:
		for i, id := range req.UploadIDs {
			if id == "" || slices.Contains(req.UploadIDs[:i], id) {
				fields["upload_ids"] = "lists an empty or repeated upload ID"
				break
			}
		}
	}
	if len(fields) > 0 {
		s.fail(c, invalid(fields))
		return
	}
	ch, err := s.store.UserChannel(ctx, user.ID, req.ChannelID)
	if errors.Is(err, models.ErrNotFound) {
		s.fail(c, &Error{Code: CodeNotFound, Message: "You have no channel with this ID.", Fields: map[string]string{"channel_id": "is not one of your channels"}})
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	if ch.Status != loomcast.ChannelActive {
		s.fail(c, &Error{Code: CodeConflict, Message: fmt.Sprintf("The channel %q is %s; reconnect it first.", ch.DisplayName, ch.Status),
			Fields: map[string]string{"channel_id": "must be reconnected"}})
		return
	}
	ups, err := s.postUploads(ctx, user.ID, ch, req.UploadID, req.UploadIDs)
	if err != nil {
		s.fail(c, err)
		return
	}
	up := ups[0]
	photos := media.IsImage(up.ContentType)
	for _, u := range ups {
		if msg := afterUploadExpiry(scheduledAt, u); msg != "" {
			s.fail(c, invalid(map[string]string{"scheduled_at": msg}))
			return
		}
	}
	if photos && (req.AllowDuet || req.AllowStitch) {
		s.fail(c, invalid(map[string]string{"allow_duet": "photo posts take no duets or stitches; leave allow_duet and allow_stitch false"}))
		return
	}
	if msgs := checkDisclosure(ch.Platform, req.Privacy, req.Disclose, true); msgs != nil {
		s.fail(c, invalid(msgs))
		return
	}
	opts := posting.Options{Privacy: req.Privacy, AllowComment: req.AllowComment, AllowDuet: req.AllowDuet, AllowStitch: req.AllowStitch,
		DurationMS: up.DurationMS, DurationUnknown: !photos && up.DurationMS == nil}
	if err := s.checkOptions(ctx, ch, opts); err != nil {
		s.fail(c, err)
		return
	}

	p := &models.Post{UserID: user.ID, ChannelID: ch.ID, UploadID: up.ID, Platform: ch.Platform, Caption: req.Caption, Privacy: req.Privacy,
		PhotoUploadIDs: photoIDs(ups),
		AllowComment:   req.AllowComment, AllowDuet: req.AllowDuet, AllowStitch: req.AllowStitch, ScheduledAt: scheduledAt, Timezone: tz,
		Status: loomcast.PostScheduled, RequestHash: hash}
	if req.Disclose != nil {
		p.BrandOrganic, p.BrandContent = req.Disclose.YourBrand, req.Disclose.BrandedContent
	}
	if key != "" {
		p.IdempotencyKey = &key
	}
	if err := s.store.CreatePost(ctx, p); err != nil {
		if errors.Is(err, models.ErrConflict) && key != "" {
			// A concurrent request with the same key won the race.
			if existing, err := s.store.PostByIdempotencyKey(ctx, user.ID, key); err == nil && existing.RequestHash == hash {
				s.answerPost(c, http.StatusCreated, existing)
				return
			}
		}
		s.fail(c, err)
		return
	}
	if err := s.startPublication(ctx, *p); err != nil {
		_ = s.store.DeletePost(context.WithoutCancel(ctx), p.ID)
		s.log(c).Error("start post workflow", slog.String("post_id", p.ID), slog.String("error", err.Error()))
		s.fail(c, &Error{Code: CodeUnavailable, Message: "The post could not be scheduled right now; nothing was saved. Try again in a minute.", RetryAfter: 30})
		return
	}
	c.Header("Location", "/v1/posts/"+p.ID)
	s.answerPost(c, http.StatusCreated, *p)
}

func (s *postsAPI) startPublication(ctx context.Context, p models.Post) error {
	in := posting.PublishInput{PostID: p.ID, UserID: p.UserID, ChannelID: p.ChannelID, UploadID: p.UploadID, PhotoUploadIDs: p.Photos(),
		Platform: p.Platform, ScheduledAt: p.ScheduledAt, Attempt: p.Attempt}
	_, err := s.temporal.ExecuteWorkflow(ctx, posting.StartOptions(in), posting.PublishPost, in)
	return err
}

// postUploads reads the uploads a new post names: one video, or one to 35
// images for a TikTok photo post (an image as upload_id is a photo post of
// one). Each must be the caller's and not yet deleted; YouTube takes
// videos only.
func (s *postsAPI) postUploads(ctx context.Context, userID string, ch models.Channel, uploadID string, uploadIDs []string) ([]models.Upload, error) {
	field, ids := "upload_id", []string{uploadID}
	if len(uploadIDs) > 0 {
		field, ids = "upload_ids", uploadIDs
	}
	ups := make([]models.Upload, 0, len(ids))
	for i, id := range ids {
		name := field
		if field == "upload_ids" {
			name = fmt.Sprintf("upload_ids[%d]", i)
		}
		up, err := s.store.UserUpload(ctx, userID, id)
		if errors.Is(err, models.ErrNotFound) {
			return nil, &Error{Code: CodeNotFound, Message: "You have no upload with this ID.", Fields: map[string]string{name: "is not one of your uploads"}}
		}
		if err != nil {
			return nil, err
		}
		if up.DeletedAt != nil {
			return nil, invalid(map[string]string{name: "has been deleted (uploads are kept 24 hours, or until their post is published); upload the file again"})
		}
		ups = append(ups, up)
	}
	images := 0
	for _, up := range ups {
		if media.IsImage(up.ContentType) {
			images++
		}
	}
	switch {
	case images > 0 && ch.Platform == loomcast.YouTube:
		return nil, invalid(map[string]string{field: "is an image: YouTube takes videos only (photo posts are TikTok's)"})
	case field == "upload_ids" && images < len(ups):
		return nil, invalid(map[string]string{"upload_ids": "must all be images (JPEG, PNG or WebP): a video goes alone, as upload_id"})
	}
	return ups, nil
}

// photoIDs is the photo list of a post made of ups: their IDs when they
// are images, "" for a video.
func photoIDs(ups []models.Upload) string {
	if !media.IsImage(ups[0].ContentType) {
		return ""
	}
	ids := make([]string, len(ups))
	for i, up := range ups {
		ids[i] = up.ID
	}
	return strings.Join(ids, " ")
}

// checkOptions validates a post's options against the platform: for TikTok,
// the creator's live capabilities.
func (s *postsAPI) checkOptions(ctx context.Context, ch models.Channel, o posting.Options) error {
	if ch.Platform == loomcast.YouTube {
		if !slices.Contains(posting.YouTubePrivacy, o.Privacy) {
			return invalid(map[string]string{"privacy": "must be public, private or unlisted for YouTube"})
		}
		if o.AllowDuet || o.AllowStitch {
			return invalid(map[string]string{"allow_duet": "duets and stitches are TikTok features; leave them false for YouTube"})
		}
		return nil
	}
	info, err := s.liveCreatorInfo(ctx, ch)
	var busy *Error
	if errors.As(err, &busy) && busy.Code == CodeRateLimited {
		// The account's creator_info allowance is taken (by its posts
		// being published, or many edits at once): accept the post, whose
		// options are checked against the live capabilities again before
		// it publishes, rather than refuse the user for TikTok's limit.
		return nil
	}
	if err != nil {
		return err
	}
	if msgs := tiktokCapabilities(info).Check(o); len(msgs) > 0 {
		return &Error{Code: CodeInvalid, Message: "TikTok does not allow these options for this creator right now; see errors.", Fields: msgs}
	}
	return nil
}

func (s *postsAPI) answerPost(c *gin.Context, status int, p models.Post) {
	events, err := s.store.PostEvents(c.Request.Context(), p.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(status, s.toPostView(p, events))
}

// postList answers GET /v1/posts.
type postList struct {
	Posts      []postView `json:"posts"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// listPosts pages through the user's posts, newest first, from the read model.
func (s *postsAPI) listPosts(c *gin.Context) {
	user := currentPrincipal(c).User
	f := models.PostFilter{Status: c.Query("status"), ChannelID: c.Query("channel_id"), Limit: 50}
	fields := map[string]string{}
	var err error
	if f.Before, err = idCursor(c); err != nil {
		fields["cursor"] = "is not a cursor this API returned"
	}
	if f.Status != "" && !slices.Contains(loomcast.PostStatuses, f.Status) {
		fields["status"] = "must be one of " + strings.Join(loomcast.PostStatuses, ", ")
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			fields["limit"] = "must be a whole number from 1 to 100"
		}
		f.Limit = n
	}
	if len(fields) > 0 {
		s.fail(c, invalid(fields))
		return
	}
	want := f.Limit
	f.Limit++
	posts, err := s.store.UserPosts(c.Request.Context(), user.ID, f)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := postList{Posts: make([]postView, 0, len(posts))}
	if len(posts) > want {
		posts = posts[:want]
		out.NextCursor = posts[want-1].ID
	}
	for _, p := range posts {
		out.Posts = append(out.Posts, s.toPostView(p, nil))
	}
	c.JSON(http.StatusOK, out)
}

// userPost loads the caller's post; another user's is a 404, never a 403.
func (s *postsAPI) userPost(c *gin.Context) (models.Post, bool) {
	p, err := s.store.UserPost(c.Request.Context(), currentPrincipal(c).User.ID, c.Param("id"))
	if errors.Is(err, models.ErrNotFound) {
		s.fail(c, errorf(CodeNotFound, "You have no post with this ID."))
		return models.Post{}, false
	}
	if err != nil {
		s.fail(c, err)
		return models.Post{}, false
	}
	return p, true
}

func (s *postsAPI) getPost(c *gin.Context) {
	p, ok := s.userPost(c)
	if !ok {
		return
	}
	s.answerPost(c, http.StatusOK, p)
}

func (s *postsAPI) addRoutes(r routers) {
	r.public.GET(strings.TrimPrefix(posting.PhotoLinkPath, "/v1")+":id", s.servePhoto)
	r.user.POST("/uploads", s.createUpload)
	r.user.POST("/posts", s.requireVerified, s.createPost)
	r.user.GET("/posts", s.listPosts)
	r.user.GET("/posts/:id", s.getPost)
	r.user.PATCH("/posts/:id", s.patchPost)
	r.user.DELETE("/posts/:id", s.deletePost)

	r.staff.POST("/posts/:id/cancel", s.requireRole(models.RoleSupport), s.adminCancelPost)
	r.staff.POST("/posts/:id/retry", s.requireRole(models.RoleSupport), s.adminRetryPost)
}
