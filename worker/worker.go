// Package worker wires Loomcast's workflows and activities into a Temporal
// worker. Names are registered bare, so they are unique across the worker.
package worker

import (
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	accountsact "github.com/loomcast/loomcast/activities/accounts"
	announcementsact "github.com/loomcast/loomcast/activities/announcements"
	channelsact "github.com/loomcast/loomcast/activities/channels"
	expiryact "github.com/loomcast/loomcast/activities/expiry"
	postingact "github.com/loomcast/loomcast/activities/posting"
	privacyact "github.com/loomcast/loomcast/activities/privacy"
	webhooksact "github.com/loomcast/loomcast/activities/webhooks"
	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/grants"
	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/pacing"
	"github.com/loomcast/loomcast/privacy/calendar"
	"github.com/loomcast/loomcast/retention/scheduler"
	"github.com/loomcast/loomcast/tiktok"
	"github.com/loomcast/loomcast/workflows"
	"github.com/loomcast/loomcast/youtube"
)

// Deps are the dependencies of every activity.
type Deps struct {
	Store   *models.Store
	Blob    blob.Store
	Grants  *grants.Manager
	TikTok  *tiktok.Client
	YouTube *youtube.Client
	// Pacer keeps TikTok calls inside TikTok's rate limits; nil means
	// TikTok's own limits, counted in Store.
	Pacer *pacing.Pacer
	// Retention starts retention clocks; Executions deletes a purged
	// user's workflow executions.
	Retention  *scheduler.Scheduler
	Executions privacyact.Executions
	// Privacy requests: mail, export links (signed with LinkKey, the
	// API's session key, under PublicURL; it also keys the codes of email
	// changes asked by rectification) and the privacy team's address.
	Mail       mail.Sender
	PublicURL  string
	LinkKey    []byte
	StaffEmail string
	// PrivacyAuthority is where EU requesters may complain (CNIL if unset).
	PrivacyAuthority calendar.Authority
	// Temporal is the client activities use to reach other workflows
	// (a disconnect cancels its channel's posts through their Update).
	Temporal client.Client
}

// Register adds every capability's workflows and activities to r: one
// line per capability.
func Register(r sdkworker.Registry, d Deps) {
	accountsact.Register(r, &accountsact.Activities{Store: d.Store})
	pacer := d.Pacer
	if pacer == nil {
		pacer = &pacing.Pacer{Store: d.Store}
	}
	postingact.Register(r, &postingact.Activities{Store: d.Store, Blob: d.Blob, Grants: d.Grants, TikTok: d.TikTok, YouTube: d.YouTube, Pacer: pacer,
		PublicURL: d.PublicURL, LinkKey: d.LinkKey})
	webhooksact.Register(r, &webhooksact.Activities{Store: d.Store, Grants: d.Grants})
	expiryact.Register(r, &expiryact.Activities{Store: d.Store, Blob: d.Blob, Executions: d.Executions, Scheduler: d.Retention})
	privacyact.Register(r, &privacyact.Activities{Store: d.Store, Blob: d.Blob, Mail: d.Mail, Grants: d.Grants, Retention: d.Retention,
		Executions: d.Executions, PublicURL: d.PublicURL, LinkKey: d.LinkKey, StaffEmail: d.StaffEmail,
		LeadAuthority: d.PrivacyAuthority})
	channelsact.Register(r, &channelsact.Activities{Grants: d.Grants, Retention: d.Retention, Temporal: d.Temporal})
	announcementsact.Register(r, &announcementsact.Activities{Store: d.Store, Mail: d.Mail, PublicURL: d.PublicURL})
}

// New returns a worker on Loomcast's task queue with everything registered.
func New(c client.Client, d Deps) sdkworker.Worker {
	w := sdkworker.New(c, workflows.TaskQueue, sdkworker.Options{})
	Register(w, d)
	return w
}
