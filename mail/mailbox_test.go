package mail

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMailbox(t *testing.T) {
	ctx := t.Context()
	o, err := NewOutbox(t.TempDir())
	require.NoError(t, err)
	for _, m := range []Message{
		{To: "ada@example.org", Subject: "first", Text: "code 111111\n", Kind: "signup_code"},
		{To: "Bob <bob@example.org>", Subject: "not Ada's", Text: "code 222222\n", Kind: "signup_code"},
		{To: "Ada <ADA@example.org>", Subject: "second", Text: "code 333333\n", Kind: "signup_code"},
	} {
		require.NoError(t, o.Send(ctx, m))
	}
	get := func(query string) (*httptest.ResponseRecorder, []Stored) {
		rec := httptest.NewRecorder()
		o.Mailbox().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/"+query, nil))
		var v struct {
			Messages []Stored `json:"messages"`
		}
		if rec.Code == http.StatusOK {
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
		}
		return rec, v.Messages
	}

	rec, msgs := get("?to=ada@example.org")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, []string{"second", "first"}, subjects(msgs), "the address's mail only, newest first, whatever its case")
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	require.Equal(t, "true", rec.Header().Get("X-Loomcast-Sandbox"))

	_, msgs = get("?to=ada@example.org&limit=1")
	require.Equal(t, []string{"second"}, subjects(msgs))
	_, msgs = get("?to=nobody@example.org")
	require.NotNil(t, msgs)
	require.Empty(t, msgs)

	for _, bad := range []string{"", "?to=", "?to=not-an-address", "?to=ada@example.org&limit=0", "?to=ada@example.org&limit=x"} {
		rec, _ := get(bad)
		require.Equal(t, http.StatusBadRequest, rec.Code, bad)
	}
	rec = httptest.NewRecorder()
	o.Mailbox().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/?to=ada@example.org", nil))
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}
