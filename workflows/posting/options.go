package posting

import (
	"fmt"
	"slices"
	"strings"
)

// YouTubePrivacy are the privacy statuses a YouTube post can take.
var YouTubePrivacy = []string{"public", "private", "unlisted"}

// Options are a post's publishing options.
type Options struct {
	Privacy      string
	AllowComment bool
	AllowDuet    bool
	AllowStitch  bool
	// DurationMS is the video's duration when it could be read.
	DurationMS *int64
	// DurationUnknown says the video's duration could not be read (an
	// upload from before durations were checked): it cannot go to a
	// creator with a maximum duration.
	DurationUnknown bool
}

// Capabilities are what a TikTok creator may currently post, from the live
// creator info (never stored). The API and the publishing activities fill
// them from tiktok.CreatorInfo; the contract does not depend on the client.
type Capabilities struct {
	PrivacyOptions  []string
	CommentDisabled bool
	DuetDisabled    bool
	StitchDisabled  bool
	MaxDurationSec  int
}

// Check returns what is wrong with the options for these capabilities, by
// request field; empty when they are allowed.
func (c Capabilities) Check(o Options) map[string]string {
	out := map[string]string{}
	if !slices.Contains(c.PrivacyOptions, o.Privacy) {
		out["privacy"] = fmt.Sprintf("must be one of %s for this creator", strings.Join(c.PrivacyOptions, ", "))
	}
	if o.AllowComment && c.CommentDisabled {
		out["allow_comment"] = "comments are turned off for this creator"
	}
	if o.AllowDuet && c.DuetDisabled {
		out["allow_duet"] = "duets are turned off for this creator"
	}
	if o.AllowStitch && c.StitchDisabled {
		out["allow_stitch"] = "stitches are turned off for this creator"
	}
	if o.DurationUnknown && c.MaxDurationSec > 0 {
		out["upload_id"] = fmt.Sprintf("the video's duration could not be read, and this creator can post at most %d s; upload it again", c.MaxDurationSec)
	}
	if o.DurationMS != nil && c.MaxDurationSec > 0 && *o.DurationMS > int64(c.MaxDurationSec)*1000 {
		out["upload_id"] = fmt.Sprintf("the video lasts %.0f s; this creator can post at most %d s", float64(*o.DurationMS)/1000, c.MaxDurationSec)
	}
	return out
}
