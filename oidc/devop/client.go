package devop

import (
	"net/url"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// opClient is a registered [Client] as the op package sees it.
type opClient struct {
	c          Client
	idTokenTTL time.Duration
}

var _ op.Client = (*opClient)(nil)

func (o *opClient) GetID() string                    { return o.c.ID }
func (o *opClient) RedirectURIs() []string           { return o.c.RedirectURIs }
func (o *opClient) PostLogoutRedirectURIs() []string { return o.c.PostLogoutRedirectURIs }

// ApplicationType: a client with a secret is a confidential web client
// (http redirect URIs allowed for the code flow); one without is native,
// which the op package lets use http only on loopback.
func (o *opClient) ApplicationType() op.ApplicationType {
	if o.c.Secret == "" {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}

func (o *opClient) AuthMethod() oidc.AuthMethod {
	if o.c.Secret == "" {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}

func (o *opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (o *opClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}

// LoginURL is the provider's chooser page for an auth request.
func (o *opClient) LoginURL(id string) string           { return "/login?id=" + url.QueryEscape(id) }
func (o *opClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (o *opClient) IDTokenLifetime() time.Duration      { return o.idTokenTTL }
func (o *opClient) DevMode() bool                       { return false }

func (o *opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (o *opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IsScopeAllowed allows "groups" beside the standard scopes.
func (o *opClient) IsScopeAllowed(scope string) bool { return scope == ScopeGroups }

// IDTokenUserinfoClaimsAssertion puts the profile, email and groups claims
// in the ID token too, as Keycloak, Entra ID and Okta do, so that a relying
// party needs no userinfo call.
func (o *opClient) IDTokenUserinfoClaimsAssertion() bool { return true }
func (o *opClient) ClockSkew() time.Duration             { return 0 }
