package proxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/hubgate/hubgate/oidc"
	"github.com/hubgate/hubgate/oidc/devop"
	"github.com/hubgate/hubgate/oidc/oidchub"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/zaikio/devhub"
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
	e.tap = newOPTap(t, tr, op.Issuer())
	cfg := oidc.Config{Issuer: op.Issuer(), ClientID: testClient, ClientSecret: oidcSecret,
		RedirectURL: e.srv.URL + "/_hubgate/callback", PostLogoutRedirectURL: e.srv.URL + "/",
		Scopes:     []string{"openid", "profile", "email", devop.ScopeGroups, "offline_access"},
		HTTPClient: &http.Client{Transport: e.tap}}
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

// opTap is the transport of hubgate's client at the OpenID Provider: it
// counts the requests hubgate sends to each of the provider's endpoints,
// keeps every token the token endpoint answers (access, ID and refresh
// token: the tests look for them in the logs, and revoke them at the
// provider), and answers the next requests to an endpoint with an error
// status on demand, as a provider that is down would. The provider itself
// is the real one; only the way to it is watched.
type opTap struct {
	base http.RoundTripper
	// token, revoke, authorize and endSession are the paths of the
	// provider's endpoints, from its discovery document.
	token, revoke, authorize, endSession string

	mu     sync.Mutex       // guards the fields below
	calls  map[string]int   // path → requests sent
	oks    map[string]int   // path → requests answered 2xx
	fails  map[string][]int // path → statuses to answer instead, in order
	tokens []string         // every token the token endpoint answered
}

func newOPTap(t *testing.T, base http.RoundTripper, issuer string) *opTap {
	t.Helper()
	tap := &opTap{base: base, calls: map[string]int{}, oks: map[string]int{}, fails: map[string][]int{}}
	resp, err := (&http.Client{Transport: base}).Get(issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Token      string `json:"token_endpoint"`
		Revocation string `json:"revocation_endpoint"`
		Authorize  string `json:"authorization_endpoint"`
		EndSession string `json:"end_session_endpoint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || doc.Token == "" || doc.Revocation == "" || doc.Authorize == "" || doc.EndSession == "" {
		t.Fatalf("discovery of the OpenID Provider: %+v, %v", doc, err)
	}
	tap.token, tap.revoke = mustURL(doc.Token).Path, mustURL(doc.Revocation).Path
	tap.authorize, tap.endSession = mustURL(doc.Authorize).Path, mustURL(doc.EndSession).Path
	return tap
}

func (tap *opTap) RoundTrip(r *http.Request) (*http.Response, error) {
	p := r.URL.Path
	tap.mu.Lock()
	tap.calls[p]++
	var fail int
	if f := tap.fails[p]; len(f) > 0 {
		fail, tap.fails[p] = f[0], f[1:]
	}
	tap.mu.Unlock()
	if r.Body != nil {
		defer r.Body.Close()
	}
	if fail != 0 {
		return &http.Response{StatusCode: fail, Status: http.StatusText(fail), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"text/plain"}}, Body: io.NopCloser(strings.NewReader("down")), Request: r}, nil
	}
	resp, err := tap.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		tap.mu.Lock()
		tap.oks[p]++
		tap.mu.Unlock()
	}
	if p == tap.token && resp.StatusCode == http.StatusOK {
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		var toks struct {
			Access  string `json:"access_token"`
			ID      string `json:"id_token"`
			Refresh string `json:"refresh_token"`
		}
		if json.Unmarshal(body, &toks) == nil {
			tap.mu.Lock()
			for _, s := range []string{toks.Access, toks.ID, toks.Refresh} {
				if s != "" {
					tap.tokens = append(tap.tokens, s)
				}
			}
			tap.mu.Unlock()
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	return resp, nil
}

// failNext answers the next times requests to path with status.
func (tap *opTap) failNext(path string, status, times int) {
	tap.mu.Lock()
	defer tap.mu.Unlock()
	for range times {
		tap.fails[path] = append(tap.fails[path], status)
	}
}

func (tap *opTap) count(path string) int {
	tap.mu.Lock()
	defer tap.mu.Unlock()
	return tap.calls[path]
}

func (tap *opTap) ok(path string) int {
	tap.mu.Lock()
	defer tap.mu.Unlock()
	return tap.oks[path]
}

// issued returns the tokens the token endpoint answered so far.
func (tap *opTap) issued() []string {
	tap.mu.Lock()
	defer tap.mu.Unlock()
	return append([]string(nil), tap.tokens...)
}

// The helpers below ask the same of either provider: the Zaikio dev hub's
// own knobs, or the OpenID Provider through the tap.

// tokenCalls is the number of requests hubgate sent to the provider's
// token endpoint.
func (e *env) tokenCalls() int {
	if e.op == nil {
		return e.hub.Requests(devhub.EndpointToken)
	}
	return e.tap.count(e.tap.token)
}

// revokedTokens is the number of access tokens hubgate revoked at the
// provider (at the OpenID Provider: revocation requests it accepted).
func (e *env) revokedTokens() int {
	if e.op == nil {
		return len(e.hub.RevokedTokenIDs())
	}
	return e.tap.ok(e.tap.revoke)
}

// failTokenEndpoint makes the provider's token endpoint answer status the
// next times requests.
func (e *env) failTokenEndpoint(status, times int) {
	if e.op == nil {
		e.hub.FailNext(devhub.EndpointToken, devhub.Failure{Status: status, Times: times})
		return
	}
	e.tap.failNext(e.tap.token, status, times)
}

// authorizeURL is the prefix of the provider's authorize URLs.
func (e *env) authorizeURL() string {
	if e.op == nil {
		return e.hubURL + "/oauth/authorize?"
	}
	return e.op.Issuer() + e.tap.authorize + "?"
}

// endRefresh makes every refresh token of user that hubgate holds unusable
// at the provider: the Zaikio hub's knob, or at the OpenID Provider the
// revocation of each refresh token issued so far (RFC 7009), as the
// provider's administrator would; the provider then refuses a refresh with
// invalid_grant.
func (e *env) endRefresh(user string) {
	e.t.Helper()
	if e.op == nil {
		e.hub.ExpireRefreshTokens(user)
		return
	}
	for _, tok := range e.tap.issued() {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, e.op.Issuer()+e.tap.revoke,
			strings.NewReader(url.Values{"token": {tok}, "token_type_hint": {"refresh_token"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(testClient, oidcSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			e.t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			e.t.Fatalf("revoking a token at the provider = %d", resp.StatusCode)
		}
	}
}

// isEndSession reports whether loc is the OpenID Provider's end_session
// URL for hubgate, returning to the configured post-logout URL (and to
// nothing a request chose).
func (e *env) isEndSession(loc string) bool {
	u, err := url.Parse(loc)
	if err != nil || e.op == nil || !strings.HasPrefix(loc, e.op.Issuer()+"/") {
		return false
	}
	q := u.Query()
	return u.Path == e.tap.endSession && q.Get("client_id") == testClient && q.Get("post_logout_redirect_uri") == e.srv.URL+"/"
}
