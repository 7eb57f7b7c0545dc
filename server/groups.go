package server

import (
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"

	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/emailchange"
	"github.com/loomcast/loomcast/grants"
	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/pacing"
	"github.com/loomcast/loomcast/retention/scheduler"
	"github.com/loomcast/loomcast/signup"
	"github.com/loomcast/loomcast/tiktok"
	"github.com/loomcast/loomcast/vault"
	"github.com/loomcast/loomcast/youtube"
)

// base is what every handler group shares: the configuration, the logger
// and the clock, the read model, the session cookies, and the request and
// security logs and idempotency records that any handler may write. The
// error table (fail), JSON binding and session helpers live on it.
type base struct {
	cfg         Config
	store       *models.Store
	logger      *slog.Logger
	now         func() time.Time
	cookies     cookies
	retention   *scheduler.Scheduler
	buckets     *scheduler.Buckets
	requestLogs *requestLogs
	// limits throttle password checks per account and per address.
	limits *loginLimits
	// vault seals what must not be readable from the database alone
	// (idempotent answers that hold a new access token).
	vault *vault.Keyring
}

// routers are the route groups a handler group adds its routes to.
type routers struct {
	// root is for routes outside /v1 (webhooks).
	root *gin.Engine
	// public is /v1 for anyone (sessions are read, CSRF is checked).
	public *gin.RouterGroup
	// user is /v1 for a signed-in user.
	user *gin.RouterGroup
	// staff is /v1/admin for staff roles; each route names its role.
	staff *gin.RouterGroup
}

// group is one capability's handlers: it adds its routes, and holds only
// the dependencies they use. A new capability is a new group, added with
// one line in Server.groups.
type group interface {
	addRoutes(r routers)
}

// accountsAPI is sign-up, sign-in (password and Google), the profile and
// its email changes, closing the account, personal access tokens and
// staff's user admin.
type accountsAPI struct {
	*base
	temporal client.Client
	google   GoogleSignIn
	// mail and emails send the notices and codes of email changes.
	mail   mail.Sender
	emails *emailchange.Changes
	// signups opens accounts through a mailed code and verifies the
	// addresses of older accounts.
	signups *signup.SignUps
}

// creators reads a TikTok creator's live capabilities, for the channels'
// creator-info route and for checking a post's options.
type creators struct {
	grants *grants.Manager
	tiktok *tiktok.Client
	pacer  *pacing.Pacer
}

// channelsAPI connects, lists and disconnects TikTok and YouTube channels.
type channelsAPI struct {
	*base
	creators
	temporal client.Client
	youtube  *youtube.Client
}

// postsAPI is uploads and scheduled posts, and staff's cancel and retry.
type postsAPI struct {
	*base
	creators
	temporal client.Client
	blob     blob.Store
}

// privacyAPI is data-subject requests: the signed-in and public forms,
// the export download and the privacy team's queue.
type privacyAPI struct {
	*base
	temporal client.Client
	blob     blob.Store
	mail     mail.Sender
}

// webhooksAPI ingests signed platform webhooks and shows them to support.
type webhooksAPI struct {
	*base
	relayWake chan struct{}
}

// opsAPI is support's view of durable processes, and the retention
// status and legal holds of the privacy team.
type opsAPI struct {
	*base
	temporal client.Client
}

// announcementsAPI is staff's product announcements, each mailed by its
// own durable process to the people who permit its purpose.
type announcementsAPI struct {
	*base
	temporal client.Client
}

// groups builds every handler group from the API's dependencies: one line
// per capability.
func (s *Server) groups(d Deps) []group {
	pacer := d.Pacer
	if pacer == nil {
		pacer = &pacing.Pacer{Store: s.store}
	}
	creators := creators{grants: d.Grants, tiktok: d.TikTok, pacer: pacer}
	return []group{
		&accountsAPI{base: s.base, temporal: d.Temporal, google: d.Google, mail: d.Mail,
			emails:  &emailchange.Changes{Store: s.store, Mail: d.Mail, Buckets: s.buckets, Key: s.cfg.SessionKey, Now: s.now},
			signups: &signup.SignUps{Store: s.store, Mail: d.Mail, Buckets: s.buckets, Key: s.cfg.SessionKey, Now: s.now}},
		&channelsAPI{base: s.base, creators: creators, temporal: d.Temporal, youtube: d.YouTube},
		&postsAPI{base: s.base, creators: creators, temporal: d.Temporal, blob: d.Blob},
		&privacyAPI{base: s.base, temporal: d.Temporal, blob: d.Blob, mail: d.Mail},
		&webhooksAPI{base: s.base, relayWake: d.RelayWake},
		&opsAPI{base: s.base, temporal: d.Temporal},
		&announcementsAPI{base: s.base, temporal: d.Temporal},
	}
}
