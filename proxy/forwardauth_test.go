package proxy_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// TestForwardAuthClosesLegacyLogin: in enforce mode forward-auth decides
// the legacy login paths like the gate does, from the original method and
// URI the proxy names: GET/HEAD 401 (to sign-in), other methods 403, with
// or without a session; other paths pass with a session.
func TestForwardAuthClosesLegacyLogin(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) {
		c.Mode = migration.Enforce
		c.LoginPaths = []string{"/login"}
		c.PublicPaths = []string{"/assets/"}
		c.TrustedProxies = trustLoopback()
	})
	signedIn := e.browser()
	signedIn.login(devhub.FrankID, "/")
	anon := e.browser()
	for _, tc := range []struct {
		name   string
		b      *browser
		hdr    []string
		status int
	}{
		{"POST /login with a session (nginx)", signedIn, []string{"X-Original-URI", "/login", "X-Original-Method", "POST"}, http.StatusForbidden},
		{"POST /login with a session (Traefik)", signedIn, []string{"X-Forwarded-Uri", "/login?next=/", "X-Forwarded-Method", "post"}, http.StatusForbidden},
		{"POST /x/../login without a session", anon, []string{"X-Original-URI", "/x/../login", "X-Original-Method", "POST"}, http.StatusForbidden},
		{"GET /login with a session", signedIn, []string{"X-Original-URI", "/login", "X-Original-Method", "GET"}, http.StatusUnauthorized},
		{"GET /login without a session, method not named", anon, []string{"X-Original-URI", "/login"}, http.StatusUnauthorized},
		{"POST /reports with a session", signedIn, []string{"X-Original-URI", "/reports", "X-Original-Method", "POST"}, http.StatusOK},
		{"GET /reports without a session", anon, []string{"X-Original-URI", "/reports", "X-Original-Method", "GET"}, http.StatusUnauthorized},
		{"POST /assets/x without a session", anon, []string{"X-Original-URI", "/assets/x", "X-Original-Method", "POST"}, http.StatusOK},
		{"GET /loginx with a session", signedIn, []string{"X-Original-URI", "/loginx", "X-Original-Method", "GET"}, http.StatusOK},
	} {
		resp := tc.b.get("/_hubgate/auth", tc.hdr...)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: forward-auth = %d; want %d\n%s", tc.name, resp.StatusCode, tc.status, resp.body)
		}
		if tc.status == http.StatusOK && tc.b == signedIn && resp.Header.Get(proxy.HeaderPerson) != devhub.FrankID {
			t.Errorf("%s: passed without the identity headers", tc.name)
		}
	}
}

// TestForwardAuthClosesLegacyLoginInEverySpelling: forward-auth matches the
// legacy login like the gate, in every spelling an upstream routes to it and
// with a session too (before, "/Login" or "/login.json" passed with one).
func TestForwardAuthClosesLegacyLoginInEverySpelling(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) {
		c.Mode = migration.Enforce
		c.LoginPaths = []string{"/login"}
		c.TrustedProxies = trustLoopback()
	})
	signedIn := e.browser()
	signedIn.login(devhub.FrankID, "/")
	anon := e.browser()
	for _, target := range legacyLoginSpellings(t) {
		for _, b := range []*browser{anon, signedIn} {
			for method, want := range map[string][]int{
				"POST": {http.StatusForbidden}, "put": {http.StatusForbidden},
				"GET": {http.StatusUnauthorized, http.StatusForbidden}, // 403: a spelling the gate refuses (400)
			} {
				resp := b.get("/_hubgate/auth", "X-Forwarded-Uri", target, "X-Forwarded-Method", method)
				if !slices.Contains(want, resp.StatusCode) {
					t.Errorf("forward-auth for %s %s (session %v) = %d; want %v", method, target, b == signedIn, resp.StatusCode, want)
				}
			}
		}
	}
}

// TestForwardAuthRefusesOwnSpellings: forward-auth never approves a request
// for any spelling of /_hubgate/ (the proxy in front must route those to
// hubgate; if its location matching misses one, the app still never gets
// it), in every mode and with a session.
func TestForwardAuthRefusesOwnSpellings(t *testing.T) {
	for _, mode := range []migration.Mode{migration.Passthrough, migration.Offer, migration.Enforce} {
		e := newEnv(t, func(c *proxy.Config) { c.Mode = mode; c.TrustedProxies = trustLoopback() })
		b := e.browser()
		b.login(devhub.FrankID, "/")
		for _, target := range append(ownSpellings(t, "tok3n"), "/_hubgate/claim/tok3n", "/_hubgate/login", "/_hubgate/auth", "/_hubgate") {
			resp := b.get("/_hubgate/auth", "X-Original-URI", target)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s: forward-auth for %s = %d; want 403", mode, target, resp.StatusCode)
			}
			if resp.Header.Get(proxy.HeaderPerson) != "" {
				t.Errorf("%s: forward-auth for %s answered identity headers", mode, target)
			}
		}
	}
}

// TestForwardAuthNoLoopThroughTheClosedLogin: behind a forward-auth front, a
// signed-in GET of the legacy login gets 401 and the front sends the browser
// to /_hubgate/login?rd=/login. In enforce mode that return must not lead
// back to the closed login (a redirect loop between the two); it becomes
// "/". Before enforce the legacy login is a normal page to return to.
func TestForwardAuthNoLoopThroughTheClosedLogin(t *testing.T) {
	for _, tc := range []struct {
		mode migration.Mode
		rd   string
		want string
	}{
		{migration.Enforce, "/login", "/"},
		{migration.Enforce, "/Login.json?next=/x", "/"},
		{migration.Enforce, "/reports?x=1", "/reports?x=1"},
		{migration.Offer, "/login", "/login"},
		{migration.Passthrough, "/login", "/login"},
	} {
		e := newEnv(t, func(c *proxy.Config) {
			c.Mode = tc.mode
			c.LoginPaths = []string{"/login"}
		})
		b := e.browser()
		b.login(devhub.FrankID, "/")
		resp := b.get("/_hubgate/login?rd=" + url.QueryEscape(tc.rd))
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != tc.want {
			t.Errorf("%s: signed-in GET /_hubgate/login?rd=%s = %d to %q; want 302 to %q", tc.mode, tc.rd, resp.StatusCode, resp.Header.Get("Location"), tc.want)
		}
	}
}
