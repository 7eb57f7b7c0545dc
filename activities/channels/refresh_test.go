package channels_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/loomcast/loomcast"
	channelsact "github.com/loomcast/loomcast/activities/channels"
	"github.com/loomcast/loomcast/grants"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	wf "github.com/loomcast/loomcast/workflows/channels"
)

// While its owner restricts processing, a channel's token is not
// refreshed: the process is told to look again an hour later, and once the
// restriction is lifted the refresh is due again.
func TestNoRefreshWhileRestricted(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
		u := &models.User{Email: "r@example.com"}
		require.NoError(t, store.CreateUser(ctx, u))
		ch := &models.Channel{UserID: u.ID, Platform: loomcast.TikTok, ExternalID: "open-r", DisplayName: "C", Status: loomcast.ChannelActive}
		require.NoError(t, store.UpsertChannel(ctx, ch))
		expires := now.Add(time.Minute)
		sealed := "sealed"
		require.NoError(t, store.StoreChannelTokens(ctx, ch.ID, models.ChannelTokens{AccessSealed: sealed, RefreshSealed: sealed, AccessExpiresAt: expires}))
		require.NoError(t, store.SetRestricted(ctx, u.ID, &now))
		// No platform clients and no vault: a refresh reaching the
		// platform would fail the test.
		a := &channelsact.Activities{Grants: &grants.Manager{Store: store, Now: func() time.Time { return now }}}
		var suite testsuite.WorkflowTestSuite
		env := suite.NewTestActivityEnvironment()
		env.RegisterActivity(a)
		in := wf.ChannelInput{ChannelID: ch.ID}
		later := now.Add(wf.RefreshMargin + channelsact.RestrictedRecheck)

		for name, fn := range map[string]any{"state": a.ChannelTokenState, "refresh": a.RefreshChannelToken} {
			t.Run(name, func(t *testing.T) {
				v, err := env.ExecuteActivity(fn, in)
				require.NoError(t, err)
				var st wf.TokenState
				require.NoError(t, v.Get(&st))
				require.True(t, st.Active)
				require.True(t, st.AccessExpiresAt.Equal(later), "looks again in an hour: %s", st.AccessExpiresAt)
			})
		}
		got, err := store.ChannelByID(ctx, ch.ID)
		require.NoError(t, err)
		require.True(t, got.AccessExpiresAt.Equal(expires), "nothing was refreshed")

		require.NoError(t, store.SetRestricted(ctx, u.ID, nil))
		v, err := env.ExecuteActivity(a.ChannelTokenState, in)
		require.NoError(t, err)
		var st wf.TokenState
		require.NoError(t, v.Get(&st))
		require.True(t, st.AccessExpiresAt.Equal(expires), "lifted: the refresh is due at once")
	})
}
