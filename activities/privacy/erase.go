package privacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/privacy/export"
	"github.com/loomcast/loomcast/privacy/scan"
	"github.com/loomcast/loomcast/retention"
	wf "github.com/loomcast/loomcast/workflows/privacy"
)

// LogFlushLag is longer than the API takes to write a request's log line
// (server/requestlog.go flushes every 200 ms).
var LogFlushLag = 2 * time.Second

// RestrictedRecords are the request's own rows of these tables, kept after
// an erasure because the law requires them and used for nothing else; the
// answer names them. Rows of the person's earlier requests are kept as
// evidence too, and named by reference.
var RestrictedRecords = []struct{ Table, Why string }{
	{"privacy_requests", "the record of this request (GDPR art. 5(2) and 12: we must be able to show how we answered it)"},
	{"privacy_audit", "the audit log of this request (who did what and when), for the same reason"},
}

// erase deletes the person's data everywhere: it stops their processes,
// revokes platform grants, deletes files, rows and workflow executions, and
// then scans every column of every table and the file store for what
// identifies them. A trace outside the restricted records fails the
// activity, so the request cannot close; each step is idempotent, so a
// retry after a crash resumes where it stopped.
func (a *Activities) erase(ctx context.Context, r models.PrivacyRequest) (wf.ExecuteResult, error) {
	ids, err := a.identifiers(ctx, r)
	if err != nil {
		return wf.ExecuteResult{}, err
	}
	held, err := a.Store.UserHeld(ctx, r.UserID)
	if err != nil {
		return wf.ExecuteResult{}, err
	}
	if held {
		return a.eraseAroundHold(ctx, r)
	}
	u, err := a.Store.UserByID(ctx, r.UserID)
	switch {
	case errors.Is(err, models.ErrNotFound):
		// Already deleted by an earlier attempt: only the checks remain.
	case err != nil:
		return wf.ExecuteResult{}, err
	default:
		if err := a.eraseUser(ctx, u); err != nil {
			return wf.ExecuteResult{}, err
		}
	}
	// Requests in flight when the account went may still log it: the API
	// writes its request log in the background, within a fraction of a
	// second. Wait that out, then delete what arrived.
	select {
	case <-time.After(LogFlushLag):
	case <-ctx.Done():
		return wf.ExecuteResult{}, ctx.Err()
	}
	if err := a.Store.DeleteUserLogs(ctx, r.UserID); err != nil {
		return wf.ExecuteResult{}, err
	}
	// Stripe's events name a customer by email, or by our user ID in
	// metadata: those naming the person go with them. The identifiers come
	// from the request, so a retry after the account went still does it.
	var named []string
	for _, id := range ids.Values {
		if id.Label == "user ID" || id.Label == "email" {
			named = append(named, id.Value)
		}
	}
	if _, err := a.Store.DeleteWebhookEventsNaming(ctx, models.SourceStripe, named); err != nil {
		return wf.ExecuteResult{}, err
	}
	if _, err := a.Executions.DeleteUserExecutions(ctx, r.UserID); err != nil {
		return wf.ExecuteResult{}, fmt.Errorf("delete workflow executions: %w", err)
	}
	activity.RecordHeartbeat(ctx, "scanning")
	traces, err := a.scan(ctx, ids)
	if err != nil {
		return wf.ExecuteResult{}, err
	}
	shared, err := a.sharedIdentifiers(ctx, ids, r.UserID)
	if err != nil {
		return wf.ExecuteResult{}, err
	}
	auditIDs := []string{}
	for _, t := range traces {
		if t.Table == "privacy_audit" {
			auditIDs = append(auditIDs, t.RowKey)
		}
	}
	auditOf, err := a.Store.AuditRequests(ctx, auditIDs)
	if err != nil {
		return wf.ExecuteResult{}, err
	}
	var unexplained []string
	nShared := 0
	earlier := map[string]bool{}
	for _, t := range traces {
		// The request's own record and audit log are restricted, kept to
		// show how it was answered; the person's earlier requests are kept
		// as evidence of theirs, and named in the answer.
		switch {
		case t.Table == "privacy_requests" && t.RowKey == r.ID, t.Table == "privacy_audit" && auditOf[t.RowKey] == r.ID:
			continue
		case t.Table == "privacy_requests":
			earlier[t.RowKey] = true
			continue
		case t.Table == "privacy_audit" && auditOf[t.RowKey] != "":
			earlier[auditOf[t.RowKey]] = true
			continue
		case shared[strings.ToLower(t.Match)]:
			nShared++
			continue
		}
		unexplained = append(unexplained, t.String())
	}
	if len(unexplained) > 0 {
		// Not transient: the data is still there, and retrying will not
		// remove it. The request goes to staff with these findings.
		return wf.ExecuteResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("erasure incomplete: %d traces remain (%s)", len(unexplained), strings.Join(unexplained[:min(5, len(unexplained))], "; ")),
			wf.ErrTypeErasureIncomplete, nil)
	}
	kept := make([]string, 0, len(RestrictedRecords)+1)
	for _, rec := range RestrictedRecords {
		kept = append(kept, rec.Why)
	}
	if len(earlier) > 0 {
		refs := slices.Sorted(maps.Keys(earlier))
		kept = append(kept, fmt.Sprintf("the records and audit logs of your %d earlier privacy request(s) (reference %s), as evidence of how we answered them (GDPR art. 5(2))",
			len(refs), strings.Join(refs, ", ")))
	}
	answer := "We erased your personal data: your account, channels (their grants revoked at TikTok and YouTube), posts and their history, uploads and files, sessions, logs, consents, the notifications of our payment processor (Stripe) naming you, and the records of our background processes. " +
		"A check of every table and file found nothing left. We keep, restricted and used for nothing else: " + strings.Join(kept, "; ") +
		". There are no invoices or payment records to keep."
	if nShared > 0 {
		answer += fmt.Sprintf(" Your TikTok or YouTube account is also connected to another Loomcast account: the %d records that are "+
			"that account's own (its channel and the platform's notifications about it) belong to its holder and were left in place.", nShared)
	}
	return wf.ExecuteResult{Answer: answer, Restricted: kept, Shared: nShared}, nil
}

// heldRecords is what an erasure keeps while a legal hold lasts.
const heldRecords = "your account's records (profile, channels, posts, files and logs), which a legal hold requires us to keep " +
	"to establish, exercise or defend a legal claim or to meet a legal obligation (GDPR art. 17(3)(b) and (e)): restricted, used for nothing else, " +
	"and erased as soon as the hold is released"

// eraseAroundHold erases what a legal hold on the person does not keep:
// it stops their processes, revokes and deletes their platform grants,
// ends their sessions and deletes their export archives; the account and
// its records stay, closed and restricted, until the hold is released and
// the erasure completes (the workflow waits for that).
func (a *Activities) eraseAroundHold(ctx context.Context, r models.PrivacyRequest) (wf.ExecuteResult, error) {
	u, err := a.Store.UserByID(ctx, r.UserID)
	if err != nil {
		return wf.ExecuteResult{}, err
	}
	if _, err := a.Executions.TerminateUserExecutions(ctx, u.ID, wf.WorkflowID("")); err != nil {
		return wf.ExecuteResult{}, fmt.Errorf("stop workflows: %w", err)
	}
	if err := a.revokeGrants(ctx, u.ID); err != nil {
		return wf.ExecuteResult{}, err
	}
	if err := export.DeleteArchives(ctx, a.Store, a.Blob, u.ID); err != nil {
		return wf.ExecuteResult{}, err
	}
	now := a.now()
	if u.ClosedAt == nil {
		if _, err := a.Store.CloseUser(ctx, u.ID, now); err != nil {
			return wf.ExecuteResult{}, err
		}
	}
	if u.RestrictedAt == nil {
		if err := a.Store.SetRestricted(ctx, u.ID, &now); err != nil {
			return wf.ExecuteResult{}, err
		}
	}
	answer := "We have stopped all processing of your data: your account is closed, your sessions ended, your scheduled posts stopped, " +
		"Loomcast's access to your TikTok and YouTube accounts revoked, and your data exports deleted. We keep, restricted: " + heldRecords +
		". We will tell you when the erasure is complete."
	return wf.ExecuteResult{Answer: answer, Restricted: []string{heldRecords}, Held: true}, nil
}

// revokeGrants revokes the account's grants at the platforms and deletes
// its tokens, leaving the channels' records.
func (a *Activities) revokeGrants(ctx context.Context, userID string) error {
	channels, err := a.Store.AllUserChannels(ctx, userID)
	if err != nil {
		return err
	}
	for _, ch := range channels {
		a.revokeAtPlatform(ctx, ch)
		if ch.Status == loomcast.ChannelActive {
			if err := a.Store.SetChannelStatus(ctx, ch.ID, loomcast.ChannelDisconnected, "erasure requested; the records are kept under a legal hold"); err != nil {
				return err
			}
		}
	}
	return nil
}

// revokeAtPlatform asks the channel's platform to revoke its grant. A
// failure is logged, not returned: the tokens are deleted here whatever
// the platform says, and it expires them.
func (a *Activities) revokeAtPlatform(ctx context.Context, ch models.Channel) {
	if err := a.Grants.RevokeAtPlatform(ctx, ch); err != nil {
		activity.GetLogger(ctx).Warn("revoke at platform failed", "channel_id", ch.ID, "error", err.Error())
	}
}

// PrivacyRequestHeld reports whether a legal hold still keeps the person
// of an erasure that waits for its release.
func (a *Activities) PrivacyRequestHeld(ctx context.Context, in wf.ExecuteInput) (bool, error) {
	r, err := a.Store.PrivacyRequestByID(ctx, in.RequestID)
	if err != nil {
		return false, err
	}
	if r.UserID == "" {
		return false, nil
	}
	return a.Store.UserHeld(ctx, r.UserID)
}

// eraseUser stops and deletes everything of one account.
func (a *Activities) eraseUser(ctx context.Context, u models.User) error {
	// First stop what could write more data: scheduled posts, refreshes.
	if _, err := a.Executions.TerminateUserExecutions(ctx, u.ID, wf.WorkflowID("")); err != nil {
		return fmt.Errorf("stop workflows: %w", err)
	}
	channels, err := a.Store.AllUserChannels(ctx, u.ID)
	if err != nil {
		return err
	}
	for _, ch := range channels {
		a.revokeAtPlatform(ctx, ch)
		// The platform's notifications about an account that another
		// Loomcast account also connected are that account's data too.
		shared, err := a.Store.OtherAccountHolds(ctx, ch.Platform, ch.ExternalID, u.ID)
		if err != nil {
			return err
		}
		if shared {
			continue
		}
		if err := a.Store.DeleteWebhookEventsOf(ctx, ch.Platform, ch.ExternalID); err != nil {
			return err
		}
	}
	if err := export.DeleteArchives(ctx, a.Store, a.Blob, u.ID); err != nil {
		return err
	}
	keys, err := a.Blob.List(ctx, "uploads/"+u.ID+"/")
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := a.Blob.Delete(ctx, k); err != nil {
			return err
		}
	}
	if u.ClosedAt == nil {
		if _, err := a.Store.CloseUser(ctx, u.ID, a.now()); err != nil {
			return err
		}
	}
	if err := a.Store.PurgeUser(ctx, u.ID); err != nil {
		return err
	}
	// An account erased during its closure grace has nothing left for its
	// purge to do: the pending purge (which names the person) goes too.
	return a.Store.CancelRetention(ctx, string(retention.ClosedAccounts), u.ID)
}

// identifiers are what the completeness check looks for. They are read
// before anything is deleted and kept with the request (a restricted
// record), so that a retry after a crash still knows them.
func (a *Activities) identifiers(ctx context.Context, r models.PrivacyRequest) (scan.Identifiers, error) {
	var d struct {
		wf.Details
		Erasure *scan.Identifiers `json:"erasure_identifiers,omitempty"`
	}
	if r.Details != "" {
		if err := json.Unmarshal([]byte(r.Details), &d); err != nil {
			return scan.Identifiers{}, fmt.Errorf("request details: %w", err)
		}
	}
	if d.Erasure != nil {
		return *d.Erasure, nil
	}
	u, err := a.Store.UserByID(ctx, r.UserID)
	if err != nil {
		return scan.Identifiers{}, fmt.Errorf("read identifiers: %w", err)
	}
	channels, err := a.Store.AllUserChannels(ctx, u.ID)
	if err != nil {
		return scan.Identifiers{}, err
	}
	ids := scan.ForAccount(u, channels)
	// Archives made for earlier access requests are named after them.
	earlier, err := a.Store.UserPrivacyRequests(ctx, u.ID)
	if err != nil {
		return scan.Identifiers{}, err
	}
	for _, e := range earlier {
		if e.ID != r.ID {
			ids.BlobPrefixes = append(ids.BlobPrefixes, export.ArchiveKey(e.ID))
		}
	}
	d.Erasure = &ids
	b, err := json.Marshal(d)
	if err != nil {
		return scan.Identifiers{}, err
	}
	if err := a.Store.UpdatePrivacyRequest(ctx, r.ID, models.PrivacyFields{Details: models.Ptr(string(b))}); err != nil {
		return scan.Identifiers{}, err
	}
	return ids, nil
}

// sharedIdentifiers are the person's platform account IDs (lowercased)
// that another Loomcast account also holds as a channel of its own.
func (a *Activities) sharedIdentifiers(ctx context.Context, ids scan.Identifiers, userID string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, id := range ids.Values {
		platform, ok := strings.CutSuffix(id.Label, " account ID")
		if !ok {
			continue
		}
		held, err := a.Store.OtherAccountHolds(ctx, platform, id.Value, userID)
		if err != nil {
			return nil, err
		}
		if held {
			out[strings.ToLower(id.Value)] = true
		}
	}
	return out, nil
}

// scan runs the completeness check: every column of every table (from the
// schema) and every blob key. The restricted records are searched too:
// erase sorts out which rows are the request's own.
func (a *Activities) scan(ctx context.Context, ids scan.Identifiers) ([]scan.Trace, error) {
	traces, err := scan.Scan(ctx, a.Store.DB(), a.Store.Dialect(), a.Blob, ids, scan.Options{})
	if err != nil {
		return nil, fmt.Errorf("completeness check: %w", err)
	}
	return traces, nil
}
