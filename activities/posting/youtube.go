package posting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.temporal.io/sdk/activity"

	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/models"
	wf "github.com/loomcast/loomcast/workflows/posting"
	"github.com/loomcast/loomcast/youtube"
)

// youtubeChunk is the chunk size of YouTube uploads (a multiple of 256 KiB).
const youtubeChunk = 8 << 20

// youtubeSession is what a post keeps of its YouTube upload session.
type youtubeSession struct {
	// SessionURISealed is the resumable session URI, sealed with the
	// vault: it alone authorizes uploading into the session, so it is kept
	// only sealed and opened by the activity that uploads.
	SessionURISealed string `json:"youtube_session_uri_sealed"`
}

// sessionURIContext binds a sealed session URI to its post.
func sessionURIContext(postID string) string { return "post:" + postID + ":youtube_session_uri" }

// UploadYouTubeVideo publishes the video exactly once. The resumable
// session is opened and stored (sealed) before the first byte is sent; an
// attempt that finds one resumes it from what YouTube committed, and takes
// the video a completed session made instead of uploading again, so that
// neither a worker dying after the last chunk nor a lost final answer
// makes a second video. The video ID is recorded at once.
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
	uri, err := a.youtubeSession(ctx, p)
	if err != nil {
		return wf.PublishedVideo{}, a.platformError(err)
	}
	id, err := a.resumeYouTube(ctx, p.ID, uri, up)
	if errors.Is(err, youtube.ErrSessionExpired) {
		// YouTube forgot the session (they last a week): nothing it held
		// became a video, so a new session is safe.
		activity.GetLogger(ctx).Warn("upload session expired; starting a new one", "post_id", p.ID)
		if err := a.saveYouTubeSession(ctx, p.ID, ""); err != nil {
			return wf.PublishedVideo{}, err
		}
		p.UploadSession = ""
		if uri, err = a.youtubeSession(ctx, p); err != nil {
			return wf.PublishedVideo{}, a.platformError(err)
		}
		id, err = a.resumeYouTube(ctx, p.ID, uri, up)
	}
	if err != nil {
		return wf.PublishedVideo{}, a.platformError(err)
	}
	// Keep the ID at once: a retry after this point must not upload again.
	if _, err := a.Store.ApplyPostChange(ctx, p.ID, models.PostChange{Detail: "YouTube video ID " + id, Set: models.PostFields{
		PlatformPostID: &id, PublicURL: models.Ptr(youtube.WatchURL(id)), UploadSession: models.Ptr("")}}); err != nil {
		return wf.PublishedVideo{}, err
	}
	return wf.PublishedVideo{VideoID: id}, nil
}

// youtubeSession returns the post's stored session URI, or opens a session
// and stores it (sealed) before returning it.
func (a *Activities) youtubeSession(ctx context.Context, p models.Post) (string, error) {
	if p.UploadSession != "" {
		var sess youtubeSession
		if err := json.Unmarshal([]byte(p.UploadSession), &sess); err != nil || sess.SessionURISealed == "" {
			return "", fmt.Errorf("post %s has an unreadable YouTube upload session", p.ID)
		}
		uri, err := a.Grants.Vault.Open(sess.SessionURISealed, sessionURIContext(p.ID))
		if err != nil {
			return "", fmt.Errorf("open the upload session URI: %w", err)
		}
		return uri, nil
	}
	up, err := a.Store.UploadByID(ctx, p.UploadID)
	if err != nil {
		return "", err
	}
	title, description := youtubeTitle(p.Caption)
	video := youtube.Video{Title: title, Description: description, PrivacyStatus: p.Privacy}
	start := func() (string, error) {
		token, err := a.Grants.Access(ctx, p.ChannelID)
		if err != nil {
			return "", err
		}
		return a.YouTube.StartUpload(ctx, token, video, up.Size, up.ContentType)
	}
	uri, err := start()
	var ytErr *youtube.APIError
	if errors.As(err, &ytErr) && ytErr.AuthExpired() {
		// An expired access token: refresh once and try again.
		if _, err = a.Grants.Refresh(ctx, p.ChannelID); err == nil {
			uri, err = start()
		}
	}
	if err != nil {
		return "", err
	}
	// A session holds no video until its last byte: one opened here and
	// lost before it is stored costs nothing.
	sealed, err := a.Grants.Vault.Seal(uri, sessionURIContext(p.ID))
	if err != nil {
		return "", fmt.Errorf("seal the upload session URI: %w", err)
	}
	b, err := json.Marshal(youtubeSession{SessionURISealed: sealed})
	if err != nil {
		return "", err
	}
	if err := a.saveYouTubeSession(ctx, p.ID, string(b)); err != nil {
		return "", err
	}
	return uri, nil
}

func (a *Activities) saveYouTubeSession(ctx context.Context, postID, session string) error {
	_, err := a.Store.ApplyPostChange(ctx, postID, models.PostChange{Set: models.PostFields{UploadSession: &session}})
	return err
}

// resumeYouTube sends the upload's bytes to the session from where
// YouTube's commit stands, heartbeating the bytes committed.
func (a *Activities) resumeYouTube(ctx context.Context, postID, uri string, up models.Upload) (string, error) {
	f, err := a.Blob.Open(ctx, up.BlobKey)
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return "", rejected("the video is gone: uploads are kept for 24 hours")
		}
		return "", err
	}
	defer f.Close()
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		return "", errors.New("blob store returned a reader that cannot seek")
	}
	return a.YouTube.ResumeUpload(ctx, uri, rs, up.Size, youtubeChunk, func(committed int64) {
		activity.RecordHeartbeat(ctx, committed)
		activity.GetLogger(ctx).Debug("upload progress", "post_id", postID, "committed", committed, "of", up.Size)
	})
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
