package server_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/retention/scheduler"
	"github.com/loomcast/loomcast/server/servertest"
	"github.com/loomcast/loomcast/workflows"
)

type retentionCategoryJSON struct {
	Category       string     `json:"category"`
	Enforced       bool       `json:"enforced"`
	WorkflowID     string     `json:"workflow_id"`
	Pending        int64      `json:"pending"`
	Held           int64      `json:"held"`
	NextDueAt      *time.Time `json:"next_due_at"`
	DeletedLastDay int64      `json:"deleted_last_day"`
	Source         string     `json:"source"`
	Period         string     `json:"period"`
	Enforcement    string     `json:"enforcement"`
}

type holdJSON struct {
	ID         string     `json:"id"`
	UserID     string     `json:"user_id"`
	Reason     string     `json:"reason"`
	PlacedBy   string     `json:"placed_by"`
	ReleasedAt *time.Time `json:"released_at"`
}

func staffClient(t *testing.T, env *servertest.Env, email, role string) *servertest.Client {
	c := env.Client()
	u := c.Register(email, "correct horse battery staple")
	require.NoError(t, env.Store.SetRole(context.Background(), u.ID, role))
	return c
}

// securityEventKinds lists the kinds of a user's security log, newest
// first.
func securityEventKinds(t *testing.T, env *servertest.Env, userID string) []string {
	t.Helper()
	events, err := env.Store.UserSecurityEvents(context.Background(), userID)
	require.NoError(t, err)
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, e.Kind)
	}
	return kinds
}

func TestRetentionStaffViewAndHolds(t *testing.T) {
	for _, d := range modelstest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			env := servertest.New(t, d, servertest.Options{})
			user := env.Client()
			u := user.Register("creator@example.com", "correct horse battery staple")
			uploadID := user.Upload(1<<16, time.Second)
			support := staffClient(t, env, "support@example.com", models.RoleSupport)
			privacy := staffClient(t, env, "privacy@example.com", models.RolePrivacy)

			require.Equal(t, http.StatusForbidden, user.Do(http.MethodGet, "/v1/admin/retention", nil).Status, "users are not staff")
			r := support.Do(http.MethodGet, "/v1/admin/retention", nil)
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			var view struct {
				Categories []retentionCategoryJSON `json:"categories"`
			}
			r.JSON(t, &view)
			byName := map[string]retentionCategoryJSON{}
			for _, c := range view.Categories {
				byName[c.Category] = c
			}
			require.Len(t, byName, len(retention.Policies), "every row of the policy table")
			uploads := byName[string(retention.Uploads)]
			require.True(t, uploads.Enforced)
			require.Equal(t, "retention-uploads", uploads.WorkflowID)
			require.Equal(t, int64(1), uploads.Pending)
			require.NotNil(t, uploads.NextDueAt)
			require.WithinDuration(t, env.Clock.Now().Add(24*time.Hour), *uploads.NextDueAt, time.Minute)
			require.NotEmpty(t, uploads.Source)
			require.False(t, byName[string(retention.SubscriptionRecords)].Enforced, "billing records join with billing")
			for cat, period := range map[retention.Category]string{retention.ServerLogs: "30 days", retention.SecurityLogs: "12 months"} {
				v := byName[string(cat)]
				require.Equal(t, period, v.Period, "%s", cat)
				require.Contains(t, v.Enforcement, "each row is deleted when its own period has run", "%s", cat)
			}
			require.NotContains(t, uploads.Enforcement, "bucket", "per-record categories have no buckets")

			r = support.Do(http.MethodGet, "/v1/admin/retention/uploads/upcoming?limit=10", nil)
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			var upcoming struct {
				Items []struct {
					ObjectID string `json:"object_id"`
					UserID   string `json:"user_id"`
					Held     bool   `json:"held"`
				} `json:"items"`
			}
			r.JSON(t, &upcoming)
			require.Len(t, upcoming.Items, 1)
			require.Equal(t, uploadID, upcoming.Items[0].ObjectID)
			require.Equal(t, u.ID, upcoming.Items[0].UserID)
			require.False(t, upcoming.Items[0].Held)
			require.Equal(t, http.StatusNotFound, support.Do(http.MethodGet, "/v1/admin/retention/nonsense/upcoming", nil).Status)
			require.Equal(t, http.StatusBadRequest, support.Do(http.MethodGet, "/v1/admin/retention/uploads/upcoming?limit=0", nil).Status)

			// Holds are the privacy team's.
			hold := map[string]string{"user_id": u.ID, "reason": "litigation hold, case 2026-17"}
			require.Equal(t, http.StatusForbidden, support.Do(http.MethodPost, "/v1/admin/holds", hold).Status)
			for name, body := range map[string]map[string]string{
				"no reason":        {"user_id": u.ID},
				"two targets":      {"user_id": u.ID, "category": "uploads", "object_id": uploadID, "reason": "x"},
				"no target":        {"reason": "x"},
				"unknown category": {"category": "nonsense", "object_id": "1", "reason": "x"},
				"category alone":   {"category": "uploads", "reason": "x"},
			} {
				r := privacy.Do(http.MethodPost, "/v1/admin/holds", body)
				require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", name, r.Body)
			}
			require.Equal(t, http.StatusNotFound, privacy.Do(http.MethodPost, "/v1/admin/holds", map[string]string{"user_id": "no-such-user", "reason": "x"}).Status)

			r = privacy.Do(http.MethodPost, "/v1/admin/holds", hold)
			require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
			var h holdJSON
			r.JSON(t, &h)
			require.Equal(t, u.ID, h.UserID)
			require.NotEmpty(t, h.PlacedBy)
			support.Do(http.MethodGet, "/v1/admin/retention/uploads/upcoming", nil).JSON(t, &upcoming)
			require.True(t, upcoming.Items[0].Held, "the user's items show as held")
			support.Do(http.MethodGet, "/v1/admin/retention", nil).JSON(t, &view)
			i := slices.IndexFunc(view.Categories, func(c retentionCategoryJSON) bool { return c.Category == string(retention.Uploads) })
			require.NotEqual(t, -1, i, "the uploads category is listed: %+v", view.Categories)
			require.Equal(t, int64(1), view.Categories[i].Held)
			var list struct {
				Holds []holdJSON `json:"holds"`
			}
			privacy.Do(http.MethodGet, "/v1/admin/holds", nil).JSON(t, &list)
			require.Len(t, list.Holds, 1)

			r = privacy.Do(http.MethodDelete, "/v1/admin/holds/"+h.ID, nil)
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			r.JSON(t, &h)
			require.NotNil(t, h.ReleasedAt)
			require.Equal(t, http.StatusNotFound, privacy.Do(http.MethodDelete, "/v1/admin/holds/"+h.ID, nil).Status, "released once")
			privacy.Do(http.MethodGet, "/v1/admin/holds", nil).JSON(t, &list)
			require.Empty(t, list.Holds)
			privacy.Do(http.MethodGet, "/v1/admin/holds?all=true", nil).JSON(t, &list)
			require.Len(t, list.Holds, 1)
		})
	}
}

// On the real stack: a closed account whose grace has ended is purged by
// the retention engine, with its files and its workflow executions, and
// another account is untouched.
func TestClosedAccountPurgeDeletesItsExecutions(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	env.StartWorker(nil)
	ctx := context.Background()
	c := env.Client()
	u := c.Register("leaving@example.com", "correct horse battery staple")
	uploadID := c.Upload(1<<16, time.Second)
	other := env.Client()
	o := other.Register("staying@example.com", "correct horse battery staple")
	otherUpload := other.Upload(1<<16, time.Second)

	r := c.Do(http.MethodDelete, "/v1/me", map[string]string{"password": "correct horse battery staple"})
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	query := fmt.Sprintf("%s = %q", workflows.UserIDKey.GetName(), u.ID)
	require.Eventually(t, func() bool {
		resp, err := env.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		return err == nil && len(resp.GetExecutions()) > 0
	}, 10*time.Second, 100*time.Millisecond, "the closure process is visible")
	require.Eventually(t, func() bool {
		items, err := env.Store.UpcomingRetention(ctx, string(retention.ClosedAccounts), 10)
		return err == nil && len(items) == 1
	}, 10*time.Second, 50*time.Millisecond, "the closure starts the grace clock")

	// The grace ends now: move the clock's start 30 days back.
	sched := &scheduler.Scheduler{Store: env.Store, Waker: scheduler.TemporalWaker{Client: env.Temporal}}
	require.NoError(t, sched.Schedule(ctx, scheduler.Item{Category: retention.ClosedAccounts, ObjectID: u.ID, UserID: u.ID,
		Start: time.Now().Add(-30 * 24 * time.Hour)}))

	require.Eventually(t, func() bool {
		_, err := env.Store.UserByID(ctx, u.ID)
		return err != nil
	}, 20*time.Second, 100*time.Millisecond, "the account is purged")
	require.Eventually(t, func() bool {
		resp, err := env.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		return err == nil && len(resp.GetExecutions()) == 0
	}, 30*time.Second, 200*time.Millisecond, "the account's workflow executions are deleted")
	keys, err := env.Blob.List(ctx, "uploads/"+u.ID+"/")
	require.NoError(t, err)
	require.Empty(t, keys, "its files are deleted")
	_, err = env.Store.UploadByID(ctx, uploadID)
	require.ErrorIs(t, err, models.ErrNotFound)

	_, err = env.Store.UserByID(ctx, o.ID)
	require.NoError(t, err, "another account is untouched")
	up, err := env.Store.UploadByID(ctx, otherUpload)
	require.NoError(t, err)
	require.Nil(t, up.DeletedAt)
}

// Marketing consent is recorded with its time, and its clock (24 months
// without activity) starts with it; sign-ins and requests are logged with
// their own clocks.
func TestMarketingConsentAndLogsStartTheirClocks(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	ctx := context.Background()
	c := env.Client()
	u := c.Register("fan@example.com", "correct horse battery staple")
	r := c.Do(http.MethodPatch, "/v1/me", map[string]any{"marketing_emails": true})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var me struct {
		MarketingEmails    bool       `json:"marketing_emails"`
		MarketingUpdatedAt *time.Time `json:"marketing_updated_at"`
	}
	r.JSON(t, &me)
	require.True(t, me.MarketingEmails)
	require.NotNil(t, me.MarketingUpdatedAt)
	items, err := env.Store.UpcomingRetention(ctx, string(retention.Marketing), 10)
	require.NoError(t, err)
	require.Len(t, items, 1)
	require.Equal(t, u.ID, items[0].ObjectID)
	require.True(t, items[0].DueAt.After(env.Clock.Now().AddDate(0, 23, 0)), "24 months, due %s", items[0].DueAt)

	other := env.Client()
	require.Equal(t, http.StatusUnauthorized, other.Login("fan@example.com", "wrong password").Status)
	require.Equal(t, http.StatusOK, other.Login("fan@example.com", "correct horse battery staple").Status)
	kinds := securityEventKinds(t, env, u.ID)
	require.Contains(t, kinds, "login_failed")
	require.Contains(t, kinds, "login")
	for _, cat := range []retention.Category{retention.SecurityLogs, retention.Sessions} {
		items, err := env.Store.UpcomingRetention(ctx, string(cat), 10)
		require.NoError(t, err)
		require.NotEmpty(t, items, "%s have their bucket's clock", cat)
	}
	require.Eventually(t, func() bool {
		logs, err := env.Store.UserRequestLogs(ctx, u.ID)
		items, ierr := env.Store.UpcomingRetention(ctx, string(retention.ServerLogs), 10)
		return err == nil && ierr == nil && len(logs) > 0 && len(items) > 0
	}, 5*time.Second, 50*time.Millisecond, "request lines are written in the background with their clock")
}
