package password

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHashAndVerify(t *testing.T) {
	h, err := Hash("correct horse battery")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$"))

	h2, err := Hash("correct horse battery")
	require.NoError(t, err)
	require.NotEqual(t, h, h2, "each hash has its own salt")

	require.NoError(t, Verify(h, "correct horse battery"))
	require.ErrorIs(t, Verify(h, "correct horse batterY"), ErrMismatch)
	require.Error(t, Verify("$2a$10$bcrypt", "x"))
	require.ErrorIs(t, VerifyDummy("anything"), ErrMismatch)
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name, pw, email string
		ok              bool
	}{
		{"long enough", "correct horse battery", "a@b.c", true},
		{"too short", "short1!", "", false},
		{"one repeated character", "aaaaaaaaaaaa", "", false},
		{"the email itself", "someone@example.com", "someone@example.com", false},
		{"the email's local part", "someone.long", "someone.long@example.com", false},
		{"common", "Password123", "", false},
		{"too long", strings.Repeat("ab", 200), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Check(tt.pw, tt.email)
			require.Equal(t, tt.ok, got == "", "Check(%q) = %q", tt.pw, got)
		})
	}
}
