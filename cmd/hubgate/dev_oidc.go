//go:build !nodev

package main

// `hubgate dev --provider oidc`: the same demo with provider.kind oidc, in
// front of oidc/devop (a real OpenID Provider on zitadel/oidc's op
// package) instead of the dev hub. Its seeded people carry groups that a
// memberships mapping turns into organizations and roles.

import (
	"net/http"

	"github.com/hubgate/hubgate/oidc/devop"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// devOIDCConfig makes cfg's provider the dev OpenID Provider at urls.hub:
// hubgate's client there, the scopes that bring the groups claim and
// refresh tokens, and a mapping of the seeded groups. acme's groups make
// an organization that an admin (Alice) claims onto the demo app's
// "Acme Print (legacy)" (100), as with Zaikio; globex-owners maps straight
// to "Brown Packaging (legacy)" (200), to show a rule's legacy.
func devOIDCConfig(cfg *Config, urls devURLs) {
	pr := &cfg.Provider
	pr.Kind, pr.Issuer, pr.Name = "oidc", urls.hub, "Dev OpenID Provider"
	pr.Scopes = []string{"openid", "profile", "email", devop.ScopeGroups, "offline_access"}
	pr.PostLogoutRedirectURL = urls.public + "/_hubgate/logout"
	pr.Memberships.Claim = "groups"
	pr.Memberships.Rules = []membershipRule{
		{Value: "globex-owners", Org: "globex", Name: "Globex", Legacy: "200", Roles: []string{"owner"}},
		{Value: "{org}-owners", Roles: []string{"owner"}},
		{Value: "{org}-admins", Roles: []string{"admin"}},
		{Value: "{org}-users", Roles: []string{"member"}},
	}
}

// devOIDCPeople is the banner's paragraph on who signs in at the provider.
const devOIDCPeople = `
People at the dev OpenID Provider (pick one on its sign-in page):
  Alice Admin	groups acme-admins, acme-users (admin of acme: may claim it)
  Bob User	groups acme-users
  Grace Owner	groups globex-owners (mapped to legacy org 200), acme-users
  Dave Nogroups	no groups
`

// devProvider is the provider `hubgate dev` runs on the hub listener, with
// hubgate's client registered: the dev hub, or the dev OpenID Provider
// (which also calls hubgate's back-channel logout).
func devProvider(opt devOptions, cfg *Config, urls devURLs, keys devSecrets) (http.Handler, error) {
	if opt.provider == "oidc" {
		return devop.New(devop.Config{Issuer: urls.hub, Seed: true, Clients: []devop.Client{{
			ID: cfg.Provider.ClientID, Secret: cfg.Provider.ClientSecret,
			RedirectURIs:           []string{urls.public + callbackPath},
			PostLogoutRedirectURIs: []string{cfg.Provider.PostLogoutRedirectURL},
			BackchannelLogoutURI:   urls.public + backchannelLogoutPath,
		}}})
	}
	return devhub.New(devhub.Config{Seed: true, Apps: []devhub.App{{
		ClientID: cfg.Provider.ClientID, ClientSecret: cfg.Provider.ClientSecret, Name: cfg.Provider.ClientID,
		RedirectURIs: []string{urls.public + callbackPath},
		WebhookURL:   urls.public + "/_hubgate/webhook", WebhookSecret: keys.webhook,
	}}})
}

// devProviderName names the provider's listener in the logs.
func devProviderName(opt devOptions) string {
	if opt.provider == "oidc" {
		return "devop"
	}
	return "devhub"
}
