package privacy

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/privacy/calendar"
	wf "github.com/loomcast/loomcast/workflows/privacy"
)

// sentMail keeps what was sent.
type sentMail struct {
	mu   sync.Mutex
	msgs []mail.Message
}

func (s *sentMail) Send(_ context.Context, m mail.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	return nil
}

// Each notice that answers a requester names where they may complain: the
// authority of their regime, or for the EU GDPR the controller's lead
// authority.
func TestNoticesNameTheRegimesAuthority(t *testing.T) {
	ctx := context.Background()
	store := modelstest.Open(t, models.SQLite)
	lead := calendar.Authority{Name: "the Irish Data Protection Commission (DPC)", Site: "www.dataprotection.ie"}
	tests := []struct {
		name   string
		regime calendar.Regime
		lead   calendar.Authority
		want   string
	}{
		{"EU GDPR, no lead configured", calendar.GDPR, calendar.Authority{}, "www.cnil.fr"},
		{"EU GDPR, the configured lead", calendar.GDPR, lead, "www.dataprotection.ie"},
		{"UK GDPR", calendar.UKGDPR, lead, "ico.org.uk"},
		{"CCPA", calendar.CCPA, lead, "cppa.ca.gov"},
		{"PIPEDA", calendar.PIPEDA, lead, "www.priv.gc.ca"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A distinct address each, or the store joins the open request.
			req := &models.PrivacyRequest{Email: fmt.Sprintf("someone%d@example.com", i), Type: wf.TypeAccess, FiledAs: "access", Regime: string(tt.regime),
				Source: "public", Status: loomcast.PrivacyReceived, Answer: "Here is your data."}
			_, err := store.CreatePrivacyRequest(ctx, req)
			require.NoError(t, err)
			sent := &sentMail{}
			a := &Activities{Store: store, Mail: sent, LeadAuthority: tt.lead}
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestActivityEnvironment()
			env.RegisterActivity(a.NotifyPrivacy)
			for _, kind := range []string{wf.NoticeAcknowledged, wf.NoticeExtended, wf.NoticeRefused, wf.NoticeAnswer} {
				_, err := env.ExecuteActivity(a.NotifyPrivacy, wf.Notice{RequestID: req.ID, Kind: kind, Reason: "because"})
				require.NoError(t, err, kind)
			}
			require.Len(t, sent.msgs, 4)
			for _, m := range sent.msgs {
				require.Contains(t, m.Text, "lodge a complaint with", m.Kind)
				require.Contains(t, m.Text, tt.want, m.Kind)
			}
		})
	}
}

// The holder of an account erased on a parent's report did not file the
// request: the acknowledgement says who did and why.
func TestChildReportAcknowledgementSaysWhy(t *testing.T) {
	ctx := context.Background()
	store := modelstest.Open(t, models.SQLite)
	tests := []struct {
		name, source, wantSubject, wantText string
	}{
		{"filed by the person", wf.SourceAccount, "We received your privacy request", "We received your erasure request"},
		{"filed on a parent's report", wf.SourceChildReport, "Your Loomcast account is being erased", "A parent or guardian told us"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &models.PrivacyRequest{Email: fmt.Sprintf("kid%d@example.com", i), Type: wf.TypeErasure, FiledAs: "erasure", Regime: string(calendar.GDPR),
				Source: tt.source, Status: loomcast.PrivacyReceived}
			_, err := store.CreatePrivacyRequest(ctx, req)
			require.NoError(t, err)
			sent := &sentMail{}
			a := &Activities{Store: store, Mail: sent}
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestActivityEnvironment()
			env.RegisterActivity(a.NotifyPrivacy)
			_, err = env.ExecuteActivity(a.NotifyPrivacy, wf.Notice{RequestID: req.ID, Kind: wf.NoticeAcknowledged})
			require.NoError(t, err)
			require.Len(t, sent.msgs, 1)
			require.Equal(t, req.Email, sent.msgs[0].To)
			require.Equal(t, tt.wantSubject, sent.msgs[0].Subject)
			require.Contains(t, sent.msgs[0].Text, tt.wantText)
			require.Contains(t, sent.msgs[0].Text, req.ID)
		})
	}
}
