package posting

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/loomcast/loomcast/tiktok"
	wf "github.com/loomcast/loomcast/workflows/posting"
)

// InitTikTokPhotoPost posts a photo post once: TikTok pulls its images
// from signed, expiring links of ours, made here and sent only to TikTok
// (they are bearer URLs: no history holds them). As for a video, the
// session is marked before the request and the publish ID stored after
// it, so an attempt whose answer was lost stops with "could not confirm"
// rather than post twice.
func (a *Activities) InitTikTokPhotoPost(ctx context.Context, in wf.PostInput) (wf.TikTokInit, error) {
	p, sess, err := a.postWithSession(ctx, in.PostID)
	if err != nil {
		return wf.TikTokInit{}, err
	}
	ch, err := a.Store.ChannelByID(ctx, p.ChannelID)
	if err != nil {
		return wf.TikTokInit{}, err
	}
	switch {
	case p.PublishID != "" && sess.State == "initialized":
		return wf.TikTokInit{OpenID: ch.ExternalID, PublishID: p.PublishID}, nil
	case sess.State == "initializing":
		return wf.TikTokInit{}, temporal.NewNonRetryableApplicationError(
			"could not confirm whether TikTok accepted the photos: the connection broke after the request was sent. "+
				"Check your TikTok profile before retrying, so that they are not posted twice.", wf.ErrTypeOutcomeUnknown, nil)
	}
	photos := p.Photos()
	urls := make([]string, len(photos))
	expires := a.now().Add(wf.PhotoLinkValidity)
	for i, id := range photos {
		urls[i] = a.photoLink(id, expires)
	}
	if err := a.paceTikTok(ctx, p.ChannelID, tiktok.EndpointInit); err != nil {
		return wf.TikTokInit{}, err
	}
	if err := a.saveSession(ctx, p.ID, tiktokSession{State: "initializing"}, nil); err != nil {
		return wf.TikTokInit{}, err
	}
	title, description := tiktok.PhotoTitle(p.Caption)
	post := tiktok.PhotoPost{Title: title, Description: description, PrivacyLevel: p.Privacy, DisableComment: !p.AllowComment,
		AutoAddMusic: true, BrandOrganic: p.BrandOrganic, BrandContent: p.BrandContent}
	var publishID string
	err = a.withTikTokToken(ctx, p.ChannelID, func(token string) (err error) {
		publishID, err = a.TikTok.InitPhotoPost(ctx, token, post, urls, 0)
		return err
	})
	if err != nil {
		return wf.TikTokInit{}, a.initFailed(ctx, p.ID, err)
	}
	if err := a.saveSession(ctx, p.ID, tiktokSession{State: "initialized"}, &publishID); err != nil {
		return wf.TikTokInit{}, err
	}
	return wf.TikTokInit{OpenID: ch.ExternalID, PublishID: publishID}, nil
}

// photoPrefix is the URL prefix of photo links, which must be verified
// for the app at TikTok.
func (a *Activities) photoPrefix() string {
	return strings.TrimSuffix(a.PublicURL, "/") + wf.PhotoLinkPath
}

// photoLink is the signed link to an upload's image until expires.
func (a *Activities) photoLink(uploadID string, expires time.Time) string {
	return a.photoPrefix() + url.PathEscape(uploadID) + "?" + url.Values{
		"expires": {strconv.FormatInt(expires.Unix(), 10)}, "sig": {wf.SignPhotoLink(a.LinkKey, uploadID, expires)}}.Encode()
}
