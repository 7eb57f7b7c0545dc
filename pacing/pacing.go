// Package pacing keeps Loomcast's calls to TikTok inside TikTok's rate
// limits per access token (tiktok.RateLimits), across every post, request,
// worker and process of a deployment: slots are reserved in the database
// (models.Store.ReserveCall), so a restart forgets nothing and two
// workers share one count.
//
// A connected channel holds one access token, so a channel's calls are
// paced together. Slots are granted in order: a caller that must wait
// keeps its place and comes back when told (an activity ends its attempt
// and is retried at its slot; see activities/posting).
package pacing

import (
	"context"
	"time"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/tiktok"
)

// DefaultGrace is how late a reserved slot may still be used. Each call
// counts against the limit for TikTok's window plus the grace, so a call
// made up to the grace after its slot still leaves TikTok's window in
// time.
const DefaultGrace = 5 * time.Second

// Pacer reserves TikTok call slots. The zero Limits means
// tiktok.DefaultRateLimits, the zero Grace DefaultGrace.
type Pacer struct {
	Store  *models.Store
	Limits tiktok.RateLimits
	Grace  time.Duration
}

// Reserve asks for a slot for holder's call to endpoint e with the token
// of channelID. wait is 0 when the call may be made now; a positive wait
// with ok means a slot is held that far ahead (call Reserve again then,
// with the same holder); ok false means no slot is free within maxWait
// and none was taken.
func (p *Pacer) Reserve(ctx context.Context, channelID string, e tiktok.Endpoint, holder string, maxWait time.Duration) (wait time.Duration, ok bool, err error) {
	limits := p.limits()
	grace := p.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	return p.Store.ReserveCall(ctx, models.SlotRequest{
		Key:     "tiktok:" + channelID + ":" + string(e),
		Holder:  holder,
		Limit:   limits.Of(e),
		Span:    limits.Window + grace,
		Grace:   grace,
		MaxWait: maxWait,
	})
}

func (p *Pacer) limits() tiktok.RateLimits {
	if p.Limits == (tiktok.RateLimits{}) {
		return tiktok.DefaultRateLimits
	}
	return p.Limits
}

// Limit is the number of calls to e allowed per window.
func (p *Pacer) Limit(e tiktok.Endpoint) int { return p.limits().Of(e) }
