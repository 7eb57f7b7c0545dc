package privacy

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/grants"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/privacy/scan"
	"github.com/loomcast/loomcast/retention"
	wf "github.com/loomcast/loomcast/workflows/privacy"
)

// crashingExecutions fails the first deletion, as a worker killed in the
// middle of an erasure would.
type crashingExecutions struct {
	crashes    int
	deleted    []string
	terminated []string
}

func (c *crashingExecutions) DeleteUserExecutions(_ context.Context, userID string) (int, error) {
	if c.crashes > 0 {
		c.crashes--
		return 0, errors.New("worker lost")
	}
	c.deleted = append(c.deleted, userID)
	return 1, nil
}

func (c *crashingExecutions) TerminateUserExecutions(_ context.Context, userID, _ string) (int, error) {
	c.terminated = append(c.terminated, userID)
	return 0, nil
}

// An erasure interrupted after the database was cleared resumes on retry
// (the identifiers to check were kept with the request) and ends clean;
// another user's data is untouched.
func TestErasureResumesAfterACrash(t *testing.T) {
	noLag(t)
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		b, err := blob.NewLocal(t.TempDir())
		require.NoError(t, err)
		execs := &crashingExecutions{crashes: 1}
		a := &Activities{Store: store, Blob: b, Grants: &grants.Manager{Store: store}, Executions: execs}

		mk := func(email string) (models.User, models.Channel) {
			u := &models.User{Email: email}
			require.NoError(t, store.CreateUser(ctx, u))
			ch := &models.Channel{UserID: u.ID, Platform: loomcast.TikTok, ExternalID: "open-" + email, DisplayName: "C", Status: loomcast.ChannelActive}
			require.NoError(t, store.UpsertChannel(ctx, ch))
			_, err := b.Put(ctx, "uploads/"+u.ID+"/clip", strings.NewReader("bytes"))
			require.NoError(t, err)
			require.NoError(t, store.CreateUpload(ctx, &models.Upload{ID: models.NewID(), UserID: u.ID, BlobKey: "uploads/" + u.ID + "/clip", Size: 5, ContentType: "video/mp4"}))
			_, err = store.InsertWebhookEvent(ctx, &models.WebhookEvent{Source: models.SourceTikTok, EventKey: email, EventType: "post.publish.complete",
				Account: ch.ExternalID, Payload: `{"user_openid":"` + ch.ExternalID + `"}`})
			require.NoError(t, err)
			require.NoError(t, store.InsertSecurityEvent(ctx, &models.SecurityEvent{Kind: "login", UserID: u.ID}))
			require.NoError(t, store.RecordConsent(ctx, models.Consent{UserID: u.ID, Purpose: models.PurposeMarketingEmails, Granted: true, Source: "test"}))
			return *u, *ch
		}
		u, ch := mk("gone@example.com")
		other, _ := mk("kept@example.com")
		req := &models.PrivacyRequest{UserID: u.ID, Email: u.Email, Type: wf.TypeErasure, FiledAs: "erasure", Regime: "gdpr", Source: "account", Status: loomcast.PrivacyExecuting}
		_, err = store.CreatePrivacyRequest(ctx, req)
		require.NoError(t, err)

		var suite testsuite.WorkflowTestSuite
		env := suite.NewTestActivityEnvironment()
		env.RegisterActivity(a.ExecutePrivacyRequest)
		_, err = env.ExecuteActivity(a.ExecutePrivacyRequest, wf.ExecuteInput{RequestID: req.ID})
		require.ErrorContains(t, err, "worker lost", "the first attempt dies after the database was cleared")
		_, err = store.UserByID(ctx, u.ID)
		require.ErrorIs(t, err, models.ErrNotFound)

		val, err := env.ExecuteActivity(a.ExecutePrivacyRequest, wf.ExecuteInput{RequestID: req.ID})
		require.NoError(t, err, "the retry resumes and ends clean")
		var res wf.ExecuteResult
		require.NoError(t, val.Get(&res))
		require.Len(t, res.Restricted, 2)
		require.Equal(t, []string{u.ID}, execs.terminated, "running processes stopped first")
		require.Equal(t, []string{u.ID}, execs.deleted)

		ids := scan.ForAccount(u, []models.Channel{ch})
		traces, err := scan.Scan(ctx, store.DB(), store.Dialect(), b, ids,
			scan.Options{Exclude: []scan.Exclusion{{Table: "privacy_requests"}, {Table: "privacy_audit"}}})
		require.NoError(t, err)
		require.Empty(t, traces)

		otherIDs := scan.ForAccount(other, nil)
		traces, err = scan.Scan(ctx, store.DB(), store.Dialect(), b, otherIDs, scan.Options{})
		require.NoError(t, err)
		require.NotEmpty(t, traces, "the other user's data is all still there")
	})
}

// Two accounts that connected the same TikTok account (an agency and its
// creator) both hold its open_id. Erasing one completes: the other's
// channel and the platform's notifications about the account are that
// account's own, left in place and counted in the answer.
func TestErasureLeavesASharedPlatformAccountToItsOtherHolder(t *testing.T) {
	noLag(t)
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		a, b := eraser(t, store, "", &crashingExecutions{})
		const openID = "open-shared-creator"
		mk := func(email string) (models.User, models.Channel) {
			u := &models.User{Email: email}
			require.NoError(t, store.CreateUser(ctx, u))
			ch := &models.Channel{UserID: u.ID, Platform: loomcast.TikTok, ExternalID: openID, DisplayName: "Creator", Status: loomcast.ChannelActive}
			require.NoError(t, store.UpsertChannel(ctx, ch))
			return *u, *ch
		}
		agency, agencyChannel := mk("agency@example.com")
		creator, creatorChannel := mk("creator@example.com")
		_, err := store.InsertWebhookEvent(ctx, &models.WebhookEvent{Source: models.SourceTikTok, EventKey: "e1", EventType: "post.publish.complete",
			Account: openID, Payload: `{"user_openid":"` + openID + `"}`})
		require.NoError(t, err)
		req := erasureOf(t, store, creator, "account")

		res, err := execute(a, req.ID)
		require.NoError(t, err, "the erasure completes")
		require.Equal(t, 3, res.Shared, "the agency's channel (external_id) and the stored notification (account, payload)")
		require.Contains(t, res.Answer, "another Loomcast account")

		_, err = store.UserByID(ctx, creator.ID)
		require.ErrorIs(t, err, models.ErrNotFound, "the creator's account is gone")
		_, err = store.ChannelByID(ctx, creatorChannel.ID)
		require.ErrorIs(t, err, models.ErrNotFound, "and its channel")
		got, err := store.ChannelByID(ctx, agencyChannel.ID)
		require.NoError(t, err, "the agency's channel is untouched")
		require.Equal(t, agency.ID, got.UserID)
		events, err := store.WebhookEvents(ctx, models.WebhookFilter{Source: models.SourceTikTok, Account: openID, Limit: 10})
		require.NoError(t, err)
		require.Len(t, events, 1, "the agency's notifications stay")

		// Nothing of the creator is left but what the shared account holds.
		ids := scan.ForAccount(creator, nil)
		traces, err := scan.Scan(ctx, store.DB(), store.Dialect(), b, ids,
			scan.Options{Exclude: []scan.Exclusion{{Table: "privacy_requests"}, {Table: "privacy_audit"}}})
		require.NoError(t, err)
		require.Empty(t, traces)
	})
}

// The restricted records are only the request's own: the person's earlier
// requests are kept as evidence and named in the answer, not skipped
// unseen; no folder named after the person is left in the file store.
func TestErasureNamesEarlierRequestsAndLeavesNoFolder(t *testing.T) {
	noLag(t)
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		root := t.TempDir()
		a, b := eraser(t, store, root, &crashingExecutions{})
		u := &models.User{Email: "twice@example.com"}
		require.NoError(t, store.CreateUser(ctx, u))
		_, err := b.Put(ctx, "uploads/"+u.ID+"/clip", strings.NewReader("bytes"))
		require.NoError(t, err)
		earlier := &models.PrivacyRequest{UserID: u.ID, Email: u.Email, Type: wf.TypeAccess, FiledAs: "access", Regime: "gdpr", Source: "account", Status: loomcast.PrivacyClosed}
		_, err = store.CreatePrivacyRequest(ctx, earlier)
		require.NoError(t, err)
		require.NoError(t, store.AppendPrivacyAudit(ctx, models.PrivacyAudit{RequestID: earlier.ID, Actor: "system", Action: "answered", Detail: "sent to " + u.Email}))
		req := erasureOf(t, store, *u, "account")
		require.NoError(t, store.AppendPrivacyAudit(ctx, models.PrivacyAudit{RequestID: req.ID, Actor: u.ID, Action: "filed", Detail: u.Email}))

		res, err := execute(a, req.ID)
		require.NoError(t, err, "the erasure completes")
		require.Len(t, res.Restricted, 3, "the request's record, its audit log, and the earlier request")
		require.Contains(t, res.Restricted[2], earlier.ID)
		require.Contains(t, res.Answer, earlier.ID, "the answer names the earlier request")
		require.NoDirExists(t, filepath.Join(root, "uploads", u.ID), "no folder named after the person")

		traces, err := scan.Scan(ctx, store.DB(), store.Dialect(), b, scan.ForAccount(*u, nil), scan.Options{})
		require.NoError(t, err)
		require.NotEmpty(t, traces)
		for _, tr := range traces {
			require.Contains(t, []string{"privacy_requests", "privacy_audit"}, tr.Table, "only the restricted records remain: %s", tr)
		}
	})
}

// An erasure during an account's 30-day closure grace completes at once:
// the pending purge, which names the person, goes with the account.
func TestErasureDuringTheClosureGrace(t *testing.T) {
	noLag(t)
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		a, _ := eraser(t, store, "", &crashingExecutions{})
		u := &models.User{Email: "leaving@example.com"}
		require.NoError(t, store.CreateUser(ctx, u))
		closedAt := time.Now().UTC()
		_, err := store.CloseUser(ctx, u.ID, closedAt)
		require.NoError(t, err)
		require.NoError(t, store.ScheduleRetention(ctx, []models.RetentionItem{{Category: string(retention.ClosedAccounts), ObjectID: u.ID,
			UserID: u.ID, DueAt: closedAt.Add(30 * 24 * time.Hour)}}))
		req := erasureOf(t, store, *u, "public")

		_, err = execute(a, req.ID)
		require.NoError(t, err, "the erasure completes without waiting for the grace to end")
		items, err := store.UpcomingRetention(ctx, string(retention.ClosedAccounts), 10)
		require.NoError(t, err)
		require.Empty(t, items, "the pending purge is gone")
	})
}

// An erasure while an announcement is being mailed, its cursor at the
// person, completes: the cursor moves to the account before, so the
// person's ID is left nowhere and nobody is mailed twice.
func TestErasureDuringAnAnnouncement(t *testing.T) {
	noLag(t)
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		a, _ := eraser(t, store, "", &crashingExecutions{})
		before := &models.User{Email: "before@example.com"}
		require.NoError(t, store.CreateUser(ctx, before))
		u := &models.User{Email: "reader@example.com"}
		require.NoError(t, store.CreateUser(ctx, u))
		an := &models.Announcement{Purpose: models.PurposeProductUpdates, Subject: "News", Body: "Hello", Status: loomcast.AnnouncementSending,
			LastUserID: u.ID, CreatedAt: time.Now()}
		require.NoError(t, store.CreateAnnouncement(ctx, an))
		req := erasureOf(t, store, *u, "account")

		_, err := execute(a, req.ID)
		require.NoError(t, err, "the completeness check finds nothing of the person")
		got, err := store.AnnouncementByID(ctx, an.ID)
		require.NoError(t, err)
		require.Equal(t, before.ID, got.LastUserID)
	})
}

// The check refuses to close an erasure while a trace remains.
func TestErasureFailsWhileATraceRemains(t *testing.T) {
	noLag(t)
	ctx := context.Background()
	store := modelstest.Open(t, models.SQLite)
	b, err := blob.NewLocal(t.TempDir())
	require.NoError(t, err)
	a := &Activities{Store: store, Blob: b, Grants: &grants.Manager{Store: store}, Executions: &crashingExecutions{}}
	u := &models.User{Email: "sticky@example.com"}
	require.NoError(t, store.CreateUser(ctx, u))
	req := &models.PrivacyRequest{UserID: u.ID, Email: u.Email, Type: wf.TypeErasure, FiledAs: "erasure", Regime: "gdpr", Source: "account", Status: loomcast.PrivacyExecuting}
	_, err = store.CreatePrivacyRequest(ctx, req)
	require.NoError(t, err)
	// A table nobody told erasure about still holds the email.
	require.NoError(t, store.DB().Exec("CREATE TABLE stray_notes (id TEXT PRIMARY KEY, body TEXT)").Error)
	require.NoError(t, store.DB().Exec("INSERT INTO stray_notes VALUES ('n1', 'call sticky@example.com')").Error)

	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a.ExecutePrivacyRequest)
	_, err = env.ExecuteActivity(a.ExecutePrivacyRequest, wf.ExecuteInput{RequestID: req.ID})
	require.ErrorContains(t, err, "erasure incomplete")
	require.ErrorContains(t, err, "stray_notes")
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, wf.ErrTypeErasureIncomplete, appErr.Type())
	require.True(t, appErr.NonRetryable(), "retrying would not remove the trace: the request goes to staff")
}

// eraser returns the privacy activities on store, with a local blob store
// at root (a new temporary folder when root is empty) and execs.
func eraser(t *testing.T, store *models.Store, root string, execs Executions) (*Activities, *blob.Local) {
	t.Helper()
	if root == "" {
		root = t.TempDir()
	}
	b, err := blob.NewLocal(root)
	require.NoError(t, err)
	return &Activities{Store: store, Blob: b, Grants: &grants.Manager{Store: store}, Executions: execs}, b
}

// erasureOf files an erasure request for u, as it is once executing.
func erasureOf(t *testing.T, store *models.Store, u models.User, source string) *models.PrivacyRequest {
	t.Helper()
	req := &models.PrivacyRequest{UserID: u.ID, Email: u.Email, Type: wf.TypeErasure, FiledAs: "erasure", Regime: "gdpr", Source: source, Status: loomcast.PrivacyExecuting}
	_, err := store.CreatePrivacyRequest(context.Background(), req)
	require.NoError(t, err)
	return req
}

// execute runs ExecutePrivacyRequest once, as the worker would.
func execute(a *Activities, requestID string) (wf.ExecuteResult, error) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a.ExecutePrivacyRequest)
	val, err := env.ExecuteActivity(a.ExecutePrivacyRequest, wf.ExecuteInput{RequestID: requestID})
	if err != nil {
		return wf.ExecuteResult{}, err
	}
	var res wf.ExecuteResult
	return res, val.Get(&res)
}

// noLag drops the wait for the API's request log: these tests have none.
func noLag(t *testing.T) {
	old := LogFlushLag
	LogFlushLag = 0
	t.Cleanup(func() { LogFlushLag = old })
}
