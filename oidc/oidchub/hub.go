package oidchub

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hubgate/hubgate/oidc"
	"github.com/hubgate/hubgate/zaikio"
)

// Hub is an OpenID Provider as the proxy's hub. Create it with New; it is
// safe for concurrent use.
type Hub struct {
	c   *oidc.Client
	now func() time.Time

	people  *memo[*oidc.Person] // access token hash → person of its latest ID token
	hints   *memo[string]       // person id → raw ID token (id_token_hint)
	sids    *memo[string]       // provider session id → person id
	legacy  *memo[string]       // organization id → legacy organization id (Rule.Legacy)
	hasOrgs bool
}

// New wraps an oidc.Client as a proxy.Hub (and the proxy's optional
// capabilities: back-channel logout, RP-initiated logout, direct legacy
// organizations, org claims by membership).
func New(c *oidc.Client) *Hub {
	return &Hub{c: c, now: time.Now, people: newMemo[*oidc.Person](), hints: newMemo[string](),
		sids: newMemo[string](), legacy: newMemo[string](), hasOrgs: c.HasOrganizations()}
}

// Nonce is the nonce of the flow whose PKCE verifier is verifier:
// base64url(SHA-256("hubgate oidc nonce\x00" ‖ verifier)). It is as secret
// as the verifier (which only the sealed flow cookie holds, until the code
// exchange) and needs no storage of its own.
func Nonce(verifier string) string {
	sum := sha256.Sum256([]byte("hubgate oidc nonce\x00" + verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TokenID is the id Verify reports for an access token (which may be
// opaque): hex of the first 16 bytes of its SHA-256. Sessions keep it as
// their JTI.
func TokenID(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return hex.EncodeToString(sum[:16])
}

// AuthCodeURL returns the provider's authorize URL. scopes are Zaikio's and
// ignored: the oidc.Config scopes are asked for. It reads discovery on
// first use, hence the context and the error.
func (h *Hub) AuthCodeURL(ctx context.Context, state, verifier string, _ []string, o zaikio.AuthOptions) (string, error) {
	u, err := h.c.AuthCodeURL(ctx, state, verifier, Nonce(verifier), oidc.AuthOptions{
		SelectAccount: o.SelectAccount, ForceLogin: o.ForceLogin, LoginHint: o.Login, Lang: o.Lang,
	})
	return u, hubError("authorize", err)
}

// Exchange trades a code for tokens; the ID token must carry the nonce
// derived from verifier. A refused ID token is zaikio.ErrInvalidToken.
func (h *Hub) Exchange(ctx context.Context, code, verifier string) (*zaikio.Token, error) {
	t, err := h.c.Exchange(ctx, code, verifier, Nonce(verifier))
	if err != nil {
		return nil, hubError("token", err)
	}
	return h.token(ctx, t)
}

// Refresh trades a refresh token (rotated when the provider rotates). A
// refresh that brings no ID token reads the person from userinfo.
func (h *Hub) Refresh(ctx context.Context, refreshToken string) (*zaikio.Token, error) {
	t, err := h.c.Refresh(ctx, refreshToken)
	if err != nil {
		return nil, hubError("refresh", err)
	}
	return h.token(ctx, t)
}

// token remembers what a verified token response says and translates it.
func (h *Hub) token(ctx context.Context, t *oidc.Token) (*zaikio.Token, error) {
	p := t.Person
	if p == nil {
		var err error
		if p, err = h.c.UserInfo(ctx, t.AccessToken); err != nil {
			return nil, hubError("userinfo", err)
		}
	}
	now := h.now()
	until := t.Expiry
	if until.IsZero() {
		until = now.Add(time.Hour)
	}
	h.people.put(TokenID(t.AccessToken), p, until, now)
	h.learn(p)
	if t.IDToken != "" {
		h.hints.put(p.ID, t.IDToken, now.Add(24*time.Hour), now)
	}
	if t.SessionID != "" {
		h.sids.put(t.SessionID, p.ID, now.Add(24*time.Hour), now)
	}
	scope := slices.Clone(t.Scope)
	if !slices.Contains(scope, "openid") {
		scope = append(scope, "openid") // an ID token was issued: openid was granted
	}
	return &zaikio.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: "Bearer",
		Scope: scope, Expiry: t.Expiry, Bearer: zaikio.Bearer{ID: p.ID, Type: "Person"}}, nil
}

// learn keeps the organizations a rule maps straight to a legacy one.
func (h *Hub) learn(p *oidc.Person) {
	now := h.now()
	for _, m := range p.Memberships {
		if m.Organization.Legacy != "" {
			h.legacy.put(m.Organization.ID, m.Organization.Legacy, now.Add(30*24*time.Hour), now)
		}
	}
}

// Verify reports what a token from Exchange or Refresh is: its ID token
// was verified there (access tokens may be opaque). It refuses a token
// that names no person or has expired.
func (h *Hub) Verify(_ context.Context, t *zaikio.Token) (*zaikio.Claims, error) {
	switch {
	case t == nil || t.AccessToken == "":
		return nil, fmt.Errorf("%w: no access token", zaikio.ErrInvalidToken)
	case t.Bearer.Type != "Person" || t.Bearer.ID == "":
		return nil, fmt.Errorf("%w: bearer %s/%q, want a person", zaikio.ErrInvalidToken, t.Bearer.Type, t.Bearer.ID)
	case !t.Expiry.IsZero() && !h.now().Before(t.Expiry):
		return nil, fmt.Errorf("%w: access token expired at %v", zaikio.ErrInvalidToken, t.Expiry)
	}
	return &zaikio.Claims{Subject: t.Bearer.ID, JTI: TokenID(t.AccessToken), Scope: slices.Clone(t.Scope), Expiry: t.Expiry}, nil
}

// Person is the person of the latest ID token of accessToken, else what
// userinfo says.
func (h *Hub) Person(ctx context.Context, accessToken string) (*zaikio.Person, error) {
	p, ok := h.people.get(TokenID(accessToken), h.now())
	if !ok {
		var err error
		if p, err = h.c.UserInfo(ctx, accessToken); err != nil {
			return nil, hubError("userinfo", err)
		}
		now := h.now()
		h.people.put(TokenID(accessToken), p, now.Add(time.Minute), now)
		h.learn(p)
	}
	return person(p), nil
}

// person translates an oidc.Person into zaikio's noun.
func person(p *oidc.Person) *zaikio.Person {
	zp := &zaikio.Person{ID: p.ID, FirstName: p.GivenName, Name: p.FamilyName, FullName: p.Name,
		Email: p.Email, EmailConfirmed: p.EmailVerified, Locale: p.Locale}
	for _, m := range p.Memberships {
		zp.Memberships = append(zp.Memberships, zaikio.Membership{ID: m.Organization.ID, Roles: slices.Clone(m.Roles),
			Organization: zaikio.Organization{ID: m.Organization.ID, Name: m.Organization.Name, Slug: m.Organization.Key}})
	}
	return zp
}

// errNoOrgTokens: an OpenID Provider issues no organization tokens.
var errNoOrgTokens = &zaikio.Error{Op: "organization", Code: "unsupported",
	Description: "an OpenID Provider has no organization tokens"}

// Organization is not offered: there are no organization tokens.
func (h *Hub) Organization(context.Context, string) (*zaikio.Organization, error) {
	return nil, errNoOrgTokens
}

// Revoke revokes an access token where the provider has a revocation
// endpoint; without one the token simply runs out.
func (h *Hub) Revoke(ctx context.Context, accessToken string) error {
	h.people.drop(TokenID(accessToken))
	err := h.c.Revoke(ctx, accessToken, "access_token")
	if errors.Is(err, oidc.ErrUnsupported) {
		return nil
	}
	return hubError("revoke", err)
}

// CheckKeys reports whether discovery and the signing keys can be read.
func (h *Hub) CheckKeys(ctx context.Context) error { return hubError("keys", h.c.CheckKeys(ctx)) }

// hubError turns the oidc errors into the zaikio sentinels the proxy
// classifies, keeping the oidc error for the log.
func hubError(op string, err error) error {
	var oe *oidc.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, oidc.ErrUnavailable):
		return fmt.Errorf("%w: %w", zaikio.ErrUnavailable, err)
	case errors.Is(err, oidc.ErrInvalidGrant):
		return fmt.Errorf("%w: %w", zaikio.ErrInvalidGrant, err)
	case errors.Is(err, oidc.ErrInvalidToken):
		return fmt.Errorf("%w: %w", zaikio.ErrInvalidToken, err)
	case errors.As(err, &oe):
		// Any other answer of the provider: "the provider reported a
		// problem", never a 500.
		return &zaikio.Error{Op: op, Status: oe.Status, Code: oe.Code, Description: oe.Description, Err: err}
	}
	return err
}
