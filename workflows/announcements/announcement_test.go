package announcements_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/worker"
	"github.com/loomcast/loomcast/workflows/announcements"
)

// mailbox records the mail sent. The call numbered failAt (from 1) fails
// once: after the message was delivered when deliver is set (the server
// took it but the answer was lost), before otherwise.
type mailbox struct {
	mu      sync.Mutex
	calls   int
	failAt  int
	deliver bool
	got     []mail.Message
}

func (m *mailbox) Send(_ context.Context, msg mail.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	fail := m.calls == m.failAt
	if !fail || m.deliver {
		m.got = append(m.got, msg)
	}
	if fail {
		return errors.New("connection reset by peer")
	}
	return nil
}

// perAddress counts the mail each address received.
func (m *mailbox) perAddress() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int{}
	for _, msg := range m.got {
		out[msg.To]++
	}
	return out
}

func TestSendAnnouncement(t *testing.T) {
	tests := []struct {
		name    string
		failAt  int
		deliver bool
		// want is how many mails each opted-in person receives, in the
		// order they signed up; the others receive none.
		want    []int
		sent    int
		failed  int
		retries bool
	}{
		{name: "only the people the gate permits, batch after batch", want: []int{1, 1, 1, 1}, sent: 4},
		{name: "a mail the server took but whose answer was lost is not sent again on retry", failAt: 2, deliver: true,
			want: []int{1, 1, 1, 1}, sent: 3, failed: 1, retries: true},
		{name: "a mail the server refused is counted failed, and the retry goes on with the next person", failAt: 3,
			want: []int{1, 1, 0, 1}, sent: 3, failed: 1, retries: true},
	}
	for _, d := range modelstest.Dialects(t) {
		for _, tt := range tests {
			t.Run(string(d)+"/"+tt.name, func(t *testing.T) {
				ctx := context.Background()
				store := modelstest.Open(t, d)
				var optedIn []models.User
				mk := func(i int, decisions ...bool) {
					u := &models.User{Email: fmt.Sprintf("person%d@example.com", i)}
					require.NoError(t, store.CreateUser(ctx, u))
					for j, granted := range decisions {
						require.NoError(t, store.RecordConsent(ctx, models.Consent{UserID: u.ID, Purpose: models.PurposeProductUpdates, Granted: granted,
							At: time.Now().Add(time.Duration(j) * time.Second), Source: "test"}))
					}
					if len(decisions) > 0 && decisions[len(decisions)-1] {
						optedIn = append(optedIn, *u)
					}
				}
				// Opted in, never asked, opted in, withdrew, opted in,
				// restricted, opted in: 7 accounts in batches of 2.
				mk(0, true)
				mk(1)
				mk(2, true)
				mk(3, true, false)
				mk(4, true)
				mk(5, true)
				restricted := optedIn[len(optedIn)-1]
				optedIn = optedIn[:len(optedIn)-1]
				require.NoError(t, store.SetRestricted(ctx, restricted.ID, models.Ptr(time.Now())))
				mk(6, true)

				a := &models.Announcement{Purpose: models.PurposeProductUpdates, Subject: "Loomcast 2.0", Body: "Shorts scheduling is here.",
					Status: loomcast.AnnouncementSending, CreatedAt: time.Now()}
				require.NoError(t, store.CreateAnnouncement(ctx, a))

				box := &mailbox{failAt: tt.failAt, deliver: tt.deliver}
				var s testsuite.WorkflowTestSuite
				env := s.NewTestWorkflowEnvironment()
				worker.Register(env, worker.Deps{Store: store, Mail: box, PublicURL: "https://loomcast.test"})
				attempts := 0
				env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
					if info.ActivityType.Name == announcements.SendBatchActivity {
						attempts++
					}
				})
				env.ExecuteWorkflow(announcements.SendAnnouncement, announcements.Input{AnnouncementID: a.ID, BatchSize: 2})
				require.True(t, env.IsWorkflowCompleted())
				require.NoError(t, env.GetWorkflowError())
				var res announcements.Result
				require.NoError(t, env.GetWorkflowResult(&res))
				require.Equal(t, announcements.Result{Sent: tt.sent, Skipped: 3, Failed: tt.failed}, res,
					"skipped: the one never asked, the one who withdrew, the restricted one")
				if tt.retries {
					require.Equal(t, 5, attempts, "the batches and the retry of the one that failed")
				} else {
					require.Equal(t, 4, attempts, "7 accounts in batches of 2")
				}

				got := box.perAddress()
				want := map[string]int{}
				for i, u := range optedIn {
					if tt.want[i] > 0 {
						want[u.Email] = tt.want[i]
					}
				}
				require.Equal(t, want, got, "each person permitted mailed at most once, nobody else")
				for _, msg := range box.got {
					require.Equal(t, "announcement", msg.Kind)
					require.Equal(t, "Loomcast 2.0", msg.Subject)
					require.Contains(t, msg.Text, "Shorts scheduling is here.")
					require.Contains(t, msg.Text, `PATCH https://loomcast.test/v1/me with {"product_updates": false}`, "the opt-out line")
				}

				done, err := store.AnnouncementByID(ctx, a.ID)
				require.NoError(t, err)
				require.Equal(t, loomcast.AnnouncementSent, done.Status)
				require.Empty(t, done.LastUserID, "the cursor names nobody once the announcement ends")
			})
		}
	}
}
