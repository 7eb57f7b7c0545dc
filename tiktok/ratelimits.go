package tiktok

import "time"

// Endpoint names an endpoint that TikTok rate-limits per access token.
type Endpoint string

// The rate-limited endpoints of the Content Posting API.
const (
	// EndpointInit is /v2/post/publish/video/init/ and
	// /v2/post/publish/content/init/, which share one limit.
	EndpointInit        Endpoint = "init"
	EndpointCreatorInfo Endpoint = "creator_info"
	EndpointStatus      Endpoint = "status_fetch"
)

// RateLimits are TikTok's request limits per user access token: at most
// so many requests to an endpoint in any Window. Beyond them TikTok
// answers 429 rate_limit_exceeded.
type RateLimits struct {
	Window                    time.Duration
	Init, CreatorInfo, Status int
}

// DefaultRateLimits are TikTok's published limits: 6 inits, 20
// creator_info queries and 30 status fetches a minute per access token.
var DefaultRateLimits = RateLimits{Window: time.Minute, Init: 6, CreatorInfo: 20, Status: 30}

// Of returns the limit of e; 0 for an endpoint without one.
func (l RateLimits) Of(e Endpoint) int {
	switch e {
	case EndpointInit:
		return l.Init
	case EndpointCreatorInfo:
		return l.CreatorInfo
	case EndpointStatus:
		return l.Status
	}
	return 0
}
