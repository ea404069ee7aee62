package proxy_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// TestScriptsGetUnauthorized: in enforce mode a request without a session
// that is not a page navigation gets 401 with a challenge and the JSON
// contract, never a redirect to the hub; a navigation gets the redirect.
// The sign-in URL leads back to the page the script runs on (the Referer,
// when it is of the public origin) or to "/".
func TestScriptsGetUnauthorized(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.Mode = migration.Enforce })
	page := e.srv.URL + "/orders?tab=open"
	cases := []struct {
		name   string
		method string
		hdr    []string
		want   int    // 302 or 401
		rd     string // the return path: of Location, or of login_url
	}{
		{"browser navigation", "GET", []string{"Sec-Fetch-Mode", "navigate", "Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, 302, "/reports?x=1"},
		{"no hints (curl)", "GET", nil, 302, "/reports?x=1"},
		{"HEAD navigation", "HEAD", nil, 302, "/reports?x=1"},
		{"fetch()", "GET", []string{"Sec-Fetch-Mode", "cors", "Referer", page}, 401, "/orders?tab=open"},
		{"fetch() same-origin mode", "GET", []string{"Sec-Fetch-Mode", "same-origin", "Referer", page}, 401, "/orders?tab=open"},
		{"no-cors", "GET", []string{"Sec-Fetch-Mode", "no-cors"}, 401, "/"},
		{"XMLHttpRequest", "GET", []string{"X-Requested-With", "XMLHttpRequest", "Referer", page}, 401, "/orders?tab=open"},
		{"Accept JSON", "GET", []string{"Accept", "application/json"}, 401, "/"},
		{"Accept problem+json over HTML", "GET", []string{"Accept", "text/html;q=0.5, application/problem+json"}, 401, "/"},
		{"Accept JSON named, HTML by wildcard", "GET", []string{"Accept", "application/json, text/plain, */*"}, 401, "/"},
		{"Accept HTML over JSON", "GET", []string{"Accept", "application/json;q=0.5, text/html"}, 302, "/reports?x=1"},
		{"POST", "POST", []string{"Referer", page}, 401, "/orders?tab=open"},
		{"PUT", "PUT", nil, 401, "/"},
		{"DELETE", "DELETE", nil, 401, "/"},
		{"Referer of another origin", "GET", []string{"Sec-Fetch-Mode", "cors", "Referer", "https://evil.example/orders"}, 401, "/"},
		{"Referer of another port", "GET", []string{"Sec-Fetch-Mode", "cors", "Referer", strings.Replace(e.srv.URL, "127.0.0.1:", "127.0.0.1:1", 1) + "/orders"}, 401, "/"},
		{"Referer of another scheme", "GET", []string{"Sec-Fetch-Mode", "cors", "Referer", strings.Replace(e.srv.URL, "http:", "https:", 1) + "/orders"}, 401, "/"},
		{"Referer with userinfo", "GET", []string{"Sec-Fetch-Mode", "cors", "Referer", strings.Replace(e.srv.URL, "//", "//a@", 1) + "/orders"}, 401, "/"},
		{"Referer that does not return safely", "GET", []string{"Sec-Fetch-Mode", "cors", "Referer", e.srv.URL + "//evil.example/x"}, 401, "/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, e.srv.URL+"/reports?x=1", nil)
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				req.Header.Set(tc.hdr[i], tc.hdr[i+1])
			}
			before := e.up.count()
			resp := e.browser().do(req)
			if resp.StatusCode != tc.want {
				t.Fatalf("%s = %d; want %d\n%s", tc.method, resp.StatusCode, tc.want, resp.body)
			}
			if e.up.count() != before {
				t.Fatal("the request reached the upstream without a session")
			}
			if tc.want == 302 {
				if loc := resp.Header.Get("Location"); loc != "/_hubgate/login?rd="+url.QueryEscape(tc.rd) {
					t.Errorf("Location %q; want sign-in returning to %q", loc, tc.rd)
				}
				return
			}
			if resp.Header.Get("Location") != "" {
				t.Errorf("a script got Location %q; it must never be redirected to the hub", resp.Header.Get("Location"))
			}
			if ch := resp.Header.Get("WWW-Authenticate"); ch != `Bearer realm="hubgate"` {
				t.Errorf("WWW-Authenticate %q; want the bare challenge", ch)
			}
			if ct, cc := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
				t.Errorf("Content-Type %q, Cache-Control %q; want application/json, no-store", ct, cc)
			}
			if tc.method == "HEAD" {
				return
			}
			var body struct {
				Error     string `json:"error"`
				Message   string `json:"message"`
				LoginURL  string `json:"login_url"`
				RequestID string `json:"request_id"`
			}
			if err := json.Unmarshal([]byte(resp.body), &body); err != nil {
				t.Fatalf("body is not JSON: %v\n%s", err, resp.body)
			}
			if body.Error != "signin_required" || body.Message != "Please sign in" || body.RequestID == "" ||
				body.LoginURL != "/_hubgate/login?rd="+url.QueryEscape(tc.rd) {
				t.Errorf("body %+v; want signin_required, its message, a request id and login_url returning to %q", body, tc.rd)
			}
		})
	}
}

// TestScriptsGetUnauthorizedWhenTheSessionEnds: a script of a signed-in
// page gets 401 (not the hub's login page) once the session has ended —
// by logout elsewhere, by expiry, by an operator — while its navigation
// would be sent to sign in.
func TestScriptsGetUnauthorizedWhenTheSessionEnds(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.Mode = migration.Enforce; c.Revalidate = time.Minute })
	e.linkDirect(claim.KindPerson, "1", devhub.FrankID)
	fetch := func(b *browser) *response {
		return b.get("/api/orders", "Sec-Fetch-Mode", "cors", "Accept", "application/json", "Referer", e.srv.URL+"/live")
	}
	ends := map[string]func(b *browser){
		"logout": func(b *browser) {
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/_hubgate/logout", nil)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			b.do(req)
		},
		"operator": func(b *browser) {
			e.clock.Advance(time.Millisecond)
			now := e.clock.Now()
			if err := e.store.AddRevocation(context.Background(), session.Revocation{Kind: session.RevokePerson, Subject: devhub.FrankID, At: now, Until: now.Add(13 * time.Hour), Actor: "test"}); err != nil {
				t.Fatal(err)
			}
			e.px.Refresh(context.Background())
		},
		"expiry": func(b *browser) { e.clock.Advance(13 * time.Hour) },
		// The hub refuses the refresh token at the next revalidation
		// (invalid_grant): the session ends there.
		"revalidation refused": func(b *browser) {
			e.hub.ExpireRefreshTokens(devhub.FrankID)
			e.clock.Advance(2 * time.Minute)
		},
	}
	for name, end := range ends {
		t.Run(name, func(t *testing.T) {
			b := e.browser()
			b.login(devhub.FrankID, "/live")
			if r := fetch(b); r.StatusCode != 200 {
				t.Fatalf("fetch while signed in = %d", r.StatusCode)
			}
			end(b)
			r := fetch(b)
			if r.StatusCode != 401 || !strings.Contains(r.body, `"login_url":"/_hubgate/login?rd=%2Flive"`) {
				t.Errorf("fetch after the session ended (%s) = %d %s; want 401 leading back to /live", name, r.StatusCode, r.body)
			}
			if nav := b.get("/live"); nav.StatusCode != 302 {
				t.Errorf("navigation after the session ended = %d; want 302 to sign-in", nav.StatusCode)
			}
		})
	}
}

// TestFormPostWithoutSessionGetsPage: a browser's own form post without a
// session gets the 401 as the sign-in page (a redirect would lose the
// post), with the challenge too.
func TestFormPostWithoutSessionGetsPage(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.Mode = migration.Enforce })
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/orders", strings.NewReader("a=b"))
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Accept", "text/html")
	resp := e.browser().do(req)
	if resp.StatusCode != 401 || !strings.Contains(resp.body, "<html") || !strings.Contains(resp.body, "Please sign in") ||
		resp.Header.Get("WWW-Authenticate") == "" || resp.Header.Get("Location") != "" {
		t.Errorf("form post = %d %q\n%s; want the 401 sign-in page with a challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), resp.body)
	}
}

// TestForwardAuthUnauthorizedContract: forward-auth's 401 carries the same
// challenge and body; the sign-in returns to the original request for a
// navigation, to the Referer's page for a script.
func TestForwardAuthUnauthorizedContract(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.Mode = migration.Enforce; c.TrustedProxies = trustLoopback() })
	for _, tc := range []struct {
		name string
		hdr  []string
		rd   string
	}{
		{"navigation", []string{"X-Original-URI", "/reports?x=1"}, "/reports?x=1"},
		{"script", []string{"X-Original-URI", "/api/x", "Sec-Fetch-Mode", "cors", "Referer", e.srv.URL + "/live"}, "/live"},
		{"legacy login", []string{"X-Original-URI", "/login"}, "/"},
	} {
		resp := e.browser().get("/_hubgate/auth", tc.hdr...)
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="hubgate"` ||
			!strings.Contains(resp.body, `"error":"signin_required"`) || !strings.Contains(resp.body, `"login_url":"/_hubgate/login?rd=`+url.QueryEscape(tc.rd)+`"`) {
			t.Errorf("%s: forward-auth = %d %q %s; want 401 with the contract returning to %q", tc.name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), resp.body, tc.rd)
		}
	}
}
