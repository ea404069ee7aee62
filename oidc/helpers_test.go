package oidc_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/hubgate/hubgate/oidc"
	"github.com/hubgate/hubgate/oidc/devop"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// groupsMapping is the mapping of the examples: {org}-owners/admins/users.
var groupsMapping = oidc.Mapping{Claim: "groups", Rules: []oidc.Rule{
	{Value: "{org}-owners", Roles: []string{"owner"}},
	{Value: "{org}-admins", Roles: []string{"admin"}},
	{Value: "{org}-users", Roles: []string{"member"}},
}}

const secret = "web-secret-0123456789-0123456789-abcdef" // ≥ 32 bytes, for AllowHMAC

// env is a real provider (devop) with one confidential client, the relying
// party's endpoints (callback, back-channel, post-logout) as a test server
// that records what it is sent, an oidc.Client, and a browser with cookies.
type env struct {
	op       *devop.Provider
	rp       *httptest.Server
	client   *oidc.Client
	cfg      oidc.Config
	browser  *http.Client
	failKeys atomic.Bool // the client's transport fails key set fetches
	failAll  atomic.Bool // … and every request

	mu      sync.Mutex
	logouts []string // logout_token values received
}

type options struct {
	op     func(*devop.Config)
	client func(*oidc.Config)
}

func newEnv(t *testing.T, o options) *env {
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
	if o.op != nil {
		o.op(&oc)
	}
	op, err := devop.Start(oc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	e.op = op
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	e.cfg = oidc.Config{
		Issuer: op.Issuer(), ClientID: "web", ClientSecret: secret,
		RedirectURL: e.rp.URL + "/callback", PostLogoutRedirectURL: e.rp.URL + "/signed-out",
		Scopes:     []string{"openid", "profile", "email", "groups", "offline_access"},
		Mapping:    groupsMapping,
		HTTPClient: &http.Client{Transport: failing{next: tr, keys: &e.failKeys, all: &e.failAll}},
	}
	if o.client != nil {
		o.client(&e.cfg)
	}
	if e.client, err = oidc.New(e.cfg); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	e.browser = &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), e.rp.URL) {
			return http.ErrUseLastResponse // stop at the relying party
		}
		return nil
	}}
	t.Cleanup(e.browser.CloseIdleConnections)
	return e
}

// failing fails the key set fetches while keys is set (a provider whose
// keys cannot be read), and every request while all is: failures injected
// at the client's edge.
type failing struct {
	next      http.RoundTripper
	keys, all *atomic.Bool
}

func (f failing) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.all.Load() || f.keys.Load() && strings.HasSuffix(r.URL.Path, "/keys") {
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Body: http.NoBody, Request: r}, nil
	}
	return f.next.RoundTrip(r)
}

// flow is one sign-in's secrets, as hubgate's flow cookie keeps them.
type flow struct{ state, verifier, nonce string }

func newFlow() flow {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return flow{state: hex.EncodeToString(b), verifier: oidc.NewVerifier(), nonce: oidc.NewNonce()}
}

// authorize runs a flow through the provider's chooser as user and returns
// the callback's query ("" user: the person cancels).
func (e *env) authorize(t *testing.T, f flow, o oidc.AuthOptions, user string) url.Values {
	t.Helper()
	u, err := e.client.AuthCodeURL(context.Background(), f.state, f.verifier, f.nonce, o)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.browser.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET authorize = %d, want the chooser:\n%s", resp.StatusCode, body)
	}
	form, err := devop.LoginForm(body, user)
	if err != nil {
		t.Fatalf("%v:\n%s", err, body)
	}
	resp, err = e.browser.PostForm(e.op.Issuer()+"/login", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || !strings.HasPrefix(loc.String(), e.rp.URL+"/callback") {
		t.Fatalf("sign-in ended at %d %v, want a redirect to the callback", resp.StatusCode, loc)
	}
	if got := loc.Query().Get("state"); got != f.state {
		t.Fatalf("callback state = %q, want the flow's %q", got, f.state)
	}
	return loc.Query()
}

// signIn is a whole sign-in of user: the flow and the exchange.
func (e *env) signIn(t *testing.T, user string) (*oidc.Token, error) {
	t.Helper()
	f := newFlow()
	q := e.authorize(t, f, oidc.AuthOptions{}, user)
	return e.client.Exchange(context.Background(), q.Get("code"), f.verifier, f.nonce)
}

func (e *env) receivedLogouts() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.logouts)
}
