// Package posting holds the activities of post publication: recording
// changes in the read model, checking a post against the platform just
// before publishing, TikTok's Direct Post (init once, chunks resumable from
// the last acknowledged one, status polling) and YouTube's resumable upload.
package posting

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/grants"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/pacing"
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
	// Pacer keeps calls to TikTok inside its per-token rate limits.
	Pacer *pacing.Pacer
	// PublicURL and LinkKey make the signed links from which TikTok pulls
	// a photo post's images (the API serves them).
	PublicURL string
	LinkKey   []byte
	Now       func() time.Time
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
	fields := toDBPostFields(in.Fields)
	if in.Fields.PlatformPostID != nil {
		// The platform's ID gives the post its public address.
		p, err := a.Store.PostByID(ctx, in.PostID)
		if err != nil {
			return err
		}
		fields.PublicURL = models.Ptr(publicURL(p.Platform, p.PlatformUsername, *in.Fields.PlatformPostID))
	}
	_, err := a.Store.ApplyPostChange(ctx, in.PostID, models.PostChange{Status: in.Status, Detail: in.Detail, Set: fields})
	return err
}

// publicURL is a published post's public address on its platform, empty
// while it has none.
func publicURL(platform, username, postID string) string {
	switch platform {
	case loomcast.TikTok:
		return tiktok.PostURL(username, postID)
	case loomcast.YouTube:
		return youtube.WatchURL(postID)
	}
	return ""
}

// toDBPostFields converts the contract's post fields to the store's.
func toDBPostFields(f wf.PostFields) models.PostFields {
	return models.PostFields{Caption: f.Caption, Privacy: f.Privacy, AllowComment: f.AllowComment, AllowDuet: f.AllowDuet,
		AllowStitch: f.AllowStitch, BrandOrganic: f.BrandOrganic, BrandContent: f.BrandContent, ScheduledAt: f.ScheduledAt, Timezone: f.Timezone, PlatformPostID: f.PlatformPostID,
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
	for _, id := range p.Photos() {
		photo, err := a.Store.UploadByID(ctx, id)
		if err != nil {
			return err
		}
		if photo.DeletedAt != nil {
			return rejected("a photo is gone: uploads are kept for 24 hours; upload it again and reschedule")
		}
	}
	switch p.Platform {
	case loomcast.YouTube:
		if !slices.Contains(wf.YouTubePrivacy, p.Privacy) {
			return rejected("YouTube privacy must be public, private or unlisted, not %q", p.Privacy)
		}
		return nil
	case loomcast.TikTok:
		if err := a.paceTikTok(ctx, ch.ID, tiktok.EndpointCreatorInfo); err != nil {
			return err
		}
		var info tiktok.CreatorInfo
		err := a.withTikTokToken(ctx, ch.ID, func(token string) (err error) {
			info, err = a.TikTok.CreatorInfo(ctx, token)
			return err
		})
		if err != nil {
			return a.platformError(err)
		}
		opts := wf.Options{Privacy: p.Privacy, AllowComment: p.AllowComment, AllowDuet: p.AllowDuet, AllowStitch: p.AllowStitch,
			DurationMS: up.DurationMS, DurationUnknown: len(p.Photos()) == 0 && up.DurationMS == nil}
		if msg := capabilities(info).Check(opts); len(msg) > 0 {
			return rejected("TikTok no longer allows these options: %s", strings.Join(msgValues(msg), "; "))
		}
		// The handle at publish time makes the post's public address.
		_, err = a.Store.ApplyPostChange(ctx, p.ID, models.PostChange{Set: models.PostFields{PlatformUsername: &info.CreatorUsername}})
		return err
	}
	return rejected("unknown platform %q", p.Platform)
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
