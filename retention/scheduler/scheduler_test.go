package scheduler

import (
	"testing"

	"github.com/stretchr/testify/require"

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
