// Package retention is the single source of how long Loomcast keeps each
// kind of data: one table, transcribed from the retention sections of the
// two privacy policies (000 section 6 and 10, 004 section 10). Each entry
// says what data, which event starts its clock, the period, and what
// happens at the end (delete, anonymise, or restrict because the law needs
// it kept). Durable timers read their periods from here; nothing else
// states a retention period.
//
// Beside the table, the data map (DataMap) lists each category of personal
// information with its sources, purposes, recipients and the rows of the
// table that keep it: the answer to the right to know, generated from the
// two. Its tests hold it to the table and to the policies' words (copies
// of the policies are in testdata).
package retention

import (
	"fmt"
	"strings"
	"time"
)

// Action is what happens to data when its period ends.
type Action string

// Actions.
const (
	// Delete removes the data everywhere.
	Delete Action = "delete"
	// Anonymise keeps the record but removes what identifies a person.
	Anonymise Action = "anonymise"
	// Restrict keeps the record because the law requires it, used for
	// nothing else, until the statutory period ends.
	Restrict Action = "restrict"
)

// Clock names the event that starts a retention period.
type Clock string

// Clocks.
const (
	AtUpload           Clock = "upload"
	AtPublish          Clock = "publish"
	AtPosting          Clock = "posting"
	AtCreation         Clock = "creation"
	AtLastActivity     Clock = "last activity"
	AtFlowStart        Clock = "oauth flow start"
	AtDisconnect       Clock = "disconnect"
	AtRevocation       Clock = "revocation"
	AtClosure          Clock = "account closure"
	AtPurchase         Clock = "purchase"
	AtSubscriptionEnd  Clock = "subscription end"
	AtLastContact      Clock = "last contact"
	AtConsentWithdrawn Clock = "consent withdrawn"
	AtUserDeletion     Clock = "deletion by the user"
	AtProcessing       Clock = "processing"
)

// Period is a length of time in calendar terms where the policies speak
// in months and years.
type Period struct {
	Years, Months, Days int
	Exact               time.Duration
}

// After returns the end of the period that starts at t.
func (p Period) After(t time.Time) time.Time {
	return t.AddDate(p.Years, p.Months, p.Days).Add(p.Exact)
}

// Before returns the start of the period that ends at t.
func (p Period) Before(t time.Time) time.Time {
	return t.Add(-p.Exact).AddDate(-p.Years, -p.Months, -p.Days)
}

// String reads like the policies.
func (p Period) String() string {
	var parts []string
	add := func(n int, unit string) {
		if n == 1 {
			parts = append(parts, "1 "+unit)
		} else if n > 1 {
			parts = append(parts, fmt.Sprintf("%d %ss", n, unit))
		}
	}
	add(p.Years, "year")
	add(p.Months, "month")
	add(p.Days, "day")
	if p.Exact > 0 {
		parts = append(parts, p.Exact.String())
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// Category names a kind of data with its own retention.
type Category string

// Categories.
const (
	Uploads                 Category = "uploads"
	PostMetadata            Category = "post_metadata"
	ServerLogs              Category = "server_logs"
	SecurityLogs            Category = "security_logs"
	WebhookDeliveries       Category = "webhook_deliveries"
	StripeDeliveries        Category = "stripe_deliveries"
	OAuthFlowState          Category = "oauth_flow_state"
	Sessions                Category = "sessions"
	PlatformTokens          Category = "platform_tokens"
	YouTubeDataDisconnected Category = "youtube_data_disconnected"
	YouTubeDataRevoked      Category = "youtube_data_revoked"
	ChannelData             Category = "channel_data"
	CloudConnections        Category = "cloud_connections"
	ClosedAccounts          Category = "closed_accounts"
	LibraryMedia            Category = "library_media"
	BundleLedger            Category = "bundle_ledger"
	SubscriptionRecords     Category = "subscription_records"
	SupportCommunication    Category = "support_communication"
	Marketing               Category = "marketing"
	PrivacyExports          Category = "privacy_exports"
	// IdempotencyRecords are the answers kept so that a retried create
	// (Idempotency-Key) gets the same answer.
	IdempotencyRecords Category = "idempotency_records"
	// EmailChanges are new email addresses waiting for the code mailed
	// to them (a change asked in the profile or by a rectification).
	EmailChanges Category = "email_changes"
	// Registrations are sign-ups waiting for the code mailed to their
	// address: no account exists until it comes back.
	Registrations Category = "registrations"
)

// Policy is one row of the retention table.
type Policy struct {
	Category Category
	// Data says what is kept, in the policies' words.
	Data string
	// Starts is the event that starts the clock.
	Starts Clock
	// Period runs from Starts; zero means at once.
	Period Period
	// Action happens when the period ends.
	Action Action
	// Statutory adds the statutory keeping period (by jurisdiction) after
	// Period, during which the data is restricted.
	Statutory bool
	// Source cites the policy sentence.
	Source string
}

// Policies is the retention table.
var Policies = []Policy{
	{Uploads, "media uploaded for publishing", AtUpload, Period{Exact: 24 * time.Hour}, Delete, false,
		"000 §2.4 and §6: deleted after successful publishing or within 24 hours of upload, whichever comes first"},
	{PostMetadata, "post metadata: caption, settings, status, publish ids", AtPosting, Period{Days: 90}, Delete, false,
		"000 §6: post metadata, 90 days after posting"},
	{ServerLogs, "server and request logs", AtCreation, Period{Days: 30}, Delete, false,
		"000 §6: server logs, 30 days"},
	{WebhookDeliveries, "raw platform webhook deliveries (request logs of the webhook endpoints)", AtCreation, Period{Days: 30}, Delete, false,
		"000 §6: server logs, 30 days"},
	{StripeDeliveries, "Stripe event deliveries (request logs of the Stripe webhook endpoint; billing events may name a customer)", AtProcessing, Period{Days: 30}, Delete, false,
		"000 §6: server logs, 30 days, counted from when the event was processed or found irrelevant"},
	{SecurityLogs, "security logs", AtCreation, Period{Months: 12}, Delete, false,
		"004 §10: server logs, security logs, up to 12 months"},
	{OAuthFlowState, "OAuth state, PKCE verifier, pending connection", AtFlowStart, Period{Exact: 10 * time.Minute}, Delete, false,
		"000 §10.1 and §10.3: expire after 10 minutes, deleted when the flow completes"},
	{Sessions, "login session", AtLastActivity, Period{Exact: 30 * time.Minute}, Delete, false,
		"000 §10.2: expires after 30 minutes of inactivity (sliding session)"},
	{PlatformTokens, "platform OAuth tokens", AtDisconnect, Period{}, Delete, false,
		"000 §6: until revoked, expired, or the channel is disconnected"},
	{YouTubeDataDisconnected, "YouTube data of a channel disconnected in the app", AtDisconnect, Period{Days: 7}, Delete, false,
		"000 §6: when you disconnect a YouTube channel, its data is deleted within 7 days"},
	{YouTubeDataRevoked, "YouTube data of a channel whose access was revoked at Google", AtRevocation, Period{Days: 30}, Delete, false,
		"000 §6: if you revoke access via Google's security settings, YouTube data is deleted within 30 days"},
	{ChannelData, "platform channel data (TikTok, YouTube)", AtDisconnect, Period{}, Delete, false,
		"000 §6: until you disconnect the platform channel or delete your account"},
	{CloudConnections, "cloud storage connection data", AtDisconnect, Period{}, Delete, false,
		"000 §6: until you disconnect the cloud storage account or delete your account"},
	{ClosedAccounts, "account data", AtClosure, Period{Days: 30}, Delete, false,
		"004 §10: for the life of the account, plus a 30-day grace period after closure for export"},
	{LibraryMedia, "library files and AI-generated media", AtUserDeletion, Period{}, Delete, false,
		"000 §6: until you delete the content or your account is closed"},
	{BundleLedger, "prepaid bundle ledger", AtPurchase, Period{Years: 1}, Restrict, true,
		"004 §10: until the bundle's one-year expiry date, plus the statutory minimum for tax/accounting (typically 6-10 years)"},
	{SubscriptionRecords, "subscription cycle records and invoices", AtSubscriptionEnd, Period{}, Restrict, true,
		"004 §10: for the duration of the subscription, plus the statutory minimum for tax/accounting (typically 6-10 years)"},
	{SupportCommunication, "support communication", AtLastContact, Period{Years: 3}, Delete, false,
		"004 §10: typically up to 3 years from last contact"},
	{PrivacyExports, "archives made for access and portability requests", AtCreation, Period{Days: 7}, Delete, false,
		"000 §7.1 and §7.4 (a copy of your data, machine-readable): the archive's signed link is valid 7 days, then the archive is deleted"},
	{IdempotencyRecords, "answers to create requests sent with an Idempotency-Key (who sent it, the answer, encrypted)", AtCreation, Period{Exact: 24 * time.Hour}, Delete, false,
		"000 §6: server logs, 30 days (these request records are kept 24 hours, well within it)"},
	{EmailChanges, "a new email address waiting to be confirmed with the code mailed to it", AtCreation, Period{Exact: 24 * time.Hour}, Delete, false,
		"000 §7.2 and 004 §12 (rectification; no period is stated): the address changes only once its holder confirms it with the mailed code, and the asked change is deleted a day after it was asked"},
	{Registrations, "a sign-up waiting to be confirmed with the code mailed to its address (the address, display name, time zone and password hash)", AtCreation, Period{Exact: 24 * time.Hour}, Delete, false,
		"000 §2.1 and 004 §4 (account data; no period is stated for a sign-up never confirmed): the account exists only once its address is confirmed with the mailed code, and a sign-up never confirmed is deleted a day after it was made"},
	{Marketing, "marketing data", AtLastActivity, Period{Months: 24}, Delete, false,
		"004 §10: until you withdraw consent or are inactive for 24 consecutive months, whichever is earlier"},
}

// Lookup returns a category's policy; an unknown category is a programming
// error.
func Lookup(c Category) Policy {
	for _, p := range Policies {
		if p.Category == c {
			return p
		}
	}
	panic("retention: unknown category " + string(c))
}

// DefaultStatutory is the statutory keeping period for tax and accounting
// records when the jurisdiction is unknown: the longest of the policy's
// "typically 6-10 years".
var DefaultStatutory = Period{Years: 10}

// statutory are the tax/accounting keeping periods Loomcast knows by
// jurisdiction (ISO 3166-1 alpha-2).
var statutory = map[string]Period{
	"BG": {Years: 10}, // Bulgarian Accountancy Act
	"FR": {Years: 10}, // Code de commerce L123-22
	"DE": {Years: 10}, // HGB §257, AO §147
	"GB": {Years: 6},  // Companies Act 2006, HMRC
	"US": {Years: 7},  // IRS guidance
}

// Statutory returns the statutory keeping period of a jurisdiction, or
// DefaultStatutory when it is not known.
func Statutory(jurisdiction string) Period {
	if p, ok := statutory[strings.ToUpper(jurisdiction)]; ok {
		return p
	}
	return DefaultStatutory
}

// Due returns when data of the category whose clock started at t reaches
// the end of its retention in the jurisdiction (the end of the statutory
// keeping period for restricted records).
func Due(c Category, t time.Time, jurisdiction string) time.Time {
	p := Lookup(c)
	due := p.Period.After(t)
	if p.Statutory {
		due = Statutory(jurisdiction).After(due)
	}
	return due
}

// Fixed returns a category's period as a duration, for periods counted in
// days, hours or minutes (the same length whatever the date, in UTC). A
// period in months or years has no fixed length: asking for one panics.
func Fixed(c Category) time.Duration {
	p := Lookup(c).Period
	if p.Years != 0 || p.Months != 0 {
		panic("retention: " + string(c) + " is counted in months or years, not a fixed duration")
	}
	return time.Duration(p.Days)*24*time.Hour + p.Exact
}
