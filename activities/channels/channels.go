// Package channels holds the activities of a channel's token refresh
// and disconnect processes.
package channels

import (
	"context"
	"errors"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/grants"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/retention/scheduler"
	wf "github.com/loomcast/loomcast/workflows/channels"
	"go.temporal.io/sdk/client"
)

// Activities are the token refresh and disconnect processes' activities.
type Activities struct {
	Grants *grants.Manager
	// Retention starts a disconnected channel's retention clock; Temporal
	// sends the cancel Update to the channel's scheduled posts.
	Retention *scheduler.Scheduler
	Temporal  client.Client
}

// ChannelTokenState reports whether the channel is active and when its
// access token expires.
func (a *Activities) ChannelTokenState(ctx context.Context, in wf.ChannelInput) (wf.TokenState, error) {
	ch, err := a.Grants.Store.ChannelByID(ctx, in.ChannelID)
	if errors.Is(err, models.ErrNotFound) {
		return wf.TokenState{}, nil
	}
	if err != nil {
		return wf.TokenState{}, err
	}
	if ch.Status != loomcast.ChannelActive || ch.AccessExpiresAt == nil {
		return wf.TokenState{}, nil
	}
	return wf.TokenState{Active: true, AccessExpiresAt: *ch.AccessExpiresAt}, nil
}

// RefreshChannelToken refreshes the token. A revoked grant is not an
// error: the channel is marked and the state says it is no longer active.
func (a *Activities) RefreshChannelToken(ctx context.Context, in wf.ChannelInput) (wf.TokenState, error) {
	ch, err := a.Grants.Refresh(ctx, in.ChannelID)
	switch {
	case errors.Is(err, grants.ErrReauthRequired), errors.Is(err, models.ErrNotFound):
		return wf.TokenState{}, nil
	case err != nil:
		return wf.TokenState{}, err
	}
	return wf.TokenState{Active: true, AccessExpiresAt: *ch.AccessExpiresAt}, nil
}
