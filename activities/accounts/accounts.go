// Package accounts holds the activities of the account processes: they record
// a closure and purge a closed account from the database.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/models"
	wf "github.com/loomcast/loomcast/workflows/accounts"
)

// Store is what these activities need of the database.
type Store interface {
	CloseUser(ctx context.Context, id string, at time.Time) (models.User, error)
	PurgeUser(ctx context.Context, id string) error
	AllUserChannels(ctx context.Context, userID string) ([]models.Channel, error)
}

// Activities are the account activities with their dependencies.
type Activities struct {
	Store Store
}

// RecordAccountClosure marks the account closed and ends its sessions and
// tokens. It is idempotent: the first closure time is kept.
func (a *Activities) RecordAccountClosure(ctx context.Context, in wf.RecordClosureInput) error {
	_, err := a.Store.CloseUser(ctx, in.UserID, in.ClosedAt)
	if errors.Is(err, models.ErrNotFound) {
		return nil // already purged: nothing left to close
	}
	if err != nil {
		return fmt.Errorf("record closure of %s: %w", in.UserID, err)
	}
	return nil
}

// PurgeAccount deletes the closed account and everything that hangs off it.
// Purging an account already gone succeeds.
func (a *Activities) PurgeAccount(ctx context.Context, in wf.PurgeInput) error {
	if err := a.Store.PurgeUser(ctx, in.UserID); err != nil {
		return fmt.Errorf("purge %s: %w", in.UserID, err)
	}
	return nil
}

// ConnectedChannels lists the account's channels not yet disconnected.
func (a *Activities) ConnectedChannels(ctx context.Context, in wf.ConnectedChannelsInput) (wf.ConnectedChannels, error) {
	chs, err := a.Store.AllUserChannels(ctx, in.UserID)
	if err != nil {
		return wf.ConnectedChannels{}, fmt.Errorf("channels of %s: %w", in.UserID, err)
	}
	out := wf.ConnectedChannels{}
	for _, ch := range chs {
		if ch.Status != loomcast.ChannelDisconnected {
			out.ChannelIDs = append(out.ChannelIDs, ch.ID)
		}
	}
	return out, nil
}
