package posting

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/loomcast/loomcast/retention"
)

// MetadataExpiryWorkflowID is the process that deletes a post's metadata.
func MetadataExpiryWorkflowID(postID string) string { return "post-expiry-" + postID }

// MetadataRetention is how long post metadata is kept after posting
// (the retention table: 90 days, policy 000 section 6).
var MetadataRetention = retention.Fixed(retention.PostMetadata)

// MetadataExpiryInput starts a post's metadata expiry.
type MetadataExpiryInput struct {
	PostID string
	DueAt  time.Time
}

// PostMetadataExpiry deletes a post and its history at its due time
// (90 days after posting), on a durable timer.
func PostMetadataExpiry(ctx workflow.Context, in MetadataExpiryInput) error {
	if d := in.DueAt.Sub(workflow.Now(ctx)); d > 0 {
		if err := workflow.Sleep(ctx, d); err != nil {
			return err
		}
	}
	ctx = workflow.WithActivityOptions(ctx, dbActivityOptions)
	return workflow.ExecuteActivity(ctx, DeletePostMetadataAct, PostInput{PostID: in.PostID}).Get(ctx, nil)
}

// UploadExpiryWorkflowID is the process that deletes an upload.
func UploadExpiryWorkflowID(uploadID string) string { return "upload-expiry-" + uploadID }

// UploadExpiryInput starts an upload's expiry.
type UploadExpiryInput struct {
	UploadID string
	DueAt    time.Time
}

// UploadExpiry deletes an upload 24 hours after it arrived unless its post
// deleted it earlier (deletion is idempotent).
func UploadExpiry(ctx workflow.Context, in UploadExpiryInput) error {
	if d := in.DueAt.Sub(workflow.Now(ctx)); d > 0 {
		if err := workflow.Sleep(ctx, d); err != nil {
			return err
		}
	}
	ctx = workflow.WithActivityOptions(ctx, dbActivityOptions)
	return workflow.ExecuteActivity(ctx, DeleteUploadActivity, DeleteUploadInput{UploadID: in.UploadID, Reason: "24 hours after upload"}).Get(ctx, nil)
}
