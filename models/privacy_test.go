package models_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
)

func TestRepeatsAnsweredRequest(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		file := func(email, typ, status string, closedAt *time.Time) models.PrivacyRequest {
			r := models.PrivacyRequest{ID: models.NewID(), Email: email, Type: typ, FiledAs: "self", Regime: "gdpr", Source: "api",
				Status: status, ReceivedAt: now.AddDate(0, 0, -60), ClosedAt: closedAt}
			require.NoError(t, store.DB().Create(&r).Error)
			return r
		}
		at := func(days int) *time.Time { t := now.AddDate(0, 0, days); return &t }
		file("a@example.com", "access", loomcast.PrivacyAnswered, at(-10))
		file("b@example.com", "access", loomcast.PrivacyClosed, at(-40))
		file("c@example.com", "access", loomcast.PrivacyRefused, at(-5))
		file("d@example.com", "erasure", loomcast.PrivacyAnswered, at(-5))
		since := now.AddDate(0, 0, -30)

		tests := []struct {
			name  string
			email string
			typ   string
			want  bool
		}{
			{"an answer within the period", "a@example.com", "access", true},
			{"an answer before the period", "b@example.com", "access", false},
			{"a refusal is no answer", "c@example.com", "access", false},
			{"another type", "d@example.com", "access", false},
			{"no earlier request", "e@example.com", "access", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := file(tt.email, tt.typ, loomcast.PrivacyReceived, nil)
				got, err := store.RepeatsAnsweredRequest(ctx, r, since)
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
			})
		}
		t.Run("the request itself does not count", func(t *testing.T) {
			r := file("f@example.com", "access", loomcast.PrivacyAnswered, at(-1))
			got, err := store.RepeatsAnsweredRequest(ctx, r, since)
			require.NoError(t, err)
			require.False(t, got)
		})
	})
}

// An audit entry written twice under the same ID (a retried activity)
// is a conflict the caller can recognise, so that the retry succeeds.
func TestPrivacyAuditOnce(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		r := &models.PrivacyRequest{Email: "audit@example.com", Type: "access", FiledAs: "access", Regime: "gdpr", Source: "public", Status: loomcast.PrivacyReceived}
		_, err := store.CreatePrivacyRequest(ctx, r)
		require.NoError(t, err)
		e := models.PrivacyAudit{ID: "step-run-1", RequestID: r.ID, At: time.Now(), Actor: "system", Action: "received"}
		require.NoError(t, store.AppendPrivacyAudit(ctx, e))
		require.ErrorIs(t, store.AppendPrivacyAudit(ctx, e), models.ErrConflict)
		got, err := store.PrivacyAuditOf(ctx, r.ID)
		require.NoError(t, err)
		require.Len(t, got, 1)
	})
}
