// Package posting holds the activities of post publication: recording
// changes in the read model, checking a post against the platform just
// before publishing, TikTok's Direct Post (init once, chunks resumable from
// the last acknowledged one, status polling) and YouTube's resumable upload.
package posting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/grants"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/tiktok"
	wf "github.com/loomcast/loomcast/workflows/posting"
	"github.com/loomcast/loomcast/youtube"
)

// Activities are the publication activities with their dependencies.
type Activities struct {
	Store   *models.Store
	Blob    blob.Store
	Grants  *grants.Manager
	TikTok  *tiktok.Client
	YouTube *youtube.Client
	Now     func() time.Time
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now().UTC()
	}
	return time.Now().UTC()
}

// rejected is a permanent failure whose message the user sees.
func rejected(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), wf.ErrTypePlatformRejected, nil)
}

// timeFields are the columns a workflow sends as times (JSON turns them
// into strings on the way).
// ApplyPostChange records a change in the read model.
func (a *Activities) ApplyPostChange(ctx context.Context, in wf.ApplyChangeInput) error {
	_, err := a.Store.ApplyPostChange(ctx, in.PostID, models.PostChange{Status: in.Status, Detail: in.Detail, Set: toDBPostFields(in.Fields)})
	return err
}

// toDBPostFields converts the contract's post fields to the store's.
func toDBPostFields(f wf.PostFields) models.PostFields {
	return models.PostFields{Caption: f.Caption, Privacy: f.Privacy, AllowComment: f.AllowComment, AllowDuet: f.AllowDuet,
		AllowStitch: f.AllowStitch, ScheduledAt: f.ScheduledAt, Timezone: f.Timezone, PlatformPostID: f.PlatformPostID,
		FailureReason: f.FailureReason, PublishedAt: f.PublishedAt}
}

// CheckBeforePublish checks, just before publishing, that the channel can
// publish and that the post's options are still allowed by the platform.
func (a *Activities) CheckBeforePublish(ctx context.Context, in wf.PostInput) error {
	p, err := a.Store.PostByID(ctx, in.PostID)
	if err != nil {
		return err
	}
	ch, err := a.Store.ChannelByID(ctx, p.ChannelID)
	if err != nil {
		return err
	}
	if ch.Status != loomcast.ChannelActive {
		return unusable(ch.DisplayName)
	}
	if u, err := a.Store.UserByID(ctx, p.UserID); err != nil {
		return err
	} else if u.RestrictedAt != nil {
		return rejected("processing of your data is restricted at your request: nothing is published until you lift the restriction")
	}
	up, err := a.Store.UploadByID(ctx, p.UploadID)
	if err != nil {
		return err
	}
	if up.DeletedAt != nil {
		return rejected("the video is gone: uploads are kept for 24 hours; upload it again and reschedule")
	}
	switch p.Platform {
	case loomcast.YouTube:
		if !slices.Contains(wf.YouTubePrivacy, p.Privacy) {
			return rejected("YouTube privacy must be public, private or unlisted, not %q", p.Privacy)
		}
		return nil
	case loomcast.TikTok:
		var info tiktok.CreatorInfo
		err := a.withTikTokToken(ctx, ch.ID, func(token string) (err error) {
			info, err = a.TikTok.CreatorInfo(ctx, token)
			return err
		})
		if err != nil {
			return a.platformError(err)
		}
		opts := wf.Options{Privacy: p.Privacy, AllowComment: p.AllowComment, AllowDuet: p.AllowDuet, AllowStitch: p.AllowStitch, DurationMS: up.DurationMS}
		if msg := capabilities(info).Check(opts); len(msg) > 0 {
			return rejected("TikTok no longer allows these options: %s", strings.Join(msgValues(msg), "; "))
		}
		return nil
	}
	return rejected("unknown platform %q", p.Platform)
}

// withTikTokToken runs call with the channel's access token; when TikTok
// says the token expired, it refreshes once and tries again.
func (a *Activities) withTikTokToken(ctx context.Context, channelID string, call func(token string) error) error {
	token, err := a.Grants.Access(ctx, channelID)
	if err != nil {
		return err
	}
	err = call(token)
	var apiErr *tiktok.APIError
	if !errors.As(err, &apiErr) || !apiErr.AuthExpired() {
		return err
	}
	if _, err := a.Grants.Refresh(ctx, channelID); err != nil {
		return err
	}
	if token, err = a.Grants.Access(ctx, channelID); err != nil {
		return err
	}
	return call(token)
}

// platformError sorts a platform failure: transient ones are returned as
// they are (Temporal retries them), permanent ones end the post with the
// platform's reason.
func (a *Activities) platformError(err error) error {
	if errors.Is(err, grants.ErrReauthRequired) {
		return unusable("access was revoked")
	}
	var tt *tiktok.APIError
	if errors.As(err, &tt) {
		if tt.Retryable() {
			return err
		}
		if tt.AuthExpired() {
			return unusable("TikTok refused the access token")
		}
		return rejected("TikTok refused the post: %s (%s)", tt.Code, tt.Message)
	}
	var yt *youtube.APIError
	if errors.As(err, &yt) {
		if yt.Retryable() {
			return err
		}
		if yt.AuthExpired() {
			return unusable("YouTube refused the access token")
		}
		return rejected("YouTube refused the video: %s (%s)", yt.Reason, yt.Message)
	}
	return err
}

// tiktokSession is what a post keeps of its TikTok upload session.
type tiktokSession struct {
	State      string `json:"state"` // "initializing" or "initialized"
	UploadURL  string `json:"upload_url,omitempty"`
	ChunkSize  int64  `json:"chunk_size,omitempty"`
	ChunkCount int    `json:"chunk_count,omitempty"`
	// Acked is the number of chunks TikTok has acknowledged.
	Acked int `json:"acked,omitempty"`
}

// InitTikTokPost initializes the Direct Post once. The publish ID and the
// upload session are stored before a byte is sent. If an earlier attempt
// may have reached TikTok without its answer arriving, it does not init
// again blindly: it stops with "could not confirm".
func (a *Activities) InitTikTokPost(ctx context.Context, in wf.PostInput) (wf.TikTokInit, error) {
	p, err := a.Store.PostByID(ctx, in.PostID)
	if err != nil {
		return wf.TikTokInit{}, err
	}
	var sess tiktokSession
	if p.UploadSession != "" {
		if err := json.Unmarshal([]byte(p.UploadSession), &sess); err != nil {
			return wf.TikTokInit{}, fmt.Errorf("read upload session: %w", err)
		}
	}
	switch {
	case p.PublishID != "" && sess.State == "initialized":
		ch, err := a.Store.ChannelByID(ctx, p.ChannelID)
		if err != nil {
			return wf.TikTokInit{}, err
		}
		return wf.TikTokInit{OpenID: ch.ExternalID, PublishID: p.PublishID, UploadURL: sess.UploadURL, ChunkSize: sess.ChunkSize, ChunkCount: sess.ChunkCount}, nil
	case sess.State == "initializing":
		return wf.TikTokInit{}, temporal.NewNonRetryableApplicationError(
			"could not confirm whether TikTok accepted the post: the connection broke after the request was sent. "+
				"Check your TikTok profile before retrying, so that the video is not posted twice.", wf.ErrTypeOutcomeUnknown, nil)
	}
	up, err := a.Store.UploadByID(ctx, p.UploadID)
	if err != nil {
		return wf.TikTokInit{}, err
	}
	if err := a.saveSession(ctx, p.ID, tiktokSession{State: "initializing"}, nil); err != nil {
		return wf.TikTokInit{}, err
	}
	info := tiktok.PostInfo{Title: p.Caption, PrivacyLevel: p.Privacy, DisableComment: !p.AllowComment, DisableDuet: !p.AllowDuet, DisableStitch: !p.AllowStitch}
	var res tiktok.InitResult
	err = a.withTikTokToken(ctx, p.ChannelID, func(token string) (err error) {
		res, err = a.TikTok.InitDirectPost(ctx, token, info, up.Size)
		return err
	})
	if err != nil {
		var apiErr *tiktok.APIError
		if errors.As(err, &apiErr) || notSent(err) || errors.Is(err, grants.ErrReauthRequired) {
			// TikTok answered (or nothing left this machine): no post exists,
			// so a later attempt may init again.
			if cerr := a.saveSession(ctx, p.ID, tiktokSession{}, nil); cerr != nil {
				return wf.TikTokInit{}, cerr
			}
			return wf.TikTokInit{}, a.platformError(err)
		}
		return wf.TikTokInit{}, err // outcome unknown: the next attempt stops with "could not confirm"
	}
	sess = tiktokSession{State: "initialized", UploadURL: res.UploadURL, ChunkSize: res.ChunkSize, ChunkCount: res.ChunkCount}
	if err := a.saveSession(ctx, p.ID, sess, &res.PublishID); err != nil {
		return wf.TikTokInit{}, err
	}
	ch, err := a.Store.ChannelByID(ctx, p.ChannelID)
	if err != nil {
		return wf.TikTokInit{}, err
	}
	return wf.TikTokInit{OpenID: ch.ExternalID, PublishID: res.PublishID, UploadURL: res.UploadURL, ChunkSize: res.ChunkSize, ChunkCount: res.ChunkCount}, nil
}

// notSent reports a failure to connect at all, when no request left.
func notSent(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

func (a *Activities) saveSession(ctx context.Context, postID string, s tiktokSession, publishID *string) error {
	b := []byte{}
	if s.State != "" {
		var err error
		if b, err = json.Marshal(s); err != nil {
			return err
		}
	}
	fields := models.PostFields{UploadSession: models.Ptr(string(b))}
	detail := ""
	if publishID != nil {
		fields.PublishID = publishID
		detail = "TikTok publish ID " + *publishID
	}
	_, err := a.Store.ApplyPostChange(ctx, postID, models.PostChange{Detail: detail, Set: fields})
	return err
}

// UploadTikTokChunks sends the video in TikTok's chunks, in order. After
// each chunk TikTok acknowledges, it records the count in the post's upload
// session (heartbeats are throttled, so they may lag) and heartbeats it, so
// a retried attempt, on this worker or another, resumes right after it.
func (a *Activities) UploadTikTokChunks(ctx context.Context, in wf.TikTokUploadInput) error {
	p, err := a.Store.PostByID(ctx, in.PostID)
	if err != nil {
		return err
	}
	up, err := a.Store.UploadByID(ctx, p.UploadID)
	if err != nil {
		return err
	}
	var sess tiktokSession
	if err := json.Unmarshal([]byte(p.UploadSession), &sess); err != nil || sess.State != "initialized" {
		return fmt.Errorf("post %s has no TikTok upload session", p.ID)
	}
	next := sess.Acked
	if activity.HasHeartbeatDetails(ctx) {
		var acked int
		if err := activity.GetHeartbeatDetails(ctx, &acked); err == nil && acked > next {
			next = acked
		}
	}
	if next > 0 {
		activity.GetLogger(ctx).Info("resuming upload", "post_id", p.ID, "from_chunk", next+1, "of", in.Init.ChunkCount)
	}
	f, err := a.Blob.Open(ctx, up.BlobKey)
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return rejected("the video is gone: uploads are kept for 24 hours")
		}
		return err
	}
	defer f.Close()
	for i := next; i < in.Init.ChunkCount; i++ {
		start := int64(i) * in.Init.ChunkSize
		n := in.Init.ChunkSize
		if i == in.Init.ChunkCount-1 {
			n = up.Size - start
		}
		if err := seek(f, start); err != nil {
			return err
		}
		if err := a.TikTok.UploadChunk(ctx, in.Init.UploadURL, up.ContentType, io.LimitReader(f, n), start, n, up.Size); err != nil {
			return a.platformError(err)
		}
		sess.Acked = i + 1
		if err := a.saveSession(ctx, p.ID, sess, nil); err != nil {
			return err
		}
		activity.RecordHeartbeat(ctx, sess.Acked)
		activity.GetLogger(ctx).Debug("chunk uploaded", "post_id", p.ID, "chunk", i+1, "of", in.Init.ChunkCount)
	}
	return nil
}

// seek positions r at offset; blobs that cannot seek are read forward.
func seek(r io.Reader, offset int64) error {
	if s, ok := r.(io.Seeker); ok {
		_, err := s.Seek(offset, io.SeekStart)
		return err
	}
	return errors.New("blob store returned a reader that cannot seek")
}

// FetchTikTokStatus asks TikTok where the post is.
func (a *Activities) FetchTikTokStatus(ctx context.Context, in wf.PostInput) (wf.TikTokStatus, error) {
	p, err := a.Store.PostByID(ctx, in.PostID)
	if err != nil {
		return wf.TikTokStatus{}, err
	}
	var st tiktok.Status
	err = a.withTikTokToken(ctx, p.ChannelID, func(token string) (err error) {
		st, err = a.TikTok.FetchStatus(ctx, token, p.PublishID)
		return err
	})
	if err != nil {
		return wf.TikTokStatus{}, a.platformError(err)
	}
	return wf.TikTokStatus{Status: st.Status, FailReason: st.FailReason, PublicPostIDs: st.PublicPostIDs}, nil
}

// youtubeChunk is the chunk size of YouTube uploads (a multiple of 256 KiB).
const youtubeChunk = 8 << 20

// UploadYouTubeVideo inserts the video with a resumable, chunked upload,
// heartbeating the bytes sent.
func (a *Activities) UploadYouTubeVideo(ctx context.Context, in wf.PostInput) (wf.PublishedVideo, error) {
	p, err := a.Store.PostByID(ctx, in.PostID)
	if err != nil {
		return wf.PublishedVideo{}, err
	}
	if p.PlatformPostID != "" {
		return wf.PublishedVideo{VideoID: p.PlatformPostID}, nil
	}
	up, err := a.Store.UploadByID(ctx, p.UploadID)
	if err != nil {
		return wf.PublishedVideo{}, err
	}
	title, description := youtubeTitle(p.Caption)
	video := youtube.Video{Title: title, Description: description, PrivacyStatus: p.Privacy}
	upload := func() (string, error) {
		token, err := a.Grants.Access(ctx, p.ChannelID)
		if err != nil {
			return "", err
		}
		f, err := a.Blob.Open(ctx, up.BlobKey)
		if err != nil {
			if errors.Is(err, blob.ErrNotFound) {
				return "", rejected("the video is gone: uploads are kept for 24 hours")
			}
			return "", err
		}
		defer f.Close()
		return a.YouTube.Upload(ctx, token, video, f, up.Size, up.ContentType, youtubeChunk, func(sent int64) { activity.RecordHeartbeat(ctx, sent) })
	}
	id, err := upload()
	var ytErr *youtube.APIError
	if errors.As(err, &ytErr) && ytErr.AuthExpired() {
		// An expired access token: refresh once and try again.
		if _, err = a.Grants.Refresh(ctx, p.ChannelID); err == nil {
			id, err = upload()
		}
	}
	if err != nil {
		return wf.PublishedVideo{}, a.platformError(err)
	}
	// Keep the ID at once: a retry after this point must not upload again.
	if _, err := a.Store.ApplyPostChange(ctx, p.ID, models.PostChange{Set: models.PostFields{PlatformPostID: &id}}); err != nil {
		return wf.PublishedVideo{}, err
	}
	return wf.PublishedVideo{VideoID: id}, nil
}

// youtubeTitle splits a caption into a title (YouTube allows 100
// characters) and a description.
func youtubeTitle(caption string) (string, string) {
	line, _, _ := strings.Cut(caption, "\n")
	r := []rune(strings.TrimSpace(line))
	if len(r) > 100 {
		r = r[:100]
	}
	title := string(r)
	if title == "" {
		title = "Untitled"
	}
	return title, caption
}

// DeleteUpload deletes the upload's bytes and marks it deleted. Idempotent.
func (a *Activities) DeleteUpload(ctx context.Context, in wf.DeleteUploadInput) error {
	up, err := a.Store.UploadByID(ctx, in.UploadID)
	if errors.Is(err, models.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	// One upload can feed several posts (one per channel): the last to be
	// published deletes it, and its 24-hour retention item deletes it
	// regardless.
	if in.Reason == wf.ReasonPublished {
		if inUse, err := a.Store.UploadInUse(ctx, up.ID); err != nil || inUse {
			return err
		}
	}
	if err := a.Blob.Delete(ctx, up.BlobKey); err != nil {
		return err
	}
	if err := a.Store.MarkUploadDeleted(ctx, up.ID, a.now()); err != nil {
		return err
	}
	// Nothing is left for its 24-hour retention item to delete.
	return a.Store.CancelRetention(ctx, string(retention.Uploads), up.ID)
}

// DeletePostMetadata deletes the post and its history. Idempotent.
func (a *Activities) DeletePostMetadata(ctx context.Context, in wf.PostInput) error {
	return a.Store.DeletePostMetadata(ctx, in.PostID)
}

// msgValues lists field messages in a stable order.
func msgValues(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]string, 0, len(m))
	for _, k := range keys {
		out = append(out, k+" "+m[k])
	}
	return out
}

// unusable is the non-retryable error raised for a channel that must be
// reconnected before it can publish.
func unusable(ch string) error {
	return temporal.NewNonRetryableApplicationError("the channel must be reconnected before it can publish: "+ch, wf.ErrTypeChannelUnusable, nil)
}

// capabilities reads a creator's live TikTok creator info.
func capabilities(info tiktok.CreatorInfo) wf.Capabilities {
	return wf.Capabilities{PrivacyOptions: info.PrivacyLevelOptions, CommentDisabled: info.CommentDisabled,
		DuetDisabled: info.DuetDisabled, StitchDisabled: info.StitchDisabled, MaxDurationSec: info.MaxVideoPostDurationSec}
}
