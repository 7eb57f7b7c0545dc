package grants_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast"
	"github.com/loomcast/loomcast/grants"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/tiktok"
	tiktokfake "github.com/loomcast/loomcast/tiktok/fake"
	"github.com/loomcast/loomcast/vault"
)

var key1 = vault.Key{ID: "one", Secret: []byte("11111111111111111111111111111111")}
var key2 = vault.Key{ID: "two", Secret: []byte("22222222222222222222222222222222")}

type fixture struct {
	store   *models.Store
	fake    *tiktokfake.Server
	manager *grants.Manager
	channel models.Channel
}

// connect runs TikTok's OAuth flow against the fake and stores the channel.
func connect(t *testing.T, store *models.Store) *fixture {
	ctx := context.Background()
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	fake := tiktokfake.New(tiktokfake.Options{ClientKey: "ck", ClientSecret: "cs", BaseURL: srv.URL})
	srv.Config.Handler = fake.Handler()
	client := tiktok.New(tiktok.Config{ClientKey: "ck", ClientSecret: "cs", RedirectURI: "https://app.example.com/cb",
		AuthURL: fake.AuthURL(), APIBaseURL: fake.APIBaseURL()})
	ring, err := vault.New(key1)
	require.NoError(t, err)
	m := &grants.Manager{Store: store, Vault: ring, TikTok: client}

	verifier := "verifier-0123456789-0123456789-0123456789-0123456789"
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(client.AuthCodeURL("st", verifier))
	require.NoError(t, err)
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	tok, err := client.ExchangeCode(ctx, loc.Query().Get("code"), verifier)
	require.NoError(t, err)

	u := &models.User{Email: "g@example.com"}
	require.NoError(t, store.CreateUser(ctx, u))
	ch := &models.Channel{ID: models.NewID(), UserID: u.ID, Platform: loomcast.TikTok, ExternalID: tok.OpenID, DisplayName: "Creator"}
	re := tok.RefreshExpiresAt
	sealed, err := m.Seal(ch.ID, tok.AccessToken, tok.RefreshToken, tok.ExpiresAt, &re)
	require.NoError(t, err)
	ch.AccessTokenSealed, ch.RefreshTokenSealed, ch.AccessExpiresAt = &sealed.AccessSealed, &sealed.RefreshSealed, &sealed.AccessExpiresAt
	require.NoError(t, store.UpsertChannel(ctx, ch))
	return &fixture{store: store, fake: fake, manager: m, channel: *ch}
}

func TestRefreshStoresTheRotatedToken(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		f := connect(t, store)
		before := *f.channel.RefreshTokenSealed

		ch, err := f.manager.Refresh(ctx, f.channel.ID)
		require.NoError(t, err)
		require.NotEqual(t, before, *ch.RefreshTokenSealed, "the rotated refresh token is stored")
		require.True(t, ch.AccessExpiresAt.After(time.Now()))

		// The stored token is the live one: refreshing again works, which it
		// would not with the old, now spent, refresh token.
		_, err = f.manager.Refresh(ctx, f.channel.ID)
		require.NoError(t, err)

		token, err := f.manager.Access(ctx, f.channel.ID)
		require.NoError(t, err)
		_, err = f.manager.TikTok.CreatorInfo(ctx, token)
		require.NoError(t, err)
	})
}

func TestRevokedGrantMarksTheChannel(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		f := connect(t, store)
		p := &models.Post{UserID: f.channel.UserID, ChannelID: f.channel.ID, UploadID: "u", Platform: loomcast.TikTok,
			Privacy: "SELF_ONLY", ScheduledAt: time.Now().Add(time.Hour), Status: loomcast.PostScheduled}
		require.NoError(t, store.CreatePost(ctx, p))

		f.fake.RevokeGrants(f.channel.ExternalID)
		_, err := f.manager.Refresh(ctx, f.channel.ID)
		require.ErrorIs(t, err, grants.ErrReauthRequired)

		ch, err := store.ChannelByID(ctx, f.channel.ID)
		require.NoError(t, err)
		require.Equal(t, loomcast.ChannelReauthRequired, ch.Status)
		require.Nil(t, ch.AccessTokenSealed, "revoked tokens are deleted")
		require.Nil(t, ch.RefreshTokenSealed)

		events, err := store.PostEvents(ctx, p.ID)
		require.NoError(t, err)
		require.Contains(t, events[len(events)-1].Detail, "Reconnect your TikTok channel", "the waiting post tells the user")

		_, err = f.manager.Access(ctx, f.channel.ID)
		require.ErrorIs(t, err, grants.ErrReauthRequired)
	})
}

func TestTransientFailureDoesNotBreakTheChannel(t *testing.T) {
	ctx := context.Background()
	f := connect(t, modelstest.Open(t, models.SQLite))
	f.fake.FailNext("/v2/oauth/token/", tiktokfake.Failure{Status: http.StatusServiceUnavailable})
	_, err := f.manager.Refresh(ctx, f.channel.ID)
	require.Error(t, err)
	require.NotErrorIs(t, err, grants.ErrReauthRequired)
	ch, err := f.store.ChannelByID(ctx, f.channel.ID)
	require.NoError(t, err)
	require.Equal(t, loomcast.ChannelActive, ch.Status)
	_, err = f.manager.Refresh(ctx, f.channel.ID)
	require.NoError(t, err, "the next try works")
}

func TestResealUnderANewKey(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		f := connect(t, store)
		before, err := f.manager.Access(ctx, f.channel.ID)
		require.NoError(t, err)

		rotated, err := vault.New(key2, key1)
		require.NoError(t, err)
		f.manager.Vault = rotated
		res, err := f.manager.Reseal(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, res.Resealed)

		ch, err := store.ChannelByID(ctx, f.channel.ID)
		require.NoError(t, err)
		require.Equal(t, "two", vault.KeyID(*ch.AccessTokenSealed))
		require.Equal(t, "two", vault.KeyID(*ch.RefreshTokenSealed))

		onlyNew, err := vault.New(key2)
		require.NoError(t, err)
		f.manager.Vault = onlyNew
		after, err := f.manager.Access(ctx, f.channel.ID)
		require.NoError(t, err)
		require.Equal(t, before, after, "the old key can go")

		res, err = f.manager.Reseal(ctx)
		require.NoError(t, err)
		require.Equal(t, grants.RotationResult{Current: 1}, res, "a second run has nothing to do")
	})
}
