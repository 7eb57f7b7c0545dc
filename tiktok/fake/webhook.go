package fake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/loomcast/loomcast/tiktok"
)

// SetWebhookURL makes the fake send TikTok's post.publish.* events, signed
// with the client secret, to url when it settles a post (empty: none).
func (s *Server) SetWebhookURL(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL = url
}

// DropWebhooks makes the fake lose (drop = true) or send its webhooks, to
// show that polling settles posts whose webhooks never arrive.
func (s *Server) DropWebhooks(drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropWebhooks = drop
}

// WaitWebhooks waits until every webhook the fake started sending is sent.
func (s *Server) WaitWebhooks() { s.webhooks.Wait() }

// Event builds a webhook body as TikTok sends it (content is a JSON
// string inside the envelope) and its TikTok-Signature header at time at.
func (s *Server) Event(event, openID string, content any, at time.Time) (body []byte, signature string) {
	inner, err := json.Marshal(content)
	if err != nil {
		panic(err)
	}
	body, err = json.Marshal(map[string]any{
		"client_key":  s.opts.ClientKey,
		"event":       event,
		"create_time": at.Unix(),
		"user_openid": openID,
		"content":     string(inner),
	})
	if err != nil {
		panic(err)
	}
	return body, tiktok.SignWebhook(s.opts.ClientSecret, at, body)
}

// Send posts a signed event to the webhook URL and returns the status.
func (s *Server) Send(event, openID string, content any) (int, error) {
	s.mu.Lock()
	url := s.webhookURL
	s.mu.Unlock()
	if url == "" {
		return 0, fmt.Errorf("no webhook URL set")
	}
	body, sig := s.Event(event, openID, content, s.now())
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(tiktok.WebhookSignatureHeader, sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// settleLater decides the post's outcome after delay, when processing is
// over (p.settleAt on the fake's clock), and sends the webhooks TikTok
// would. Called with s.mu held.
func (s *Server) settleLater(p *post, delay time.Duration) {
	if s.webhookURL == "" {
		return
	}
	s.webhooks.Add(1)
	time.AfterFunc(max(delay, 0), func() {
		defer s.webhooks.Done()
		s.mu.Lock()
		status := s.status(p, p.settleAt)
		drop, publishID, openID, privacy, reason, postID := s.dropWebhooks, p.publishID, p.openID, p.privacy, p.failReason, p.postIDText()
		s.mu.Unlock()
		if drop {
			return
		}
		if status == StatusFailed {
			_, _ = s.Send("post.publish.failed", openID, map[string]any{"publish_id": publishID, "reason": reason, "publish_type": "DIRECT_PUBLISH"})
			return
		}
		_, _ = s.Send("post.publish.complete", openID, map[string]any{"publish_id": publishID, "publish_type": "DIRECT_PUBLISH"})
		if privacy == "PUBLIC_TO_EVERYONE" {
			id, _ := strconv.ParseInt(postID, 10, 64)
			_, _ = s.Send("post.publish.publicly_available", openID, map[string]any{"publish_id": publishID, "post_id": strconv.FormatInt(id, 10), "publish_type": "DIRECT_PUBLISH"})
		}
	})
}
