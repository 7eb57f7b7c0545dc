package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRunParts(t *testing.T) {
	untilDone := func(stopped *bool) func(context.Context) error {
		return func(ctx context.Context) error { <-ctx.Done(); *stopped = true; return nil }
	}

	tests := []struct {
		name    string
		failing func(context.Context) error
		cancel  bool
		wantErr string
	}{
		{name: "a failing part stops the others with its error",
			failing: func(context.Context) error { return errors.New("boom") }, wantErr: "relay: boom"},
		{name: "a part that returns on its own stops the others",
			failing: func(context.Context) error { return nil }, wantErr: "relay: stopped on its own"},
		{name: "an interrupt stops every part cleanly",
			failing: func(ctx context.Context) error { <-ctx.Done(); return nil }, cancel: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if tt.cancel {
				go cancel()
			}
			var apiStopped bool
			err := runParts(ctx, part{name: "api", run: untilDone(&apiStopped)}, part{name: "relay", run: tt.failing})
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			require.True(t, apiStopped, "the other part must have stopped before runParts returns")
			if !tt.cancel {
				require.NoError(t, ctx.Err(), "the failure, not the caller or the timeout, must stop the parts")
			}
		})
	}
}
