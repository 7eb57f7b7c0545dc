package retention

// The data map: what personal information Loomcast collects, category by
// category, where it comes from, why it is used, who receives it, whether
// it is sold or shared, and which rows of the retention table say how long
// it is kept. It answers the right to know (CCPA 1798.100 and 1798.110;
// GDPR art. 15(1)(a) to (h)), and it says what the two privacy policies
// say: every source, purpose, recipient and category quotes the policy
// sentences it rests on, and a test finds each quotation in the policy's
// section. Beside the retention table so that the two cannot drift: a test
// fails when a retention category is in neither the map nor NotInDataMap.

// Quote is a sentence, or part of one, of a privacy policy, verbatim.
type Quote struct {
	// Policy is the policy it comes from: "000" or "004", the seeds'
	// numbers.
	Policy string
	// Section is the section it is in ("5.4", "7").
	Section string
	// Text is the quoted words.
	Text string
}

// Source is a category of sources of personal information.
type Source struct {
	// Name says it to the person, in Loomcast's words.
	Name string
	// Policy is what the policies say.
	Policy []Quote
}

// Purpose is a business or commercial purpose for which personal
// information is collected and used.
type Purpose struct {
	Name   string
	Policy []Quote
}

// Recipient is a category of recipients to which personal information is
// disclosed.
type Recipient struct {
	Name   string
	Policy []Quote
}

// LegalCategory is a category of personal information as the CCPA lists
// them (Cal. Civ. Code 1798.140(v)(1), and sensitive personal information,
// 1798.140(ae)).
type LegalCategory struct {
	Name string
	// Cite is the provision.
	Cite string
}

// The legal categories Loomcast's data falls in. Those it collects nothing
// of (characteristics of protected classifications, commercial
// information until billing exists, biometric, geolocation, professional,
// education, inferences) are not listed.
var (
	Identifiers = LegalCategory{"Identifiers, such as an email address, an online identifier or an IP address",
		"Cal. Civ. Code 1798.140(v)(1)(A)"}
	NetworkActivity = LegalCategory{"Internet or other electronic network activity information: your interaction with Loomcast",
		"Cal. Civ. Code 1798.140(v)(1)(F)"}
	SensoryInformation = LegalCategory{"Audio, electronic, visual, or similar information: the videos you upload",
		"Cal. Civ. Code 1798.140(v)(1)(H)"}
	SensitiveInformation = LegalCategory{"Sensitive personal information: account log-in credentials, that is your password, kept only as a salted hash, and platform tokens, kept encrypted",
		"Cal. Civ. Code 1798.140(ae)(1)(B)"}
	Preferences = LegalCategory{"Other personal information relating to you: your choices and requests",
		"Cal. Civ. Code 1798.140(v)(1)"}
)

// Sources.
var (
	FromYou = Source{"You, when you sign up, fill in forms and use Loomcast", []Quote{
		{"004", "5", "From you: directly, when you fill in forms, send us messages, or use the Service"}}}
	Automatically = Source{"Automatically, when you use Loomcast's website, app or API", []Quote{
		{"004", "5", "Automatically: when you interact with our website, our application, or our APIs (cookies, log files, telemetry)"},
		{"000", "2.8", "We automatically collect certain technical information when you use the Service"}}}
	IdentityProvider = Source{"Google, when you sign in with Google", []Quote{
		{"004", "5", "From third parties: for example, identity providers you authenticate with"},
		{"000", "2.1", "obtained from your social login provider (Google)"}}}
	ConnectedPlatforms = Source{"TikTok and YouTube, for the channels you connect", []Quote{
		{"000", "2.2", "When you connect your social media channels to Flowctory (a separate step from registration), we receive and store the following information from each platform"},
		{"000", "4", "We receive automated notifications (webhooks) from TikTok when your post's status changes"}}}
)

// Purposes.
var (
	ForTheAccount = Purpose{"To sign you in and manage your account", []Quote{
		{"000", "4", "Authenticate you and manage your Flowctory account"},
		{"004", "6", "To provide, operate, and secure the Service, including authentication"}}}
	ForPublishing = Purpose{"To connect your TikTok and YouTube channels and publish your posts to them on your behalf", []Quote{
		{"000", "4", "Connect your social media channels (TikTok, YouTube) and communicate with their APIs"},
		{"000", "4", "Upload and schedule media content to connected platforms on your behalf"},
		{"000", "4", "We periodically refresh your platform authentication tokens to maintain your connection"}}}
	ForHistory = Purpose{"To show you your posting history and the status of each post", []Quote{
		{"000", "4", "Display your posting history and status within the application"}}}
	ForTroubleshooting = Purpose{"To troubleshoot failed uploads and other technical issues", []Quote{
		{"000", "4", "Troubleshoot issues with failed uploads"},
		{"000", "3.2", "Troubleshooting technical issues"}}}
	ForSecurity = Purpose{"To detect, prevent and investigate abuse, fraud and security incidents", []Quote{
		{"000", "4", "Detect, prevent, and address technical issues, fraud, or abuse"},
		{"004", "6", "To monitor for abuse, fraud, and security incidents, and to investigate them"}}}
	ForServiceMail = Purpose{"To write to you about the service (service announcements, security alerts)", []Quote{
		{"000", "4", "Communicate with you about the Service (service announcements, security alerts)"}}}
	ForMarketing = Purpose{"To send you the product announcements you opted in to", []Quote{
		{"004", "6", "To send you product announcements you have opted in to"}}}
	ForTheLaw = Purpose{"To answer your privacy requests, comply with legal obligations and defend legal claims", []Quote{
		{"004", "6", "To comply with legal obligations, respond to lawful requests, defend legal claims, and protect our rights"},
		{"000", "4", "Comply with legal obligations"}}}
)

// Recipients.
var (
	Hosting = Recipient{"Our service providers for hosting, databases and file storage", []Quote{
		{"004", "7", "Sub-processors who help us run the Service (cloud hosting"},
		{"000", "5.4", "Hosting Provider: Our servers are hosted on infrastructure that may have access to server logs and technical data necessary to provide hosting services."}}}
	EmailDelivery = Recipient{"Our email delivery provider, a service provider", []Quote{
		{"004", "7", "email and notification delivery"}}}
	PublishingPlatforms = Recipient{"TikTok and YouTube, when you publish to them", []Quote{
		{"000", "5.1", "Your media content and associated metadata are transmitted to the platforms you choose to publish to"},
		{"004", "7", "Third-party services you connect: when you choose to connect a Third-Party Service to a workflow, data flows to that service per your configuration."}}}
	Authorities = Recipient{"Authorities and courts, where the law requires it", []Quote{
		{"004", "7", "Authorities and courts: where required by law, lawful process, or to protect our or others' rights"},
		{"000", "5.5", "We may disclose your information if required to do so by law or in response to valid legal requests by public authorities"}}}
	Advisers = Recipient{"Our professional advisers (lawyers, accountants, auditors, insurers), bound to confidentiality", []Quote{
		{"004", "7", "Professional advisers (lawyers, accountants, auditors, insurers) under confidentiality obligations"}}}
	Acquirer = Recipient{"The other party to a merger, acquisition or sale of assets, with the same protection", []Quote{
		{"004", "7", "In a corporate transaction: if we are involved in a merger, acquisition, or sale of assets, personal data may be transferred to the counter-party, subject to equivalent protections"},
		{"000", "5.6", "If Flowctory is involved in a merger, acquisition, or sale of assets, your information may be transferred as part of that transaction."}}}
)

// MayAlsoDisclose are the recipients any category may go to when the
// situation arises, beyond the recipients the category names.
var MayAlsoDisclose = []Recipient{Authorities, Advisers, Acquirer}

// NoSaleQuotes are the policies' answers on the sale and sharing of
// personal information. Every category of the map says not sold and not
// shared, and a test holds them to these sentences.
var NoSaleQuotes = []Quote{
	{"004", "13", "We do not sell or share your personal information as those terms are defined under the CCPA"},
	{"004", "7", "We do not sell your personal data."},
	{"000", "5.7", "We do not sell, rent, or trade your personal information to third parties for their marketing purposes."},
}

// InfoCategory is one category of personal information in the data map.
type InfoCategory struct {
	// Name is the category as the policies name it.
	Name string
	// Holds says what it is, to the person.
	Holds string
	// Legal are the CCPA categories it falls in.
	Legal      []LegalCategory
	Sources    []Source
	Purposes   []Purpose
	Recipients []Recipient
	// Sold and Shared say whether it is sold, or shared for cross-context
	// behavioural advertising (CCPA 1798.140(ad) and (ah)).
	Sold, Shared bool
	// Retention are the rows of the retention table that say how long its
	// data is kept.
	Retention []Category
	// Kept says how long the data that no retention row covers is kept,
	// and why; "" when the retention rows cover it all.
	Kept string
	// Tables are the database tables holding it: the data files of the
	// export with the specific pieces (data/<table>.json).
	Tables []string
	// Policy is where the policies describe it.
	Policy []Quote
}

// DataMap lists every category of personal information Loomcast collects.
var DataMap = []InfoCategory{
	{
		Name: "Account data",
		Holds: "Your email address, your password (only as a salted hash), your display name and profile picture address, " +
			"your time zone, the ID of the Google account you sign in with, your role, the personal access tokens you created " +
			"for API clients (only as hashes), and when you created, used, closed or restricted your account.",
		Legal:      []LegalCategory{Identifiers, SensitiveInformation},
		Sources:    []Source{FromYou, IdentityProvider},
		Purposes:   []Purpose{ForTheAccount, ForServiceMail, ForSecurity},
		Recipients: []Recipient{Hosting, EmailDelivery},
		Retention:  []Category{ClosedAccounts, EmailChanges, Registrations},
		Tables:     []string{"users", "access_tokens", "email_changes", "registrations"},
		Policy: []Quote{
			{"000", "2.1", "Email Address: Your email address, used for account identification and communication"},
			{"000", "2.1", "Password: If you register with email, your password is securely hashed (we never store plaintext passwords)"},
			{"000", "2.1", "Timezone: Your timezone preference for scheduling posts"},
			{"004", "4", "Name, email address, password (stored only as a salted hash)"},
			{"004", "4", "authentication identifiers from third-party identity providers (e.g. Google, GitHub)"},
			{"004", "10", "For the life of the Account, plus a 30-day grace period after closure for export."},
		},
	},
	{
		Name: "Social media channel information",
		Holds: "For each TikTok or YouTube channel you connect: its ID on the platform (TikTok open ID, YouTube channel ID), " +
			"its name and picture address, the permissions you granted, and when you connected, disconnected or revoked it.",
		Legal:      []LegalCategory{Identifiers},
		Sources:    []Source{ConnectedPlatforms, FromYou},
		Purposes:   []Purpose{ForPublishing, ForHistory},
		Recipients: []Recipient{Hosting},
		Retention:  []Category{ChannelData, YouTubeDataDisconnected, YouTubeDataRevoked},
		Tables:     []string{"channels"},
		Policy: []Quote{
			{"000", "2.2", "TikTok Open ID: A unique identifier for your TikTok channel (not your username)"},
			{"000", "2.2", "YouTube Channel ID: Your YouTube channel identifier"},
			{"000", "6", "When you disconnect a YouTube channel in Flowctory, associated YouTube data is deleted within 7 days."},
		},
	},
	{
		Name: "Platform authentication tokens",
		Holds: "The access and refresh tokens TikTok or YouTube issued when you connected a channel, encrypted. They are secrets: " +
			"your archive leaves them out, and data/channels.json says when they expire and what they allow.",
		Legal:      []LegalCategory{SensitiveInformation},
		Sources:    []Source{ConnectedPlatforms},
		Purposes:   []Purpose{ForPublishing},
		Recipients: []Recipient{PublishingPlatforms, Hosting},
		Retention:  []Category{PlatformTokens},
		Tables:     []string{"channels"},
		Policy: []Quote{
			{"000", "2.3", "We store OAuth access tokens and refresh tokens required to communicate with each platform's API on your behalf."},
			{"000", "2.3", "Tokens are encrypted and stored per connected channel."},
		},
	},
	{
		Name:       "Media content",
		Holds:      "The videos you upload for publishing, with their size, format and length.",
		Legal:      []LegalCategory{SensoryInformation},
		Sources:    []Source{FromYou},
		Purposes:   []Purpose{ForPublishing},
		Recipients: []Recipient{PublishingPlatforms, Hosting},
		Retention:  []Category{Uploads},
		Tables:     []string{"uploads"},
		Policy: []Quote{
			{"000", "2.4", "When you upload a video or image for publishing, the file is temporarily stored on our servers solely for the purpose of transferring it to the target platform (TikTok, YouTube)."},
		},
	},
	{
		Name: "Post metadata",
		Holds: "Your posts: captions, who may see them and whether viewers may comment, duet or stitch, when they are scheduled, " +
			"their status and its history, the platform's IDs and public addresses once published, and the notifications " +
			"the platform sent us about them.",
		Legal:      []LegalCategory{NetworkActivity},
		Sources:    []Source{FromYou, ConnectedPlatforms},
		Purposes:   []Purpose{ForPublishing, ForHistory, ForTroubleshooting},
		Recipients: []Recipient{PublishingPlatforms, Hosting},
		Retention:  []Category{PostMetadata, WebhookDeliveries},
		Tables:     []string{"posts", "post_events", "webhook_events"},
		Policy: []Quote{
			{"000", "2.7", "Video captions and descriptions"},
			{"000", "2.7", "Platform publish IDs for successful posts"},
			{"000", "4", "These notifications contain post identifiers and status information used to update your posting history within the Service."},
		},
	},
	{
		Name: "Technical and usage data",
		Holds: "The IP address and time of your requests to Loomcast, what they asked for and how we answered (our server log); " +
			"your sign-ins, failed sign-ins and password and role changes (our security log); your sign-in sessions; and the " +
			"create requests you sent with an Idempotency-Key.",
		Legal:      []LegalCategory{Identifiers, NetworkActivity},
		Sources:    []Source{Automatically},
		Purposes:   []Purpose{ForSecurity, ForTroubleshooting, ForTheAccount},
		Recipients: []Recipient{Hosting},
		Retention:  []Category{ServerLogs, SecurityLogs, Sessions, IdempotencyRecords},
		Tables:     []string{"request_logs", "security_events", "sessions", "idempotency_keys"},
		Policy: []Quote{
			{"000", "2.8", "IP address"},
			{"000", "2.8", "Access timestamps"},
			{"000", "2.8", "Error logs and diagnostic data"},
			{"004", "10", "Up to 12 months for security and abuse-investigation purposes."},
		},
	},
	{
		Name:       "Marketing data",
		Holds:      "Whether you agreed to receive marketing email and product updates, and when you gave or withdrew that agreement.",
		Legal:      []LegalCategory{Preferences},
		Sources:    []Source{FromYou},
		Purposes:   []Purpose{ForMarketing},
		Recipients: []Recipient{EmailDelivery, Hosting},
		Retention:  []Category{Marketing},
		Tables:     []string{"users", "consents"},
		Policy: []Quote{
			{"004", "4", "Your communication preferences (e.g. whether you have opted in to product updates)"},
			{"004", "10", "Until you withdraw consent or are inactive for 24 consecutive months, whichever is earlier."},
		},
	},
	{
		Name: "Privacy requests and choices",
		Holds: "The privacy requests you made and how we handled each (who did what, and when), the archives answering them, " +
			"your other privacy choices (such as opting out of sale or sharing, also by your browser's Global Privacy Control signal), " +
			"when each piece of your data is due to be deleted, and any legal hold on it.",
		Legal:      []LegalCategory{Identifiers, Preferences},
		Sources:    []Source{FromYou, Automatically},
		Purposes:   []Purpose{ForTheLaw},
		Recipients: []Recipient{EmailDelivery, Hosting},
		Retention:  []Category{PrivacyExports},
		Kept: "The records of your requests, choices and holds are kept as long as we need them to honour your choices and " +
			"to show how we answered you, as the law requires; a legal hold ends when it is released.",
		Tables: []string{"privacy_requests", "privacy_audit", "consents", "retention_items", "legal_holds"},
		Policy: []Quote{
			{"000", "8.1", "The specific pieces of personal information we have collected about you"},
			{"004", "15", "We honour the Global Privacy Control (GPC) signal where it is sent by your browser."},
			{"004", "10", "unless a longer retention period is required by law or to defend legal claims"},
		},
	},
}

// NotInDataMap are the retention categories that hold no personal
// information Loomcast collects today, each with the reason. A category
// that starts holding some moves into DataMap.
var NotInDataMap = map[Category]string{
	OAuthFlowState: "only random values (OAuth state and PKCE verifier), in cookies of the person's browser for 10 minutes while a channel " +
		"is connected; they say nothing about the person and the server keeps none",
	CloudConnections: "Loomcast connects no cloud storage (Google Drive, Dropbox) yet: when it does, the connection data becomes a " +
		"category, with those providers as sources and recipients (000 §2.5 and §5.2)",
	LibraryMedia: "Loomcast has no media library or AI-generated media yet: when it does, they join media content, with the storage " +
		"and AI providers as recipients (000 §2.4, §5.3 and §5.4)",
	BundleLedger: "Loomcast bills nothing yet: when billing keeps ledgers, billing data becomes a category (commercial information), " +
		"with Stripe, the payment processor, as source and recipient (000 §5.4, 004 §4 and §5)",
	SubscriptionRecords: "Loomcast bills nothing yet: see bundle_ledger",
	StripeDeliveries: "Loomcast bills nothing yet, so no Stripe customer is linked to a person: Stripe's signed event deliveries are stored " +
		"only as request logs of the webhook endpoint, found irrelevant at once, deleted 30 days later and erased with a person they name; " +
		"when billing consumes them they join billing data (see bundle_ledger)",
	SupportCommunication: "Loomcast stores no support messages yet: when it does, communication data becomes a category (004 §4)",
}

// RetentionNotes complete what a retention row's single clock cannot say,
// in the policies' terms, for the people reading the right-to-know
// document: a clause that follows the row's words.
var RetentionNotes = map[Category]string{
	Uploads:        "sooner if its post is published before",
	PlatformTokens: "sooner if they are revoked or expire",
	Marketing:      "sooner if you withdraw your consent",
	ClosedAccounts: "until then it is kept while your account is open and, once closed, so that you can still get an export",
}

// RetentionWords says how long the category's data is kept, a line per
// retention row ("<data>: <how long>.") and then Kept, if any.
func (c InfoCategory) RetentionWords() []string {
	var lines []string
	for _, cat := range c.Retention {
		p := Lookup(cat)
		line := p.Data + ": " + p.Words()
		if note := RetentionNotes[cat]; note != "" {
			line += "; " + note
		}
		lines = append(lines, line+".")
	}
	if c.Kept != "" {
		lines = append(lines, c.Kept)
	}
	return lines
}
