// Package channels owns the durable processes of a connected channel:
// TokenRefresh keeps its access token fresh, sleeping until shortly before
// it expires, until the channel is disconnected or its grant is revoked;
// DisconnectChannel disconnects it (disconnect.go).
package channels

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// TokenRefreshWorkflowID is the one refresh process of a channel.
func TokenRefreshWorkflowID(channelID string) string { return "token-refresh-" + channelID }

// RefreshMargin is how long before expiry a token is refreshed.
const RefreshMargin = 10 * time.Minute

// SignalDisconnect ends the refresh process (the channel was disconnected).
const SignalDisconnect = "disconnect"

// RefreshInput starts a channel's refresh process.
type RefreshInput struct {
	ChannelID string
	UserID    string
	// Refreshes counts refreshes across continue-as-new, for the record.
	Refreshes int
}

// ChannelInput names the channel an activity works on.
type ChannelInput struct {
	ChannelID string
}

// TokenState is what the activities report of a channel's token.
type TokenState struct {
	// Active is false once the channel is disconnected or needs reauthorization.
	Active          bool
	AccessExpiresAt time.Time
}

// Activity names.
const (
	TokenStateActivity   = "ChannelTokenState"
	RefreshTokenActivity = "RefreshChannelToken"
)

// refreshesPerRun bounds the history of one run before continuing as new.
const refreshesPerRun = 100

// TokenRefresh refreshes the channel's access token shortly before each
// expiry. Transient failures retry with backoff for as long as it takes and
// never mark the channel broken; a revoked grant ends the process (the
// activity marks the channel reauth_required).
func TokenRefresh(ctx workflow.Context, in RefreshInput) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute,
		},
	})
	disconnected := false
	sig := workflow.GetSignalChannel(ctx, SignalDisconnect)
	workflow.Go(ctx, func(ctx workflow.Context) {
		sig.Receive(ctx, nil)
		disconnected = true
	})
	for run := 0; ; run++ {
		var st TokenState
		if err := workflow.ExecuteActivity(ctx, TokenStateActivity, ChannelInput{ChannelID: in.ChannelID}).Get(ctx, &st); err != nil {
			return err
		}
		if !st.Active || disconnected {
			return nil
		}
		if wait := st.AccessExpiresAt.Add(-RefreshMargin).Sub(workflow.Now(ctx)); wait > 0 {
			if _, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return disconnected }); err != nil {
				return err
			}
			if disconnected {
				return nil
			}
		}
		if err := workflow.ExecuteActivity(ctx, RefreshTokenActivity, ChannelInput{ChannelID: in.ChannelID}).Get(ctx, &st); err != nil {
			return err
		}
		in.Refreshes++
		if !st.Active {
			return nil
		}
		if run+1 >= refreshesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return workflow.NewContinueAsNewError(ctx, TokenRefresh, in)
		}
	}
}
