package oidc_test

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/oidc"
	"github.com/hubgate/hubgate/oidc/devop"
)

// A whole sign-in through the provider's pages: state, PKCE and nonce go
// out, the verified ID token comes back, and the person carries the
// memberships the mapping makes of their groups.
func TestSignInMakesPersonWithMemberships(t *testing.T) {
	e := newEnv(t, options{})
	iss := e.op.Issuer()
	org := func(key string, roles ...string) oidc.Membership {
		return oidc.Membership{Organization: oidc.Organization{ID: oidc.OrgID(iss, key), Key: key, Name: key}, Roles: roles}
	}
	for _, tc := range []struct {
		user, email, name string
		want              []oidc.Membership
	}{
		{devop.AliceID, "alice@acme.example", "Alice Admin", []oidc.Membership{org("acme", "admin", "member")}},
		{devop.BobID, "bob@acme.example", "Bob User", []oidc.Membership{org("acme", "member")}},
		{devop.GraceID, "grace@globex.example", "Grace Owner", []oidc.Membership{org("acme", "member"), org("globex", "owner")}},
		{devop.DaveID, "dave@example.com", "Dave Nogroups", []oidc.Membership{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := e.signIn(t, tc.user)
			if err != nil {
				t.Fatal(err)
			}
			p := tok.Person
			if p.ID != oidc.PersonID(iss, tc.user) || p.Issuer != iss || p.Subject != tc.user {
				t.Errorf("person = %s (%s, %s), want PersonID(iss, %s)", p.ID, p.Issuer, p.Subject, tc.user)
			}
			if !claim.ValidZaikioID(p.ID) {
				t.Errorf("person id %q does not fit hubgate's person ids", p.ID)
			}
			if p.Email != tc.email || !p.EmailVerified || p.DisplayName() != tc.name {
				t.Errorf("person = %q <%s> verified=%v, want %q <%s>", p.DisplayName(), p.Email, p.EmailVerified, tc.name, tc.email)
			}
			if diff := cmp.Diff(tc.want, p.Memberships); diff != "" {
				t.Errorf("memberships (-want +got):\n%s", diff)
			}
			if tok.AccessToken == "" || tok.RefreshToken == "" || tok.IDToken == "" || tok.SessionID == "" || tok.Expiry.IsZero() {
				t.Errorf("token = %+v, want access, refresh and ID token, sid and expiry", tok)
			}
		})
	}
}

// The authorize request carries what the flow needs and the options ask.
func TestAuthCodeURL(t *testing.T) {
	e := newEnv(t, options{client: func(c *oidc.Config) {
		c.AuthParams = map[string]string{"access_type": "offline", "nonce": "x", "prompt": "consent"}
	}})
	f := newFlow()
	u, err := e.client.AuthCodeURL(context.Background(), f.state, f.verifier, f.nonce,
		oidc.AuthOptions{SelectAccount: true, LoginHint: "bob@acme.example", Lang: "de"})
	if err != nil {
		t.Fatal(err)
	}
	pu, _ := url.Parse(u)
	q := pu.Query()
	for k, want := range map[string]string{
		"response_type": "code", "client_id": "web", "redirect_uri": e.rp.URL + "/callback", "state": f.state,
		"nonce": f.nonce, "code_challenge_method": "S256", "prompt": "select_account", "login_hint": "bob@acme.example",
		"ui_locales": "de", "scope": "openid profile email groups offline_access", "access_type": "offline",
	} {
		if q.Get(k) != want {
			t.Errorf("authorize %s = %q, want %q", k, q.Get(k), want)
		}
	}
	if !strings.HasPrefix(u, e.op.Issuer()+"/authorize?") || q.Get("code_challenge") == "" || q.Get("code_challenge") == f.verifier {
		t.Errorf("authorize URL %s: want the provider's endpoint and the S256 challenge (not the verifier)", u)
	}
	u2, err := e.client.AuthCodeURL(context.Background(), f.state, f.verifier, f.nonce, oidc.AuthOptions{})
	if pu, _ := url.Parse(u2); err != nil || pu.Query().Get("prompt") != "consent" {
		t.Errorf("authorize URL without options = %s, %v; want AuthParams' prompt=consent", u2, err)
	}
	if _, err := e.client.AuthCodeURL(context.Background(), f.state, f.verifier, "", oidc.AuthOptions{}); err == nil {
		t.Error("AuthCodeURL without a nonce succeeded")
	}
	// The provider's chooser marks the hinted account.
	resp, err := e.browser.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `class="user hint" type="submit" name="user" value="`+devop.BobID+`"`) {
		t.Errorf("the chooser does not mark Bob, the login_hint:\n%s", body)
	}
}

// Refresh honours rotation: the answer's refresh token replaces the old
// one, and the old one is refused as invalid_grant.
func TestRefreshRotation(t *testing.T) {
	e := newEnv(t, options{})
	ctx := context.Background()
	tok, err := e.signIn(t, devop.GraceID)
	if err != nil {
		t.Fatal(err)
	}
	next, err := e.client.Refresh(ctx, tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
		t.Fatal("refresh did not rotate the tokens")
	}
	if next.Person == nil || next.Person.ID != tok.Person.ID || len(next.Person.Memberships) != 2 {
		t.Errorf("refreshed person = %+v, want Grace with her memberships", next.Person)
	}
	if next.IDToken == "" || next.SessionID != tok.SessionID {
		t.Errorf("refreshed ID token sid = %q, want the session's %q", next.SessionID, tok.SessionID)
	}
	_, err = e.client.Refresh(ctx, tok.RefreshToken)
	if !errors.Is(err, oidc.ErrInvalidGrant) {
		t.Errorf("Refresh(used token) = %v, want ErrInvalidGrant", err)
	}
	if _, err := e.client.Refresh(ctx, next.RefreshToken); err != nil {
		t.Errorf("Refresh(rotated token) = %v, want success", err)
	}
	if _, err := e.client.Refresh(ctx, ""); !errors.Is(err, oidc.ErrInvalidGrant) {
		t.Errorf("Refresh(\"\") = %v, want ErrInvalidGrant", err)
	}
}

// Group changes at the provider show at the next refresh.
func TestRefreshSeesNewGroups(t *testing.T) {
	e := newEnv(t, options{})
	tok, err := e.signIn(t, devop.BobID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.op.SetGroups(devop.BobID, "globex-admins"); err != nil {
		t.Fatal(err)
	}
	next, err := e.client.Refresh(context.Background(), tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if ms := next.Person.Memberships; len(ms) != 1 || ms[0].Organization.Key != "globex" || ms[0].Roles[0] != "admin" {
		t.Errorf("memberships after the change = %+v, want globex admin", ms)
	}
}

// A code is good once, only with its verifier, and a cancelled sign-in
// brings no code.
func TestExchangeRefusals(t *testing.T) {
	e := newEnv(t, options{})
	ctx := context.Background()
	f := newFlow()
	q := e.authorize(t, f, oidc.AuthOptions{}, devop.AliceID)
	if _, err := e.client.Exchange(ctx, q.Get("code"), oidc.NewVerifier(), f.nonce); !errors.Is(err, oidc.ErrInvalidGrant) {
		t.Errorf("Exchange(wrong verifier) = %v, want ErrInvalidGrant", err)
	}
	f = newFlow()
	q = e.authorize(t, f, oidc.AuthOptions{}, devop.AliceID)
	if _, err := e.client.Exchange(ctx, q.Get("code"), f.verifier, f.nonce); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Exchange(ctx, q.Get("code"), f.verifier, f.nonce); !errors.Is(err, oidc.ErrInvalidGrant) {
		t.Errorf("Exchange(used code) = %v, want ErrInvalidGrant", err)
	}
	if _, err := e.client.Exchange(ctx, "", f.verifier, f.nonce); err == nil || errors.Is(err, oidc.ErrUnavailable) {
		t.Errorf("Exchange(\"\") = %v, want a refusal that is not an outage", err)
	}
	q = e.authorize(t, newFlow(), oidc.AuthOptions{}, "")
	if q.Get("error") != "access_denied" || q.Get("code") != "" {
		t.Errorf("cancelled sign-in: callback %v, want error=access_denied and no code", q)
	}
}

// Userinfo, when configured, is read at the exchange; UserInfo reads the
// person for revalidation, and a revoked token is invalid_grant.
func TestUserInfo(t *testing.T) {
	e := newEnv(t, options{client: func(c *oidc.Config) { c.UserInfo = true }})
	ctx := context.Background()
	tok, err := e.signIn(t, devop.AliceID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.client.UserInfo(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tok.Person, p); diff != "" {
		t.Errorf("userinfo person differs from the sign-in's (-sign-in +userinfo):\n%s", diff)
	}
	if err := e.client.Revoke(ctx, tok.RefreshToken, "refresh_token"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.UserInfo(ctx, tok.AccessToken); !errors.Is(err, oidc.ErrInvalidGrant) {
		t.Errorf("UserInfo(revoked) = %v, want ErrInvalidGrant", err)
	}
	if _, err := e.client.Refresh(ctx, tok.RefreshToken); !errors.Is(err, oidc.ErrInvalidGrant) {
		t.Errorf("Refresh(revoked) = %v, want ErrInvalidGrant", err)
	}
	if err := e.client.Revoke(ctx, "never-issued", "refresh_token"); err != nil {
		t.Errorf("Revoke(unknown token) = %v, want nil (RFC 7009 §2.2)", err)
	}
}

// A provider that cannot be reached, or whose keys cannot be read, is an
// outage (ErrUnavailable), never a forged token.
func TestUnavailable(t *testing.T) {
	e := newEnv(t, options{})
	ctx := context.Background()
	if err := e.client.CheckKeys(ctx); err != nil {
		t.Fatalf("CheckKeys = %v, want nil", err)
	}
	e.failKeys.Store(true)
	tok, err := e.signIn(t, devop.AliceID)
	if !errors.Is(err, oidc.ErrUnavailable) || errors.Is(err, oidc.ErrInvalidToken) {
		t.Errorf("Exchange with unreadable keys = %v (token %v), want ErrUnavailable only", err, tok)
	}
	e.failKeys.Store(false)
	if _, err := e.signIn(t, devop.AliceID); err != nil {
		t.Errorf("Exchange once the keys are back = %v, want success", err)
	}

	down, err := oidc.New(oidc.Config{Issuer: "http://127.0.0.1:1", ClientID: "web", RedirectURL: "http://127.0.0.1:2/cb"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := down.AuthCodeURL(ctx, "s", "v", "n", oidc.AuthOptions{}); !errors.Is(err, oidc.ErrUnavailable) {
		t.Errorf("AuthCodeURL with the provider down = %v, want ErrUnavailable", err)
	}
	if err := down.CheckKeys(ctx); !errors.Is(err, oidc.ErrUnavailable) {
		t.Errorf("CheckKeys with the provider down = %v, want ErrUnavailable", err)
	}
}

// A failed discovery is answered from memory for a few seconds (no queue
// of sign-ins behind a dead provider), then tried again.
func TestDiscoveryRetried(t *testing.T) {
	var skew atomic.Int64
	e := newEnv(t, options{client: func(c *oidc.Config) {
		c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	}})
	ctx := context.Background()
	f := newFlow()
	e.failAll.Store(true)
	if _, err := e.client.AuthCodeURL(ctx, f.state, f.verifier, f.nonce, oidc.AuthOptions{}); !errors.Is(err, oidc.ErrUnavailable) {
		t.Fatalf("AuthCodeURL with discovery failing = %v, want ErrUnavailable", err)
	}
	e.failAll.Store(false)
	if _, err := e.client.AuthCodeURL(ctx, f.state, f.verifier, f.nonce, oidc.AuthOptions{}); !errors.Is(err, oidc.ErrUnavailable) {
		t.Errorf("AuthCodeURL right after = %v, want the remembered ErrUnavailable", err)
	}
	skew.Store(int64(6 * time.Second))
	if _, err := e.client.AuthCodeURL(ctx, f.state, f.verifier, f.nonce, oidc.AuthOptions{}); err != nil {
		t.Errorf("AuthCodeURL 6 s later = %v, want success", err)
	}
}

func TestConfigRefused(t *testing.T) {
	good := oidc.Config{Issuer: "https://id.example", ClientID: "c", RedirectURL: "https://app.example/_hubgate/callback"}
	for name, mod := range map[string]func(*oidc.Config){
		"no issuer":        func(c *oidc.Config) { c.Issuer = "" },
		"relative issuer":  func(c *oidc.Config) { c.Issuer = "/realms/x" },
		"no client":        func(c *oidc.Config) { c.ClientID = "" },
		"no redirect":      func(c *oidc.Config) { c.RedirectURL = "" },
		"bad post-logout":  func(c *oidc.Config) { c.PostLogoutRedirectURL = "/bye" },
		"hmac short key":   func(c *oidc.Config) { c.AllowHMAC, c.ClientSecret = true, "short" },
		"negative max age": func(c *oidc.Config) { c.LogoutMaxAge = -1 },
		"rules no claim":   func(c *oidc.Config) { c.Mapping = oidc.Mapping{Rules: groupsMapping.Rules} },
		"claim no rules":   func(c *oidc.Config) { c.Mapping = oidc.Mapping{Claim: "groups"} },
	} {
		c := good
		mod(&c)
		if _, err := oidc.New(c); err == nil {
			t.Errorf("%s: New accepted %+v", name, c)
		}
	}
	if _, err := oidc.New(good); err != nil {
		t.Errorf("New(good) = %v", err)
	}
}

// Without a secret the client is public: PKCE alone, client_id in forms.
func TestPublicClient(t *testing.T) {
	e := newEnv(t, options{
		op: func(c *devop.Config) { c.Clients[0].Secret = "" },
		client: func(c *oidc.Config) {
			c.ClientSecret = ""
		},
	})
	tok, err := e.signIn(t, devop.BobID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Refresh(context.Background(), tok.RefreshToken); err != nil {
		t.Errorf("public client refresh = %v", err)
	}
}
