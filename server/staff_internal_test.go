package server

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/mail"
	"github.com/loomcast/loomcast/models"
)

// Support reads the outbox with export links' signatures and mailed
// codes hidden; privacy staff and admins read it whole.
func TestSupportReadsMailRedacted(t *testing.T) {
	msgs := []mail.Stored{{Message: mail.Message{To: "ada@example.com", Kind: "answer",
		Subject: "Your Loomcast sign-up code: 123456",
		Text:    "Download it: http://127.0.0.1:8080/v1/privacy/exports/01a2?expires=1767225600&sig=abcDEF_123 within 7 days.\nYour code is 654321.\n"}}}
	got := redactForSupport(msgs)
	require.Equal(t, "Your Loomcast sign-up code: [code redacted]", got[0].Subject)
	require.Equal(t, "Download it: http://127.0.0.1:8080/v1/privacy/exports/01a2?[signature redacted: privacy staff only] within 7 days.\n"+
		"Your code is [code redacted].\n", got[0].Text)
	require.Contains(t, msgs[0].Text, "sig=abcDEF_123", "the stored mail is untouched")

	require.False(t, seesWholeMail(models.User{Role: models.RoleSupport}))
	require.True(t, seesWholeMail(models.User{Role: models.RolePrivacy}))
	require.True(t, seesWholeMail(models.User{Role: models.RoleAdmin}))
}
