package youtube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// ErrInvalidGrant is returned (wrapped) when the token endpoint answers
// invalid_grant: the authorization code is bad, used or expired, the PKCE
// verifier does not match, or the refresh token was revoked or expired.
// The user has to connect the channel again.
var ErrInvalidGrant = errors.New("youtube: invalid grant (revoked or expired)")

// Token is an OAuth grant's tokens. RefreshToken is long-lived and secret.
type Token struct {
	AccessToken, RefreshToken string
	// ExpiresAt is when AccessToken stops working (zero if not told).
	ExpiresAt time.Time
}

// AuthCodeURL returns the consent URL to send the user to. It asks for
// offline access (a refresh token), forces the consent prompt so Google
// issues a refresh token again on reconnect, and carries the PKCE S256
// challenge of codeVerifier (see oauth2.GenerateVerifier).
func (c *Client) AuthCodeURL(state, codeVerifier string) string {
	return c.oauth.AuthCodeURL(state,
		oauth2.AccessTypeOffline,
		oauth2.ApprovalForce, // prompt=consent
		oauth2.S256ChallengeOption(codeVerifier),
	)
}

// ExchangeCode trades the code from the consent redirect, with the PKCE
// verifier it was issued for, for a grant's tokens. An answer without a
// refresh token is an error: offline access is the point of connecting.
func (c *Client) ExchangeCode(ctx context.Context, code, codeVerifier string) (Token, error) {
	tok, err := c.oauth.Exchange(c.tokenContext(ctx), code, oauth2.VerifierOption(codeVerifier))
	if err != nil {
		return Token{}, tokenErr("exchange code", err)
	}
	if tok.RefreshToken == "" {
		return Token{}, errors.New("youtube: exchange code: the answer has no refresh token")
	}
	return fromOAuth(tok, ""), nil
}

// Refresh obtains a new access token with refreshToken. Google usually
// answers without a refresh token, meaning the given one stays valid: it
// is then returned as is. A revoked or expired grant gives ErrInvalidGrant.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (Token, error) {
	if refreshToken == "" {
		return Token{}, fmt.Errorf("youtube: refresh token: %w (empty refresh token)", ErrInvalidGrant)
	}
	ts := c.oauth.TokenSource(c.tokenContext(ctx), &oauth2.Token{RefreshToken: refreshToken})
	tok, err := ts.Token()
	if err != nil {
		return Token{}, tokenErr("refresh token", err)
	}
	return fromOAuth(tok, refreshToken), nil
}

// Revoke revokes the grant that token (access or refresh token) belongs
// to. A token the endpoint no longer knows (invalid_token: already revoked
// or expired) counts as revoked.
func (c *Client) Revoke(ctx context.Context, token string) error {
	form := url.Values{"token": {token}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.RevokeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("youtube: revoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("youtube: revoke: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var oe struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &oe)
	if resp.StatusCode == http.StatusBadRequest && oe.Error == "invalid_token" {
		return nil
	}
	return fmt.Errorf("youtube: revoke: %w", &APIError{HTTPStatus: resp.StatusCode, Reason: oe.Error, Message: oe.Description})
}

// tokenContext makes golang.org/x/oauth2 use c's HTTP client.
func (c *Client) tokenContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.http)
}

// fromOAuth converts tok, keeping refreshToken when tok has none.
func fromOAuth(tok *oauth2.Token, refreshToken string) Token {
	t := Token{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, ExpiresAt: tok.Expiry}
	if t.RefreshToken == "" {
		t.RefreshToken = refreshToken
	}
	return t
}

// tokenErr maps a token endpoint failure: invalid_grant to ErrInvalidGrant,
// other answers to *APIError (so Retryable works for 5xx). The raw answer
// body is never quoted.
func tokenErr(op string, err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fmt.Errorf("youtube: %s: %w", op, err)
	}
	ae := &APIError{Reason: re.ErrorCode, Message: re.ErrorDescription}
	if re.Response != nil {
		ae.HTTPStatus = re.Response.StatusCode
	}
	if re.ErrorCode == "invalid_grant" {
		return fmt.Errorf("youtube: %s: %w: %w", op, ErrInvalidGrant, ae)
	}
	return fmt.Errorf("youtube: %s: %w", op, ae)
}
