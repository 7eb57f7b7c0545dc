package calendar

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRegimeForRegion(t *testing.T) {
	tests := []struct {
		region string
		want   Regime
	}{
		{"FR", GDPR},
		{"de", GDPR},
		{"BG", GDPR},
		{" EU ", GDPR},
		{"EEA", GDPR},
		{"NO", GDPR},
		{"EL", GDPR},
		{"FR-75", GDPR},
		{"GB", UKGDPR},
		{"UK", UKGDPR},
		{"United Kingdom", UKGDPR},
		{"US-CA", CCPA},
		{"california", CCPA},
		{"BR", LGPD},
		{"Brazil", LGPD},
		{"KR", PIPA},
		{"South Korea", PIPA},
		{"CA", PIPEDA},
		{"Canada", PIPEDA},
		{"CA-QC", PIPEDA},
		{"CH", FADP},
		{"Switzerland", FADP},
		{"US", GDPR},
		{"US-NY", GDPR},
		{"JP", GDPR},
		{"ZZ", GDPR},
	}
	for _, tt := range tests {
		t.Run(tt.region, func(t *testing.T) {
			got, err := RegimeForRegion(tt.region)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	for name, region := range map[string]string{"empty": "", "blank": "  "} {
		t.Run(name, func(t *testing.T) {
			_, err := RegimeForRegion(region)
			require.ErrorIs(t, err, ErrNoRegion)
		})
	}
}

func TestRegime(t *testing.T) {
	tests := []struct {
		regime     Regime
		valid      bool
		extendable bool
	}{
		{GDPR, true, true},
		{UKGDPR, true, true},
		{CCPA, true, true},
		{PIPEDA, true, true},
		{LGPD, true, false},
		{PIPA, true, false},
		{FADP, true, false},
		{"", false, false},
		{"GDPR", false, false},
	}
	for _, tt := range tests {
		name := string(tt.regime)
		if name == "" {
			name = "empty"
		}
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tt.valid, tt.regime.Valid())
			require.Equal(t, tt.extendable, tt.regime.Extendable())
		})
	}
}

func TestMinimumAge(t *testing.T) {
	tests := []struct {
		name, country string
		want          int
	}{
		{"EU member", "FR", 16},
		{"lower case", " de ", 16},
		{"EEA, not EU", "NO", 16},
		{"EU outermost region", "RE", 16},
		{"UK", "GB", 16},
		{"UK as the EU spells it", "uk", 16},
		{"Greece as the EU spells it", "EL", 16},
		{"United States", "US", 13},
		{"Switzerland is not in the EEA", "CH", 13},
		{"Canada", "CA", 13},
		{"Japan", "JP", 13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MinimumAge(tt.country)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	refused := []struct {
		name, country string
		want          error
	}{
		{"empty", "", ErrNoCountry},
		{"blank", "  ", ErrNoCountry},
		{"a group of countries", "EU", ErrUnknownCountry},
		{"private use", "ZZ", ErrUnknownCountry},
		{"unassigned", "QQ", ErrUnknownCountry},
		{"a name", "France", ErrUnknownCountry},
		{"numeric", "250", ErrUnknownCountry},
		{"a subdivision", "US-CA", ErrUnknownCountry},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := MinimumAge(tt.country)
			require.ErrorIs(t, err, tt.want)
		})
	}
}
