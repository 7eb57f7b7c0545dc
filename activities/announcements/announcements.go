// Package announcements holds the activities of staff product
// announcements: a batch gives the next accounts their turn, each after
// the purpose gate, and mails those the gate permits; the last activity
// ends the announcement.
package announcements

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/models"
	wf "github.com/loomcast/loomcast/workflows/announcements"
)

// Store is what these activities need of the database.
type Store interface {
	AnnouncementByID(ctx context.Context, id string) (models.Announcement, error)
	AnnouncementRecipients(ctx context.Context, id string, limit int) ([]string, error)
	TakeAnnouncementTurn(ctx context.Context, announcementID, userID string) (models.AnnouncementTurn, error)
	CountAnnouncementMail(ctx context.Context, id string, sent bool) error
	FinishAnnouncement(ctx context.Context, id string, at time.Time) (models.Announcement, error)
}

// Activities are the announcement activities with their dependencies.
type Activities struct {
	Store Store
	Mail  mail.Sender
	// PublicURL is the API's address, for the opt-out line.
	PublicURL string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now().UTC()
	}
	return time.Now().UTC()
}

// MailKind is the kind of an announcement's mail.
const MailKind = "announcement"

// SendAnnouncementBatch gives up to in.Size accounts after the cursor
// their turn, for at most in.Budget, and mails those the purpose gate
// permits. A turn is taken (the cursor moved past the account) before its
// mail is sent, so a retry never mails anyone twice; a mail the server did
// not take is counted failed, not tried again, and fails the batch, whose
// retry (after a backoff) goes on with the next account.
func (a *Activities) SendAnnouncementBatch(ctx context.Context, in wf.BatchInput) (wf.BatchResult, error) {
	an, err := a.Store.AnnouncementByID(ctx, in.AnnouncementID)
	if errors.Is(err, models.ErrNotFound) {
		return wf.BatchResult{Done: true}, nil
	}
	if err != nil {
		return wf.BatchResult{}, err
	}
	if an.Status != loomcast.AnnouncementSending {
		return wf.BatchResult{Done: true}, nil
	}
	size := in.Size
	if size <= 0 {
		size = wf.DefaultBatchSize
	}
	ids, err := a.Store.AnnouncementRecipients(ctx, an.ID, size)
	if err != nil {
		return wf.BatchResult{}, err
	}
	start := time.Now()
	for i, userID := range ids {
		if in.Budget > 0 && time.Since(start) >= in.Budget {
			return wf.BatchResult{}, nil // the workflow asks for the rest
		}
		if err := ctx.Err(); err != nil {
			return wf.BatchResult{}, err
		}
		activity.RecordHeartbeat(ctx, i)
		turn, err := a.Store.TakeAnnouncementTurn(ctx, an.ID, userID)
		if err != nil {
			return wf.BatchResult{}, err
		}
		if !turn.Taken || !turn.Send {
			continue
		}
		sendErr := a.Mail.Send(ctx, mail.Message{To: turn.Email, Subject: an.Subject, Text: a.text(an), Kind: MailKind})
		if err := a.Store.CountAnnouncementMail(context.WithoutCancel(ctx), an.ID, sendErr == nil); err != nil {
			return wf.BatchResult{}, err
		}
		if sendErr != nil {
			// The server's reply may quote the address: it goes to the
			// worker's log, not into the workflow's history.
			activity.GetLogger(ctx).Warn("announcement mail not sent", "announcement_id", an.ID, "error", sendErr.Error())
			return wf.BatchResult{}, errors.New("the mail server did not take an announcement mail; the next attempt goes on with the next account")
		}
	}
	return wf.BatchResult{Done: len(ids) < size}, nil
}

// text is the announcement's body with the line that tells the person how
// to stop such mail.
func (a *Activities) text(an models.Announcement) string {
	what, field := "product updates", models.PurposeProductUpdates
	if an.Purpose == models.PurposeMarketingEmails {
		what, field = "marketing email", models.PurposeMarketingEmails
	}
	me := strings.TrimSuffix(a.PublicURL, "/") + "/v1/me"
	return fmt.Sprintf("%s\n\n-- \nYou get this because you opted in to %s from Loomcast. To stop them, turn %s off in your profile "+
		"(PATCH %s with {\"%s\": false}), or withdraw your consent with a privacy request (type withdraw_consent, purposes %s).\n",
		strings.TrimRight(an.Body, "\n"), what, what, me, field, field)
}

// FinishAnnouncement ends the announcement (it is sent, its cursor
// cleared) and reports its counts.
func (a *Activities) FinishAnnouncement(ctx context.Context, in wf.FinishInput) (wf.Result, error) {
	an, err := a.Store.FinishAnnouncement(ctx, in.AnnouncementID, a.now())
	if errors.Is(err, models.ErrNotFound) {
		return wf.Result{}, nil
	}
	if err != nil {
		return wf.Result{}, err
	}
	return wf.Result{Sent: an.Sent, Skipped: an.Skipped, Failed: an.Failed}, nil
}
