package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/config"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/retention"
	"github.com/loomcast/loomcast/retention/scheduler"
	wfchannels "github.com/loomcast/loomcast/workflows/channels"
	"github.com/loomcast/loomcast/workflows/posting"
)

// channelView is a channel as the API shows it; never its tokens.
type channelView struct {
	ID           string    `json:"id"`
	Platform     string    `json:"platform"`
	ExternalID   string    `json:"external_id"`
	DisplayName  string    `json:"display_name"`
	AvatarURL    string    `json:"avatar_url"`
	Status       string    `json:"status"`
	StatusReason string    `json:"status_reason,omitempty"`
	Sandbox      bool      `json:"sandbox"`
	CreatedAt    time.Time `json:"created_at"`
}

func (s *Server) toChannelView(ch models.Channel) channelView {
	return channelView{ID: ch.ID, Platform: ch.Platform, ExternalID: ch.ExternalID, DisplayName: ch.DisplayName,
		AvatarURL: ch.AvatarURL, Status: ch.Status, StatusReason: ch.StatusReason, Sandbox: s.cfg.PlatformSandbox, CreatedAt: ch.CreatedAt}
}

// platformParam reads the platform of the connect and callback routes.
func (s *Server) platformParam(c *gin.Context) (string, bool) {
	p := c.Param("id")
	if p != loomcast.TikTok && p != loomcast.YouTube {
		s.fail(c, errorf(CodeNotFound, "Unknown platform %q: use tiktok or youtube.", p))
		return "", false
	}
	if (p == loomcast.TikTok && s.tiktok == nil) || (p == loomcast.YouTube && s.youtube == nil) {
		s.fail(c, errorf(CodeNotFound, "Connecting %s channels is not configured on this server.", p))
		return "", false
	}
	return p, true
}

func (s *Server) channelFlowPath(platform string) string { return "/v1/channels/" + platform }

// connectChannel sends the browser to the platform's consent page, with
// state and PKCE verifier in ten-minute cookies (policy 000 section 10.3).
func (s *Server) connectChannel(c *gin.Context) {
	platform, ok := s.platformParam(c)
	if !ok {
		return
	}
	state, verifier := randomToken(32), oauth2.GenerateVerifier()
	path := s.channelFlowPath(platform)
	http.SetCookie(c.Writer, s.cookies.cookie(s.cookies.flowName(platform+"_oauth_state"), state, path, config.OAuthFlowTTL, true))
	http.SetCookie(c.Writer, s.cookies.cookie(s.cookies.flowName(platform+"_code_verifier"), verifier, path, config.OAuthFlowTTL, true))
	target := ""
	switch platform {
	case loomcast.TikTok:
		target = s.tiktok.AuthCodeURL(state, verifier)
	case loomcast.YouTube:
		target = s.youtube.AuthCodeURL(state, verifier)
	}
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, target)
}

// connectedIdentity is what a platform says about the connected channel.
type connectedIdentity struct {
	externalID, name, avatar string
	access, refresh          string
	accessExpires            time.Time
	refreshExpires           *time.Time
	scope                    string
}

// channelCallback completes the connection: it checks the state, trades
// the code (with the PKCE verifier) for tokens, reads the channel's
// identity, stores the channel with its tokens sealed, and starts the
// channel's token refresh process.
func (s *Server) channelCallback(c *gin.Context) {
	platform, ok := s.platformParam(c)
	if !ok {
		return
	}
	path := s.channelFlowPath(platform)
	stateName, verifierName := s.cookies.flowName(platform+"_oauth_state"), s.cookies.flowName(platform+"_code_verifier")
	state, _ := c.Cookie(stateName)
	verifier, _ := c.Cookie(verifierName)
	for _, name := range []string{stateName, verifierName} {
		http.SetCookie(c.Writer, s.cookies.cookie(name, "", path, -1, true))
	}
	if state == "" || verifier == "" {
		s.fail(c, errorf(CodeInvalid, "The connection took longer than 10 minutes or cookies are blocked; start again from /v1/channels/%s/connect.", platform))
		return
	}
	if !equalStrings(c.Query("state"), state) {
		s.fail(c, errorf(CodeInvalid, "The connection state does not match; start again from /v1/channels/%s/connect.", platform))
		return
	}
	if e := c.Query("error"); e != "" {
		s.redirectToAppWith(c, url.Values{"channel_error": {platform + "_" + e}})
		return
	}
	code := c.Query("code")
	if code == "" {
		s.fail(c, errorf(CodeInvalid, "The platform sent no authorization code; start again."))
		return
	}
	ctx := c.Request.Context()
	id, err := s.exchangeChannel(ctx, platform, code, verifier)
	if err != nil {
		s.log(c).Warn("channel connection failed", slog.String("platform", platform), slog.String("error", err.Error()))
		s.redirectToAppWith(c, url.Values{"channel_error": {platform + "_denied"}})
		return
	}
	user := currentPrincipal(c).User
	ch := &models.Channel{ID: models.NewID(), UserID: user.ID, Platform: platform, ExternalID: id.externalID,
		DisplayName: id.name, AvatarURL: id.avatar, Scope: id.scope}
	// Seal under the ID the row will keep: a reconnect (even of a
	// disconnected channel) keeps the old ID.
	existing, err := s.store.ChannelByKey(ctx, user.ID, platform, id.externalID)
	switch {
	case err == nil:
		ch.ID = existing.ID
	case !errors.Is(err, models.ErrNotFound):
		s.fail(c, err)
		return
	}
	sealed, err := s.grants.Seal(ch.ID, id.access, id.refresh, id.accessExpires, id.refreshExpires)
	if err != nil {
		s.fail(c, err)
		return
	}
	ch.AccessTokenSealed, ch.RefreshTokenSealed = &sealed.AccessSealed, &sealed.RefreshSealed
	ch.AccessExpiresAt, ch.RefreshExpiresAt = &sealed.AccessExpiresAt, sealed.RefreshExpiresAt
	if err := s.store.UpsertChannel(ctx, ch); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.startTokenRefresh(ctx, *ch); err != nil {
		s.log(c).Error("start token refresh", slog.String("channel_id", ch.ID), slog.String("error", err.Error()))
		s.fail(c, &Error{Code: CodeUnavailable, Message: "The channel was connected but its token upkeep could not start; connect it again in a minute.", RetryAfter: 30})
		return
	}
	s.log(c).Info("channel connected", slog.String("channel_id", ch.ID), slog.String("platform", platform), slog.Bool("sandbox", s.cfg.PlatformSandbox))
	if err := s.reissueSession(c); err != nil {
		s.fail(c, err)
		return
	}
	s.redirectToAppWith(c, url.Values{"channel_connected": {ch.ID}})
}

func (s *Server) exchangeChannel(ctx context.Context, platform, code, verifier string) (connectedIdentity, error) {
	switch platform {
	case loomcast.TikTok:
		tok, err := s.tiktok.ExchangeCode(ctx, code, verifier)
		if err != nil {
			return connectedIdentity{}, err
		}
		info, err := s.tiktok.UserInfo(ctx, tok.AccessToken)
		if err != nil {
			return connectedIdentity{}, err
		}
		re := tok.RefreshExpiresAt
		return connectedIdentity{externalID: tok.OpenID, name: info.DisplayName, avatar: info.AvatarURL,
			access: tok.AccessToken, refresh: tok.RefreshToken, accessExpires: tok.ExpiresAt, refreshExpires: &re, scope: tok.Scope}, nil
	default:
		tok, err := s.youtube.ExchangeCode(ctx, code, verifier)
		if err != nil {
			return connectedIdentity{}, err
		}
		yc, err := s.youtube.MyChannel(ctx, tok.AccessToken)
		if err != nil {
			return connectedIdentity{}, err
		}
		return connectedIdentity{externalID: yc.ID, name: yc.Title, avatar: yc.ThumbnailURL,
			access: tok.AccessToken, refresh: tok.RefreshToken, accessExpires: tok.ExpiresAt}, nil
	}
}

func (s *Server) startTokenRefresh(ctx context.Context, ch models.Channel) error {
	in := wfchannels.RefreshInput{ChannelID: ch.ID, UserID: ch.UserID}
	_, err := s.temporal.ExecuteWorkflow(ctx, wfchannels.RefreshStartOptions(in), wfchannels.TokenRefresh, in)
	return err
}

// redirectToAppWith sends the browser back to the web app with a query.
func (s *Server) redirectToAppWith(c *gin.Context, q url.Values) {
	target := s.cfg.AppURL
	if u, err := url.Parse(target); err == nil {
		v := u.Query()
		for k, vals := range q {
			v[k] = vals
		}
		u.RawQuery = v.Encode()
		target = u.String()
	}
	c.Redirect(http.StatusFound, target)
}

// channelList answers GET /v1/channels.
type channelList struct {
	Channels []channelView `json:"channels"`
}

func (s *Server) listChannels(c *gin.Context) {
	chs, err := s.store.UserChannels(c.Request.Context(), currentPrincipal(c).User.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := channelList{Channels: make([]channelView, 0, len(chs))}
	for _, ch := range chs {
		out.Channels = append(out.Channels, s.toChannelView(ch))
	}
	c.JSON(http.StatusOK, out)
}

// userChannel loads the caller's channel; another user's is a 404, never a 403.
func (s *Server) userChannel(c *gin.Context) (models.Channel, bool) {
	ch, err := s.store.UserChannel(c.Request.Context(), currentPrincipal(c).User.ID, c.Param("id"))
	if errors.Is(err, models.ErrNotFound) {
		s.fail(c, errorf(CodeNotFound, "You have no channel with this ID."))
		return models.Channel{}, false
	}
	if err != nil {
		s.fail(c, err)
		return models.Channel{}, false
	}
	return ch, true
}

// disconnectChannel revokes the tokens at the platform, deletes them at
// once, ends the refresh process and cancels the channel's scheduled posts.
func (s *Server) disconnectChannel(c *gin.Context) {
	ch, ok := s.userChannel(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	if ch.Status == loomcast.ChannelActive && ch.AccessTokenSealed != nil {
		if err := s.grants.RevokeAtPlatform(ctx, ch); err != nil {
			// The tokens are deleted here regardless; the platform expires them.
			s.log(c).Warn("revoke at platform failed", slog.String("channel_id", ch.ID), slog.String("error", err.Error()))
		}
	}
	if err := s.store.SetChannelStatus(ctx, ch.ID, loomcast.ChannelDisconnected, "disconnected by you"); err != nil {
		s.fail(c, err)
		return
	}
	// A YouTube channel's data goes 7 days after disconnect; a TikTok
	// channel's profile at once (its posts keep their own 90 days).
	category := retention.ChannelData
	if ch.Platform == loomcast.YouTube {
		category = retention.YouTubeDataDisconnected
	}
	if err := s.retention.Schedule(ctx, scheduler.Item{Category: category, ObjectID: ch.ID, UserID: ch.UserID, Start: s.now()}); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.temporal.SignalWorkflow(ctx, wfchannels.TokenRefreshWorkflowID(ch.ID), "", wfchannels.SignalDisconnect, nil); err != nil {
		s.log(c).Info("token refresh already ended", slog.String("channel_id", ch.ID))
	}
	ids, err := s.store.ScheduledPostsOfChannel(ctx, ch.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	for _, id := range ids {
		req := posting.CancelRequest{Reason: "the channel " + ch.DisplayName + " was disconnected", By: "user"}
		if err := s.cancelPost(ctx, id, req); err != nil && !publishingStarted(err) {
			s.log(c).Error("cancel post of disconnected channel", slog.String("post_id", id), slog.String("error", err.Error()))
		}
	}
	c.Status(http.StatusNoContent)
}

// creatorInfoView answers GET /v1/channels/{id}/creator-info.
type creatorInfoView struct {
	CreatorUsername         string   `json:"creator_username"`
	CreatorNickname         string   `json:"creator_nickname"`
	CreatorAvatarURL        string   `json:"creator_avatar_url"`
	PrivacyLevelOptions     []string `json:"privacy_level_options"`
	CommentDisabled         bool     `json:"comment_disabled"`
	DuetDisabled            bool     `json:"duet_disabled"`
	StitchDisabled          bool     `json:"stitch_disabled"`
	MaxVideoPostDurationSec int      `json:"max_video_post_duration_sec"`
}

// creatorInfo asks TikTok live; the answer is not stored (policy 000
// section 4, "Platform API Interactions").
func (s *Server) creatorInfo(c *gin.Context) {
	ch, ok := s.userChannel(c)
	if !ok {
		return
	}
	if ch.Platform != loomcast.TikTok {
		s.fail(c, errorf(CodeInvalid, "Creator info is TikTok's; YouTube posts take privacy public, private or unlisted."))
		return
	}
	info, err := s.liveCreatorInfo(c.Request.Context(), ch)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, creatorInfoView{CreatorUsername: info.CreatorUsername, CreatorNickname: info.CreatorNickname,
		CreatorAvatarURL: info.CreatorAvatarURL, PrivacyLevelOptions: info.PrivacyLevelOptions, CommentDisabled: info.CommentDisabled,
		DuetDisabled: info.DuetDisabled, StitchDisabled: info.StitchDisabled, MaxVideoPostDurationSec: info.MaxVideoPostDurationSec})
}
