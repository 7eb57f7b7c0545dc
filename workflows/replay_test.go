package workflows_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/loomcast/loomcast/workflows/accounts"
	"github.com/loomcast/loomcast/workflows/channels"
	"github.com/loomcast/loomcast/workflows/expiry"
	"github.com/loomcast/loomcast/workflows/posting"
	"github.com/loomcast/loomcast/workflows/privacy"
	"github.com/loomcast/loomcast/workflows/webhooks"
)

// TestReplayRecordedHistories replays histories recorded from loomcast dev
// (see internal/recordhistories) against today's workflow code. A change to
// a workflow's command sequence that is not behind workflow.GetVersion
// fails here: running workflows would break on deploy.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)

	replayer := worker.NewWorkflowReplayer()
	for name, fn := range map[string]any{
		"AccountClosure":               accounts.AccountClosure,
		"PublishPost":                  posting.PublishPost,
		posting.MetadataExpiryWorkflow: posting.PostMetadataExpiry,
		"UploadExpiry":                 posting.UploadExpiry,
		"TokenRefresh":                 channels.TokenRefresh,
		"DisconnectChannel":            channels.DisconnectChannel,
		"ReconcileTikTok":              webhooks.ReconcileTikTok,
		expiry.WorkflowName:            expiry.RetentionExpiry,
		privacy.WorkflowName:           privacy.PrivacyRequest,
	} {
		replayer.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: name})
	}
	types := map[string]bool{}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			require.NoError(t, replayer.ReplayWorkflowHistoryFromJSONFile(nil, f))
		})
		types[strings.SplitN(filepath.Base(f), "-", 2)[0]] = true
	}
	for _, typ := range []string{"AccountClosure", "PublishPost", "PostMetadataExpiry", "UploadExpiry", "TokenRefresh", "DisconnectChannel", "ReconcileTikTok", expiry.WorkflowName, privacy.WorkflowName} {
		require.True(t, types[typ], "no recorded history of %s", typ)
	}
}
