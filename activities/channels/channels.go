// Package channels holds the activities of a channel's token refresh
// and disconnect processes.
package channels

import (
	"context"
	"errors"
	"time"

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

func (a *Activities) now() time.Time {
	if a.Grants.Now != nil {
		return a.Grants.Now().UTC()
	}
	return time.Now().UTC()
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
	return a.restricted(ctx, ch, wf.TokenState{Active: true, AccessExpiresAt: *ch.AccessExpiresAt})
}

// RestrictedRecheck is how often the refresh of a channel whose owner
// restricted processing looks whether the restriction was lifted. Nothing
// is lost meanwhile: the token is refreshed on demand when it is next used.
const RestrictedRecheck = time.Hour

// restricted holds back the refresh of a channel whose owner restricted
// processing (GDPR art. 18: only storage): the state it reports makes the
// process wait an hour and look again.
func (a *Activities) restricted(ctx context.Context, ch models.Channel, st wf.TokenState) (wf.TokenState, error) {
	u, err := a.Grants.Store.UserByID(ctx, ch.UserID)
	if errors.Is(err, models.ErrNotFound) {
		return st, nil // the account is going: its channel goes with it
	}
	if err != nil || u.RestrictedAt == nil {
		return st, err
	}
	if later := a.now().Add(wf.RefreshMargin + RestrictedRecheck); st.AccessExpiresAt.Before(later) {
		st.AccessExpiresAt = later
	}
	return st, nil
}

// RefreshChannelToken refreshes the token. A revoked grant is not an
// error: the channel is marked and the state says it is no longer active.
func (a *Activities) RefreshChannelToken(ctx context.Context, in wf.ChannelInput) (wf.TokenState, error) {
	st, err := a.ChannelTokenState(ctx, in)
	if err != nil || !st.Active {
		return st, err
	}
	if !st.AccessExpiresAt.Before(a.now().Add(wf.RefreshMargin)) {
		return st, nil // not due: restricted, or refreshed meanwhile
	}
	ch, err := a.Grants.Refresh(ctx, in.ChannelID)
	switch {
	case errors.Is(err, grants.ErrReauthRequired), errors.Is(err, models.ErrNotFound):
		return wf.TokenState{}, nil
	case err != nil:
		return wf.TokenState{}, err
	}
	return wf.TokenState{Active: true, AccessExpiresAt: *ch.AccessExpiresAt}, nil
}
