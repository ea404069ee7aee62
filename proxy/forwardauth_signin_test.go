package proxy_test

import (
	"net/http"
	"testing"

	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// Forward-auth's 401 names the sign-in URL (X-Hubgate-Signin) for a page
// navigation only, so that the proxy in front redirects browsers and passes
// scripts' 401s on; never with a session, and never for a refusal that is
// not "sign in".
func TestForwardAuthSignInOnlyForNavigations(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) {
		c.Mode = migration.Enforce
		c.LoginPaths = []string{"/login"}
		c.TrustedProxies = trustLoopback()
	})
	anon, signedIn := e.browser(), e.browser()
	signedIn.login(devhub.FrankID, "/")
	orig := []string{"X-Original-URI", "/reports?x=1", "X-Original-Method", "GET"}
	for _, tc := range []struct {
		name   string
		b      *browser
		hdr    []string
		status int
		signIn string
	}{
		{"a navigation", anon, []string{"Sec-Fetch-Mode", "navigate", "Accept", "text/html"}, http.StatusUnauthorized, "/_hubgate/login?rd=%2Freports%3Fx%3D1"},
		{"an old browser (no Sec-Fetch-Mode)", anon, []string{"Accept", "text/html,*/*;q=0.8"}, http.StatusUnauthorized, "/_hubgate/login?rd=%2Freports%3Fx%3D1"},
		{"fetch()", anon, []string{"Sec-Fetch-Mode", "cors", "Accept", "*/*"}, http.StatusUnauthorized, ""},
		{"jQuery", anon, []string{"X-Requested-With", "XMLHttpRequest"}, http.StatusUnauthorized, ""},
		{"a JSON client", anon, []string{"Accept", "application/json"}, http.StatusUnauthorized, ""},
		{"a navigation with a session", signedIn, []string{"Sec-Fetch-Mode", "navigate"}, http.StatusOK, ""},
		{"the closed login, GET", anon, []string{"X-Original-URI", "/login", "X-Original-Method", "GET", "Sec-Fetch-Mode", "navigate"}, http.StatusUnauthorized, "/_hubgate/login?rd=%2F"},
		{"the closed login, POST", anon, []string{"X-Original-URI", "/login", "X-Original-Method", "POST", "Sec-Fetch-Mode", "navigate"}, http.StatusForbidden, ""},
	} {
		hdr := append(append([]string{}, orig...), tc.hdr...)
		if len(tc.hdr) > 0 && tc.hdr[0] == "X-Original-URI" {
			hdr = tc.hdr
		}
		resp := tc.b.get("/_hubgate/auth", hdr...)
		if resp.StatusCode != tc.status || resp.Header.Get(proxy.HeaderSignIn) != tc.signIn {
			t.Errorf("%s: forward-auth = %d, %s %q; want %d, %q", tc.name, resp.StatusCode, proxy.HeaderSignIn, resp.Header.Get(proxy.HeaderSignIn), tc.status, tc.signIn)
		}
	}
}
