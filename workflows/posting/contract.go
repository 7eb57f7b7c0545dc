package posting

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// PublishWorkflowID is the one publication process of a post.
func PublishWorkflowID(postID string) string { return "post-" + postID }

// PublishInput starts a post's publication. It carries IDs only: captions
// and tokens stay in the database.
type PublishInput struct {
	PostID    string
	UserID    string
	ChannelID string
	UploadID  string
	// PhotoUploadIDs are a TikTok photo post's images, in order (the first
	// is UploadID); empty for a video. Runs started before photo posts
	// existed never have any, so the photo path needs no version marker:
	// no running workflow's command sequence changes.
	PhotoUploadIDs []string `json:",omitempty"`
	Platform       string
	ScheduledAt    time.Time
	Attempt        int
}

// PublishResult is how the publication ended.
type PublishResult struct {
	Status         string
	PlatformPostID string
	FailureReason  string
}

// SignalReconcileVersion is the change ID under which a post tells its
// TikTok account's reconciliation process that its publish ID is known.
const SignalReconcileVersion = "signal-reconcile-post-known"

// Update and query names.
const (
	UpdateReschedule = "reschedule"
	UpdateEdit       = "edit"
	UpdateCancel     = "cancel"
	QueryState       = "state"
)

// RescheduleRequest moves the scheduled time.
type RescheduleRequest struct {
	ScheduledAt time.Time
	// Timezone, when set, becomes the post's timezone (the zone the
	// user's local time was read in).
	Timezone string
}

// EditRequest changes the post's options; nil fields stay. The API checks
// them against the platform before sending them.
type EditRequest struct {
	Caption      *string
	Privacy      *string
	AllowComment *bool
	AllowDuet    *bool
	AllowStitch  *bool
	BrandOrganic *bool
	BrandContent *bool
}

// CancelRequest cancels the post.
type CancelRequest struct {
	Reason string
	// By says who cancelled: "user", "support:<id>" or "system".
	By string
}

// State answers QueryState.
type State struct {
	Status      string
	ScheduledAt time.Time
}

// ErrTypePublishingStarted is the application error type an Update is
// refused with once publishing has started (the API answers 409).
const ErrTypePublishingStarted = "PublishingStarted"

// ErrTypeInvalid marks an Update refused for bad input (the API answers 400).
const ErrTypeInvalid = "InvalidRequest"

// Permanent failure types raised by the activities.
const (
	ErrTypePlatformRejected = "PlatformRejected"
	ErrTypeChannelUnusable  = "ChannelUnusable"
	ErrTypeOutcomeUnknown   = "OutcomeUnknown"
)

// ErrTypeRateLimited is the retryable failure of an activity attempt that
// ended to wait for a slot under a platform's rate limit; its retry comes
// at the slot (NextRetryDelay).
const ErrTypeRateLimited = "RateLimited"

// Activity names, as the worker registers them.
const (
	ApplyPostChangeActivity = "ApplyPostChange"
	CheckBeforePublishAct   = "CheckBeforePublish"
	InitTikTokPostActivity  = "InitTikTokPost"
	InitTikTokPhotosAct     = "InitTikTokPhotoPost"
	UploadTikTokActivity    = "UploadTikTokChunks"
	FetchTikTokStatusAct    = "FetchTikTokStatus"
	UploadYouTubeActivity   = "UploadYouTubeVideo"
	DeleteUploadActivity    = "DeleteUpload"
	DeletePostMetadataAct   = "DeletePostMetadata"
	MetadataExpiryWorkflow  = "PostMetadataExpiry"
)

// ApplyChangeInput is the input of the ApplyPostChange activity.
type ApplyChangeInput struct {
	PostID string
	Status string
	Detail string
	Fields PostFields
}

// PostFields are the post columns a change sets; nil ones stay as they
// are. The JSON names are the column names that runs started before these
// fields were typed sent as a map, so their pending activities still read.
type PostFields struct {
	Caption        *string    `json:"caption,omitempty"`
	Privacy        *string    `json:"privacy,omitempty"`
	AllowComment   *bool      `json:"allow_comment,omitempty"`
	AllowDuet      *bool      `json:"allow_duet,omitempty"`
	AllowStitch    *bool      `json:"allow_stitch,omitempty"`
	BrandOrganic   *bool      `json:"brand_organic,omitempty"`
	BrandContent   *bool      `json:"brand_content,omitempty"`
	ScheduledAt    *time.Time `json:"scheduled_at,omitempty"`
	Timezone       *string    `json:"timezone,omitempty"`
	PlatformPostID *string    `json:"platform_post_id,omitempty"`
	FailureReason  *string    `json:"failure_reason,omitempty"`
	PublishedAt    *time.Time `json:"published_at,omitempty"`
}

func ptr[T any](v T) *T { return &v }

// PostInput names the post an activity works on.
type PostInput struct {
	PostID string
}

// TikTokInit is the result of InitTikTokPost.
type TikTokInit struct {
	// OpenID is the TikTok account, whose reconciliation process is told
	// about the publish ID.
	OpenID    string
	PublishID string
	// UploadURL is empty: the URL carries an upload token, so it is kept
	// sealed with the post and opened by UploadTikTokChunks. Runs started
	// before that carry it here, and their upload still reads it.
	UploadURL  string
	ChunkSize  int64
	ChunkCount int
}

// TikTokUploadInput is the input of UploadTikTokChunks.
type TikTokUploadInput struct {
	PostID string
	Init   TikTokInit
}

// TikTokStatus is the result of FetchTikTokStatus.
type TikTokStatus struct {
	Status        string
	FailReason    string
	PublicPostIDs []string
}

// PublishedVideo is the result of UploadYouTubeVideo.
type PublishedVideo struct {
	VideoID string
}

// HandlersFinishedVersion is the change ID under which a process waits
// for its Update and signal handlers to finish before it completes.
const HandlersFinishedVersion = "await-handlers-finished"

// FailedAfterRetries is the reason a post shows when publishing failed for
// a reason that is not the platform's verdict.
const FailedAfterRetries = "publishing failed after several attempts; support can see why"

// MaxPhotos is the most images a TikTok photo post takes.
const MaxPhotos = 35

// PhotoLinkValidity is how long the signed link from which TikTok pulls a
// photo works.
const PhotoLinkValidity = 2 * time.Hour

// PhotoLinkPath is where photos are served to TikTok, under the public
// URL: the prefix to verify for the app at TikTok.
const PhotoLinkPath = "/v1/media/photos/"

// SignPhotoLink signs the link to an upload's image until expires.
func SignPhotoLink(key []byte, uploadID string, expires time.Time) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("photo|" + uploadID + "|" + strconv.FormatInt(expires.Unix(), 10)))
	return hex.EncodeToString(m.Sum(nil))
}

// DeleteUploadInput is the input of the DeleteUpload activity.
type DeleteUploadInput struct {
	UploadID string
	Reason   string
}

// ReasonPublished is the DeleteUpload reason of a published post: the
// upload then stays while another post still needs it (its 24-hour
// retention deletes it regardless).
const ReasonPublished = "post published"
