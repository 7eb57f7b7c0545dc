package server

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/tiktok"
)

// webhookTolerance is how old a signed TikTok event may be.
const webhookTolerance = 5 * time.Minute

// TikTokEvents are the TikTok webhook events Loomcast acts on; others are
// stored and ignored.
var TikTokEvents = []string{
	"post.publish.complete", "post.publish.failed", "post.publish.publicly_available",
	"post.publish.no_longer_publicaly_available", "post.publish.inbox_delivered", "authorization.removed",
}

// tiktokWebhook verifies, stores and acknowledges a TikTok event. Nothing
// else happens in the request, so the answer is fast and does not depend
// on Temporal: the relay hands stored events on.
func (s *webhooksAPI) tiktokWebhook(c *gin.Context) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		s.fail(c, decodeError(err))
		return
	}
	if s.cfg.TikTokClientSecret == "" {
		s.fail(c, errorf(CodeUnauthenticated, "TikTok webhooks are not configured on this server."))
		return
	}
	if err := tiktok.VerifyWebhook(s.cfg.TikTokClientSecret, c.GetHeader(tiktok.WebhookSignatureHeader), body, s.now(), webhookTolerance); err != nil {
		s.log(c).Warn("tiktok webhook refused", slog.String("reason", err.Error()))
		s.fail(c, errorf(CodeUnauthenticated, "The TikTok-Signature header is missing, malformed, stale or does not match the body."))
		return
	}
	ev, err := tiktok.ParseWebhook(body)
	if err != nil {
		s.fail(c, errorf(CodeMalformed, "The body is not a TikTok event envelope."))
		return
	}
	sum := sha256.Sum256([]byte(strings.Join([]string{ev.ClientKey, ev.Event, strconv.FormatInt(ev.CreateTime, 10), ev.UserOpenID, ev.Content}, "\x00")))
	rec := &models.WebhookEvent{Source: models.SourceTikTok, EventKey: hex.EncodeToString(sum[:]), EventType: ev.Event,
		Account: ev.UserOpenID, Payload: string(body), ReceivedAt: s.now()}
	if !slices.Contains(TikTokEvents, ev.Event) {
		rec.Status, rec.Detail = models.WebhookIgnored, "unknown event type"
	}
	s.noteWebhookDelivery(c, rec.ReceivedAt)
	stored, err := s.store.InsertWebhookEvent(c.Request.Context(), rec)
	if err != nil {
		s.fail(c, err)
		return
	}
	if stored && rec.Status == models.WebhookReceived {
		s.wakeRelay()
	}
	c.JSON(http.StatusOK, gin.H{"received": true, "duplicate": !stored})
}

// stripeWebhook verifies a Stripe event with stripe-go and stores it once
// per event ID; billing consumes the stored events.
func (s *webhooksAPI) stripeWebhook(c *gin.Context) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		s.fail(c, decodeError(err))
		return
	}
	if s.cfg.StripeWebhookSecret == "" {
		s.fail(c, errorf(CodeUnauthenticated, "Stripe webhooks are not configured on this server."))
		return
	}
	ev, err := webhook.ConstructEventWithOptions(body, c.GetHeader("Stripe-Signature"), s.cfg.StripeWebhookSecret,
		webhook.ConstructEventOptions{Tolerance: webhookTolerance, IgnoreAPIVersionMismatch: true})
	if err != nil {
		if errors.Is(err, webhook.ErrNotSigned) || errors.Is(err, webhook.ErrInvalidHeader) ||
			errors.Is(err, webhook.ErrNoValidSignature) || errors.Is(err, webhook.ErrTooOld) {
			s.log(c).Warn("stripe webhook refused", slog.String("reason", err.Error()))
			s.fail(c, errorf(CodeUnauthenticated, "The Stripe-Signature header is missing, stale or does not match the body."))
			return
		}
		s.fail(c, errorf(CodeMalformed, "The body is not a Stripe event."))
		return
	}
	// Nothing consumes Stripe events until billing exists: each is found
	// irrelevant on arrival, and its 30 days run from then.
	now := s.now()
	rec := &models.WebhookEvent{Source: models.SourceStripe, EventKey: ev.ID, EventType: string(ev.Type), Account: ev.Account,
		Payload: string(body), ReceivedAt: now, Status: models.WebhookIgnored, AppliedAt: &now,
		Detail: "not used: Loomcast bills nothing yet; deleted 30 days after arrival"}
	if err := s.buckets.Note(c.Request.Context(), retention.StripeDeliveries, now); err != nil {
		s.log(c).Warn("schedule stripe delivery retention", slog.String("error", err.Error()))
	}
	stored, err := s.store.InsertWebhookEvent(c.Request.Context(), rec)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"received": true, "duplicate": !stored})
}

// wakeRelay tells an in-process relay that an event waits (dev mode); a
// relay in another process finds it on its next look.
func (s *webhooksAPI) wakeRelay() {
	if s.relayWake == nil {
		return
	}
	select {
	case s.relayWake <- struct{}{}:
	default:
	}
}

// webhookView is a stored event as staff see it.
type webhookView struct {
	ID          string     `json:"id"`
	Source      string     `json:"source"`
	Type        string     `json:"type"`
	Account     string     `json:"account"`
	Status      string     `json:"status"`
	Detail      string     `json:"detail"`
	Attempts    int        `json:"attempts"`
	ReceivedAt  time.Time  `json:"received_at"`
	DeliveredAt *time.Time `json:"delivered_at"`
	AppliedAt   *time.Time `json:"applied_at"`
}

// webhookList answers GET /v1/admin/webhooks.
type webhookList struct {
	Events     []webhookView `json:"events"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

var webhookStatuses = []string{models.WebhookReceived, models.WebhookDelivered, models.WebhookApplied, models.WebhookHeld, models.WebhookIgnored, models.WebhookFailed}

// adminWebhooks lists stored events, newest first, for staff.
func (s *webhooksAPI) adminWebhooks(c *gin.Context) {
	ctx := c.Request.Context()
	f := models.WebhookFilter{Source: c.Query("source"), Status: c.Query("status"), Limit: 50}
	fields := map[string]string{}
	var err error
	if f.Before, err = idCursor(c); err != nil {
		fields["cursor"] = "is not a cursor this API returned"
	}
	if f.Source != "" && f.Source != models.SourceTikTok && f.Source != models.SourceStripe {
		fields["source"] = "must be tiktok or stripe"
	}
	if f.Status != "" && !slices.Contains(webhookStatuses, f.Status) {
		fields["status"] = "must be one of " + strings.Join(webhookStatuses, ", ")
	}
	if len(fields) > 0 {
		s.fail(c, invalid(fields))
		return
	}
	if id := c.Query("channel_id"); id != "" {
		ch, err := s.store.ChannelByID(ctx, id)
		if err != nil {
			s.fail(c, err)
			return
		}
		f.Account = ch.ExternalID
	}
	f.Limit++
	events, err := s.store.WebhookEvents(ctx, f)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := webhookList{Events: []webhookView{}}
	if len(events) > 50 {
		events = events[:50]
		out.NextCursor = events[49].ID
	}
	for _, e := range events {
		out.Events = append(out.Events, webhookView{ID: e.ID, Source: e.Source, Type: e.EventType, Account: e.Account, Status: e.Status,
			Detail: e.Detail, Attempts: e.Attempts, ReceivedAt: e.ReceivedAt, DeliveredAt: e.DeliveredAt, AppliedAt: e.AppliedAt})
	}
	c.JSON(http.StatusOK, out)
}

// adminReplayWebhook sends a stored TikTok event through delivery again.
func (s *webhooksAPI) adminReplayWebhook(c *gin.Context) {
	ctx := c.Request.Context()
	e, err := s.store.WebhookEventByID(ctx, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if e.Source != models.SourceTikTok {
		s.fail(c, errorf(CodeConflict, "Only TikTok events are replayed; Stripe events are consumed by billing."))
		return
	}
	if err := s.store.ReplayWebhookEvent(ctx, e.ID); err != nil {
		s.fail(c, err)
		return
	}
	s.wakeRelay()
	s.log(c).Info("webhook replayed", "event_id", e.ID, "by", currentPrincipal(c).User.ID)
	c.JSON(http.StatusAccepted, gin.H{"id": e.ID, "status": models.WebhookReceived})
}

// noteWebhookDelivery starts the retention clock of the hour's deliveries
// (30 days each). Ingestion never fails for it: a later hour's item
// deletes every settled delivery whose 30 days have run.
func (s *webhooksAPI) noteWebhookDelivery(c *gin.Context, at time.Time) {
	if err := s.buckets.Note(c.Request.Context(), retention.WebhookDeliveries, at); err != nil {
		s.log(c).Warn("schedule webhook retention", slog.String("error", err.Error()))
	}
}

func (s *webhooksAPI) addRoutes(r routers) {
	r.root.POST("/webhooks/tiktok", s.tiktokWebhook)
	r.root.POST("/webhooks/stripe", s.stripeWebhook)
	r.staff.GET("/webhooks", s.requireRole(models.RoleSupport), s.adminWebhooks)
	r.staff.POST("/webhooks/:id/replay", s.requireRole(models.RoleSupport), s.adminReplayWebhook)
}
