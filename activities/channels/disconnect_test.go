package channels_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/loomcast/loomcast"
	channelsact "github.com/loomcast/loomcast/activities/channels"
	"github.com/loomcast/loomcast/grants"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/retention/scheduler"
	wf "github.com/loomcast/loomcast/workflows/channels"
	"github.com/loomcast/loomcast/workflows/posting"
)

type nopWaker struct{}

func (nopWaker) Wake(context.Context, retention.Category) error { return nil }

// updates answers the cancel Update as a PublishPost workflow would.
type updates struct {
	client.Client
	err  error
	sent []client.UpdateWorkflowOptions
}

func (u *updates) UpdateWorkflow(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	u.sent = append(u.sent, o)
	if u.err != nil {
		return nil, u.err
	}
	return doneUpdate{}, nil
}

type doneUpdate struct{ client.WorkflowUpdateHandle }

func (doneUpdate) Get(context.Context, any) error { return nil }

func TestDisconnectActivitiesAreIdempotent(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		u := &models.User{Email: "d@example.com"}
		require.NoError(t, store.CreateUser(ctx, u))
		// No platform clients: a revoke reaching the platform would panic.
		a := &channelsact.Activities{Grants: &grants.Manager{Store: store}, Retention: &scheduler.Scheduler{Store: store, Waker: nopWaker{}}}
		var suite testsuite.WorkflowTestSuite
		env := suite.NewTestActivityEnvironment()
		env.RegisterActivity(a)
		at := time.Now().UTC().Truncate(time.Second)

		for _, tt := range []struct {
			platform string
			category retention.Category
		}{
			{loomcast.TikTok, retention.ChannelData},
			{loomcast.YouTube, retention.YouTubeDataDisconnected},
		} {
			t.Run(tt.platform, func(t *testing.T) {
				ch := &models.Channel{UserID: u.ID, Platform: tt.platform, ExternalID: "ext-" + tt.platform, DisplayName: "C", Status: loomcast.ChannelActive}
				require.NoError(t, store.UpsertChannel(ctx, ch))
				in := wf.DisconnectStepInput{ChannelID: ch.ID, UserID: u.ID, Reason: "disconnected by you", At: at}
				for attempt := 0; attempt < 2; attempt++ {
					for _, fn := range []any{a.RevokeChannelGrant, a.MarkChannelDisconnected, a.ScheduleChannelRetention} {
						_, err := env.ExecuteActivity(fn, in)
						require.NoError(t, err, "attempt %d", attempt)
					}
				}
				got, err := store.ChannelByID(ctx, ch.ID)
				require.NoError(t, err)
				require.Equal(t, loomcast.ChannelDisconnected, got.Status)
				require.Nil(t, got.AccessTokenSealed)
				items, err := store.UpcomingRetention(ctx, string(tt.category), 10)
				require.NoError(t, err)
				require.Len(t, items, 1, "scheduled once, however often the step runs")
				require.Equal(t, ch.ID, items[0].ObjectID)
			})
		}

		t.Run("a channel that is gone is no error", func(t *testing.T) {
			in := wf.DisconnectStepInput{ChannelID: "gone", UserID: u.ID, At: at}
			for _, fn := range []any{a.RevokeChannelGrant, a.MarkChannelDisconnected, a.ScheduleChannelRetention} {
				_, err := env.ExecuteActivity(fn, in)
				require.NoError(t, err)
			}
		})
	})
}

func TestCancelChannelPost(t *testing.T) {
	tests := []struct {
		name          string
		err           error
		wantCancelled bool
		wantErr       bool
	}{
		{"cancelled", nil, true, false},
		{"already publishing", temporal.NewApplicationError("the post is publishing", posting.ErrTypePublishingStarted), false, false},
		{"workflow ended", serviceerror.NewNotFound("workflow not found"), false, false},
		{"temporal unavailable", errors.New("connection refused"), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := modelstest.Open(t, models.SQLite)
			up := &updates{err: tt.err}
			a := &channelsact.Activities{Grants: &grants.Manager{Store: store}, Temporal: up}
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestActivityEnvironment()
			env.RegisterActivity(a)
			v, err := env.ExecuteActivity(a.CancelChannelPost, wf.CancelChannelPostInput{ChannelID: "ch1", PostID: "p1"})
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			var got wf.CancelChannelPostResult
			require.NoError(t, v.Get(&got))
			require.Equal(t, tt.wantCancelled, got.Cancelled)
			require.Len(t, up.sent, 1)
			require.Equal(t, posting.PublishWorkflowID("p1"), up.sent[0].WorkflowID)
			require.Equal(t, posting.UpdateCancel, up.sent[0].UpdateName)
			req := up.sent[0].Args[0].(posting.CancelRequest)
			require.Contains(t, req.Reason, "disconnected")
		})
	}
}
