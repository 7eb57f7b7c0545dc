package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/mail/smtptest"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/privacy/scan"
	"github.com/loomcast/loomcast/server/servertest"
)

// A parent's report: privacy staff record it and the account is erased
// through the PrivacyRequest process, the report kept with the request.
func TestChildReportErasesTheAccount(t *testing.T) {
	forEachDialect(t, servertest.Options{}, func(t *testing.T, env *servertest.Env) {
		env.StartWorker(nil)
		ctx := context.Background()
		kid := env.Client()
		u := kid.Register("kid@example.com", pw)
		upload := kid.Upload(1<<16, time.Second)
		staff := staffClient(t, env, "dpo@loomcast.example.com", models.RolePrivacy)
		support := staffClient(t, env, "help@loomcast.example.com", models.RoleSupport)
		report := map[string]any{"reporter_name": "Pat Parent", "reporter_contact": "pat@example.com",
			"statement": "My son is 12 and signed up without asking me.", "region": "FR"}
		path := "/v1/admin/users/" + u.ID + "/child-report"

		t.Run("only privacy staff may file it", func(t *testing.T) {
			r := support.Do(http.MethodPost, path, report)
			require.Equal(t, http.StatusForbidden, r.Status, "body: %s", r.Body)
			require.Contains(t, r.Problem(t).Detail, "privacy")
			r = kid.Do(http.MethodPost, path, report)
			require.Equal(t, http.StatusForbidden, r.Status, "body: %s", r.Body)
		})

		t.Run("what is missing is listed", func(t *testing.T) {
			r := staff.Do(http.MethodPost, path, map[string]any{"reporter_name": "Pat"})
			require.Equal(t, http.StatusBadRequest, r.Status, "body: %s", r.Body)
			p := r.Problem(t)
			require.Contains(t, p.Errors, "reporter_contact")
			require.Contains(t, p.Errors, "statement")
			require.Contains(t, p.Errors, "region")
		})

		t.Run("an unknown account is 404", func(t *testing.T) {
			r := staff.Do(http.MethodPost, "/v1/admin/users/nobody/child-report", report)
			require.Equal(t, http.StatusNotFound, r.Status, "body: %s", r.Body)
		})

		t.Run("the account is erased and the report kept", func(t *testing.T) {
			u0, err := env.Store.UserByID(ctx, u.ID)
			require.NoError(t, err)
			ids := scan.ForAccount(u0, nil)
			r := staff.Do(http.MethodPost, path, report)
			require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
			var filed struct {
				Request struct {
					ID     string `json:"id"`
					Type   string `json:"type"`
					Source string `json:"source"`
					UserID string `json:"user_id"`
				} `json:"request"`
			}
			r.JSON(t, &filed)
			require.Equal(t, "erasure", filed.Request.Type)
			require.Equal(t, "child_report", filed.Request.Source)
			require.Equal(t, u.ID, filed.Request.UserID)
			id := filed.Request.ID

			require.Eventually(t, func() bool {
				req, err := env.Store.PrivacyRequestByID(ctx, id)
				return err == nil && req.Status == loomcast.PrivacyClosed
			}, 60*time.Second, 200*time.Millisecond, "the erasure reaches closed")
			_, err = env.Store.UserByID(ctx, u.ID)
			require.ErrorIs(t, err, models.ErrNotFound, "the account is gone")
			traces, err := scan.Scan(ctx, env.Store.DB(), env.Store.Dialect(), env.Blob, ids,
				scan.Options{Exclude: []scan.Exclusion{{Table: "privacy_requests"}, {Table: "privacy_audit"}}})
			require.NoError(t, err)
			require.Empty(t, traces, "nothing of the child is left outside the request's own record")
			_, err = env.Store.UploadByID(ctx, upload)
			require.ErrorIs(t, err, models.ErrNotFound, "and its uploads")
			env.SMTP.WaitFor(t, func(m smtptest.Received) bool {
				return m.Header.Get("X-Loomcast-Kind") == "acknowledgement" && strings.Contains(m.Text, "A parent or guardian told us")
			}, 10*time.Second)

			var detail struct {
				Request struct {
					Status string `json:"status"`
					Source string `json:"source"`
				} `json:"request"`
				Audit []struct {
					Actor  string `json:"actor"`
					Action string `json:"action"`
					Detail string `json:"detail"`
				} `json:"audit"`
			}
			r = staff.Do(http.MethodGet, "/v1/admin/privacy/requests/"+id, nil)
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			r.JSON(t, &detail)
			require.Equal(t, "closed", detail.Request.Status)
			require.Equal(t, "child_report", detail.Request.Source)
			var recorded []string
			actions := make([]string, 0, len(detail.Audit))
			for _, a := range detail.Audit {
				actions = append(actions, a.Actor+" "+a.Action)
				if a.Action == "child report" {
					require.True(t, strings.HasPrefix(a.Actor, "staff:"), a.Actor)
					recorded = append(recorded, a.Detail)
				}
			}
			require.Len(t, recorded, 1, "the report is in the audit log: %v", actions)
			require.Contains(t, recorded[0], "Pat Parent")
			require.Contains(t, recorded[0], "pat@example.com")
			require.Contains(t, recorded[0], "My son is 12")
			require.Contains(t, strings.Join(actions, "\n"), "system closed")

			var events []models.SecurityEvent
			require.NoError(t, env.Store.DB().Where("kind = ?", "child_report").Find(&events).Error)
			require.Len(t, events, 1, "the action is in the security log, which outlives the erasure")
			require.Contains(t, events[0].Detail, id)
			require.NotEqual(t, u.ID, events[0].UserID, "the entry names the staff member, not the erased account")
		})
	})
}
