package main

// The provider of kind oidc as the proxy's hub: an oidc.Client wrapped by
// oidchub, which speaks the proxy's (Zaikio's) nouns.

import (
	"net/url"
	"strings"

	"github.com/hubgate/hubgate/oidc"
	"github.com/hubgate/hubgate/oidc/oidchub"
	"github.com/hubgate/hubgate/proxy"
)

// newOIDCHub builds the relying party of provider.issuer (it reads the
// provider's discovery document on first use, not here: a provider that is
// down at start makes readiness fail, not the start).
func newOIDCHub(cfg *Config) (proxy.Hub, error) {
	c, err := oidc.New(cfg.oidcConfig())
	if err != nil {
		return nil, &configError{Key: "provider", Msg: err.Error()}
	}
	return oidchub.New(c), nil
}

// hubURL is where the pages' forms and redirects may lead besides hubgate
// (their Content-Security-Policy form-action): the Zaikio hub, or the
// origin of the OpenID Connect issuer (where providers serve their
// authorize and end_session endpoints).
func (c *Config) hubURL() string {
	if c.Provider.Kind != "oidc" {
		return strings.TrimRight(c.Provider.URL, "/")
	}
	u, err := url.Parse(c.Provider.Issuer)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// providerName is what pages and claim mails call the provider:
// provider.name, else Zaikio, or with kind oidc the issuer's host.
func (c *Config) providerName() string {
	if n := strings.TrimSpace(c.Provider.Name); n != "" {
		return n
	}
	if c.Provider.Kind == "oidc" {
		if u, err := url.Parse(c.Provider.Issuer); err == nil && u.Hostname() != "" {
			return u.Hostname()
		}
	}
	return "Zaikio"
}

// personScope and orgScope are the scopes the proxy asks for: Zaikio's
// from the config, or "openid" with kind oidc (the adapter asks for
// provider.scopes itself).
func (c *Config) personScope() string {
	if c.Provider.Kind == "oidc" {
		return oidcScope
	}
	return c.Provider.PersonScope
}

func (c *Config) orgScope() string {
	if c.Provider.Kind == "oidc" {
		return oidcScope
	}
	return c.Provider.OrgScope
}
