package server

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The mark that a Google sign-in's start passed the age confirmation
// cannot be forged, moved to another flow or made with another key.
func TestAgeConfirmedTag(t *testing.T) {
	k := cookies{key: []byte("0123456789abcdef0123456789abcdef")}
	other := cookies{key: []byte("fedcba9876543210fedcba9876543210")}
	tag := k.ageConfirmedTag("state-1")
	tests := []struct {
		name       string
		state, tag string
		want       bool
	}{
		{"its own state", "state-1", tag, true},
		{"another flow's state", "state-2", tag, false},
		{"made with another key", "state-1", other.ageConfirmedTag("state-1"), false},
		{"made by hand", "state-1", "yes", false},
		{"empty", "state-1", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, k.validAgeConfirmedTag(tt.state, tt.tag))
		})
	}
}
