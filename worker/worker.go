// Package worker wires Loomcast's workflows and activities into a Temporal
// worker. Names are registered bare, so they are unique across the worker.
package worker

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	accountsact "github.com/loomcast/loomcast/activities/accounts"
	channelsact "github.com/loomcast/loomcast/activities/channels"
	expiryact "github.com/loomcast/loomcast/activities/expiry"
	postingact "github.com/loomcast/loomcast/activities/posting"
	privacyact "github.com/loomcast/loomcast/activities/privacy"
	webhooksact "github.com/loomcast/loomcast/activities/webhooks"
	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/grants"
	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/retention/scheduler"
	"github.com/loomcast/loomcast/tiktok"
	"github.com/loomcast/loomcast/workflows"
	"github.com/loomcast/loomcast/workflows/accounts"
	"github.com/loomcast/loomcast/workflows/channels"
	"github.com/loomcast/loomcast/workflows/expiry"
	"github.com/loomcast/loomcast/workflows/posting"
	"github.com/loomcast/loomcast/workflows/privacy"
	"github.com/loomcast/loomcast/workflows/webhooks"
	"github.com/loomcast/loomcast/youtube"
)

// Deps are the dependencies of every activity.
type Deps struct {
	Store   *models.Store
	Blob    blob.Store
	Grants  *grants.Manager
	TikTok  *tiktok.Client
	YouTube *youtube.Client
	// Retention starts retention clocks; Executions deletes a purged
	// user's workflow executions.
	Retention  *scheduler.Scheduler
	Executions privacyact.Executions
	// Privacy requests: mail, export links (signed with LinkKey, the
	// API's session key, under PublicURL) and the privacy team's address.
	Mail       mail.Sender
	PublicURL  string
	LinkKey    []byte
	StaffEmail string
	// Temporal is the client activities use to reach other workflows
	// (a disconnect cancels its channel's posts through their Update).
	Temporal client.Client
}

// Register adds every workflow and activity to r.
func Register(r sdkworker.Registry, d Deps) {
	wf := func(fn any, name string) { r.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: name}) }
	act := func(fn any, name string) { r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }

	wf(accounts.AccountClosure, "AccountClosure")
	acc := &accountsact.Activities{Store: d.Store}
	act(acc.RecordAccountClosure, accounts.RecordAccountClosureActivity)
	act(acc.PurgeAccount, accounts.PurgeAccountActivity)

	wf(posting.PublishPost, "PublishPost")
	wf(posting.PostMetadataExpiry, posting.MetadataExpiryWorkflow)
	wf(posting.UploadExpiry, "UploadExpiry")
	pub := &postingact.Activities{Store: d.Store, Blob: d.Blob, Grants: d.Grants, TikTok: d.TikTok, YouTube: d.YouTube}
	act(pub.ApplyPostChange, posting.ApplyPostChangeActivity)
	act(pub.CheckBeforePublish, posting.CheckBeforePublishAct)
	act(pub.InitTikTokPost, posting.InitTikTokPostActivity)
	act(pub.UploadTikTokChunks, posting.UploadTikTokActivity)
	act(pub.FetchTikTokStatus, posting.FetchTikTokStatusAct)
	act(pub.UploadYouTubeVideo, posting.UploadYouTubeActivity)
	act(pub.DeleteUpload, posting.DeleteUploadActivity)
	act(pub.DeletePostMetadata, posting.DeletePostMetadataAct)

	wf(webhooks.ReconcileTikTok, "ReconcileTikTok")
	hooks := &webhooksact.Activities{Store: d.Store, Grants: d.Grants}
	act(hooks.ApplyTikTokEvents, webhooks.ApplyEventsActivity)

	wf(expiry.Expiry, expiry.WorkflowName)
	exp := &expiryact.Activities{Store: d.Store, Blob: d.Blob, Executions: d.Executions, Scheduler: d.Retention}
	act(exp.ArmRetention, expiry.ArmActivity)
	act(exp.ExpireDue, expiry.ExpireActivity)
	act(exp.ScheduleRetention, expiry.ScheduleActivity)

	wf(privacy.PrivacyRequest, privacy.WorkflowName)
	dsr := &privacyact.Activities{Store: d.Store, Blob: d.Blob, Mail: d.Mail, Grants: d.Grants, Retention: d.Retention,
		Executions: d.Executions, PublicURL: d.PublicURL, LinkKey: d.LinkKey, StaffEmail: d.StaffEmail}
	act(dsr.RecordPrivacyStep, privacy.RecordStepActivity)
	act(dsr.NotifyPrivacy, privacy.NotifyActivity)
	act(dsr.ExecutePrivacyRequest, privacy.ExecuteActivity)

	wf(channels.TokenRefresh, "TokenRefresh")
	ch := &channelsact.Activities{Grants: d.Grants, Retention: d.Retention, Temporal: d.Temporal}
	act(ch.ChannelTokenState, channels.TokenStateActivity)
	act(ch.RefreshChannelToken, channels.RefreshTokenActivity)
	wf(channels.DisconnectChannel, "DisconnectChannel")
	act(ch.RevokeChannelGrant, channels.RevokeGrantActivity)
	act(ch.MarkChannelDisconnected, channels.MarkDisconnectedActivity)
	act(ch.ScheduleChannelRetention, channels.ScheduleChannelRetentionAct)
	act(ch.ScheduledPostsOfChannel, channels.ScheduledPostsOfChannelActivity)
	act(ch.CancelChannelPost, channels.CancelChannelPostActivity)
}

// New returns a worker on Loomcast's task queue with everything registered.
func New(c client.Client, d Deps) sdkworker.Worker {
	w := sdkworker.New(c, workflows.TaskQueue, sdkworker.Options{})
	Register(w, d)
	return w
}
