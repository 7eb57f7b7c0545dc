package posting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/grants"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/tiktok"
	wf "github.com/loomcast/loomcast/workflows/posting"
)

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

// maxPaceSleep is the longest wait for a TikTok slot spent inside an
// attempt; a longer one ends the attempt, to be retried at the slot.
const maxPaceSleep = 3 * time.Second

// paceTikTok takes a slot for this activity's call to endpoint e with the
// channel's token, so that no post or request of the account goes past
// TikTok's limits. The holder is the activity (its workflow and activity
// IDs survive retries), so an attempt that ended to wait finds its place
// when it is retried. A short wait is slept here; a longer one ends the
// attempt with a retryable failure whose retry comes at the slot, which
// spends neither the activity's timeout nor a worker slot on waiting.
func (a *Activities) paceTikTok(ctx context.Context, channelID string, e tiktok.Endpoint) error {
	info := activity.GetInfo(ctx)
	holder := info.WorkflowExecution.ID + "/" + info.ActivityID
	for {
		wait, _, err := a.Pacer.Reserve(ctx, channelID, e, holder, 24*time.Hour)
		if err != nil {
			return err
		}
		if wait == 0 {
			return nil
		}
		if wait > maxPaceSleep {
			return temporal.NewApplicationErrorWithOptions(
				fmt.Sprintf("waiting %s for a slot under TikTok's %s rate limit", wait.Round(time.Second), e), wf.ErrTypeRateLimited,
				temporal.ApplicationErrorOptions{NextRetryDelay: wait})
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// tiktokSession is what a post keeps of its TikTok upload session.
type tiktokSession struct {
	State string `json:"state"` // "initializing" or "initialized"
	// UploadURLSealed is the upload URL, sealed with the vault: it carries
	// an upload token that works like a password, so it is kept only
	// sealed and opened by the activity that uploads. UploadURL is the
	// plain form that sessions stored before it kept.
	UploadURLSealed string `json:"upload_url_sealed,omitempty"`
	UploadURL       string `json:"upload_url,omitempty"`
	ChunkSize       int64  `json:"chunk_size,omitempty"`
	ChunkCount      int    `json:"chunk_count,omitempty"`
	// Acked is the number of chunks TikTok has acknowledged.
	Acked int `json:"acked,omitempty"`
}

// uploadURLContext binds a sealed upload URL to its post.
func uploadURLContext(postID string) string { return "post:" + postID + ":tiktok_upload_url" }

// uploadURL opens the session's upload URL.
func (a *Activities) uploadURL(postID string, s tiktokSession) (string, error) {
	if s.UploadURLSealed == "" {
		return s.UploadURL, nil
	}
	u, err := a.Grants.Vault.Open(s.UploadURLSealed, uploadURLContext(postID))
	if err != nil {
		return "", fmt.Errorf("open the upload URL: %w", err)
	}
	return u, nil
}

// postWithSession reads a post and its TikTok session.
func (a *Activities) postWithSession(ctx context.Context, postID string) (models.Post, tiktokSession, error) {
	var sess tiktokSession
	p, err := a.Store.PostByID(ctx, postID)
	if err != nil {
		return p, sess, err
	}
	if p.UploadSession != "" {
		if err := json.Unmarshal([]byte(p.UploadSession), &sess); err != nil {
			return p, sess, fmt.Errorf("read upload session: %w", err)
		}
	}
	return p, sess, nil
}

// InitTikTokPost initializes the Direct Post once. The publish ID and the
// upload session are stored before a byte is sent. If an earlier attempt
// may have reached TikTok without its answer arriving, it does not init
// again blindly: it stops with "could not confirm".
func (a *Activities) InitTikTokPost(ctx context.Context, in wf.PostInput) (wf.TikTokInit, error) {
	p, sess, err := a.postWithSession(ctx, in.PostID)
	if err != nil {
		return wf.TikTokInit{}, err
	}
	switch {
	case p.PublishID != "" && sess.State == "initialized":
		ch, err := a.Store.ChannelByID(ctx, p.ChannelID)
		if err != nil {
			return wf.TikTokInit{}, err
		}
		return wf.TikTokInit{OpenID: ch.ExternalID, PublishID: p.PublishID, ChunkSize: sess.ChunkSize, ChunkCount: sess.ChunkCount}, nil
	case sess.State == "initializing":
		return wf.TikTokInit{}, temporal.NewNonRetryableApplicationError(
			"could not confirm whether TikTok accepted the post: the connection broke after the request was sent. "+
				"Check your TikTok profile before retrying, so that the video is not posted twice.", wf.ErrTypeOutcomeUnknown, nil)
	}
	up, err := a.Store.UploadByID(ctx, p.UploadID)
	if err != nil {
		return wf.TikTokInit{}, err
	}
	// Wait for a slot before the session is marked: an attempt that ends
	// to wait has sent nothing.
	if err := a.paceTikTok(ctx, p.ChannelID, tiktok.EndpointInit); err != nil {
		return wf.TikTokInit{}, err
	}
	if err := a.saveSession(ctx, p.ID, tiktokSession{State: "initializing"}, nil); err != nil {
		return wf.TikTokInit{}, err
	}
	info := tiktok.PostInfo{Title: p.Caption, PrivacyLevel: p.Privacy, DisableComment: !p.AllowComment, DisableDuet: !p.AllowDuet, DisableStitch: !p.AllowStitch,
		BrandOrganic: p.BrandOrganic, BrandContent: p.BrandContent}
	var res tiktok.InitResult
	err = a.withTikTokToken(ctx, p.ChannelID, func(token string) (err error) {
		res, err = a.TikTok.InitDirectPost(ctx, token, info, up.Size)
		return err
	})
	if err != nil {
		return wf.TikTokInit{}, a.initFailed(ctx, p.ID, err)
	}
	sealed, err := a.Grants.Vault.Seal(res.UploadURL, uploadURLContext(p.ID))
	if err != nil {
		return wf.TikTokInit{}, fmt.Errorf("seal the upload URL: %w", err)
	}
	sess = tiktokSession{State: "initialized", UploadURLSealed: sealed, ChunkSize: res.ChunkSize, ChunkCount: res.ChunkCount}
	if err := a.saveSession(ctx, p.ID, sess, &res.PublishID); err != nil {
		return wf.TikTokInit{}, err
	}
	ch, err := a.Store.ChannelByID(ctx, p.ChannelID)
	if err != nil {
		return wf.TikTokInit{}, err
	}
	// The result goes into the workflow's history: IDs and sizes only.
	return wf.TikTokInit{OpenID: ch.ExternalID, PublishID: res.PublishID, ChunkSize: res.ChunkSize, ChunkCount: res.ChunkCount}, nil
}

// initFailed sorts a failed init. When TikTok answered (or nothing left
// this machine) no post exists: the session is reset, so that a later
// attempt may init again, and the platform's reason returned. Otherwise
// the outcome is unknown and err is returned as it is: the next attempt
// stops with "could not confirm".
func (a *Activities) initFailed(ctx context.Context, postID string, err error) error {
	var apiErr *tiktok.APIError
	if !errors.As(err, &apiErr) && !notSent(err) && !errors.Is(err, grants.ErrReauthRequired) {
		return err
	}
	if cerr := a.saveSession(ctx, postID, tiktokSession{}, nil); cerr != nil {
		return cerr
	}
	if apiErr != nil && apiErr.Code == "url_ownership_unverified" {
		return rejected("TikTok refused to fetch the media: this Loomcast's address (%s) is not verified for the app at TikTok", a.photoPrefix())
	}
	return a.platformError(err)
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
	uploadURL, err := a.uploadURL(p.ID, sess)
	if err != nil {
		return err
	}
	if uploadURL == "" {
		uploadURL = in.Init.UploadURL // a run started before the URL was sealed
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
		if err := a.TikTok.UploadChunk(ctx, uploadURL, up.ContentType, io.LimitReader(f, n), start, n, up.Size); err != nil {
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
	if err := a.paceTikTok(ctx, p.ChannelID, tiktok.EndpointStatus); err != nil {
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

// capabilities reads a creator's live TikTok creator info.
func capabilities(info tiktok.CreatorInfo) wf.Capabilities {
	return wf.Capabilities{PrivacyOptions: info.PrivacyLevelOptions, CommentDisabled: info.CommentDisabled,
		DuetDisabled: info.DuetDisabled, StitchDisabled: info.StitchDisabled, MaxDurationSec: info.MaxVideoPostDurationSec}
}
