package tiktok

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// WebhookSignatureHeader is the header TikTok signs webhook events with.
const WebhookSignatureHeader = "TikTok-Signature"

// Webhook verification failures, for errors.Is.
var (
	// ErrWebhookHeader: the signature header is missing or malformed.
	ErrWebhookHeader = errors.New("tiktok: webhook signature header missing or malformed")
	// ErrWebhookSignature: the signature does not match the body.
	ErrWebhookSignature = errors.New("tiktok: webhook signature does not match")
	// ErrWebhookStale: the signature is valid but its timestamp is too far
	// from now (a replay, or a badly skewed clock).
	ErrWebhookStale = errors.New("tiktok: webhook timestamp outside tolerance")
)

// defaultWebhookTolerance is used when VerifyWebhook is given none.
const defaultWebhookTolerance = 5 * time.Minute

// webhookMAC is hex(HMAC-SHA256(clientSecret, "<unix t>.<body>")).
func webhookMAC(clientSecret string, unix int64, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(clientSecret))
	m.Write([]byte(strconv.FormatInt(unix, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// SignWebhook returns the TikTok-Signature header value TikTok would send
// for body at time t: "t=<unix seconds>,s=<hex HMAC-SHA256 of "<t>.<body>"
// keyed with the client secret>". Tests and the fake use it.
func SignWebhook(clientSecret string, t time.Time, body []byte) string {
	unix := t.Unix()
	return "t=" + strconv.FormatInt(unix, 10) + ",s=" + hex.EncodeToString(webhookMAC(clientSecret, unix, body))
}

// VerifyWebhook checks a TikTok-Signature header against the raw request
// body, as TikTok's "Check the signature" guide describes: the signature
// must match (compared in constant time) and its timestamp must be within
// tolerance of now, either way (tolerance <= 0 means 5 minutes). Errors
// wrap ErrWebhookHeader, ErrWebhookSignature or ErrWebhookStale.
func VerifyWebhook(clientSecret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = defaultWebhookTolerance
	}
	if strings.TrimSpace(header) == "" {
		return fmt.Errorf("%w: empty", ErrWebhookHeader)
	}
	var (
		unix    int64
		haveT   bool
		sigs    [][]byte
		badSigs int
	)
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: element without '='", ErrWebhookHeader)
		}
		switch strings.TrimSpace(k) {
		case "t":
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || haveT {
				return fmt.Errorf("%w: bad or repeated timestamp", ErrWebhookHeader)
			}
			unix, haveT = n, true
		case "s":
			sig, err := hex.DecodeString(strings.TrimSpace(v))
			if err != nil || len(sig) != sha256.Size {
				badSigs++
				continue
			}
			sigs = append(sigs, sig)
		}
	}
	if !haveT {
		return fmt.Errorf("%w: no timestamp", ErrWebhookHeader)
	}
	if len(sigs) == 0 {
		if badSigs > 0 {
			return fmt.Errorf("%w: signature is not a hex sha-256", ErrWebhookHeader)
		}
		return fmt.Errorf("%w: no signature", ErrWebhookHeader)
	}
	want := webhookMAC(clientSecret, unix, body)
	matched := false
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			matched = true
		}
	}
	if !matched {
		return ErrWebhookSignature
	}
	age := now.Sub(time.Unix(unix, 0))
	if age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: signed %s from now", ErrWebhookStale, age.Round(time.Second))
	}
	return nil
}

// WebhookEvent is the envelope of a TikTok webhook. Content is a JSON
// document carried as a string.
type WebhookEvent struct {
	ClientKey  string `json:"client_key"`
	Event      string `json:"event"`
	CreateTime int64  `json:"create_time"`
	UserOpenID string `json:"user_openid"`
	Content    string `json:"content"`
}

// PostEventContent is the content of post.publish.* events.
type PostEventContent struct {
	PublishID   string `json:"publish_id"`
	PublishType string `json:"publish_type"`
	Reason      string `json:"reason"`
	PostID      string `json:"post_id"`
}

// ErrWebhookBody is returned for a body that is not a TikTok event.
var ErrWebhookBody = errors.New("tiktok: webhook body is not an event envelope")

// ParseWebhook reads the envelope; the event name and user are required.
func ParseWebhook(body []byte) (WebhookEvent, error) {
	var e WebhookEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return WebhookEvent{}, fmt.Errorf("%w: %v", ErrWebhookBody, err)
	}
	if e.Event == "" || e.CreateTime <= 0 {
		return WebhookEvent{}, fmt.Errorf("%w: event and create_time are required", ErrWebhookBody)
	}
	return e, nil
}

// PostContent decodes the content of a post.publish.* event. TikTok may
// send post_id as a number: both forms are read exactly.
func (e WebhookEvent) PostContent() (PostEventContent, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(e.Content))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return PostEventContent{}, fmt.Errorf("%w: content: %v", ErrWebhookBody, err)
	}
	str := func(k string) string {
		v, ok := raw[k]
		if !ok {
			return ""
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
		return strings.TrimSpace(string(v))
	}
	return PostEventContent{PublishID: str("publish_id"), PublishType: str("publish_type"), Reason: str("reason"), PostID: str("post_id")}, nil
}
