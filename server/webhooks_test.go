package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v76/webhook"
	"go.temporal.io/sdk/client"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/relay"
	"github.com/loomcast/loomcast/server/servertest"
	"github.com/loomcast/loomcast/tiktok"
	"github.com/loomcast/loomcast/workflows/webhooks"
)

func postRaw(t *testing.T, env *servertest.Env, path string, body []byte, header ...string) *servertest.Response {
	t.Helper()
	return env.Client().Do(http.MethodPost, path, body, header...)
}

func TestTikTokWebhookSignature(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	now := time.Now()
	body, sig := env.TikTok.Event("post.publish.inbox_delivered", "someone", map[string]string{"publish_id": "p_1"}, now)
	wrongSecret := tiktok.SignWebhook("not-the-secret", now, body)
	stale := tiktok.SignWebhook("tt-secret", now.Add(-6*time.Minute), body)
	tampered := bytes.Replace(body, []byte("p_1"), []byte("p_2"), 1)

	tests := []struct {
		name   string
		body   []byte
		header string
		want   int
	}{
		{"valid", body, sig, http.StatusOK},
		{"wrong secret", body, wrongSecret, http.StatusUnauthorized},
		{"stale", body, stale, http.StatusUnauthorized},
		{"tampered body", tampered, sig, http.StatusUnauthorized},
		{"missing header", body, "", http.StatusUnauthorized},
		{"malformed header", body, "t=abc,s=zz", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := postRaw(t, env, "/webhooks/tiktok", tt.body, "TikTok-Signature", tt.header)
			require.Equal(t, tt.want, r.Status, "body: %s", r.Body)
			if tt.want != http.StatusOK {
				require.Equal(t, "https://loomcast.dev/problems/unauthenticated", r.Problem(t).Type)
			}
		})
	}

	t.Run("malformed body", func(t *testing.T) {
		raw := []byte(`{"not":"an event"}`)
		r := postRaw(t, env, "/webhooks/tiktok", raw, "TikTok-Signature", tiktok.SignWebhook("tt-secret", time.Now(), raw))
		require.Equal(t, http.StatusBadRequest, r.Status)
	})

	t.Run("unknown event types are stored and ignored", func(t *testing.T) {
		b, s := env.TikTok.Event("video.something.new", "someone", map[string]string{}, time.Now())
		r := postRaw(t, env, "/webhooks/tiktok", b, "TikTok-Signature", s)
		require.Equal(t, http.StatusOK, r.Status)
		events, err := env.Store.WebhookEvents(context.Background(), models.WebhookFilter{Status: models.WebhookIgnored})
		require.NoError(t, err)
		require.Len(t, events, 1)
		require.Equal(t, "video.something.new", events[0].EventType)
	})
}

func TestStripeWebhookSignature(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	payload := []byte(`{"id":"evt_1","object":"event","type":"invoice.paid","api_version":"2023-10-16","data":{"object":{}}}`)
	valid := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: servertest.StripeSecret})
	invalid := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: "whsec_other"})

	r := postRaw(t, env, "/webhooks/stripe", payload, "Stripe-Signature", valid.Header)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	r = postRaw(t, env, "/webhooks/stripe", payload, "Stripe-Signature", valid.Header)
	require.Equal(t, http.StatusOK, r.Status)
	require.Contains(t, string(r.Body), `"duplicate":true`, "stored once per event id")
	require.Equal(t, http.StatusUnauthorized, postRaw(t, env, "/webhooks/stripe", payload, "Stripe-Signature", invalid.Header).Status)
	require.Equal(t, http.StatusUnauthorized, postRaw(t, env, "/webhooks/stripe", payload).Status)

	// Nothing consumes Stripe events yet: found irrelevant at once, each
	// is deleted 30 days later.
	n, err := env.Store.CountWebhookEvents(context.Background(), models.SourceStripe, models.WebhookIgnored)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	items, err := env.Store.UpcomingRetention(context.Background(), "stripe_deliveries", 10)
	require.NoError(t, err)
	require.Len(t, items, 1, "the delivery's retention is scheduled")
}

// publishedTikTokPost publishes a post through the whole stack and returns it.
func publishedTikTokPost(t *testing.T, env *servertest.Env, c *servertest.Client, channel string) postJSON {
	t.Helper()
	r := createPost(t, c, map[string]any{"channel_id": channel, "upload_id": c.Upload(1<<20, time.Second),
		"privacy": "PUBLIC_TO_EVERYONE", "scheduled_at": "now"})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var p postJSON
	r.JSON(t, &p)
	p = waitForPost(t, c, p.ID, "published", "failed")
	require.Equal(t, "published", p.Status, p.FailureReason)
	return p
}

// isStored says whether a TikTok event with this body is stored.
func isStored(t *testing.T, env *servertest.Env, payload []byte) bool {
	t.Helper()
	events, err := env.Store.WebhookEvents(context.Background(), models.WebhookFilter{Source: models.SourceTikTok, Limit: 1000})
	require.NoError(t, err)
	return slices.ContainsFunc(events, func(e models.WebhookEvent) bool { return e.Payload == string(payload) })
}

// waitForEvent waits until the stored TikTok event whose body is payload
// reaches status.
func waitForEvent(t *testing.T, env *servertest.Env, payload []byte, status string) {
	t.Helper()
	require.Eventually(t, func() bool {
		events, err := env.Store.WebhookEvents(context.Background(), models.WebhookFilter{Source: models.SourceTikTok, Limit: 1000})
		if err != nil {
			return false
		}
		for _, e := range events {
			if e.Payload == string(payload) {
				return e.Status == status
			}
		}
		return false
	}, 60*time.Second, 100*time.Millisecond, "waiting for the event %s to be %s", payload, status)
}

func waitApplied(t *testing.T, env *servertest.Env, want int64) {
	t.Helper()
	require.Eventually(t, func() bool {
		n, err := env.Store.CountWebhookEvents(context.Background(), models.SourceTikTok, models.WebhookApplied)
		return err == nil && n >= want
	}, 60*time.Second, 100*time.Millisecond, "waiting for %d applied events", want)
}

func TestWebhookReconciliation(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	c := env.Client()
	c.Register("hooks@example.com", goodPassword)
	channel := c.ConnectChannel("tiktok")
	openID := externalID(t, env, channel)
	ctx := context.Background()

	p := publishedTikTokPost(t, env, c, channel)
	env.TikTok.WaitWebhooks()
	waitApplied(t, env, 2) // the fake's own complete and publicly_available
	post, err := env.Store.PostByID(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, "public", post.PublicState, "publicly_available was applied")

	t.Run("the same event five times changes the post once", func(t *testing.T) {
		// The post's process records "published as ..." after the status
		// turns published: count the history once it has.
		var before []models.PostEvent
		require.Eventually(t, func() bool {
			evs, err := env.Store.PostEvents(ctx, p.ID)
			if err != nil {
				return false
			}
			before = evs
			return slices.ContainsFunc(evs, func(e models.PostEvent) bool { return strings.HasPrefix(e.Detail, "published as") })
		}, 30*time.Second, 50*time.Millisecond)
		body, sig := env.TikTok.Event("post.publish.no_longer_publicaly_available", openID, map[string]string{"publish_id": post.PublishID}, time.Now())
		for i := 0; i < 5; i++ {
			r := postRaw(t, env, "/webhooks/tiktok", body, "TikTok-Signature", sig)
			require.Equal(t, http.StatusOK, r.Status)
		}
		waitApplied(t, env, 3)
		after, err := env.Store.PostEvents(ctx, p.ID)
		require.NoError(t, err)
		require.Len(t, after, len(before)+1)
		got, err := env.Store.PostByID(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, "removed", got.PublicState)
		require.Empty(t, got.PublicURL, "a post no longer public has no public link")

		// Public again: the link comes back.
		body, sig = env.TikTok.Event("post.publish.publicly_available", openID, map[string]string{"publish_id": post.PublishID, "post_id": post.PlatformPostID}, time.Now())
		require.Equal(t, http.StatusOK, postRaw(t, env, "/webhooks/tiktok", body, "TikTok-Signature", sig).Status)
		waitForEvent(t, env, body, models.WebhookApplied)
		got, err = env.Store.PostByID(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, "https://www.tiktok.com/@"+openID+"/video/"+post.PlatformPostID, got.PublicURL)
	})

	t.Run("an event for an unknown publish id waits for its post", func(t *testing.T) {
		other := publishedTikTokPost(t, env, c, channel)
		env.TikTok.WaitWebhooks()
		_, err := env.Store.ApplyPostChange(ctx, other.ID, models.PostChange{Set: models.PostFields{PublishID: models.Ptr("p_later")}})
		require.NoError(t, err)
		// Pretend the post has not recorded its publish ID yet.
		_, err = env.Store.ApplyPostChange(ctx, other.ID, models.PostChange{Set: models.PostFields{PublishID: models.Ptr("")}})
		require.NoError(t, err)
		_, err = env.TikTok.Send("post.publish.inbox_delivered", openID, map[string]string{"publish_id": "p_later"})
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			n, err := env.Store.CountWebhookEvents(ctx, models.SourceTikTok, models.WebhookHeld)
			return err == nil && n == 1
		}, 30*time.Second, 100*time.Millisecond)

		// The post records it, and its workflow tells the reconciliation.
		_, err = env.Store.ApplyPostChange(ctx, other.ID, models.PostChange{Set: models.PostFields{PublishID: models.Ptr("p_later")}})
		require.NoError(t, err)
		require.NoError(t, env.Temporal.SignalWorkflow(ctx, webhooks.ReconcileWorkflowID(openID), "", webhooks.SignalPostKnown, "p_later"))
		require.Eventually(t, func() bool {
			evs, err := env.Store.PostEvents(ctx, other.ID)
			return err == nil && len(evs) > 0 && strings.Contains(evs[len(evs)-1].Detail, "inbox")
		}, 30*time.Second, 100*time.Millisecond)
	})

	t.Run("a forged event is refused where a genuine one applies", func(t *testing.T) {
		// A post awaiting TikTok's verdict, which a post.publish.failed
		// event would settle.
		r := createPost(t, c, map[string]any{"channel_id": channel, "upload_id": c.Upload(1<<20, time.Second),
			"privacy": "SELF_ONLY", "scheduled_at": env.Clock.Now().Add(2 * time.Hour).Format(time.RFC3339)})
		require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
		var waiting postJSON
		r.JSON(t, &waiting)
		_, err := env.Store.ApplyPostChange(ctx, waiting.ID, models.PostChange{Status: loomcast.PostProcessing, Set: models.PostFields{PublishID: models.Ptr("p_verdict")}})
		require.NoError(t, err)
		content := map[string]string{"publish_id": "p_verdict", "reason": "forged"}

		at := env.Clock.Now()
		failed, _ := env.TikTok.Event("post.publish.failed", openID, content, at)
		r = postRaw(t, env, "/webhooks/tiktok", failed, "TikTok-Signature", tiktok.SignWebhook("not-the-secret", at, failed))
		require.Equal(t, http.StatusUnauthorized, r.Status, "body: %s", r.Body)
		require.Equal(t, "https://loomcast.dev/problems/unauthenticated", r.Problem(t).Type)

		// The same event, genuinely signed but from another TikTok account,
		// is stored and never reaches this account's post: it waits for a
		// post of its own account.
		otherAccount, otherSig := env.TikTok.Event("post.publish.failed", "someone_else", content, at)
		r = postRaw(t, env, "/webhooks/tiktok", otherAccount, "TikTok-Signature", otherSig)
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		waitForEvent(t, env, otherAccount, models.WebhookHeld)

		// A genuine event sent after the forged one goes through the relay
		// and the reconciliation: once it is applied, the forged one, had
		// it been stored, would have been delivered too.
		live, liveSig := env.TikTok.Event("post.publish.inbox_delivered", openID, map[string]string{"publish_id": "p_verdict"}, at)
		r = postRaw(t, env, "/webhooks/tiktok", live, "TikTok-Signature", liveSig)
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		waitForEvent(t, env, live, models.WebhookApplied)
		got, err := env.Store.PostByID(ctx, waiting.ID)
		require.NoError(t, err)
		require.Equal(t, loomcast.PostProcessing, got.Status, "neither the forged nor the other account's event settled the post")
		require.False(t, isStored(t, env, failed), "the forged event left no stored row")

		// The forged body with TikTok's real signature is new, and applies.
		r = postRaw(t, env, "/webhooks/tiktok", failed, "TikTok-Signature", tiktok.SignWebhook("tt-secret", at, failed))
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		require.Contains(t, string(r.Body), `"duplicate":false`, "the forged delivery was not stored under this event's key")
		waitForEvent(t, env, failed, models.WebhookApplied)
		require.True(t, isStored(t, env, failed), "isStored finds a stored event")
		got, err = env.Store.PostByID(ctx, waiting.ID)
		require.NoError(t, err)
		require.Equal(t, loomcast.PostFailed, got.Status)
		require.Contains(t, got.FailureReason, "forged")
	})

	t.Run("authorization.removed needs a reconnect", func(t *testing.T) {
		r := createPost(t, c, map[string]any{"channel_id": channel, "upload_id": c.Upload(1<<20, time.Second),
			"privacy": "SELF_ONLY", "scheduled_at": env.Clock.Now().Add(3 * time.Hour).Format(time.RFC3339)})
		require.Equal(t, http.StatusCreated, r.Status)
		var waiting postJSON
		r.JSON(t, &waiting)
		_, err := env.TikTok.Send("authorization.removed", openID, map[string]int{"reason": 1})
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			ch, err := env.Store.ChannelByID(ctx, channel)
			return err == nil && ch.Status == loomcast.ChannelReauthRequired
		}, 30*time.Second, 100*time.Millisecond)
		ch, err := env.Store.ChannelByID(ctx, channel)
		require.NoError(t, err)
		require.Nil(t, ch.AccessTokenSealed)
		got := c.Do(http.MethodGet, "/v1/posts/"+waiting.ID, nil)
		require.Contains(t, string(got.Body), "Reconnect your TikTok channel")
	})
}

func TestOutOfOrderEvents(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	env.TikTok.DropWebhooks(true)
	c := env.Client()
	c.Register("order@example.com", goodPassword)
	channel := c.ConnectChannel("tiktok")
	openID := externalID(t, env, channel)
	ctx := context.Background()

	// A post in "processing" (the platform has it, no verdict yet).
	r := createPost(t, c, map[string]any{"channel_id": channel, "upload_id": c.Upload(1<<20, time.Second),
		"privacy": "PUBLIC_TO_EVERYONE", "scheduled_at": env.Clock.Now().Add(time.Hour).Format(time.RFC3339)})
	require.Equal(t, http.StatusCreated, r.Status)
	var p postJSON
	r.JSON(t, &p)
	_, err := env.Store.ApplyPostChange(ctx, p.ID, models.PostChange{Status: loomcast.PostProcessing, Set: models.PostFields{PublishID: models.Ptr("p_ooo")}})
	require.NoError(t, err)

	_, err = env.TikTok.Send("post.publish.publicly_available", openID, map[string]string{"publish_id": "p_ooo", "post_id": "7311111111111111111"})
	require.NoError(t, err)
	_, err = env.TikTok.Send("post.publish.complete", openID, map[string]string{"publish_id": "p_ooo"})
	require.NoError(t, err)
	waitApplied(t, env, 2)
	got, err := env.Store.PostByID(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, loomcast.PostPublished, got.Status)
	require.Equal(t, "7311111111111111111", got.PlatformPostID)
	require.Equal(t, "public", got.PublicState)
}

func TestLostWebhooksAreSettledByPolling(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	env.TikTok.DropWebhooks(true)
	c := env.Client()
	c.Register("lost@example.com", goodPassword)
	channel := c.ConnectChannel("tiktok")
	p := publishedTikTokPost(t, env, c, channel)
	require.NotEmpty(t, p.PlatformPostID)
	n, err := env.Store.CountWebhookEvents(context.Background(), models.SourceTikTok, models.WebhookReceived)
	require.NoError(t, err)
	require.Zero(t, n, "no webhook arrived")
}

// TestEventsWaitOutAnOutage stores events while Temporal cannot be reached
// and no worker runs, and applies them once both are back.
func TestEventsWaitOutAnOutage(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{NoRelay: true, NoWorker: true})
	w := env.StartWorker(nil)
	env.TikTok.DropWebhooks(true)
	c := env.Client()
	c.Register("outage@example.com", goodPassword)
	channel := c.ConnectChannel("tiktok")
	openID := externalID(t, env, channel)
	p := publishedTikTokPost(t, env, c, channel)
	ctx := context.Background()
	post, err := env.Store.PostByID(ctx, p.ID)
	require.NoError(t, err)
	w.Stop() // the worker goes down

	for i := 0; i < 3; i++ {
		body, sig := env.TikTok.Event("post.publish.inbox_delivered", openID, map[string]any{"publish_id": post.PublishID, "n": i}, time.Now())
		require.Equal(t, http.StatusOK, postRaw(t, env, "/webhooks/tiktok", body, "TikTok-Signature", sig).Status, "acknowledged while Temporal and the worker are down")
	}

	down, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	require.NoError(t, err)
	r := &relay.Relay{Store: env.Store, Temporal: down, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, err = r.DeliverOnce(dctx)
	cancel()
	require.Error(t, err)
	waiting, err := env.Store.CountWebhookEvents(ctx, models.SourceTikTok, models.WebhookReceived)
	require.NoError(t, err)
	require.EqualValues(t, 3, waiting, "nothing is lost while Temporal is down")

	// Temporal is back: the events reach the workflow, which waits for a worker.
	env.StartRelay()
	require.Eventually(t, func() bool {
		n, err := env.Store.CountWebhookEvents(ctx, models.SourceTikTok, models.WebhookDelivered)
		return err == nil && n == 3
	}, 30*time.Second, 100*time.Millisecond)
	applied, err := env.Store.CountWebhookEvents(ctx, models.SourceTikTok, models.WebhookApplied)
	require.NoError(t, err)
	require.Zero(t, applied, "no worker, nothing applied yet")

	env.StartWorker(nil) // and the worker is back
	waitApplied(t, env, 3)
}

func TestAdminWebhooks(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	c := env.Client()
	c.Register("seen@example.com", goodPassword)
	channel := c.ConnectChannel("tiktok")
	publishedTikTokPost(t, env, c, channel)
	env.TikTok.WaitWebhooks()
	waitApplied(t, env, 2)

	staff := env.Client()
	su := staff.Register("ops@loomcast.example.com", goodPassword)
	require.NoError(t, env.Store.SetRole(context.Background(), su.ID, models.RoleSupport))

	r := staff.Do(http.MethodGet, "/v1/admin/webhooks?source=tiktok&status=applied&channel_id="+channel, nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var list struct {
		Events []struct {
			ID, Type, Status string
		} `json:"events"`
	}
	r.JSON(t, &list)
	require.Len(t, list.Events, 2)
	require.Equal(t, http.StatusBadRequest, staff.Do(http.MethodGet, "/v1/admin/webhooks?status=odd", nil).Status)
	require.Equal(t, http.StatusForbidden, c.Do(http.MethodGet, "/v1/admin/webhooks", nil).Status)

	r = staff.Do(http.MethodPost, "/v1/admin/webhooks/"+list.Events[0].ID+"/replay", nil)
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	require.Eventually(t, func() bool {
		e, err := env.Store.WebhookEventByID(context.Background(), list.Events[0].ID)
		return err == nil && e.Status == models.WebhookApplied && !e.Replay
	}, 30*time.Second, 100*time.Millisecond, "a replayed event is applied again")
}

// Test20000EventsThroughOneAccount sends 20,000 events of one TikTok
// account through the relay and its reconciliation workflow, which must
// continue as new along the way and apply every event once.
func Test20000EventsThroughOneAccount(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	env.TikTok.DropWebhooks(true)
	c := env.Client()
	c.Register("busy@example.com", goodPassword)
	channel := c.ConnectChannel("tiktok")
	openID := externalID(t, env, channel)
	p := publishedTikTokPost(t, env, c, channel)
	ctx := context.Background()
	post, err := env.Store.PostByID(ctx, p.ID)
	require.NoError(t, err)

	const n = 20000
	now := time.Now()
	for i := 0; i < n; i++ {
		body, _ := env.TikTok.Event("post.publish.inbox_delivered", openID, map[string]any{"publish_id": post.PublishID, "seq": i}, now)
		stored, err := env.Store.InsertWebhookEvent(ctx, &models.WebhookEvent{Source: models.SourceTikTok, EventKey: strconv.Itoa(i),
			EventType: "post.publish.inbox_delivered", Account: openID, Payload: string(body), ReceivedAt: now})
		require.NoError(t, err)
		require.True(t, stored)
	}
	deadline := time.Now().Add(4 * time.Minute)
	for {
		applied, err := env.Store.CountWebhookEvents(ctx, models.SourceTikTok, models.WebhookApplied)
		require.NoError(t, err)
		if applied == n {
			break
		}
		if time.Now().After(deadline) {
			counts := map[string]int64{}
			for _, st := range []string{models.WebhookReceived, models.WebhookDelivered, models.WebhookHeld, models.WebhookFailed, models.WebhookIgnored} {
				counts[st], _ = env.Store.CountWebhookEvents(ctx, models.SourceTikTok, st)
			}
			t.Fatalf("only %d of %d events applied; others: %v", applied, n, counts)
		}
		time.Sleep(time.Second)
	}

	iter := env.Temporal.GetWorkflowHistory(ctx, webhooks.ReconcileWorkflowID(openID), "", false, 0)
	first, err := iter.Next()
	require.NoError(t, err)
	started := first.GetWorkflowExecutionStartedEventAttributes()
	require.NotEmpty(t, started.GetContinuedExecutionRunId(), "the workflow continued as new")
	events, err := env.Store.PostEvents(ctx, p.ID)
	require.NoError(t, err)
	require.Less(t, len(events), 10, "identical events add one history entry, not 20,000")
}
