package oidchub_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/hubgate/hubgate/oidc"
	"github.com/hubgate/hubgate/oidc/devop"
	"github.com/hubgate/hubgate/oidc/oidchub"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/zaikio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The adapter is the proxy's hub with every optional capability.
var (
	_ proxy.Hub                 = (*oidchub.Hub)(nil)
	_ proxy.BackchannelLogout   = (*oidchub.Hub)(nil)
	_ proxy.EndSession          = (*oidchub.Hub)(nil)
	_ proxy.DirectOrgs          = (*oidchub.Hub)(nil)
	_ proxy.MembershipOrgClaims = (*oidchub.Hub)(nil)
)

const secret = "hub-secret-0123456789-0123456789-abcdef"

// mapping: {org}-owners/admins/users, and globex straight to a legacy id.
var mapping = oidc.Mapping{Claim: "groups", Rules: []oidc.Rule{
	{Value: "{org}-owners", Roles: []string{"owner"}},
	{Value: "{org}-admins", Roles: []string{"admin"}},
	{Value: "{org}-users", Roles: []string{"member"}},
	{Value: "globex-owners", Org: "globex", Name: "Globex Corp", Legacy: "legacy-globex", Roles: []string{"owner"}},
}}

// env is a real provider (devop), a relying party endpoint that records
// back-channel logouts, the adapter and a cookie-keeping browser.
type env struct {
	op      *devop.Provider
	rp      *httptest.Server
	client  *oidc.Client
	hub     *oidchub.Hub
	browser *http.Client

	mu      sync.Mutex // guards logouts
	logouts []string
}

func newEnv(t *testing.T, opCfg func(*devop.Config), cfg func(*oidc.Config)) *env {
	t.Helper()
	e := &env{}
	e.rp = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/backchannel" {
			_ = r.ParseForm()
			e.mu.Lock()
			e.logouts = append(e.logouts, r.PostForm.Get("logout_token"))
			e.mu.Unlock()
		}
	}))
	t.Cleanup(e.rp.Close)
	oc := devop.Config{Seed: true, Clients: []devop.Client{{ID: "web", Secret: secret,
		RedirectURIs: []string{e.rp.URL + "/callback"}, PostLogoutRedirectURIs: []string{e.rp.URL + "/signed-out"},
		BackchannelLogoutURI: e.rp.URL + "/backchannel"}}}
	if opCfg != nil {
		opCfg(&oc)
	}
	op, err := devop.Start(oc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	e.op = op
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c := oidc.Config{Issuer: op.Issuer(), ClientID: "web", ClientSecret: secret,
		RedirectURL: e.rp.URL + "/callback", PostLogoutRedirectURL: e.rp.URL + "/signed-out",
		Scopes:  []string{"openid", "profile", "email", "groups", "offline_access"},
		Mapping: mapping, HTTPClient: &http.Client{Transport: tr}}
	if cfg != nil {
		cfg(&c)
	}
	if e.client, err = oidc.New(c); err != nil {
		t.Fatal(err)
	}
	e.hub = oidchub.New(e.client)
	jar, _ := cookiejar.New(nil)
	e.browser = &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), e.rp.URL) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	t.Cleanup(e.browser.CloseIdleConnections)
	return e
}

// authorize runs the adapter's authorize URL through the provider's
// chooser as user and returns the authorize URL and the callback's code.
func (e *env) authorize(t *testing.T, verifier, user string) (authURL, code string) {
	t.Helper()
	u, err := e.hub.AuthCodeURL(context.Background(), "st4te", verifier, []string{zaikio.PersonScope},
		zaikio.AuthOptions{SelectAccount: true, Login: "bob@acme.example", Lang: "de"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.browser.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form, ferr := devop.LoginForm(body, user)
	if resp.StatusCode != http.StatusOK || ferr != nil {
		t.Fatalf("GET authorize = %d, want the chooser (%v):\n%s", resp.StatusCode, ferr, body)
	}
	resp, err = e.browser.PostForm(e.op.Issuer()+"/login", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || !strings.HasPrefix(loc.String(), e.rp.URL+"/callback") || loc.Query().Get("state") != "st4te" {
		t.Fatalf("sign-in ended at %d %v, want the callback with the state", resp.StatusCode, loc)
	}
	return u, loc.Query().Get("code")
}

// signIn is a whole sign-in of user through the adapter.
func (e *env) signIn(t *testing.T, user string) (*zaikio.Token, error) {
	t.Helper()
	v := oidc.NewVerifier()
	_, code := e.authorize(t, v, user)
	return e.hub.Exchange(context.Background(), code, v)
}

func (e *env) receivedLogouts() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.logouts)
}

// A sign-in through the adapter: the stateless nonce goes out and comes
// back, the token names the person (iss+sub, never the email), Verify
// reports it with the token's hash as its id, and Person carries names,
// email and the mapped memberships.
func TestSignIn(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := context.Background()
	v := oidc.NewVerifier()
	authURL, code := e.authorize(t, v, devop.AliceID)
	q := mustQuery(t, authURL)
	if q.Get("nonce") != oidchub.Nonce(v) {
		t.Errorf("nonce = %q, want Nonce(verifier) %q", q.Get("nonce"), oidchub.Nonce(v))
	}
	if got := q.Get("scope"); got != "openid profile email groups offline_access" {
		t.Errorf("scope = %q: the proxy's Zaikio scopes must give way to the configured ones", got)
	}
	if q.Get("prompt") != "select_account" || q.Get("login_hint") != "bob@acme.example" || q.Get("ui_locales") != "de" {
		t.Errorf("prompt, login_hint, ui_locales = %q, %q, %q", q.Get("prompt"), q.Get("login_hint"), q.Get("ui_locales"))
	}
	tok, err := e.hub.Exchange(ctx, code, v)
	if err != nil {
		t.Fatal(err)
	}
	want := oidc.PersonID(e.op.Issuer(), devop.AliceID)
	if tok.Bearer.ID != want || tok.Bearer.Type != "Person" || tok.OnBehalfOf != nil {
		t.Errorf("bearer = %+v, want person %s", tok.Bearer, want)
	}
	if !tok.HasScope("openid") || tok.RefreshToken == "" || tok.Expiry.IsZero() {
		t.Errorf("token scope %v, refresh %t, expiry %v", tok.Scope, tok.RefreshToken != "", tok.Expiry)
	}
	claims, err := e.hub.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != want || claims.JTI != oidchub.TokenID(tok.AccessToken) || len(claims.JTI) != 32 || !claims.Expiry.Equal(tok.Expiry) {
		t.Errorf("claims = %+v", claims)
	}
	p, err := e.hub.Person(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != want || p.FirstName != "Alice" || p.Name != "Admin" || p.Email != "alice@acme.example" || p.DisplayName() != "Alice Admin" {
		t.Errorf("person = %+v", p)
	}
	acme := oidc.OrgID(e.op.Issuer(), "acme")
	if len(p.Memberships) != 1 || p.Memberships[0].Organization.ID != acme || p.Memberships[0].Organization.Name != "acme" ||
		!slices.Equal(p.RolesIn(acme), []string{"admin", "member"}) {
		t.Errorf("memberships = %+v, want acme with admin and member", p.Memberships)
	}
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// A code traded with another flow's verifier fails PKCE at the provider
// (invalid_grant), and a code cannot be traded twice.
func TestExchangeRefusals(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := context.Background()
	v := oidc.NewVerifier()
	_, code := e.authorize(t, v, devop.BobID)
	if _, err := e.hub.Exchange(ctx, code, oidc.NewVerifier()); !errors.Is(err, zaikio.ErrInvalidGrant) {
		t.Errorf("Exchange with another verifier = %v, want zaikio.ErrInvalidGrant", err)
	}
	_, code = e.authorize(t, v, devop.BobID)
	if _, err := e.hub.Exchange(ctx, code, v); err != nil {
		t.Fatal(err)
	}
	if _, err := e.hub.Exchange(ctx, code, v); !errors.Is(err, zaikio.ErrInvalidGrant) {
		t.Errorf("second Exchange of a code = %v, want zaikio.ErrInvalidGrant", err)
	}
}

// Every bad ID token the provider can send is zaikio.ErrInvalidToken —
// the proxy's "could not be verified" page — never an outage or a refused
// grant; the next good sign-in goes through.
func TestBadIDTokens(t *testing.T) {
	hmac := func(c *devop.Config) { c.AdvertiseHS256 = true }
	allow := func(c *oidc.Config) { c.AllowHMAC = true }
	for _, tc := range []struct {
		tamper devop.Tamper
		op     func(*devop.Config)
		client func(*oidc.Config)
	}{
		{tamper: devop.TamperNonce}, {tamper: devop.TamperAudience}, {tamper: devop.TamperAZP},
		{tamper: devop.TamperIssuer}, {tamper: devop.TamperExpired}, {tamper: devop.TamperAlgNone},
		{tamper: devop.TamperHS256PublicKey}, {tamper: devop.TamperHS256PublicKey, op: hmac, client: allow},
		{tamper: devop.TamperUnknownKID}, {tamper: devop.TamperSignature},
	} {
		name := string(tc.tamper)
		if tc.client != nil {
			name += "/hmac_allowed"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, tc.op, tc.client)
			if err := e.op.TamperNext(tc.tamper); err != nil {
				t.Fatal(err)
			}
			tok, err := e.signIn(t, devop.AliceID)
			if tok != nil || !errors.Is(err, zaikio.ErrInvalidToken) {
				t.Fatalf("Exchange = %v, %v; want zaikio.ErrInvalidToken", tok, err)
			}
			if errors.Is(err, zaikio.ErrUnavailable) || errors.Is(err, zaikio.ErrInvalidGrant) {
				t.Errorf("err = %v: a bad token is neither an outage nor a refused grant", err)
			}
			if _, err := e.signIn(t, devop.AliceID); err != nil {
				t.Errorf("the next, good sign-in = %v", err)
			}
		})
	}
}

// Refresh rotates: the new refresh token works, the old one is refused
// (zaikio.ErrInvalidGrant), and the refreshed token's person is the same,
// with the groups the provider holds now.
func TestRefreshRotation(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := context.Background()
	tok, err := e.signIn(t, devop.BobID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.op.SetGroups(devop.BobID, "acme-admins"); err != nil {
		t.Fatal(err)
	}
	next, err := e.hub.Refresh(ctx, tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken || next.Bearer.ID != tok.Bearer.ID {
		t.Errorf("refresh: rotated %t, new access %t, bearer %+v (was %+v)", next.RefreshToken != tok.RefreshToken,
			next.AccessToken != tok.AccessToken, next.Bearer, tok.Bearer)
	}
	p, err := e.hub.Person(ctx, next.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.RolesIn(oidc.OrgID(e.op.Issuer(), "acme")); !slices.Equal(got, []string{"admin"}) {
		t.Errorf("roles after refresh = %v, want [admin]", got)
	}
	if _, err := e.hub.Refresh(ctx, tok.RefreshToken); !errors.Is(err, zaikio.ErrInvalidGrant) {
		t.Errorf("refresh with the rotated-out token = %v, want zaikio.ErrInvalidGrant", err)
	}
}

// A person the adapter has not seen (another process, after a restart) is
// read from userinfo; an unknown access token is a refused grant there.
func TestPersonFromUserinfo(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := context.Background()
	tok, err := e.signIn(t, devop.GraceID)
	if err != nil {
		t.Fatal(err)
	}
	other := oidchub.New(e.client)
	p, err := other.Person(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != tok.Bearer.ID || p.Email != "grace@globex.example" || len(p.Memberships) != 2 {
		t.Errorf("person from userinfo = %+v", p)
	}
	if _, err := other.Person(ctx, "not-a-token"); !errors.Is(err, zaikio.ErrInvalidGrant) {
		t.Errorf("Person(unknown token) = %v, want zaikio.ErrInvalidGrant", err)
	}
}

// Verify refuses what is not a person token, or an expired one.
func TestVerifyRefuses(t *testing.T) {
	e := newEnv(t, nil, nil)
	for _, tok := range []*zaikio.Token{
		{},
		{AccessToken: "a", Bearer: zaikio.Bearer{ID: "x", Type: "Organization"}},
		{AccessToken: "a", Bearer: zaikio.Bearer{Type: "Person"}},
	} {
		if _, err := e.hub.Verify(context.Background(), tok); !errors.Is(err, zaikio.ErrInvalidToken) {
			t.Errorf("Verify(%+v) = %v, want zaikio.ErrInvalidToken", tok, err)
		}
	}
}

// A provider that cannot be reached is an outage at every step:
// zaikio.ErrUnavailable ("try again later"), never a bad token.
func TestProviderDown(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.op.Close()
	ctx := context.Background()
	if _, err := e.hub.AuthCodeURL(ctx, "s", oidc.NewVerifier(), nil, zaikio.AuthOptions{}); !errors.Is(err, zaikio.ErrUnavailable) {
		t.Errorf("AuthCodeURL = %v, want zaikio.ErrUnavailable", err)
	}
	if err := e.hub.CheckKeys(ctx); !errors.Is(err, zaikio.ErrUnavailable) {
		t.Errorf("CheckKeys = %v, want zaikio.ErrUnavailable", err)
	}
	if _, err := e.hub.Exchange(ctx, "code", oidc.NewVerifier()); !errors.Is(err, zaikio.ErrUnavailable) {
		t.Errorf("Exchange = %v, want zaikio.ErrUnavailable", err)
	}
}
