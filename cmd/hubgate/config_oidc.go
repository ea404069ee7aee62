package main

// provider.kind oidc: any OpenID Connect provider (Keycloak, Entra ID,
// Okta, Google, ZITADEL, …) through package oidc. Its keys are checked
// here, all at once like the rest; the Zaikio-only keys and features
// (provider.url, the scopes and audience of Zaikio tokens, Loom webhooks,
// bearer tokens of other Zaikio apps) are refused with kind oidc, and the
// oidc keys with the other kinds, so that a half-converted file does not
// start with settings that silently do nothing.

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hubgate/hubgate/oidc"
	"github.com/hubgate/hubgate/proxy"
)

// oidcScope is the scope the proxy is told to ask for with kind oidc: the
// adapter asks for provider.scopes itself and reports a token's scope as
// containing it (OIDC-SPEC).
const oidcScope = "openid"

// Paths on public_url that the provider must know.
const (
	callbackPath          = "/_hubgate/callback"
	backchannelLogoutPath = "/_hubgate/backchannel-logout"
)

// validateOIDC checks the provider section of kind oidc.
func (c *Config) validateOIDC(p *problems) {
	pr := &c.Provider
	if pr.Issuer == "" {
		p.add("provider.issuer", "required with provider.kind oidc: the provider's issuer URL, e.g. https://sso.example.com/realms/acme")
	} else if u, err := url.Parse(pr.Issuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		p.addf("provider.issuer", "%q: want the issuer's http(s) URL exactly as its /.well-known/openid-configuration names it", pr.Issuer)
	}
	if pr.ClientID == "" {
		p.add("provider.client_id", "required with provider.kind oidc: the client id registered at the provider")
	}
	for _, k := range []struct{ key, value, why string }{
		{"provider.url", pr.URL, "the provider is found at provider.issuer"},
		{"provider.app_name", pr.AppName, "ID tokens must name provider.client_id as their audience"},
		{"provider.person_scope", pr.PersonScope, "the scopes are provider.scopes"},
		{"provider.org_scope", pr.OrgScope, "the scopes are provider.scopes"},
		{"provider.webhook_secret", pr.WebhookSecret, "webhooks are Zaikio's (Loom)"},
	} {
		if k.value != "" {
			p.addf(k.key, "does not apply to provider.kind oidc: %s; remove it", k.why)
		}
	}
	for i, s := range pr.Scopes {
		if !validScopeToken(s) {
			p.addf(fmt.Sprintf("provider.scopes[%d]", i), "%q: want one scope, without spaces or quotes", s)
		}
	}
	for k := range pr.AuthParams {
		if reservedAuthParam(k) {
			p.addf("provider.auth_params."+k, "hubgate sets %s itself; remove it", k)
		}
	}
	if pr.AllowHMAC && len(pr.ClientSecret) < 32 {
		p.add("provider.allow_hmac", "needs a provider.client_secret of at least 32 bytes (the HMAC key)")
	}
	if s := pr.PostLogoutRedirectURL; s != "" {
		if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
			p.addf("provider.post_logout_redirect_url", "%q: want an absolute http(s) URL, e.g. https://app.example.com/_hubgate/logout", s)
		}
	}
	c.validateMemberships(p)
	c.validateZaikioOnly(p)
}

// validateMemberships checks provider.memberships with package oidc's own
// rules, one rule at a time, so that each fault names its rule.
func (c *Config) validateMemberships(p *problems) {
	m := c.Provider.Memberships
	switch {
	case m.Claim == "" && len(m.Rules) > 0:
		p.add("provider.memberships.claim", "required with provider.memberships.rules: the claim they match, e.g. groups")
		return
	case m.Claim != "" && len(m.Rules) == 0:
		p.add("provider.memberships.rules", "required with provider.memberships.claim: at least one {value, roles}")
		return
	}
	for i, r := range m.Rules {
		probe := oidc.Config{Issuer: "https://issuer.invalid", ClientID: "check", RedirectURL: "https://app.invalid" + callbackPath,
			Mapping: oidc.Mapping{Claim: m.Claim, Rules: []oidc.Rule{r.rule()}}}
		if _, err := oidc.New(probe); err != nil {
			msg := err.Error()
			if _, after, ok := strings.Cut(msg, "): "); ok {
				msg = after // "oidc: mapping rule 1 ("…"): no roles" → "no roles"
			}
			p.add(fmt.Sprintf("provider.memberships.rules[%d]", i), msg)
		}
	}
}

// validateZaikioOnly refuses, with kind oidc, what only Zaikio offers:
// bearer tokens of other Zaikio apps (their scopes too) and Loom webhooks.
func (c *Config) validateZaikioOnly(p *problems) {
	const why = "bearer tokens are Zaikio's: not with provider.kind oidc"
	if e := c.Bearer.Enabled; e != nil && *e {
		p.add("bearer.enabled", why+"; remove it or set false")
	}
	if c.Bearer.Scope != proxy.DefaultBearerScope {
		p.add("bearer.scope", why)
	}
	if len(c.Bearer.OrganizationRoles) > 0 {
		p.add("bearer.organization_roles", why)
	}
	if c.Bearer.RevocationRefresh != 0 {
		p.add("bearer.revocation_refresh", why)
	}
	for i, r := range c.Routes {
		if r.Scope != "" {
			p.addf(fmt.Sprintf("routes[%d].scope", i), "%s (a route's scope is a bearer token's)", why)
		}
	}
}

// refuseOIDCKeys refuses the keys of kind oidc with another kind.
func (c *Config) refuseOIDCKeys(p *problems) {
	pr := c.Provider
	for _, k := range []struct {
		key string
		set bool
	}{
		{"provider.issuer", pr.Issuer != ""},
		{"provider.scopes", len(pr.Scopes) > 0},
		{"provider.auth_params", len(pr.AuthParams) > 0},
		{"provider.userinfo", pr.UserInfo},
		{"provider.allow_hmac", pr.AllowHMAC},
		{"provider.post_logout_redirect_url", pr.PostLogoutRedirectURL != ""},
		{"provider.memberships", pr.Memberships.Claim != "" || len(pr.Memberships.Rules) > 0},
	} {
		if k.set {
			p.addf(k.key, "applies to provider.kind oidc only, not %s; remove it", pr.Kind)
		}
	}
}

// validScopeToken reports whether s is one OAuth scope token (RFC 6749
// §3.3: printable ASCII but space, " and \).
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b <= 0x20 || b >= 0x7f || b == '"' || b == '\\' {
			return false
		}
	}
	return true
}

// reservedAuthParam reports whether an authorize parameter is one that
// hubgate sets itself (package oidc would drop it): giving it is a mistake
// to point out, not to ignore. prompt is allowed (it applies when a flow
// sets none).
func reservedAuthParam(k string) bool {
	return slices.Contains([]string{"state", "nonce", "code_challenge", "code_challenge_method", "scope", "login_hint",
		"ui_locales", "client_id", "redirect_uri", "response_type"}, k)
}

// rule is r as package oidc takes it.
func (r membershipRule) rule() oidc.Rule {
	return oidc.Rule{Value: r.Value, Org: r.Org, Name: r.Name, Legacy: r.Legacy, Roles: slices.Clone(r.Roles)}
}

// oidcConfig is the relying party's configuration: hubgate's callback is
// public_url + /_hubgate/callback.
func (c *Config) oidcConfig() oidc.Config {
	pr := c.Provider
	var rules []oidc.Rule
	for _, r := range pr.Memberships.Rules {
		rules = append(rules, r.rule())
	}
	return oidc.Config{
		Issuer: pr.Issuer, ClientID: pr.ClientID, ClientSecret: pr.ClientSecret,
		RedirectURL:           strings.TrimRight(c.PublicURL, "/") + callbackPath,
		PostLogoutRedirectURL: pr.PostLogoutRedirectURL,
		Scopes:                slices.Clone(pr.Scopes), AuthParams: pr.AuthParams, UserInfo: pr.UserInfo, AllowHMAC: pr.AllowHMAC,
		Mapping:      oidc.Mapping{Claim: pr.Memberships.Claim, Rules: rules},
		LogoutMaxAge: 5 * time.Minute,
	}
}
