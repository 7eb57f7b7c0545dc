package retention

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTableMatchesTheSeeds holds the table to the numbers the privacy
// policies state. If a policy changes, this test and the table change
// together.
func TestTableMatchesTheSeeds(t *testing.T) {
	start := time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		category Category
		want     time.Time
		action   Action
	}{
		{Uploads, start.Add(24 * time.Hour), Delete},
		{PostMetadata, start.AddDate(0, 0, 90), Delete},
		{ServerLogs, start.AddDate(0, 0, 30), Delete},
		{WebhookDeliveries, start.AddDate(0, 0, 30), Delete},
		{StripeDeliveries, start.AddDate(0, 0, 30), Delete},
		{SecurityLogs, start.AddDate(0, 12, 0), Delete},
		{OAuthFlowState, start.Add(10 * time.Minute), Delete},
		{Sessions, start.Add(30 * time.Minute), Delete},
		{YouTubeDataDisconnected, start.AddDate(0, 0, 7), Delete},
		{YouTubeDataRevoked, start.AddDate(0, 0, 30), Delete},
		{ClosedAccounts, start.AddDate(0, 0, 30), Delete},
		{BundleLedger, start.AddDate(1, 0, 0).AddDate(10, 0, 0), Restrict},
		{SubscriptionRecords, start.AddDate(10, 0, 0), Restrict},
		{SupportCommunication, start.AddDate(3, 0, 0), Delete},
		{Marketing, start.AddDate(0, 24, 0), Delete},
		{PrivacyExports, start.AddDate(0, 0, 7), Delete},
		{IdempotencyRecords, start.Add(24 * time.Hour), Delete},
		{EmailChanges, start.Add(24 * time.Hour), Delete},
		{Registrations, start.Add(24 * time.Hour), Delete},
		{PlatformTokens, start, Delete},
		{ChannelData, start, Delete},
		{CloudConnections, start, Delete},
		{LibraryMedia, start, Delete},
	}
	for _, tt := range tests {
		t.Run(string(tt.category), func(t *testing.T) {
			got := Due(tt.category, start, "")
			require.True(t, got.Equal(tt.want), "got %s want %s", got, tt.want)
			require.Equal(t, tt.action, Lookup(tt.category).Action)
			require.NotEmpty(t, Lookup(tt.category).Source)
		})
	}
	require.Len(t, Policies, len(tests), "every category is held to the seeds")
}

func TestStatutoryPeriodByJurisdiction(t *testing.T) {
	purchase := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	require.Equal(t, Period{Years: 10}, Statutory(""), "default: the longest of 6-10 years")
	require.Equal(t, Period{Years: 6}, Statutory("gb"))
	require.True(t, Due(BundleLedger, purchase, "GB").Equal(purchase.AddDate(7, 0, 0)), "one year, then six")
	require.True(t, Due(BundleLedger, purchase, "XX").Equal(purchase.AddDate(11, 0, 0)))
}

func TestPeriodReadsLikeThePolicies(t *testing.T) {
	require.Equal(t, "24h0m0s", Lookup(Uploads).Period.String())
	require.Equal(t, "90 days", Lookup(PostMetadata).Period.String())
	require.Equal(t, "12 months", Lookup(SecurityLogs).Period.String())
	require.Equal(t, "none", Lookup(PlatformTokens).Period.String())
	require.Panics(t, func() { Lookup("nonsense") })
	require.Equal(t, 90*24*time.Hour, Fixed(PostMetadata))
	require.Equal(t, 10*time.Minute, Fixed(OAuthFlowState))
	require.Panics(t, func() { Fixed(SecurityLogs) }, "months have no fixed length")
}
