// Package announcements owns the durable process of a staff product
// announcement: one SendAnnouncement workflow per announcement works
// through the accounts in ID order, a batch per activity, and mails each
// person only if the purpose gate (models.Store.Permits) allows the
// announcement's purpose for them. Progress is kept in the database (the
// announcement's cursor and counts), never in the workflow: its inputs and
// results carry the announcement's ID and counts, no address and no user
// ID.
package announcements

import "time"

// WorkflowID is the one process of an announcement.
func WorkflowID(announcementID string) string { return "announcement-" + announcementID }

// Input starts (or continues) an announcement's process.
type Input struct {
	AnnouncementID string
	// BatchSize is how many accounts one activity takes in turn (0:
	// DefaultBatchSize).
	BatchSize int
}

// Result is how the announcement ended.
type Result struct {
	Sent    int
	Skipped int
	Failed  int
}

// Activity names, as the worker registers them.
const (
	SendBatchActivity = "SendAnnouncementBatch"
	FinishActivity    = "FinishAnnouncement"
)

// DefaultBatchSize is the accounts one batch takes in turn.
const DefaultBatchSize = 200

// BatchInput asks for the next accounts' turns: up to Size of them, for at
// most Budget (the batch then stops early, and the workflow asks again).
type BatchInput struct {
	AnnouncementID string
	Size           int
	Budget         time.Duration
}

// BatchResult says whether every account has had its turn.
type BatchResult struct {
	Done bool
}

// FinishInput ends an announcement.
type FinishInput struct {
	AnnouncementID string
}
