package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/retention"
)

// Every category of the policy table is either run by the engine or says
// where else it is kept to its period: none is silently left out.
func TestEveryCategoryIsAccountedFor(t *testing.T) {
	require.NotEmpty(t, retention.Policies)
	for _, p := range retention.Policies {
		_, elsewhere := Elsewhere[p.Category]
		enforced := false
		for _, c := range Enforced {
			enforced = enforced || c == p.Category
		}
		require.True(t, enforced != elsewhere, "%s: enforced by the engine xor elsewhere", p.Category)
	}
}

// wakes records the categories woken.
type wakes []retention.Category

func (w *wakes) Wake(_ context.Context, c retention.Category) error {
	*w = append(*w, c)
	return nil
}

// Bucket items stored by earlier versions were due when the period of the
// bucket's end ran; a worker's start brings them forward to the period of
// the bucket's start, and leaves every other item as it is.
func TestEnsureRunningAlignsOldBucketItems(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		var woken wakes
		s := &Scheduler{Store: store, Waker: &woken}
		end := time.Now().UTC().Truncate(time.Hour)
		id := func(end time.Time) string { return end.Format(time.RFC3339) }
		due := func(c retention.Category, t time.Time) time.Time { return retention.Due(c, t, "") }
		old := models.RetentionItem{Category: string(retention.ServerLogs), ObjectID: id(end), DueAt: due(retention.ServerLogs, end)}
		oldDaily := models.RetentionItem{Category: string(retention.SecurityLogs), ObjectID: id(end.Truncate(24 * time.Hour)), DueAt: due(retention.SecurityLogs, end.Truncate(24*time.Hour))}
		moved := models.RetentionItem{Category: string(retention.ServerLogs), ObjectID: id(end.Add(time.Hour)), DueAt: due(retention.ServerLogs, end.Add(30*time.Minute))}
		failing := models.RetentionItem{Category: string(retention.ServerLogs), ObjectID: id(end.Add(2 * time.Hour)), DueAt: due(retention.ServerLogs, end.Add(2*time.Hour))}
		sweep := models.RetentionItem{Category: string(retention.ServerLogs), ObjectID: SweepPrefix + "h1", DueAt: end}
		upload := models.RetentionItem{Category: string(retention.Uploads), ObjectID: "up1", DueAt: end}
		require.NoError(t, store.ScheduleRetention(ctx, []models.RetentionItem{old, oldDaily, moved, failing, sweep, upload}))
		require.NoError(t, store.DB().Model(&models.RetentionItem{}).Where("object_id = ?", failing.ObjectID).Update("attempts", 2).Error)

		require.NoError(t, s.EnsureRunning(ctx))

		got := map[string]time.Time{}
		for _, c := range []retention.Category{retention.ServerLogs, retention.SecurityLogs, retention.Uploads} {
			items, err := store.RetentionItemsOf(ctx, string(c))
			require.NoError(t, err)
			for _, it := range items {
				got[it.Category+"/"+it.ObjectID] = it.DueAt.UTC()
			}
		}
		want := map[string]time.Time{
			old.Category + "/" + old.ObjectID:           due(retention.ServerLogs, end.Add(-time.Hour)),
			oldDaily.Category + "/" + oldDaily.ObjectID: due(retention.SecurityLogs, end.Truncate(24*time.Hour).Add(-24*time.Hour)),
			moved.Category + "/" + moved.ObjectID:       moved.DueAt,
			failing.Category + "/" + failing.ObjectID:   failing.DueAt,
			sweep.Category + "/" + sweep.ObjectID:       sweep.DueAt,
			upload.Category + "/" + upload.ObjectID:     upload.DueAt,
		}
		require.Len(t, got, len(want))
		for k, w := range want {
			require.True(t, w.Equal(got[k]), "%s: due %v, want %v", k, got[k], w)
		}
		require.ElementsMatch(t, Enforced, []retention.Category(woken), "every category is woken")
	})
}
