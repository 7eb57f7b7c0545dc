// Package loomcast holds the words that every layer shares and that must
// mean one thing everywhere: platform names and the statuses of channels,
// posts, data-subject requests and announcements, as the read model stores
// them and the workflows set them. It imports nothing, so models, the
// workflow contracts and the API can all depend on it (see
// docs/architecture.md).
package loomcast

import "slices"

// Platforms a channel can be on.
const (
	TikTok  = "tiktok"
	YouTube = "youtube"
)

// Channel statuses.
const (
	ChannelActive         = "active"
	ChannelReauthRequired = "reauth_required"
	ChannelDisconnected   = "disconnected"
)

// Post statuses: scheduled, then publishing, then (TikTok) processing
// while the platform decides, and finally published, failed or cancelled.
const (
	PostScheduled  = "scheduled"
	PostPublishing = "publishing"
	PostProcessing = "processing"
	PostPublished  = "published"
	PostFailed     = "failed"
	PostCancelled  = "cancelled"
)

// PostStatuses lists every post status, in lifecycle order.
var PostStatuses = []string{PostScheduled, PostPublishing, PostProcessing, PostPublished, PostFailed, PostCancelled}

// Statuses of a data-subject request.
const (
	PrivacyVerifying = "verifying" // the requester owes us proof of their email
	PrivacyReceived  = "received"  // verified, not yet acted on
	PrivacyInReview  = "in_review" // staff must decide
	// PrivacyClarifying: staff asked the requester a question; the legal
	// clock stands still until the answer.
	PrivacyClarifying = "clarifying"
	PrivacyExecuting  = "executing"
	PrivacyAnswered   = "answered"
	PrivacyClosed     = "closed"
	PrivacyRefused    = "refused"
	PrivacyWithdrawn  = "withdrawn"
)

// PrivacyOpen lists the statuses of a request still being handled.
var PrivacyOpen = []string{PrivacyVerifying, PrivacyReceived, PrivacyInReview, PrivacyClarifying, PrivacyExecuting}

// PrivacyIsOpen says whether a request in this status is still being
// handled.
func PrivacyIsOpen(status string) bool { return slices.Contains(PrivacyOpen, status) }

// Statuses of a staff announcement: sending while its process works
// through the accounts, sent when every account had its turn.
const (
	AnnouncementSending = "sending"
	AnnouncementSent    = "sent"
)
