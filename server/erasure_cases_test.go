package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/mail/smtptest"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/privacy/scan"
	"github.com/loomcast/loomcast/server/servertest"
)

// fileErasure files a signed-in erasure and returns its ID.
func fileErasure(t *testing.T, c *servertest.Client) string {
	t.Helper()
	r := c.Do(http.MethodPost, "/v1/privacy/requests", map[string]any{"type": "erasure", "region": "FR", "password": pw})
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	var p privacyJSON
	r.JSON(t, &p)
	return p.ID
}

// An agency and its creator both connected the same TikTok account (in
// the sandbox every TikTok channel is the same creator). Erasing the
// creator completes; the agency's channel and posts are untouched, and the
// only traces of the creator left are that account's own records, which
// the answer counts.
func TestErasureWithASharedPlatformAccount(t *testing.T) {
	for _, d := range modelstest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			env := servertest.New(t, d, servertest.Options{})
			ctx := context.Background()
			creator := env.Client()
			u := creator.Register("creator@example.com", pw)
			creatorChannel := creator.ConnectChannel("tiktok")
			agency := env.Client()
			agency.Register("agency@example.com", pw)
			agencyChannel := agency.ConnectChannel("tiktok")
			require.Equal(t, externalID(t, env, creatorChannel), externalID(t, env, agencyChannel), "the same TikTok account")
			r := agency.Do(http.MethodPost, "/v1/posts", map[string]any{"channel_id": agencyChannel, "upload_id": agency.Upload(1<<16, time.Second),
				"caption": "for the creator", "privacy": "SELF_ONLY", "scheduled_at": env.Clock.Now().Add(6 * time.Hour).Format(time.RFC3339)})
			require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
			var post struct {
				ID string `json:"id"`
			}
			r.JSON(t, &post)
			u0, err := env.Store.UserByID(ctx, u.ID)
			require.NoError(t, err)
			channels, err := env.Store.UserChannels(ctx, u.ID)
			require.NoError(t, err)
			ids := scan.ForAccount(u0, channels)

			req := waitForStored(t, env, fileErasure(t, creator), loomcast.PrivacyClosed)
			require.Contains(t, req.Answer, "also connected to another Loomcast account")

			ch, err := env.Store.ChannelByID(ctx, agencyChannel)
			require.NoError(t, err)
			require.Equal(t, loomcast.ChannelActive, ch.Status, "the agency's channel is untouched")
			require.NotNil(t, ch.AccessTokenSealed)
			p, err := env.Store.PostByID(ctx, post.ID)
			require.NoError(t, err)
			require.Equal(t, loomcast.PostScheduled, p.Status, "the agency's post is untouched")

			// Only the shared account's own records are left: the agency's
			// channel, and the platform's notifications about the account.
			requireErased(t, env, u.ID, ids, func(tr scan.Trace) bool {
				return tr.Identifier == "tiktok account ID" &&
					((tr.Table == "channels" && tr.RowKey == agencyChannel) || tr.Table == "webhook_events")
			})
		})
	}
}

// A trace nothing explains (here another user's caption naming the
// person's address) is not retried for ever: the request goes to staff
// review with the findings and the privacy team is mailed.
func TestErasureWithAnUnexplainedTrace(t *testing.T) {
	for _, d := range modelstest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			env := servertest.New(t, d, servertest.Options{})
			ctx := context.Background()
			leaving := env.Client()
			leaving.Register("leaving@example.com", pw)
			other := env.Client()
			other.Register("other@example.com", pw)
			channel := other.ConnectChannel("youtube")
			r := other.Do(http.MethodPost, "/v1/posts", map[string]any{"channel_id": channel, "upload_id": other.Upload(1<<16, time.Second),
				"caption": "with leaving@example.com", "privacy": "private", "scheduled_at": env.Clock.Now().Add(6 * time.Hour).Format(time.RFC3339)})
			require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)

			id := fileErasure(t, leaving)
			waitForStored(t, env, id, loomcast.PrivacyInReview)
			m := env.SMTP.WaitFor(t, func(m smtptest.Received) bool {
				return m.Header.Get("X-Loomcast-Kind") == "needs_review" && m.To[0] == servertest.StaffEmail
			}, 20*time.Second)
			require.Contains(t, m.Text, "posts", "the findings name where the trace is")
			// The mail's activity may still be completing; then nothing is
			// pending, and the execution is not tried again.
			pending := func() int {
				desc, err := env.Temporal.DescribeWorkflowExecution(ctx, "dsr-"+id, "")
				require.NoError(t, err)
				return len(desc.GetPendingActivities())
			}
			require.Eventually(t, func() bool { return pending() == 0 }, 10*time.Second, 50*time.Millisecond, "the request waits for staff")
			require.Never(t, func() bool { return pending() > 0 }, 2*time.Second, 100*time.Millisecond, "nothing retries while staff decide")
			staff := staffClient(t, env, "dpo@example.com", models.RolePrivacy)
			require.Contains(t, auditActions(t, staff, id), "system sent to review: could not be carried out")
		})
	}
}
