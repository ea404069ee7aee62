package proxy_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/oidc/devop"
	"github.com/hubgate/hubgate/proxy"
)

// Every bad ID token the real provider can be made to send ends on the
// "could not be verified" page (401), signs nobody in, and the next good
// sign-in works.
func TestOIDCBadIDTokenPages(t *testing.T) {
	e := newEnvOf(t, oidcProvider, nil)
	for _, tamper := range devop.Tampers() {
		t.Run(string(tamper), func(t *testing.T) {
			if err := e.op.TamperNext(tamper); err != nil {
				t.Fatal(err)
			}
			b := e.browser()
			resp := b.login(e.erika, "/")
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.body, "could not be verified") {
				t.Fatalf("callback with a %s ID token = %d; want 401 could not be verified\n%s", tamper, resp.StatusCode, resp.body)
			}
			if b.sessionCookie() != "" || b.identity() != "" {
				t.Error("a bad ID token started a session")
			}
			if r := b.login(e.erika, "/"); r.StatusCode != http.StatusFound || b.identity() == "" {
				t.Errorf("the next, good sign-in = %d", r.StatusCode)
			}
		})
	}
}

// The provider's back-channel logout ends every session of the person:
// the next request with the cookie is signed out, even with the provider
// down. Forged or replayed tokens change nothing (400); the route exists
// only with a provider that has back-channel logout.
func TestOIDCBackchannelLogoutEndsSession(t *testing.T) {
	e := newEnvOf(t, oidcProvider, nil)
	e.linkDirect(claim.KindPerson, "1", e.pid(e.erika))
	b, other := e.browser(), e.browser()
	b.login(e.erika, "/")
	other.login(e.max, "/")
	if got := b.upstreamHeaders("/x").Get(proxy.HeaderUser); got != "1" {
		t.Fatalf("signed in: upstream user = %q", got)
	}
	for _, form := range []url.Values{{}, {"logout_token": {"forged.token.value"}}} {
		resp := e.browser().post("/_hubgate/backchannel-logout", form)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("back-channel logout with %v = %d; want 400, no-store", form, resp.StatusCode)
		}
	}
	if b.identity() == "" {
		t.Fatal("a refused logout token ended the session")
	}
	e.clock.Advance(time.Second) // the sessions ended are those started before the logout
	if err := e.op.Logout(context.Background(), e.erika); err != nil {
		t.Fatalf("provider logout: %v", err)
	}
	ds := e.op.Deliveries()
	if len(ds) != 1 || ds[0].Status != http.StatusOK {
		t.Fatalf("deliveries = %+v; want one answered 200", ds)
	}
	replay := e.browser().post("/_hubgate/backchannel-logout", url.Values{"logout_token": {ds[0].Token}})
	if replay.StatusCode != http.StatusBadRequest {
		t.Errorf("replayed logout token = %d; want 400", replay.StatusCode)
	}
	e.op.Close() // the provider is down: the session ends all the same
	e.setMode(migration.Enforce)
	if b.identity() != "" {
		t.Error("the session outlived the back-channel logout")
	}
	if r := b.get("/x"); r.StatusCode != http.StatusFound {
		t.Errorf("GET /x after the logout = %d; want a redirect to sign in", r.StatusCode)
	}
	if other.identity() == "" {
		t.Error("another person's session ended")
	}
	zb := newEnv(t, nil).browser()
	if r := zb.post("/_hubgate/backchannel-logout", url.Values{"logout_token": {"x"}}); r.StatusCode != http.StatusNotFound {
		t.Errorf("back-channel logout on the Zaikio hub = %d; want 404", r.StatusCode)
	}
}

// Signing out of hubgate goes on to the provider's end_session endpoint,
// which signs the person out there too (and tells hubgate through the
// back channel), then returns to the post-logout redirect.
func TestOIDCLogoutGoesToEndSession(t *testing.T) {
	e := newEnvOf(t, oidcProvider, nil)
	b := e.browser()
	b.login(e.erika, "/")
	page := b.get("/_hubgate/logout")
	resp := b.post("/_hubgate/logout", url.Values{"csrf": {csrfOf(t, page.body)}})
	loc, err := resp.Location()
	if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), e.op.Issuer()) {
		t.Fatalf("POST /_hubgate/logout = %d to %v; want the provider's end_session", resp.StatusCode, loc)
	}
	q := loc.Query()
	if q.Get("client_id") != testClient || q.Get("post_logout_redirect_uri") != e.srv.URL+"/" || q.Get("id_token_hint") == "" {
		t.Errorf("end_session query = %v", q)
	}
	if b.identity() != "" {
		t.Error("hubgate's session outlived the logout")
	}
	end := b.get(loc.String())
	if l := end.Header.Get("Location"); end.StatusCode/100 != 3 || l != e.srv.URL+"/" {
		t.Errorf("end_session = %d to %q; want the post-logout redirect", end.StatusCode, l)
	}
	if ds := e.op.Deliveries(); len(ds) != 1 || ds[0].Status != http.StatusOK {
		t.Errorf("back-channel deliveries after end_session = %+v; want one answered 200", ds)
	}
}

// Revalidation refreshes with the provider's rotating refresh tokens: the
// roles follow the groups at each revalidation, which works twice only if
// the session stored the rotated token.
func TestOIDCRevalidationRotates(t *testing.T) {
	e := newEnvOf(t, oidcProvider, nil)
	e.linkDirect(claim.KindPerson, "1", e.pid(e.erika))
	e.linkDirect(claim.KindOrg, "200", e.orgID("acme"))
	b := e.browser()
	b.login(e.erika, "/")
	if got := b.upstreamHeaders("/x").Get(proxy.HeaderRoles); got != "200:admin,200:user" {
		t.Fatalf("roles at sign-in = %q; want 200:admin,200:user", got)
	}
	for _, step := range []struct {
		groups []string
		want   string
	}{{[]string{"acme-users"}, "200:user"}, {[]string{"acme-owners"}, "200:admin"}} {
		if err := e.op.SetGroups(e.erika, step.groups...); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(6 * time.Minute)
		if got := b.upstreamHeaders("/x").Get(proxy.HeaderRoles); got != step.want {
			t.Errorf("roles after revalidation with groups %v = %q; want %q", step.groups, got, step.want)
		}
	}
	if got := b.upstreamHeaders("/x").Get(proxy.HeaderUser); got != "1" {
		t.Errorf("user after two revalidations = %q; want 1", got)
	}
}

// An organization a mapping rule maps straight to a legacy one appears in
// X-Hubgate-Orgs/-Roles without an org link.
func TestOIDCDirectLegacyOrg(t *testing.T) {
	e := newEnvOf(t, oidcProvider, nil)
	if err := e.op.SetGroups(e.max, "direct-users", "acme-users"); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.login(e.max, "/")
	h := b.upstreamHeaders("/x")
	if got := h.Get(proxy.HeaderOrgs); got != "300" {
		t.Errorf("X-Hubgate-Orgs = %q; want 300 (mapped straight; acme is not linked)", got)
	}
	if got := h.Get(proxy.HeaderRoles); got != "300:user" {
		t.Errorf("X-Hubgate-Roles = %q; want 300:user", got)
	}
}

// orgClaimAt starts an org claim for legacy org 500 as the signed-in b and
// returns the page the provider's callback ends on (user signs in there).
func orgClaimAt(t *testing.T, b *browser, user string) *response {
	t.Helper()
	page := b.get("/_hubgate/claim-org")
	if page.StatusCode != http.StatusOK {
		t.Fatalf("GET /_hubgate/claim-org = %d\n%s", page.StatusCode, page.body)
	}
	resp := b.post("/_hubgate/claim-org", url.Values{"csrf": {csrfOf(t, page.body)}, "org": {"500"}})
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("POST /_hubgate/claim-org = %d\n%s", resp.StatusCode, resp.body)
	}
	return b.land(b.hubReturn(resp.Header.Get("Location"), user, ""))
}

// Org claims at an OpenID Provider link the one organization in which the
// claimer, signed in again, is owner or admin; none or several are refused
// with a page that says so, and a provider without organizations has org
// claims off.
func TestOIDCOrgClaimByMembership(t *testing.T) {
	setup := func(t *testing.T, pv provider, groups ...string) (*env, *browser) {
		e := newEnvOf(t, pv, nil)
		e.putPeople(claim.Person{ID: "1", Name: "Grace Legacy", Orgs: []string{"500"}})
		e.linkDirect(claim.KindPerson, "1", e.pid(e.frank))
		if err := e.op.SetGroups(e.frank, groups...); err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		b.login(e.frank, "/")
		return e, b
	}
	t.Run("one", func(t *testing.T) {
		e, b := setup(t, oidcProvider, "globex-owners", "acme-users")
		done := orgClaimAt(t, b, e.frank)
		if done.StatusCode != http.StatusOK {
			t.Fatalf("org claim = %d\n%s", done.StatusCode, done.body)
		}
		if l, err := e.link(claim.KindOrg, "500"); err != nil || l.ZaikioID != e.orgID("globex") {
			t.Errorf("link 500 = %+v, %v; want globex", l, err)
		}
		if got := b.upstreamHeaders("/x").Get(proxy.HeaderRoles); got != "500:admin" {
			t.Errorf("roles after the org claim = %q; want 500:admin", got)
		}
	})
	for _, tc := range []struct {
		name   string
		groups []string
		user   func(e *env) string
		status int
		text   string
	}{
		{"none", []string{"acme-users"}, func(e *env) string { return e.frank }, http.StatusForbidden, "No organization to link"},
		{"several", []string{"globex-owners", "initech-admins"}, func(e *env) string { return e.frank }, http.StatusConflict, "Several organizations"},
		{"another person at the provider", []string{"globex-owners"}, func(e *env) string { return e.erika }, http.StatusForbidden, "for someone else"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, b := setup(t, oidcProvider, tc.groups...)
			r := orgClaimAt(t, b, tc.user(e))
			if r.StatusCode != tc.status || !strings.Contains(r.body, tc.text) {
				t.Errorf("org claim = %d; want %d saying %q\n%s", r.StatusCode, tc.status, tc.text, r.body)
			}
			if _, err := e.link(claim.KindOrg, "500"); err == nil {
				t.Error("a refused org claim wrote a link")
			}
		})
	}
	t.Run("off without organizations", func(t *testing.T) {
		e, b := setup(t, oidcNoOrgs, "globex-owners")
		for _, r := range []*response{b.get("/_hubgate/claim-org"),
			b.get("/_hubgate/claim/" + e.issue(claim.KindOrg, "500", "").Token.Reveal())} {
			if r.StatusCode != http.StatusNotFound || !strings.Contains(r.body, "Organizations are not linked here") {
				t.Errorf("org claim without organizations = %d; want 404 org claims off\n%s", r.StatusCode, r.body)
			}
		}
	})
}
