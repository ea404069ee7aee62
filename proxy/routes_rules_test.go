package proxy_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/zaikio"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// rulesEnv: route rules for an API with legacy keys, a public status page,
// an admin area for local admins, deletions of orders for admins, a
// webhook receiver with legacy keys for POST only, and a CORS API. Frank
// (legacy 1) owns Bounty Soap (legacy org 100: admin), Max (legacy 2) is a
// member (user).
func rulesEnv(t *testing.T) (*env, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	e := newEnv(t, func(c *proxy.Config) {
		v, err := zaikio.NewBearerVerifier(c.Hub.(*spyHub).Client, zaikio.BearerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		c.Metrics, c.Bearer = reg, v
		c.Routes = []proxy.Route{
			{Path: "/api/v1/", Auth: proxy.AuthLegacy},
			{Methods: []string{"GET"}, Path: "/status", Auth: proxy.AuthPublic},
			{Path: "/admin/", Auth: proxy.AuthZaikio, Roles: []string{"admin"}},
			{Methods: []string{"DELETE"}, Path: "/orders/", Roles: []string{"admin"}},
			{Methods: []string{"POST"}, Path: "/hooks/", Auth: proxy.AuthLegacy},
			{Path: "/cors/", CORS: true},
			{Path: "/login", Auth: proxy.AuthLegacy}, // cannot reopen the closed legacy login
		}
	})
	e.linkDirect(claim.KindPerson, "1", devhub.FrankID)
	e.linkDirect(claim.KindPerson, "2", devhub.MaxID)
	e.linkDirect(claim.KindOrg, "100", devhub.BountySoapID)
	return e, reg
}

// outcome of one request through the gate.
type outcome string

const (
	fwdID    outcome = "forwarded with identity"
	fwdNone  outcome = "forwarded without identity"
	toSignIn outcome = "302 to sign-in"
	unauth   outcome = "401"
	denied   outcome = "403"
)

// through sends method path with hdr and reports the outcome.
func (b *browser) through(method, path string, hdr ...string) (outcome, http.Header) {
	b.t.Helper()
	req, _ := http.NewRequest(method, b.e.srv.URL+path, nil)
	req.URL.Opaque = path // sent exactly as written
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	before := b.e.up.count()
	resp := b.do(req)
	if b.e.up.count() > before {
		h := b.e.up.last(b.t).Header
		if h.Get(proxy.HeaderPerson) != "" {
			return fwdID, h
		}
		return fwdNone, h
	}
	switch resp.StatusCode {
	case http.StatusFound:
		return toSignIn, nil
	case http.StatusUnauthorized:
		return unauth, nil
	case http.StatusForbidden:
		return denied, nil
	}
	return outcome(fmt.Sprintf("%d", resp.StatusCode)), nil
}

// TestRouteRules: every rule from both sides — requests it covers and
// spellings it must not — with and without a session (a person who holds
// the rule's role and one who does not), in every mode.
func TestRouteRules(t *testing.T) {
	e, reg := rulesEnv(t)
	anon, frank, max := e.browser(), e.browser(), e.browser()
	frank.login(devhub.FrankID, "/")
	max.login(devhub.MaxID, "/")
	who := map[string]*browser{"anonymous": anon, "admin": frank, "member": max}
	type row struct {
		method, path string
		hdr          []string
		// per mode: passthrough/offer (optional auth) and enforce, each
		// for anonymous, admin, member
		open, enforce [3]outcome
	}
	// In passthrough and offer, identity is optional: rules that require
	// nothing or roles change nothing there, legacy rules drop identity.
	asToday := [3]outcome{fwdNone, fwdID, fwdID}
	legacy := [3]outcome{fwdNone, fwdNone, fwdNone}
	rows := []row{
		// legacy: the upstream checks its keys; no identity, in every mode.
		{"GET", "/api/v1/orders", []string{"Authorization", "Bearer legacy-key"}, legacy, legacy},
		{"POST", "/api/v1/orders", nil, legacy, legacy},
		{"GET", "/api/v1", nil, legacy, legacy},
		// ... only as written: other spellings are zaikio.
		{"GET", "/API/v1/orders", nil, asToday, [3]outcome{toSignIn, fwdID, fwdID}},
		{"GET", "/api/V1/orders", nil, asToday, [3]outcome{toSignIn, fwdID, fwdID}},
		{"GET", "/api;x/v1/orders", nil, asToday, [3]outcome{toSignIn, fwdID, fwdID}},
		{"GET", "/api/v1.json", nil, asToday, [3]outcome{toSignIn, fwdID, fwdID}},
		{"GET", "/api/v1%2forders", nil, asToday, [3]outcome{toSignIn, fwdID, fwdID}},
		// legacy for POST only: exactly POST, no override.
		{"POST", "/hooks/stripe", nil, legacy, legacy},
		{"GET", "/hooks/stripe", nil, asToday, [3]outcome{toSignIn, fwdID, fwdID}},
		{"post", "/hooks/stripe", nil, asToday, [3]outcome{unauth, fwdID, fwdID}},
		{"POST", "/hooks/stripe", []string{"X-HTTP-Method-Override", "DELETE"}, asToday, [3]outcome{unauth, fwdID, fwdID}},
		// public GET /status: identity when there is one.
		{"GET", "/status", nil, asToday, asToday},
		{"HEAD", "/status", nil, asToday, [3]outcome{toSignIn, fwdID, fwdID}},
		{"POST", "/status", nil, asToday, [3]outcome{unauth, fwdID, fwdID}},
		{"GET", "/Status", nil, asToday, [3]outcome{toSignIn, fwdID, fwdID}},
		// zaikio with roles: enforced in enforce, in every spelling.
		{"GET", "/admin/users", nil, asToday, [3]outcome{toSignIn, fwdID, denied}},
		{"GET", "/admin", nil, asToday, [3]outcome{toSignIn, fwdID, denied}},
		{"GET", "/Admin/users", nil, asToday, [3]outcome{toSignIn, fwdID, denied}},
		{"GET", "/ADMIN/users/", nil, asToday, [3]outcome{toSignIn, fwdID, denied}},
		{"GET", "/admin;jsessionid=x/users", nil, asToday, [3]outcome{toSignIn, fwdID, denied}},
		{"GET", "/admin.json", nil, asToday, [3]outcome{toSignIn, fwdID, denied}},
		{"GET", "/admin/users", []string{"Accept", "application/json"}, asToday, [3]outcome{unauth, fwdID, denied}},
		// roles for DELETE only, but a POST or an override may be one.
		{"DELETE", "/orders/7", nil, asToday, [3]outcome{unauth, fwdID, denied}},
		{"delete", "/orders/7", nil, asToday, [3]outcome{unauth, fwdID, denied}},
		{"POST", "/orders/7", nil, asToday, [3]outcome{unauth, fwdID, denied}},
		{"GET", "/orders/7", []string{"X-HTTP-Method-Override", "DELETE"}, asToday, [3]outcome{toSignIn, fwdID, denied}},
		{"GET", "/orders/7", nil, asToday, [3]outcome{toSignIn, fwdID, fwdID}},
		{"GET", "/Orders/7", nil, asToday, [3]outcome{toSignIn, fwdID, fwdID}},
		// a legacy rule does not reopen the closed legacy login: the
		// login paths are decided before any rule.
		{"POST", "/login", nil, asToday, [3]outcome{denied, denied, denied}},
	}
	for _, mode := range migration.Modes {
		e.setMode(mode)
		for _, r := range rows {
			want := r.open
			if mode == migration.Enforce {
				want = r.enforce
			}
			for i, name := range []string{"anonymous", "admin", "member"} {
				got, h := who[name].through(r.method, r.path, r.hdr...)
				if got != want[i] {
					t.Errorf("%s: %s %s %v as %s: %s; want %s", mode, r.method, r.path, r.hdr, name, got, want[i])
					continue
				}
				if h == nil {
					continue
				}
				if h.Get(proxy.HeaderMode) != string(mode) {
					t.Errorf("%s: %s %s: X-Hubgate-Mode %q", mode, r.method, r.path, h.Get(proxy.HeaderMode))
				}
				if got == fwdNone && (h.Get(proxy.HeaderUser) != "" || h.Get(proxy.HeaderAuth) != "" || h.Get(proxy.HeaderRoles) != "") {
					t.Errorf("%s: %s %s as %s: identity headers %v on a request forwarded without identity", mode, r.method, r.path, name, h)
				}
				if len(r.hdr) > 1 && r.hdr[0] == "Authorization" && h.Get("Authorization") != r.hdr[1] {
					t.Errorf("%s: %s %s: Authorization %q; the legacy route's key must reach the upstream", mode, r.method, r.path, h.Get("Authorization"))
				}
			}
		}
	}
	// Every legacy request was counted under its rule.
	counts := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "hubgate_legacy_auth_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" {
					counts[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	// /api/v1/: 3 rows × 3 persons × 3 modes; POST /hooks/: 1 row.
	if counts["/api/v1/"] != 27 || counts["POST /hooks/"] != 9 || counts["/login"] != 0 {
		t.Errorf("hubgate_legacy_auth_requests_total = %v; want /api/v1/ 27, POST /hooks/ 9, /login none", counts)
	}
}

// TestCORSPreflights: a preflight for a route whose rule says cors passes
// to the upstream without credentials or identity headers, in every mode;
// a preflight for another route, or for another spelling of the path, is a
// request like any other.
func TestCORSPreflights(t *testing.T) {
	e, _ := rulesEnv(t)
	frank := e.browser()
	frank.login(devhub.FrankID, "/")
	pre := []string{"Origin", "https://spa.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type",
		"Authorization", "Bearer leaked"}
	for _, mode := range migration.Modes {
		e.setMode(mode)
		for _, b := range []*browser{e.browser(), frank} {
			got, h := b.through("OPTIONS", "/cors/items", pre...)
			if got != fwdNone {
				t.Errorf("%s: preflight for /cors/items: %s; want forwarded without identity", mode, got)
				continue
			}
			if h.Get("Cookie") != "" || h.Get("Authorization") != "" || h.Get("Access-Control-Request-Method") != "POST" || h.Get("Origin") != "https://spa.example" {
				t.Errorf("%s: the preflight reached the upstream with Cookie %q, Authorization %q, method %q, origin %q; want no credentials, the CORS headers kept",
					mode, h.Get("Cookie"), h.Get("Authorization"), h.Get("Access-Control-Request-Method"), h.Get("Origin"))
			}
		}
	}
	e.setMode(migration.Enforce)
	for _, tc := range []struct {
		path string
		hdr  []string
	}{
		{"/admin/users", pre},    // no cors on the rule
		{"/reports", pre},        // no rule: the default
		{"/Cors/items", pre},     // the rule matches this spelling (closing), but a preflight needs it as written
		{"/cors/items", pre[:2]}, // no Access-Control-Request-Method: not a preflight
		{"/cors/items", append([]string{"Access-Control-Request-Method", "bad method"}, pre[:2]...)},
	} {
		if got, _ := e.browser().through("OPTIONS", tc.path, tc.hdr...); got != unauth {
			t.Errorf("enforce: OPTIONS %s %v: %s; want 401 (not a preflight that may pass)", tc.path, tc.hdr, got)
		}
	}
}

// TestRouteRulesValidated: rules that would not mean what they say are
// refused at start and at reload.
func TestRouteRulesValidated(t *testing.T) {
	e := newEnv(t, nil)
	for _, rt := range []proxy.Route{
		{Path: "api/"},
		{Path: "/_hubgate/x"},
		{Path: "/_Hubgate/x", Auth: proxy.AuthPublic},
		{Path: "/a/../b"},
		{Path: "/a//b"},
		{Path: "/a%2fb"},
		{Path: "/a;b"},
		{Path: "/a b"},
		{Path: "/a?b"},
		{Path: "/a", Methods: []string{"get"}},
		{Path: "/a", Auth: "api-key"},
		{Path: "/a", Auth: proxy.AuthLegacy, Roles: []string{"admin"}},
		{Path: "/a", Auth: proxy.AuthPublic, Scope: "api"},
		{Path: "/a", Roles: []string{"a,b"}},
		{Path: "/a", Scope: "a.b.c"},
		{Path: "/a", Scope: "api.r w"},
	} {
		_, err := proxy.New(proxy.Config{PublicURL: e.srv.URL, Upstream: e.up.srv.URL, Hub: e.spy, Store: e.store,
			SessionSecrets: [][]byte{[]byte(strings.Repeat("s", 32))}, Routes: []proxy.Route{rt}})
		if err == nil || !strings.Contains(err.Error(), "route 1") {
			t.Errorf("route %+v: proxy.New = %v; want an error naming route 1", rt, err)
		}
		if err := e.px.Reload(t.Context(), proxy.Policy{Routes: []proxy.Route{rt}}); err == nil {
			t.Errorf("route %+v: Reload accepted it", rt)
		}
	}
	// A rule for every path is fine: /_hubgate is hubgate's before any rule.
	if err := e.px.Reload(t.Context(), proxy.Policy{Routes: []proxy.Route{{Path: "/", Roles: []string{"user"}}}}); err != nil {
		t.Errorf("Reload with a rule for /: %v", err)
	}
}
