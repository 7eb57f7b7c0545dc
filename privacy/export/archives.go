package export

import (
	"context"
	"fmt"

	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/models"
)

// ArchiveKey is the blob key of the archive answering a request.
func ArchiveKey(requestID string) string { return "exports/" + requestID + ".zip" }

// DeleteArchives deletes the archives made for a user's access and
// portability requests: copies of everything, they must go when the
// account does. Idempotent.
func DeleteArchives(ctx context.Context, store *models.Store, blobs blob.Store, userID string) error {
	rs, err := store.UserPrivacyRequests(ctx, userID)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.ExportKey == "" {
			continue
		}
		if err := blobs.Delete(ctx, r.ExportKey); err != nil {
			return fmt.Errorf("delete archive of %s: %w", r.ID, err)
		}
		if err := store.UpdatePrivacyRequest(ctx, r.ID, models.PrivacyFields{ExportKey: models.Ptr("")}); err != nil {
			return err
		}
	}
	return nil
}
