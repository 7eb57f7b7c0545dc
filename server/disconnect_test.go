package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/server/servertest"
)

// TestDisconnectOutlastsTheRequest: with no worker to run it, the
// disconnect cannot finish in time, so the API answers 202 with the channel
// and leaves the process running; once a worker runs, repeating the request
// joins that process and answers 204 when it is done.
func TestDisconnectOutlastsTheRequest(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{NoWorker: true})
	c := env.Client()
	c.Register("slow@example.com", pw)
	id := c.ConnectChannel("tiktok")

	r := c.Do(http.MethodDelete, "/v1/channels/"+id, nil)
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	var ch struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	r.JSON(t, &ch)
	require.Equal(t, id, ch.ID)
	require.Equal(t, loomcast.ChannelActive, ch.Status, "nothing has run yet")

	env.StartWorker(nil)
	require.Equal(t, http.StatusNoContent, c.Do(http.MethodDelete, "/v1/channels/"+id, nil).Status)
	got, err := env.Store.ChannelByID(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, loomcast.ChannelDisconnected, got.Status)
	require.Nil(t, got.AccessTokenSealed, "tokens are deleted")
}
