// Package workflows holds what every durable process of Loomcast shares: the
// task queue and the search attributes by which support staff find a user's
// processes. Each capability has its own package below this one.
package workflows

import (
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// TaskQueue is the queue every Loomcast worker polls.
const TaskQueue = "loomcast"

// Search attribute keys carried by every Loomcast workflow.
var (
	// UserIDKey is the owning user's ID.
	UserIDKey = temporal.NewSearchAttributeKeyKeyword("LoomcastUserID")
	// KindKey is the kind of process (see the Kind constants).
	KindKey = temporal.NewSearchAttributeKeyKeyword("LoomcastKind")
	// ObjectIDKey is the ID of the object the process is about.
	ObjectIDKey = temporal.NewSearchAttributeKeyKeyword("LoomcastObjectID")
)

// SearchAttributeTypes lists the custom search attributes to register in a
// namespace, by name.
func SearchAttributeTypes() map[string]enums.IndexedValueType {
	return map[string]enums.IndexedValueType{
		UserIDKey.GetName():   enums.INDEXED_VALUE_TYPE_KEYWORD,
		KindKey.GetName():     enums.INDEXED_VALUE_TYPE_KEYWORD,
		ObjectIDKey.GetName(): enums.INDEXED_VALUE_TYPE_KEYWORD,
	}
}

// Kinds of durable process.
const (
	KindAccountClosure = "account-closure"
	KindPost           = "post"
	KindPostExpiry     = "post-expiry"
	KindUploadExpiry   = "upload-expiry"
	KindTokenRefresh   = "token-refresh"
	// KindChannelDisconnect is a channel's disconnect process.
	KindChannelDisconnect = "channel-disconnect"
	// KindRetention is a retention category's expiry process; its object
	// ID is the category.
	KindRetention = "retention"
	// KindPrivacyRequest is a data-subject request's process.
	KindPrivacyRequest = "privacy-request"
	// KindWebhookReconcile is a TikTok account's reconciliation process.
	KindWebhookReconcile = "webhook-reconcile"
	// KindAnnouncement is a staff announcement's mailing process; its
	// object ID is the announcement's.
	KindAnnouncement = "announcement"
)

// SearchAttributes returns the attributes for a process of the given kind.
func SearchAttributes(userID, kind, objectID string) temporal.SearchAttributes {
	updates := []temporal.SearchAttributeUpdate{KindKey.ValueSet(kind), ObjectIDKey.ValueSet(objectID)}
	if userID != "" {
		updates = append(updates, UserIDKey.ValueSet(userID))
	}
	return temporal.NewSearchAttributes(updates...)
}
