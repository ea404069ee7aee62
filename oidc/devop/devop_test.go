package devop_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
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
	"golang.org/x/oauth2"

	"github.com/hubgate/hubgate/oidc/devop"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is a provider with one confidential client whose redirect URI and
// back-channel URI are a test server that records what it is sent.
type env struct {
	op      *devop.Provider
	rp      *httptest.Server
	oauth   oauth2.Config
	browser *http.Client

	mu      sync.Mutex
	logouts []string // logout_token values received
}

func newEnv(t *testing.T, cfg devop.Config) *env {
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
	cfg.Seed = true
	cfg.Clients = append(cfg.Clients, devop.Client{ID: "web", Secret: "web-secret",
		RedirectURIs: []string{e.rp.URL + "/callback"}, PostLogoutRedirectURIs: []string{e.rp.URL + "/bye"},
		BackchannelLogoutURI: e.rp.URL + "/backchannel"})
	op, err := devop.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	e.op = op
	e.oauth = oauth2.Config{ClientID: "web", ClientSecret: "web-secret", RedirectURL: e.rp.URL + "/callback",
		Endpoint: oauth2.Endpoint{AuthURL: op.Issuer() + "/authorize", TokenURL: op.Issuer() + "/oauth/token"},
		Scopes:   []string{"openid", "profile", "email", "groups", "offline_access"}}
	jar, _ := cookiejar.New(nil)
	e.browser = &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), e.rp.URL) {
			return http.ErrUseLastResponse // stop at the client's callback
		}
		return nil
	}}
	t.Cleanup(e.browser.CloseIdleConnections)
	return e
}

// signIn walks the authorize request through the chooser as user and
// returns the callback's query.
func (e *env) signIn(t *testing.T, authURL, user string) url.Values {
	t.Helper()
	resp, err := e.browser.Get(authURL)
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
	return loc.Query()
}

func claimsOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCodeFlowRefreshAndBackchannel(t *testing.T) {
	e := newEnv(t, devop.Config{})
	ctx := context.Background()
	verifier := oauth2.GenerateVerifier()
	q := e.signIn(t, e.oauth.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("nonce", "n0nce")), devop.AliceID)
	if q.Get("state") != "st4te" || q.Get("code") == "" {
		t.Fatalf("callback query = %v, want the state and a code", q)
	}
	tok, err := e.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt := claimsOf(t, tok.Extra("id_token").(string))
	for k, want := range map[string]any{"iss": e.op.Issuer(), "sub": devop.AliceID, "nonce": "n0nce",
		"email": "alice@acme.example", "name": "Alice Admin", "azp": "web"} {
		if idt[k] != want {
			t.Errorf("id_token %s = %v, want %v", k, idt[k], want)
		}
	}
	if g, _ := idt["groups"].([]any); len(g) != 2 || g[0] != "acme-admins" {
		t.Errorf("id_token groups = %v, want acme-admins, acme-users", idt["groups"])
	}
	if sid, _ := idt["sid"].(string); sid == "" {
		t.Error("id_token has no sid")
	}
	if _, err := e.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); err == nil {
		t.Error("a code exchanged twice was accepted")
	}

	// Refresh rotates: the new token works once, the old one never again.
	next, err := e.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh answered refresh token %q, want a new one", next.RefreshToken)
	}
	if claimsOf(t, next.Extra("id_token").(string))["sub"] != devop.AliceID {
		t.Error("the refreshed ID token is not Alice's")
	}
	if _, err := e.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil ||
		!strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("reused refresh token: err = %v, want invalid_grant", err)
	}

	// Signing Alice out everywhere tells the client and ends the tokens.
	if err := e.op.Logout(ctx, devop.AliceID); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	logouts := slices.Clone(e.logouts)
	e.mu.Unlock()
	if len(logouts) != 1 {
		t.Fatalf("back-channel logouts received = %d, want 1", len(logouts))
	}
	lt := claimsOf(t, logouts[0])
	if lt["sub"] != devop.AliceID || lt["sid"] != idt["sid"] || lt["aud"] != "web" || lt["nonce"] != nil || lt["jti"] == nil {
		t.Errorf("logout token claims = %v", lt)
	}
	if ev, _ := lt["events"].(map[string]any); ev == nil || ev[devop.BackchannelEvent] == nil {
		t.Errorf("logout token events = %v, want the back-channel event", lt["events"])
	}
	if _, err := e.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: next.RefreshToken}).Token(); err == nil {
		t.Error("a refresh token of an ended session still works")
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	e := newEnv(t, devop.Config{})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for name, tc := range map[string]struct {
		url  string
		want string
	}{
		"no PKCE":     {e.oauth.AuthCodeURL("s"), "error=invalid_request"},
		"plain PKCE":  {e.oauth.AuthCodeURL("s", oauth2.SetAuthURLParam("code_challenge", "abc"), oauth2.SetAuthURLParam("code_challenge_method", "plain")), "error=invalid_request"},
		"prompt none": {e.oauth.AuthCodeURL("s", oauth2.S256ChallengeOption("v"), oauth2.SetAuthURLParam("prompt", "none")), "error=login_required"},
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := noRedirect.Get(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if loc := resp.Header.Get("Location"); !strings.Contains(loc, tc.want) || !strings.Contains(loc, "state=s") {
				t.Errorf("Location = %q, want %s with the state", loc, tc.want)
			}
		})
	}
	t.Run("deny", func(t *testing.T) {
		q := e.signIn(t, e.oauth.AuthCodeURL("s", oauth2.S256ChallengeOption("v")), "")
		if q.Get("error") != "access_denied" || q.Get("state") != "s" {
			t.Errorf("callback query = %v, want access_denied with the state", q)
		}
	})
}

func TestConfigRefused(t *testing.T) {
	for name, cfg := range map[string]devop.Config{
		"no issuer":      {},
		"issuer path":    {Issuer: "http://127.0.0.1:1/realms/x"},
		"client no uris": {Issuer: "http://127.0.0.1:1", Clients: []devop.Client{{ID: "x"}}},
		"bad uri":        {Issuer: "http://127.0.0.1:1", Clients: []devop.Client{{ID: "x", RedirectURIs: []string{"/cb"}}}},
		"twice":          {Issuer: "http://127.0.0.1:1", Users: []devop.User{{ID: "a"}, {ID: "a"}}},
		"negative ttl":   {Issuer: "http://127.0.0.1:1", AccessTTL: -1},
	} {
		if _, err := devop.New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}
