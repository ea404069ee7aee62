package proxy_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/oidc"
	"github.com/hubgate/hubgate/oidc/devop"
	"github.com/hubgate/hubgate/oidc/oidchub"
	"github.com/hubgate/hubgate/proxy"
)

// provider names the identity provider an env runs on: the suites that
// say so run against both (forProviders).
type provider string

const (
	zaikioHub    provider = "zaikio"
	oidcProvider provider = "oidc"
	// oidcNoOrgs is the OpenID Provider without a claim mapping: no
	// organizations, org claims off.
	oidcNoOrgs provider = "oidc-noorgs"
)

// forProviders runs test once on each provider, as a subtest named after it.
func forProviders(t *testing.T, test func(t *testing.T, pv provider)) {
	for _, pv := range []provider{zaikioHub, oidcProvider} {
		t.Run(string(pv), func(t *testing.T) { test(t, pv) })
	}
}

// oidcProviderName is what the pages call the OpenID Provider.
const oidcProviderName = "Dev Provider"

// oidcSecret is hubgate's client secret at the OpenID Provider.
const oidcSecret = "oidc-client-secret-0123456789-abcdef"

// groupsMapping makes organizations of the dev provider's groups:
// {org}-owners/-admins/-users, and "direct-users" straight to legacy
// organization 300.
var groupsMapping = oidc.Mapping{Claim: "groups", Rules: []oidc.Rule{
	{Value: "{org}-owners", Roles: []string{"owner"}},
	{Value: "{org}-admins", Roles: []string{"admin"}},
	{Value: "{org}-users", Roles: []string{"member"}},
	{Value: "direct-users", Org: "direct", Name: "Direct Org", Legacy: "300", Roles: []string{"member"}},
}}

// startOP starts the dev OpenID Provider (oidc/devop) with hubgate as a
// client — callback, post-logout redirect and back-channel logout
// registered — and returns the adapter oidchub makes of an oidc.Client.
// frank is Grace (globex owner, acme member), erika Alice, max Bob, ada
// Dave.
func (e *env) startOP(orgs bool) proxy.Hub {
	t := e.t
	op, err := devop.Start(devop.Config{Seed: true, Clients: []devop.Client{{ID: testClient, Secret: oidcSecret,
		RedirectURIs:           []string{e.srv.URL + "/_hubgate/callback"},
		PostLogoutRedirectURIs: []string{e.srv.URL + "/"},
		BackchannelLogoutURI:   e.srv.URL + "/_hubgate/backchannel-logout"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	e.op, e.hubURL = op, op.Issuer()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	cfg := oidc.Config{Issuer: op.Issuer(), ClientID: testClient, ClientSecret: oidcSecret,
		RedirectURL: e.srv.URL + "/_hubgate/callback", PostLogoutRedirectURL: e.srv.URL + "/",
		Scopes:     []string{"openid", "profile", "email", devop.ScopeGroups, "offline_access"},
		HTTPClient: &http.Client{Transport: tr}}
	if orgs {
		cfg.Mapping = groupsMapping
	}
	c, err := oidc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.frank, e.erika, e.max, e.ada = devop.GraceID, devop.AliceID, devop.BobID, devop.DaveID
	return oidchub.New(c)
}

// pid is the hubgate person id of user at the env's provider: the Zaikio
// person id itself, or PersonID(issuer, subject).
func (e *env) pid(user string) string {
	if e.op == nil {
		return user
	}
	return oidc.PersonID(e.op.Issuer(), user)
}

// orgID is the hubgate organization id of organization key at the
// OpenID Provider.
func (e *env) orgID(key string) string { return oidc.OrgID(e.op.Issuer(), key) }

// viaOP visits the provider's authorize URL, signs in there as user (the
// dev provider's AutoLogin: the chooser picks them) and returns the
// callback URL it redirects to.
func (b *browser) viaOP(authorize, user string) string {
	b.t.Helper()
	if err := b.e.op.AutoLogin(user); err != nil {
		b.t.Fatal(err)
	}
	defer b.e.op.AutoLogin("") //nolint:errcheck // "" always works
	next := authorize
	for range 10 {
		resp := b.get(next)
		if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
			b.t.Fatalf("provider %s = %d; want a redirect\n%s", next, resp.StatusCode, resp.body)
		}
		loc, err := resp.Location()
		if err != nil {
			b.t.Fatal(err)
		}
		if strings.HasPrefix(loc.String(), b.e.srv.URL+"/_hubgate/callback") {
			return loc.String()
		}
		next = loc.String()
	}
	b.t.Fatalf("the provider did not send the browser back from %s", authorize)
	return ""
}

// loginOP is login at the OpenID Provider.
func (b *browser) loginOP(user, rd string) *response {
	b.t.Helper()
	resp := b.get("/_hubgate/login?rd=" + url.QueryEscape(rd))
	if resp.StatusCode != http.StatusFound {
		b.t.Fatalf("GET /_hubgate/login = %d; want 302\n%s", resp.StatusCode, resp.body)
	}
	return b.get(b.viaOP(resp.Header.Get("Location"), user))
}

// email is user's email at the env's provider.
func (e *env) email(user string) string {
	if e.op == nil {
		p, _ := e.hub.Person(user)
		return p.Email
	}
	return map[string]string{devop.AliceID: "alice@acme.example", devop.BobID: "bob@acme.example",
		devop.GraceID: "grace@globex.example", devop.DaveID: "dave@example.com"}[user]
}
