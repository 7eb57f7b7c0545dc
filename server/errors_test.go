package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/loomcast/loomcast/internal/contractscan"
	"github.com/loomcast/loomcast/models"
)

// contractErrorTypes reads every exported ErrType* string constant of the
// workflow contracts (../workflows), without building them.
func contractErrorTypes(t *testing.T) map[string]string {
	t.Helper()
	consts, err := contractscan.StringConstants("../workflows", func(name string) bool { return strings.HasPrefix(name, "ErrType") })
	require.NoError(t, err)
	out := map[string]string{}
	for _, c := range consts {
		out[c.Name] = c.Value
	}
	return out
}

// TestEveryContractErrorTypeIsInTheTable feeds each application error type
// that a workflow contract exports through the error table.
func TestEveryContractErrorTypeIsInTheTable(t *testing.T) {
	types := contractErrorTypes(t)
	require.GreaterOrEqual(t, len(types), 7, "the contracts' error types were found")
	for name, typ := range types {
		t.Run(name, func(t *testing.T) {
			r, ok := refusals[typ]
			require.True(t, ok, "%s (%q) is missing from the refusals table in server/errors.go", name, typ)
			raw := "dial tcp 10.0.0.1:443: connection refused"
			got, unexpected := toAPIError(fmt.Errorf("update: %w", temporal.NewApplicationError(raw, typ)))
			require.Equal(t, r.code, got.Code)
			if r.code == CodeInternal {
				require.True(t, unexpected, "an internal type is logged")
				require.Equal(t, internalMessage, got.Message)
				return
			}
			require.False(t, unexpected)
			require.Equal(t, problems[r.code].status/100, 4, "a refusal is the caller's to fix")
			if r.message != "" {
				require.Equal(t, r.message, got.Message)
			} else {
				require.Equal(t, sentence(raw), got.Message, "the contract's message is shown as a sentence")
			}
		})
	}
}

func TestToAPIError(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantLogged bool
	}{
		{"a caller's error", errorf(CodeInvalid, "Bad."), http.StatusBadRequest, false},
		{"a missing row", fmt.Errorf("load: %w", models.ErrNotFound), http.StatusNotFound, false},
		{"a duplicate row", fmt.Errorf("create: %w", models.ErrConflict), http.StatusConflict, false},
		{"a finished workflow", serviceerror.NewNotFound("workflow not found"), http.StatusNotFound, false},
		{"a workflow already running", serviceerror.NewWorkflowExecutionAlreadyStarted("started", "", ""), http.StatusConflict, false},
		{"Temporal unavailable", serviceerror.NewUnavailable("connection refused"), http.StatusServiceUnavailable, true},
		{"a deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), http.StatusServiceUnavailable, true},
		{"a caller gone", context.Canceled, http.StatusServiceUnavailable, false},
		{"an unknown application error type", temporal.NewApplicationError("boom", "SomethingElse"), http.StatusInternalServerError, true},
		{"anything else", errors.New("pq: relation \"users\" does not exist"), http.StatusInternalServerError, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, logged := toAPIError(tt.err)
			require.Equal(t, tt.wantStatus, problems[got.Code].status)
			require.Equal(t, tt.wantLogged, logged)
			require.NotEmpty(t, got.Message)
			if tt.wantStatus >= 500 {
				require.NotContains(t, got.Message, tt.err.Error(), "no raw error text reaches a client")
			}
		})
	}
}
