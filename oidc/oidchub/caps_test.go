package oidchub_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hubgate/hubgate/oidc"
	"github.com/hubgate/hubgate/oidc/devop"
	"github.com/hubgate/hubgate/oidc/oidchub"
	"github.com/hubgate/hubgate/zaikio"
)

// A back-channel logout the provider sends names the person whose sessions
// end; the same token again, or a forged one, is refused.
func TestVerifyLogout(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := context.Background()
	tok, err := e.signIn(t, devop.AliceID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.op.Logout(ctx, devop.AliceID); err != nil {
		t.Fatal(err)
	}
	got := e.receivedLogouts()
	if len(got) != 1 {
		t.Fatalf("back-channel logouts received = %d, want 1", len(got))
	}
	before := time.Now().Add(-time.Minute)
	person, at, err := e.hub.VerifyLogout(ctx, got[0])
	if err != nil || person != tok.Bearer.ID || at.Before(before) || at.After(time.Now()) {
		t.Errorf("VerifyLogout = %q, %s, %v; want %s, the token's iat (just now)", person, at, err, tok.Bearer.ID)
	}
	if _, _, err := e.hub.VerifyLogout(ctx, got[0]); !errors.Is(err, zaikio.ErrInvalidToken) {
		t.Errorf("VerifyLogout(replayed) = %v, want zaikio.ErrInvalidToken", err)
	}
	if _, _, err := e.hub.VerifyLogout(ctx, "not.a.token"); !errors.Is(err, zaikio.ErrInvalidToken) {
		t.Errorf("VerifyLogout(forged) = %v, want zaikio.ErrInvalidToken", err)
	}
	// An ID token is no logout token.
	v := oidc.NewVerifier()
	_, code := e.authorize(t, v, devop.BobID)
	raw, err := e.client.Exchange(ctx, code, v, oidchub.Nonce(v))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.hub.VerifyLogout(ctx, raw.IDToken); !errors.Is(err, zaikio.ErrInvalidToken) {
		t.Errorf("VerifyLogout(an ID token) = %v, want zaikio.ErrInvalidToken", err)
	}
}

// RP-initiated logout: the provider's end_session endpoint with client_id,
// the post-logout redirect and, while this process has it, the person's
// ID token as the hint. Following it ends the provider session, which the
// provider reports back through the back channel.
func TestEndSessionURL(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := context.Background()
	u, err := e.hub.EndSessionURL(ctx, "someone")
	if err != nil {
		t.Fatal(err)
	}
	q := mustQuery(t, u)
	if q.Get("client_id") != "web" || q.Get("post_logout_redirect_uri") != e.rp.URL+"/signed-out" || q.Has("id_token_hint") {
		t.Errorf("end_session URL for an unknown person = %s", u)
	}
	tok, err := e.signIn(t, devop.AliceID)
	if err != nil {
		t.Fatal(err)
	}
	u, err = e.hub.EndSessionURL(ctx, tok.Bearer.ID)
	if err != nil || !mustQuery(t, u).Has("id_token_hint") {
		t.Fatalf("end_session URL after sign-in = %s, %v; want an id_token_hint", u, err)
	}
	resp, err := e.browser.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 != 3 || loc != e.rp.URL+"/signed-out" {
		t.Errorf("end_session = %d → %q, want the post-logout redirect", resp.StatusCode, loc)
	}
	if got := e.receivedLogouts(); len(got) != 1 {
		t.Errorf("back-channel logouts after end_session = %d, want 1", len(got))
	}
}

// Organizations a rule maps straight to a legacy id are known once a
// person holding them was read; others are not. Org claims work only with
// a mapping.
func TestLegacyOrgsAndOrgClaims(t *testing.T) {
	e := newEnv(t, nil, nil)
	globex, acme := oidc.OrgID(e.op.Issuer(), "globex"), oidc.OrgID(e.op.Issuer(), "acme")
	if _, ok := e.hub.LegacyOrg(globex); ok {
		t.Error("LegacyOrg known before anybody signed in")
	}
	tok, err := e.signIn(t, devop.GraceID)
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := e.hub.LegacyOrg(globex); !ok || l != "legacy-globex" {
		t.Errorf("LegacyOrg(globex) = %q, %t; want legacy-globex", l, ok)
	}
	if _, ok := e.hub.LegacyOrg(acme); ok {
		t.Error("acme (no Legacy in its rule) has a direct legacy org")
	}
	p, err := e.hub.Person(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range p.Memberships {
		if m.Organization.ID == globex && m.Organization.Name != "Globex Corp" {
			t.Errorf("globex is named %q, want the rule's name", m.Organization.Name)
		}
	}
	if !e.hub.OrgClaimsByMembership() {
		t.Error("OrgClaimsByMembership = false with a mapping")
	}
	none := newEnv(t, nil, func(c *oidc.Config) { c.Mapping = oidc.Mapping{} })
	if none.hub.OrgClaimsByMembership() {
		t.Error("OrgClaimsByMembership = true without a mapping")
	}
	if _, err := e.hub.Organization(context.Background(), tok.AccessToken); err == nil {
		t.Error("Organization answered: an OpenID Provider has no organization tokens")
	}
}
