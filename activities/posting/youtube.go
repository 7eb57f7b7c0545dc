package posting

import (
	"context"
	"errors"
	"strings"

	"go.temporal.io/sdk/activity"

	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/models"
	wf "github.com/loomcast/loomcast/workflows/posting"
	"github.com/loomcast/loomcast/youtube"
)

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
	if _, err := a.Store.ApplyPostChange(ctx, p.ID, models.PostChange{Set: models.PostFields{PlatformPostID: &id, PublicURL: models.Ptr(youtube.WatchURL(id))}}); err != nil {
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
