// Package google signs users in with Google: the OAuth 2.0 authorization
// code flow with PKCE (golang.org/x/oauth2), then the OpenID Connect
// userinfo endpoint for the account's identity. Endpoints are configurable
// so that tests and the sandbox point it at google/fake.
package google

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"golang.org/x/oauth2"
)

// Endpoints are Google's OAuth and userinfo URLs.
type Endpoints struct {
	AuthURL     string
	TokenURL    string
	UserInfoURL string
}

// Identity is who signed in.
type Identity struct {
	Subject       string `json:"sub"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	Name          string `json:"name"`
	Picture       string `json:"picture"`
}

// ErrDenied is returned when Google refuses the code (expired, reused, or
// issued to another client).
var ErrDenied = errors.New("google refused the authorization")

// Client runs the sign-in flow.
type Client struct {
	cfg         oauth2.Config
	userInfoURL string
	http        *http.Client
}

// New returns a client that sends users back to redirectURL.
func New(clientID, clientSecret, redirectURL string, ep Endpoints) *Client {
	return &Client{
		cfg: oauth2.Config{
			ClientID:     clientID,
			ClientSecret: clientSecret,
			RedirectURL:  redirectURL,
			Endpoint:     oauth2.Endpoint{AuthURL: ep.AuthURL, TokenURL: ep.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
			Scopes:       []string{"openid", "email", "profile"},
		},
		userInfoURL: ep.UserInfoURL,
		http:        &http.Client{Timeout: 15 * time.Second},
	}
}

// AuthCodeURL is the consent page URL for this state and PKCE verifier.
func (c *Client) AuthCodeURL(state, verifier string) string {
	return c.cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "select_account"))
}

// Exchange trades the code for a token and returns the identity behind it.
// The token itself is not kept: sign-in needs only the identity.
func (c *Client) Exchange(ctx context.Context, code, verifier string) (Identity, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.http)
	tok, err := c.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			return Identity{}, fmt.Errorf("%w: %s", ErrDenied, re.ErrorCode)
		}
		return Identity{}, fmt.Errorf("exchange code: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.userInfoURL, nil)
	if err != nil {
		return Identity{}, fmt.Errorf("userinfo request: %w", err)
	}
	tok.SetAuthHeader(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return Identity{}, fmt.Errorf("userinfo: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return Identity{}, fmt.Errorf("userinfo: status %d", resp.StatusCode)
	}
	var id Identity
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&id); err != nil {
		return Identity{}, fmt.Errorf("decode userinfo: %w", err)
	}
	if id.Subject == "" || id.Email == "" {
		return Identity{}, errors.New("userinfo lacks sub or email")
	}
	return id, nil
}
