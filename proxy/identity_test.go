package proxy_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// linkDirect writes a link as an operator would.
func (e *env) linkDirect(kind claim.Kind, legacyID, zaikioID string) {
	e.t.Helper()
	if err := e.store.PutLink(context.Background(), claim.Link{Kind: kind, LegacyID: legacyID, ZaikioID: zaikioID, CreatedAt: e.clock.Now(), Via: "admin", By: "test"}); err != nil {
		e.t.Fatal(err)
	}
}

// rolesEnv: Frank is owner of Bounty Soap (linked as legacy org 100), member
// of Galactic Print (linked as 200) and member of an unlinked org.
func rolesEnv(t *testing.T, mutate func(*proxy.Config)) (*env, *browser) {
	return rolesEnvOf(t, zaikioHub, mutate)
}

// rolesEnvOf is rolesEnv on provider pv. At the OpenID Provider the same
// comes from groups: globex-owners (linked as 100), acme-users (200) and
// unlinked-users.
func rolesEnvOf(t *testing.T, pv provider, mutate func(*proxy.Config)) (*env, *browser) {
	t.Helper()
	e := newEnvOf(t, pv, mutate)
	if pv == oidcProvider {
		if err := e.op.SetGroups(e.frank, "globex-owners", "acme-users", "unlinked-users"); err != nil {
			t.Fatal(err)
		}
		e.linkDirect(claim.KindOrg, "100", e.orgID("globex"))
		e.linkDirect(claim.KindOrg, "200", e.orgID("acme"))
	} else {
		unlinked := e.hub.AddOrganization(devhub.Organization{Name: "Unlinked Org"})
		e.hub.SetRoles(devhub.FrankID, unlinked.ID, "member")
		e.linkDirect(claim.KindOrg, "100", devhub.BountySoapID)
		e.linkDirect(claim.KindOrg, "200", devhub.GalacticPrintID)
	}
	e.linkDirect(claim.KindPerson, "1", e.pid(e.frank))
	b := e.browser()
	b.login(e.frank, "/")
	return e, b
}

func TestRolesOnlyForLinkedOrgs(t *testing.T) {
	forProviders(t, testRolesOnlyForLinkedOrgs)
}

func testRolesOnlyForLinkedOrgs(t *testing.T, pv provider) {
	_, b := rolesEnvOf(t, pv, nil)
	h := b.upstreamHeaders("/x")
	if got, want := h.Get(proxy.HeaderOrgs), "100,200"; got != want {
		t.Errorf("X-Hubgate-Orgs = %q; want %q", got, want)
	}
	if got, want := h.Get(proxy.HeaderRoles), "100:admin,200:user"; got != want {
		t.Errorf("X-Hubgate-Roles = %q; want %q", got, want)
	}
	if got := h.Get(proxy.HeaderUser); got != "1" {
		t.Errorf("X-Hubgate-User = %q; want 1", got)
	}
}

func TestMembershipWebhookRefreshesRoles(t *testing.T) {
	e, b := rolesEnv(t, nil)
	e.hub.SetRoles(devhub.FrankID, devhub.GalacticPrintID, "admin")
	e.clock.Advance(time.Second)
	post := func(body []byte, sig string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/_hubgate/webhook", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		if sig != "" {
			req.Header.Set("X-Loom-Signature", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body, err := e.hub.Event("zaikio.member_roles_updated", "Org/"+devhub.GalacticPrintID, map[string]any{"roles": []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	// Unsigned and wrongly signed events change nothing.
	if got := post(body, ""); got != http.StatusUnauthorized {
		t.Errorf("unsigned event = %d; want 401", got)
	}
	if got := post(body, devhub.Sign("wrong-secret", body)); got != http.StatusUnauthorized {
		t.Errorf("wrongly signed event = %d; want 401", got)
	}
	if got := b.upstreamHeaders("/x").Get(proxy.HeaderRoles); got != "100:admin,200:user" {
		t.Fatalf("roles after rejected events = %q; want unchanged 100:admin,200:user", got)
	}
	// The signed event makes the next request re-read the roles.
	if got := post(body, devhub.Sign("webhook-secret", body)); got != http.StatusOK {
		t.Fatalf("signed event = %d; want 200", got)
	}
	if got := b.upstreamHeaders("/x").Get(proxy.HeaderRoles); got != "100:admin,200:admin" {
		t.Errorf("roles after the event = %q; want 100:admin,200:admin", got)
	}
	// The same event again is acknowledged but applied once.
	refreshes := e.hub.Requests(devhub.EndpointToken)
	e.clock.Advance(time.Second)
	if got := post(body, devhub.Sign("webhook-secret", body)); got != http.StatusOK {
		t.Fatalf("repeated event = %d; want 200", got)
	}
	b.upstreamHeaders("/x")
	if got := e.hub.Requests(devhub.EndpointToken); got != refreshes {
		t.Errorf("a repeated event caused %d more refreshes; want 0", got-refreshes)
	}
	rvs, _ := e.store.Revocations(context.Background(), e.clock.Now())
	if len(rvs) != 1 {
		t.Errorf("revocation entries = %d; want 1 (the duplicate applied once)", len(rvs))
	}
}

func TestMembershipWebhookNamingPerson(t *testing.T) {
	e, b := rolesEnv(t, nil)
	e.hub.SetRoles(devhub.FrankID, devhub.BountySoapID, "member")
	e.clock.Advance(time.Second)
	resp, err := e.hub.Deliver(context.Background(), testClient, "directory.member_roles_updated", "Org/"+devhub.BountySoapID,
		map[string]any{"member": map[string]any{"person": map[string]any{"id": devhub.FrankID}}})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("deliver = %v, %v", resp, err)
	}
	if got := b.upstreamHeaders("/x").Get(proxy.HeaderRoles); got != "100:user,200:user" {
		t.Errorf("roles after the event = %q; want 100:user,200:user", got)
	}
}

func TestMemberLeftRemovesOrg(t *testing.T) {
	e, b := rolesEnv(t, nil)
	e.hub.SetRoles(devhub.FrankID, devhub.GalacticPrintID) // no roles: leaves
	e.clock.Advance(time.Second)
	if resp, err := e.hub.Deliver(context.Background(), testClient, "zaikio.member_left", "Org/"+devhub.GalacticPrintID, map[string]any{}); err != nil || resp.StatusCode != 200 {
		t.Fatalf("deliver = %v, %v", resp, err)
	}
	h := b.upstreamHeaders("/x")
	if h.Get(proxy.HeaderOrgs) != "100" || h.Get(proxy.HeaderRoles) != "100:admin" {
		t.Errorf("after member_left orgs %q roles %q; want 100 and 100:admin", h.Get(proxy.HeaderOrgs), h.Get(proxy.HeaderRoles))
	}
}

func TestRevokedAccessTokenEndsSession(t *testing.T) {
	e, b := rolesEnv(t, nil)
	jti := e.spy.lastJTI()
	if jti == "" {
		t.Fatal("no jti recorded")
	}
	if resp, err := e.hub.Deliver(context.Background(), testClient, "zaikio.revoked_access_token", "Org/"+devhub.BountySoapID,
		map[string]any{"access_token_id": jti}); err != nil || resp.StatusCode != 200 {
		t.Fatalf("deliver = %v, %v", resp, err)
	}
	if got := b.upstreamHeaders("/x").Get(proxy.HeaderPerson); got != "" {
		t.Errorf("after revoked_access_token upstream person = %q; want none", got)
	}
}

func TestPersonRevocationEndsSessions(t *testing.T) {
	e, b := rolesEnv(t, nil)
	other := e.browser()
	other.login(devhub.FrankID, "/")
	e.clock.Advance(time.Second)
	rv := session.Revocation{Kind: session.RevokePerson, Subject: devhub.FrankID, At: e.clock.Now(), Until: e.clock.Now().Add(13 * time.Hour), Actor: "admin-api"}
	if err := e.store.AddRevocation(context.Background(), rv); err != nil {
		t.Fatal(err)
	}
	e.px.Refresh(context.Background())
	for i, br := range []*browser{b, other} {
		if got := br.upstreamHeaders("/x").Get(proxy.HeaderPerson); got != "" {
			t.Errorf("session %d after person revocation: upstream person %q; want none", i, got)
		}
	}
	// A new sign-in after the revocation works.
	fresh := e.browser()
	e.clock.Advance(time.Second)
	fresh.login(devhub.FrankID, "/")
	if got := fresh.upstreamHeaders("/x").Get(proxy.HeaderPerson); got != devhub.FrankID {
		t.Errorf("sign-in after revocation: upstream person %q; want %s", got, devhub.FrankID)
	}
}

func TestAssertionVerifiesWithJWKS(t *testing.T) {
	e, b := rolesEnv(t, func(c *proxy.Config) { c.Assertion = true })
	h := b.upstreamHeaders("/x")
	raw := h.Get(proxy.HeaderAssertion)
	if raw == "" {
		t.Fatal("no X-Hubgate-Assertion upstream")
	}
	resp, err := http.Get(e.srv.URL + "/_hubgate/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("jwks: %v (%d keys)", err, len(set.Keys))
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var std jwt.Claims
	var facts struct {
		User  string   `json:"user"`
		Orgs  []string `json:"orgs"`
		Roles []string `json:"roles"`
		Mode  string   `json:"mode"`
	}
	if err := tok.Claims(set, &std, &facts); err != nil {
		t.Fatalf("assertion does not verify with the published JWKS: %v", err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: e.srv.URL, AnyAudience: jwt.Audience{e.up.srv.URL}, Subject: devhub.FrankID, Time: e.clock.Now()}, 0); err != nil {
		t.Errorf("assertion claims: %v", err)
	}
	if life := std.Expiry.Time().Sub(std.IssuedAt.Time()); life > time.Minute {
		t.Errorf("assertion lives %s; want ≤ 60s", life)
	}
	if facts.User != "1" || strings.Join(facts.Roles, ",") != "100:admin,200:user" || facts.Mode != "passthrough" {
		t.Errorf("assertion facts = %+v", facts)
	}
	// Tampering: change one payload byte.
	parts := strings.Split(raw, ".")
	payload := []byte(parts[1])
	payload[5] ^= 1
	forged := parts[0] + "." + string(payload) + "." + parts[2]
	if ft, err := jwt.ParseSigned(forged, []jose.SignatureAlgorithm{jose.ES256}); err == nil {
		if err := ft.Claims(set, &std); err == nil {
			t.Error("a tampered assertion verifies")
		}
	}
	// The assertion is cached, not re-signed per request.
	if again := b.upstreamHeaders("/y").Get(proxy.HeaderAssertion); again != raw {
		t.Error("assertion re-signed on the next request within its half-life")
	}
}

func TestForwardAuth(t *testing.T) {
	e, b := rolesEnv(t, func(c *proxy.Config) {
		c.Mode = migration.Enforce
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	resp := b.get("/_hubgate/auth")
	if resp.StatusCode != http.StatusOK || resp.Header.Get(proxy.HeaderUser) != "1" || resp.Header.Get(proxy.HeaderRoles) != "100:admin,200:user" {
		t.Errorf("forward-auth with session = %d user %q roles %q", resp.StatusCode, resp.Header.Get(proxy.HeaderUser), resp.Header.Get(proxy.HeaderRoles))
	}
	anon := e.browser()
	if resp := anon.get("/_hubgate/auth"); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get(proxy.HeaderUser) != "" {
		t.Errorf("forward-auth without session = %d; want 401", resp.StatusCode)
	}
	if resp := anon.get("/_hubgate/auth", "X-Original-URI", "/assets/app.css"); resp.StatusCode != http.StatusOK {
		t.Errorf("forward-auth for a public path = %d; want 200", resp.StatusCode)
	}
	if resp := anon.get("/_hubgate/auth", "X-Original-URI", "/assets/../admin"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forward-auth for /assets/../admin = %d; want 401", resp.StatusCode)
	}
}

func TestForwardAuthIgnoresOriginalURIFromUntrustedPeers(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.Mode = migration.Enforce })
	for _, h := range []string{"X-Original-URI", "X-Forwarded-Uri"} {
		if resp := e.browser().get("/_hubgate/auth", h, "/assets/app.css"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("untrusted %s: /assets/ = %d; want 401", h, resp.StatusCode)
		}
	}
}

// echoHandler answers the identity headers it received, as the upstream
// behind nginx.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	out := map[string]string{}
	for k, v := range r.Header {
		if strings.HasPrefix(k, "X-Hubgate-") {
			out[k] = strings.Join(v, ",")
		}
	}
	_ = json.NewEncoder(w).Encode(out)
}
