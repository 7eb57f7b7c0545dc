package export

import (
	"fmt"
	"strings"

	"github.com/loomcast/loomcast/privacy/scan"
)

// descriptions document the export in plain language: "table" describes a
// data file, "table.column" a field of its records. A test fails when a
// table holding a person's rows has a column described here neither as
// data nor as withheld, so a migration that adds one must add its line.
var descriptions = map[string]string{
	"users":                        "Your account.",
	"users.id":                     "The unique ID of your account.",
	"users.email":                  "Your email address, in lower case. You sign in with it and we write to you at it.",
	"users.google_sub":             "The ID of the Google account you linked to sign in with Google, if you did.",
	"users.display_name":           "Your name as shown in Loomcast.",
	"users.avatar_url":             "The address of your profile picture.",
	"users.timezone":               "Your time zone, used to show and schedule times.",
	"users.role":                   "Your role: user, or a staff role (support, privacy, admin).",
	"users.created_at":             "When you created the account.",
	"users.updated_at":             "When the account was last changed.",
	"users.closed_at":              "When you closed the account, if you did.",
	"users.last_active_at":         "The last day you signed in or used Loomcast.",
	"users.marketing_emails":       "Whether you agreed to receive marketing email.",
	"users.marketing_updated_at":   "When you last gave or withdrew that agreement.",
	"users.restricted_at":          "When you asked us to restrict the use of your data, if you did: while it is set we only store your data.",
	"users.email_verified_at":      "When you proved that your email address is yours (with a code we mailed to it, or through Google).",
	"users.verify_code_expires_at": "When the code we mailed to verify your address expires, if one is waiting.",
	"users.verify_code_attempts":   "How many wrong codes were entered to verify your address.",
	"users.totp_enabled_at":        "When you turned on a second factor (an authenticator app), if you did.",
	"users.totp_last_step":         "The 30-second period of the last authenticator code you used, so that no code works twice.",

	"sessions":                  "Your sign-in sessions in web browsers.",
	"sessions.id":               "The session's ID, kept in your browser's cookie.",
	"sessions.user_id":          "The ID of your account.",
	"sessions.created_at":       "When you signed in.",
	"sessions.second_factor_at": "When you gave your second factor in this session, if you did.",
	"sessions.last_seen_at":     "When the session was last used.",
	"sessions.expires_at":       "When the session ends unless it is used again.",
	"sessions.revoked_at":       "When the session was ended (sign-out, password change or account closure).",

	"access_tokens":              "The personal access tokens you created for API clients. The tokens themselves are never stored.",
	"access_tokens.id":           "The token's ID.",
	"access_tokens.user_id":      "The ID of your account.",
	"access_tokens.name":         "The name you gave the token.",
	"access_tokens.created_at":   "When you created it.",
	"access_tokens.last_used_at": "When it was last used.",
	"access_tokens.expires_at":   "When it stops working, if you set an end.",
	"access_tokens.revoked_at":   "When it was revoked, if it was.",

	"channels":                    "The TikTok and YouTube channels you connected to Loomcast.",
	"channels.id":                 "The channel's ID in Loomcast.",
	"channels.user_id":            "The ID of your account.",
	"channels.platform":           "The platform: tiktok or youtube.",
	"channels.external_id":        "The account's ID on the platform (TikTok open_id, YouTube channel ID). \"erased:...\" once we erased it after you disconnected.",
	"channels.display_name":       "The channel's name on the platform.",
	"channels.avatar_url":         "The address of the channel's picture on the platform.",
	"channels.status":             "active, reauth_required (the platform asks you to connect again) or disconnected.",
	"channels.status_reason":      "Why the status last changed.",
	"channels.access_expires_at":  "When the platform's access token held for you expires.",
	"channels.refresh_expires_at": "When the platform's refresh token held for you expires.",
	"channels.scope":              "The permissions you granted Loomcast on the platform.",
	"channels.created_at":         "When you first connected the channel.",
	"channels.updated_at":         "When the channel was last changed.",
	"channels.disconnected_at":    "When you disconnected it, if you did.",
	"channels.revoked_at":         "When the platform told us you revoked Loomcast's access there.",

	"uploads":              "The videos you uploaded for publishing. Files still stored are in the media folder; deleted ones are only listed here.",
	"uploads.id":           "The upload's ID. Its file, while stored, is media/<this id>.<extension> in this archive.",
	"uploads.user_id":      "The ID of your account.",
	"uploads.blob_key":     "Where the file is, or was, kept in our file storage.",
	"uploads.size":         "The file's size in bytes.",
	"uploads.content_type": "The file's format, e.g. video/mp4.",
	"uploads.duration_ms":  "The video's length in milliseconds, when we could read it.",
	"uploads.width":        "An image's width in pixels.",
	"uploads.height":       "An image's height in pixels.",
	"uploads.created_at":   "When you uploaded it.",
	"uploads.expires_at":   "When the file is due to be deleted.",
	"uploads.deleted_at":   "When the file was deleted, if it was.",

	"posts":                   "Your scheduled and published posts.",
	"posts.id":                "The post's ID.",
	"posts.user_id":           "The ID of your account.",
	"posts.channel_id":        "The channel it is posted to (see channels.json).",
	"posts.upload_id":         "The video it posts (see uploads.json).",
	"posts.platform":          "The platform: tiktok or youtube.",
	"posts.caption":           "The caption or title you wrote.",
	"posts.privacy":           "Who may see the post on the platform.",
	"posts.allow_comment":     "Whether viewers may comment.",
	"posts.allow_duet":        "Whether viewers may make duets with it (TikTok).",
	"posts.allow_stitch":      "Whether viewers may stitch it (TikTok).",
	"posts.scheduled_at":      "When it is, or was, due to be published.",
	"posts.timezone":          "The time zone you scheduled it in.",
	"posts.status":            "scheduled, publishing, processing, published, failed or cancelled.",
	"posts.attempt":           "How many times publishing was tried.",
	"posts.publish_id":        "The platform's ID for the publishing request.",
	"posts.platform_post_id":  "The post's ID on the platform, once published.",
	"posts.public_url":        "The post's public address, once published.",
	"posts.brand_organic":     "Whether you disclosed that the post promotes your own business (TikTok).",
	"posts.brand_content":     "Whether you disclosed that the post is branded content for a third party, a paid partnership (TikTok).",
	"posts.platform_username": "Your account's username at the platform when the post was published, which its public address uses.",
	"posts.photo_upload_ids":  "For a photo post, the uploads of its images, in order (see uploads.json).",
	"posts.public_state":      "public once the platform shows the post publicly, removed once it no longer does.",
	"posts.failure_reason":    "Why publishing failed, if it did.",
	"posts.idempotency_key":   "The key your app sent so that the post is not created twice, if it sent one.",
	"posts.created_at":        "When you created the post.",
	"posts.updated_at":        "When it last changed.",
	"posts.published_at":      "When it was published.",

	"post_events":         "The history of your posts: each change of status.",
	"post_events.id":      "The entry's ID.",
	"post_events.post_id": "The post (see posts.json).",
	"post_events.status":  "The post's status from then on.",
	"post_events.detail":  "What happened.",
	"post_events.at":      "When it happened.",

	"retention_items":            "When pieces of your data are due to be deleted under our retention policy.",
	"retention_items.category":   "The kind of data, e.g. uploads, posts or closed_accounts.",
	"retention_items.object_id":  "The ID of the record or file concerned.",
	"retention_items.user_id":    "The ID of your account.",
	"retention_items.due_at":     "When it is due to be deleted.",
	"retention_items.attempts":   "How many deletion attempts failed so far.",
	"retention_items.last_error": "Why the last deletion attempt failed, if one did.",
	"retention_items.created_at": "When the deletion was scheduled.",

	"legal_holds":             "Legal holds that suspend the deletion of your data.",
	"legal_holds.id":          "The hold's ID.",
	"legal_holds.user_id":     "The ID of your account, when the hold covers all your data.",
	"legal_holds.category":    "The kind of record held, when the hold covers one record.",
	"legal_holds.object_id":   "The record held, when the hold covers one record.",
	"legal_holds.reason":      "Why the hold was placed.",
	"legal_holds.placed_by":   "The staff member who placed it.",
	"legal_holds.placed_at":   "When it was placed.",
	"legal_holds.released_by": "The staff member who released it.",
	"legal_holds.released_at": "When it was released, if it was.",

	"idempotency_keys":                 "Create requests you sent with an Idempotency-Key, remembered so that a retry gets the same answer (kept 24 hours).",
	"idempotency_keys.scope":           "Whose key it is: the ID of your account, or the IP address a public form was sent from.",
	"idempotency_keys.endpoint":        "The request's method and address.",
	"idempotency_keys.idempotency_key": "The Idempotency-Key you sent.",
	"idempotency_keys.user_id":         "The ID of your account.",
	"idempotency_keys.status":          "The HTTP status of our answer (0 while it was being answered).",
	"idempotency_keys.content_type":    "The type of our answer.",
	"idempotency_keys.location":        "The address of what the request created, if any.",
	"idempotency_keys.created_at":      "When the request arrived.",

	"request_logs":             "Our server log of your requests to Loomcast (kept 30 days).",
	"request_logs.id":          "The entry's ID.",
	"request_logs.at":          "When the request arrived.",
	"request_logs.method":      "The HTTP method (GET, POST...).",
	"request_logs.path":        "The address requested.",
	"request_logs.status":      "The HTTP status of our answer.",
	"request_logs.duration_ms": "How long the answer took, in milliseconds.",
	"request_logs.user_id":     "The ID of your account.",
	"request_logs.ip":          "The IP address the request came from.",
	"request_logs.request_id":  "The request's ID in our logs.",

	"security_events":         "Our security log of your account: sign-ins, failed sign-ins, password and role changes, tokens (kept 12 months).",
	"security_events.id":      "The entry's ID.",
	"security_events.at":      "When it happened.",
	"security_events.kind":    "What happened.",
	"security_events.user_id": "The ID of your account.",
	"security_events.ip":      "The IP address it came from.",
	"security_events.detail":  "Details.",

	"webhook_events":              "Notifications a platform sent us about your account on it (e.g. that a post was published). They name the platform account, not your Loomcast account.",
	"webhook_events.id":           "The notification's ID.",
	"webhook_events.source":       "The platform that sent it.",
	"webhook_events.event_key":    "The platform's ID of the notification.",
	"webhook_events.event_type":   "What it is about.",
	"webhook_events.account":      "The platform account it concerns.",
	"webhook_events.payload":      "The notification as the platform sent it.",
	"webhook_events.status":       "How far we got handling it: received, delivered, applied, held, ignored or failed.",
	"webhook_events.detail":       "What handling it did, or why it failed.",
	"webhook_events.replay":       "Whether staff sent it through handling again.",
	"webhook_events.attempts":     "How many handling attempts failed.",
	"webhook_events.received_at":  "When we received it.",
	"webhook_events.delivered_at": "When it reached the process that handles it.",
	"webhook_events.applied_at":   "When handling it finished.",

	"privacy_requests":                   "The privacy requests you made (a copy of your data, erasure, correction...).",
	"privacy_requests.id":                "The request's ID.",
	"privacy_requests.user_id":           "The ID of your account, when you filed it signed in or we matched it to your account.",
	"privacy_requests.email":             "The email address the request came from.",
	"privacy_requests.type":              "What we do for it: access, portability, rectification, erasure, restriction, objection, withdrawal, opt_out or limit.",
	"privacy_requests.filed_as":          "The right you filed it under, e.g. access (GDPR art. 15) or ccpa_delete.",
	"privacy_requests.regime":            "The privacy law whose deadlines apply.",
	"privacy_requests.region":            "The country or region you gave.",
	"privacy_requests.source":            "Where you filed it: account (signed in) or public (the public form).",
	"privacy_requests.status":            "Where it stands: verifying, received, in_review, executing, answered, closed, refused or withdrawn.",
	"privacy_requests.details":           "What the request names (e.g. fields to correct), as JSON.",
	"privacy_requests.received_at":       "When we received it.",
	"privacy_requests.verified_at":       "When you confirmed your email address for it.",
	"privacy_requests.deadline_at":       "When the law requires our answer.",
	"privacy_requests.extended_at":       "When we extended the deadline, if we did.",
	"privacy_requests.extension_reason":  "Why we extended it.",
	"privacy_requests.closed_at":         "When it was closed.",
	"privacy_requests.answer":            "Our answer.",
	"privacy_requests.progress_done":     "Steps done so far, for a long request such as an export.",
	"privacy_requests.progress_total":    "Steps in all.",
	"privacy_requests.export_key":        "Where the archive answering it is kept in our file storage.",
	"privacy_requests.export_expires_at": "When that archive and its link expire.",
	"privacy_requests.code_expires_at":   "When the confirmation code we emailed you expires.",
	"privacy_requests.code_attempts":     "How many wrong codes were entered.",

	"privacy_audit":            "The log of how we handled your privacy requests.",
	"privacy_audit.id":         "The entry's ID.",
	"privacy_audit.request_id": "The request (see privacy_requests.json).",
	"privacy_audit.at":         "When it happened.",
	"privacy_audit.actor":      "Who acted: system, or a staff member.",
	"privacy_audit.action":     "What was done.",
	"privacy_audit.detail":     "Details.",

	"email_changes":                 "A change of your email address you asked for (in your profile or by a correction request), waiting for the code we mailed to the new address (kept 24 hours at most).",
	"email_changes.user_id":         "The ID of your account.",
	"email_changes.new_email":       "The new address you asked for.",
	"email_changes.request_id":      "The correction request that asked for it (see privacy_requests.json), if any.",
	"email_changes.created_at":      "When you asked.",
	"email_changes.code_expires_at": "When the code we mailed to the new address expires.",
	"email_changes.code_attempts":   "How many wrong codes were entered.",

	"consents":         "Your decisions about how we may use your data, latest last. The latest decision per purpose holds.",
	"consents.id":      "The decision's ID.",
	"consents.user_id": "The ID of your account.",
	"consents.purpose": "The use concerned, e.g. marketing_emails, analytics or sale_or_sharing.",
	"consents.granted": "Whether you agreed (true) or refused or withdrew (false).",
	"consents.at":      "When you decided.",
	"consents.source":  "Where the decision came from, e.g. profile settings or your browser's Global Privacy Control.",
}

// withheldColumns are columns left out for a reason their name does not
// give away.
var withheldColumns = map[string]string{
	"posts.upload_session": "the platform's temporary upload address for the post (kept encrypted), which works like a password",
}

// withheld returns why a column is left out of the export, or "" when it
// is exported. Secrets never leave: sealed tokens, password, token and code
// hashes, and anything named as a secret.
func withheld(table, column string) string {
	if why := withheldColumns[table+"."+column]; why != "" {
		return why
	}
	switch {
	case strings.HasSuffix(column, "_sealed"):
		return "an encrypted sign-in token for a platform, a secret"
	case strings.HasSuffix(column, "_hash"):
		return "a one-way fingerprint (hash) of a password, token, code or request, which could help guess a secret"
	case strings.HasSuffix(column, "_secret"), column == "secret":
		return "a secret"
	}
	return ""
}

// kindNames say what a field holds, the same on every database.
var kindNames = map[scan.Kind]string{
	scan.KindText:  "text",
	scan.KindJSON:  "JSON",
	scan.KindUUID:  "ID",
	scan.KindBool:  "true or false",
	scan.KindInt:   "whole number",
	scan.KindFloat: "number",
	scan.KindTime:  "date and time, UTC",
	scan.KindBytes: "bytes, base64",
	scan.KindOther: "value",
}

// fieldDoc is one line of the README documenting a field.
func fieldDoc(table string, c scan.Column) string {
	desc := descriptions[table+"."+c.Name]
	if desc == "" {
		desc = "no description"
	}
	return indent(wrap(fmt.Sprintf("%s (%s): %s", c.Name, kindNames[c.Kind], desc), 68))
}

// indent indents a field's lines: two spaces, four for continuations.
func indent(text string) string {
	return "  " + strings.ReplaceAll(text, "\n", "\n    ")
}

const readmeIntro = `YOUR LOOMCAST DATA
==================

This archive holds a copy of the personal data Loomcast keeps about the
account %s,
as it was when the archive was made.

WHAT IS IN IT

  README.txt          This file.
  right-to-know.txt   What we collect about you, where it comes from,
                      why we use it, who receives it and how long we
                      keep it, category by category, and which files
                      here hold the pieces of each.
  data/<name>.json    One file per kind of record we keep about you.
  media/<id>.<ext>    The videos you uploaded that we still store, named
                      after their upload ID (see data/uploads.json).

HOW TO READ THE DATA FILES

Each data file is a JSON list of records; each record is an object whose
fields are described below, file by file. Dates and times are in UTC, in
the RFC 3339 format (2024-05-01T14:30:00Z). null means "no value".

Some fields are never included, even in your own copy, because they are
secrets or would help guess one; each file below says which it leaves out.
`

// readme renders the README for the files written, in archive order.
func readme(userID string, files []dataFile, media int) string {
	var b strings.Builder
	fmt.Fprintf(&b, readmeIntro, userID)
	if media == 0 {
		b.WriteString("\nThis archive holds no media: no uploaded file of yours is stored any more.\n")
	} else {
		fmt.Fprintf(&b, "\nThis archive holds %d media file(s).\n", media)
	}
	for _, f := range files {
		b.WriteString("\n" + strings.Repeat("-", 72) + "\n")
		fmt.Fprintf(&b, "data/%s.json (%d record(s))\n\n", f.table.Name, f.rows)
		desc := descriptions[f.table.Name]
		if desc == "" {
			desc = "Records that hold your data."
		}
		b.WriteString(wrap(desc, 72) + "\n")
		if f.mention {
			b.WriteString(wrap("These records are not filed under your account: they are here because they mention one of your identifiers (your account ID, email address, Google account or platform account IDs).", 72) + "\n")
		}
		b.WriteString("\nFields:\n")
		for _, c := range f.columns {
			b.WriteString(fieldDoc(f.table.Name, c) + "\n")
		}
		if len(f.withheld) > 0 {
			b.WriteString("\nLeft out:\n")
			for _, c := range f.withheld {
				b.WriteString(indent(wrap(c+": "+withheld(f.table.Name, c)+".", 68)) + "\n")
			}
		}
	}
	return b.String()
}

// wrap breaks text into lines of at most width characters.
func wrap(text string, width int) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = w
			continue
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}
