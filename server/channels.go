package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"golang.org/x/oauth2"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/config"
	"github.com/loomcast/loomcast/models"
	wfchannels "github.com/loomcast/loomcast/workflows/channels"
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

func (s *channelsAPI) toChannelView(ch models.Channel) channelView {
	return channelView{ID: ch.ID, Platform: ch.Platform, ExternalID: ch.ExternalID, DisplayName: ch.DisplayName,
		AvatarURL: ch.AvatarURL, Status: ch.Status, StatusReason: ch.StatusReason, Sandbox: s.cfg.PlatformSandbox, CreatedAt: ch.CreatedAt}
}

// platformParam reads the platform of the connect and callback routes.
func (s *channelsAPI) platformParam(c *gin.Context) (string, bool) {
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

func (s *channelsAPI) channelFlowPath(platform string) string { return "/v1/channels/" + platform }

// connectChannel sends the browser to the platform's consent page, with
// state and PKCE verifier in ten-minute cookies (policy 000 section 10.3).
func (s *channelsAPI) connectChannel(c *gin.Context) {
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
func (s *channelsAPI) channelCallback(c *gin.Context) {
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

func (s *channelsAPI) exchangeChannel(ctx context.Context, platform, code, verifier string) (connectedIdentity, error) {
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

func (s *channelsAPI) startTokenRefresh(ctx context.Context, ch models.Channel) error {
	in := wfchannels.RefreshInput{ChannelID: ch.ID, UserID: ch.UserID}
	_, err := s.temporal.ExecuteWorkflow(ctx, wfchannels.RefreshStartOptions(in), wfchannels.TokenRefresh, in)
	return err
}

// redirectToAppWith sends the browser back to the web app with a query.
func (s *channelsAPI) redirectToAppWith(c *gin.Context, q url.Values) {
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

func (s *channelsAPI) listChannels(c *gin.Context) {
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
func (s *channelsAPI) userChannel(c *gin.Context) (models.Channel, bool) {
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

// disconnectWait is how long DELETE /v1/channels/{id} waits for the
// disconnect to finish before answering 202 Accepted.
const disconnectWait = 10 * time.Second

// disconnectChannel starts the channel's DisconnectChannel process (revoke
// at the platform, delete the tokens, start the retention clock, end the
// refresh process, cancel the scheduled posts), which finishes even if the
// client hangs up. It answers 204 once the process is done, or 202 with the
// channel when it takes longer than disconnectWait; repeating the request
// joins the running process.
func (s *channelsAPI) disconnectChannel(c *gin.Context) {
	ch, ok := s.userChannel(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	in := wfchannels.DisconnectInput{ChannelID: ch.ID, UserID: ch.UserID, Reason: "disconnected by you"}
	run, err := s.temporal.ExecuteWorkflow(ctx, wfchannels.DisconnectStartOptions(in), wfchannels.DisconnectChannel, in)
	if err != nil {
		s.log(c).Error("start channel disconnect", slog.String("channel_id", ch.ID), slog.String("error", err.Error()))
		s.fail(c, &Error{Code: CodeUnavailable, Message: "The channel could not be disconnected right now; nothing was changed. Try again in a minute.", RetryAfter: 30})
		return
	}
	waitCtx, cancel := context.WithTimeout(ctx, disconnectWait)
	defer cancel()
	var res wfchannels.DisconnectResult
	err = run.Get(waitCtx, &res)
	switch {
	case err == nil:
		c.Status(http.StatusNoContent)
	case ctx.Err() != nil:
		// The client hung up; the disconnect goes on without it.
	case waitCtx.Err() != nil || timedOut(err):
		if ch, err = s.store.ChannelByID(ctx, ch.ID); err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusAccepted, s.toChannelView(ch))
	default:
		s.fail(c, err)
	}
}

// timedOut says whether err is a deadline, which Temporal's client may
// report (as its own DeadlineExceeded) a moment before the context's
// deadline shows.
func timedOut(err error) bool {
	var deadline *serviceerror.DeadlineExceeded
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &deadline)
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
func (s *channelsAPI) creatorInfo(c *gin.Context) {
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

func (s *channelsAPI) addRoutes(r routers) {
	r.user.GET("/channels", s.listChannels)
	r.user.GET("/channels/:id/connect", s.requireVerified, s.connectChannel)
	r.user.GET("/channels/:id/callback", s.requireVerified, s.channelCallback)
	r.user.DELETE("/channels/:id", s.disconnectChannel)
	r.user.GET("/channels/:id/creator-info", s.creatorInfo)
}
