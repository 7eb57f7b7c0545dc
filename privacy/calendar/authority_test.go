package calendar

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAuthorityFor(t *testing.T) {
	lead := Authority{Name: "the Irish Data Protection Commission (DPC)", Site: "www.dataprotection.ie"}
	tests := []struct {
		regime Regime
		lead   Authority
		want   string
	}{
		{GDPR, Authority{}, "CNIL"},
		{GDPR, lead, "DPC"},
		{UKGDPR, lead, "ICO"},
		{CCPA, lead, "CPPA"},
		{LGPD, lead, "ANPD"},
		{PIPA, lead, "PIPC"},
		{PIPEDA, lead, "OPC"},
		{FADP, lead, "FDPIC"},
	}
	for _, tt := range tests {
		t.Run(string(tt.regime), func(t *testing.T) {
			got := AuthorityFor(tt.regime, tt.lead)
			require.Contains(t, got.Name, tt.want)
			require.NotEmpty(t, got.Site)
		})
	}
	t.Run("every regime has an authority", func(t *testing.T) {
		for r := range rules {
			require.NotEmpty(t, AuthorityFor(r, Authority{}).Name, r)
		}
	})
}
