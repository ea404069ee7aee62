package proxy_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

func TestLoginRedirectsToHubWithStateAndPKCE(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	resp := b.get("/_hubgate/login?rd=/x")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET /_hubgate/login = %d; want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := loc.Scheme+"://"+loc.Host+loc.Path, e.hubURL+"/oauth/authorize"; got != want {
		t.Errorf("authorize endpoint = %s; want %s", got, want)
	}
	q := loc.Query()
	for k, want := range map[string]string{
		"client_id": testClient, "redirect_uri": e.srv.URL + "/_hubgate/callback", "response_type": "code",
		"scope": "zaikio.person.r", "code_challenge_method": "S256",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("authorize %s = %q; want %q", k, got, want)
		}
	}
	if s := q.Get("state"); len(s) < 43 {
		t.Errorf("state %q has %d characters; want ≥ 43 (256 bits)", s, len(s))
	}
	if c := q.Get("code_challenge"); len(c) != 43 {
		t.Errorf("code_challenge %q; want a 43-character S256 value", c)
	}
	var flow *http.Cookie
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, "hubgate_flow_") {
			flow = c
		}
	}
	if flow == nil || !flow.HttpOnly || flow.MaxAge <= 0 || flow.MaxAge > 600 || flow.SameSite != http.SameSiteLaxMode {
		t.Errorf("flow cookie = %+v; want HttpOnly, SameSite=Lax, 0 < Max-Age ≤ 600", flow)
	}
	if strings.Contains(flow.Value, q.Get("state")) {
		t.Error("flow cookie holds the state in the clear")
	}
}

func TestLoginFlowEndToEnd(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	resp := b.login(devhub.FrankID, "/x")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/x" {
		t.Fatalf("callback = %d Location %q; want 302 to /x\n%s", resp.StatusCode, resp.Header.Get("Location"), resp.body)
	}
	if b.sessionCookie() == "" {
		t.Fatal("no session cookie after the flow")
	}
	h := b.upstreamHeaders("/x")
	if got := h.Get(proxy.HeaderPerson); got != devhub.FrankID {
		t.Errorf("upstream %s = %q; want the hub's bearer.id %s", proxy.HeaderPerson, got, devhub.FrankID)
	}
	if got := h.Get(proxy.HeaderEmail); got == "" {
		t.Errorf("upstream %s is empty", proxy.HeaderEmail)
	}
	if got := h.Get(proxy.HeaderMode); got != "passthrough" {
		t.Errorf("upstream %s = %q; want passthrough", proxy.HeaderMode, got)
	}
	if got := h.Get(proxy.HeaderUser); got != "" {
		t.Errorf("upstream %s = %q for an unlinked person; want none", proxy.HeaderUser, got)
	}
	if c := h.Get("Cookie"); strings.Contains(c, "hubgate") {
		t.Errorf("upstream saw hubgate's cookie: %q", c)
	}
	// /_hubgate/me agrees.
	me := b.get("/_hubgate/me")
	if me.StatusCode != http.StatusOK || !strings.Contains(me.body, devhub.FrankID) {
		t.Errorf("GET /_hubgate/me = %d %s; want 200 naming %s", me.StatusCode, me.body, devhub.FrankID)
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	resp := b.login(devhub.FrankID, "/")
	var sc *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "hubgate" {
			sc = c
		}
	}
	if sc == nil {
		t.Fatal("callback set no session cookie")
	}
	if !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || len(sc.Value) > 3900 {
		t.Errorf("session cookie = %+v; want HttpOnly, SameSite=Lax, Path=/, ≤ 3900 bytes", sc)
	}
	if strings.Contains(resp.Header.Get("Set-Cookie"), "refresh") {
		t.Error("cookie mentions a refresh token")
	}
}

// callbackRejectCase sets up a bad callback and returns the callback URL to hit.
type callbackRejectCase struct {
	name   string
	prep   func(e *env, b *browser) string
	status int
}

func TestCallbackRejects(t *testing.T) {
	// startFlow begins a login and returns the callback URL the hub
	// answers with (the hub is set up by the case).
	startFlow := func(e *env, b *browser) string {
		e.hub.AutoApprove(devhub.FrankID, "")
		t.Cleanup(func() { e.hub.AutoApprove("", "") })
		resp := b.get("/_hubgate/login?rd=/x")
		resp = b.get(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("hub authorize = %d; want 302", resp.StatusCode)
		}
		return resp.Header.Get("Location")
	}
	withQuery := func(cb string, set map[string]string, del ...string) string {
		u, _ := url.Parse(cb)
		q := u.Query()
		for k, v := range set {
			q.Set(k, v)
		}
		for _, k := range del {
			q.Del(k)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	cases := []callbackRejectCase{
		{"wrong state", func(e *env, b *browser) string {
			return withQuery(startFlow(e, b), map[string]string{"state": strings.Repeat("A", 43)})
		}, 400},
		{"missing state", func(e *env, b *browser) string {
			return withQuery(startFlow(e, b), nil, "state")
		}, 400},
		{"state from another browser", func(e *env, b *browser) string {
			return startFlow(e, e.browser()) // b has no flow cookie for it
		}, 400},
		{"replayed callback", func(e *env, b *browser) string {
			cb := startFlow(e, b)
			b.get(cb) // first use signs in
			b.jar.SetCookies(mustURL(e.srv.URL), []*http.Cookie{{Name: "hubgate", Value: "", MaxAge: -1}})
			return cb
		}, 400},
		{"callback replayed with a copy of its flow cookie", func(e *env, b *browser) string {
			cb := startFlow(e, b)
			saved := b.jar.Cookies(mustURL(e.srv.URL)) // the flow cookie, as an attacker who copied it has it
			b.get(cb)                                  // first use signs in
			b.jar.SetCookies(mustURL(e.srv.URL), []*http.Cookie{{Name: "hubgate", Value: "", MaxAge: -1}})
			b.jar.SetCookies(mustURL(e.srv.URL), saved)
			// The state is single-use in the store: hubgate refuses before
			// it asks the hub to exchange the (used) code again.
			tokens := e.hub.Requests(devhub.EndpointToken)
			t.Cleanup(func() {
				if n := e.hub.Requests(devhub.EndpointToken) - tokens; n != 0 {
					t.Errorf("replayed callback reached the hub's token endpoint %d times; want refused on the state first", n)
				}
			})
			return cb
		}, 400},
		{"code already used, in a new flow", func(e *env, b *browser) string {
			x := e.browser()
			first := startFlow(e, x)
			if r := x.get(first); r.StatusCode != http.StatusFound {
				t.Fatalf("first use of the code = %d; want 302 (signed in)", r.StatusCode)
			}
			code := mustURL(first).Query().Get("code")
			return withQuery(startFlow(e, b), map[string]string{"code": code})
		}, 400},
		{"code of another browser's flow (injection)", func(e *env, b *browser) string {
			first := startFlow(e, e.browser()) // never used: PKCE binds it to that flow
			return withQuery(startFlow(e, b), map[string]string{"code": mustURL(first).Query().Get("code")})
		}, 400},
		{"hub access_denied", func(e *env, b *browser) string {
			e.hub.FailNext(devhub.EndpointAuthorize, devhub.Failure{Error: "access_denied"})
			return startFlow(e, b)
		}, 403},
		{"bad signature", func(e *env, b *browser) string {
			e.hub.TamperNext(devhub.TamperBadSignature)
			return startFlow(e, b)
		}, 401},
		{"wrong audience", func(e *env, b *browser) string {
			e.hub.TamperNext(devhub.TamperWrongAudience)
			return startFlow(e, b)
		}, 401},
		{"expired token", func(e *env, b *browser) string {
			e.hub.TamperNext(devhub.TamperExpired)
			return startFlow(e, b)
		}, 401},
		{"sub is not bearer", func(e *env, b *browser) string {
			e.hub.TamperNext(devhub.TamperSubMismatch)
			return startFlow(e, b)
		}, 401},
		{"wrong issuer", func(e *env, b *browser) string {
			e.hub.TamperNext(devhub.TamperWrongIssuer)
			return startFlow(e, b)
		}, 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			b := e.browser()
			cb := tc.prep(e, b)
			resp := b.get(cb)
			if resp.StatusCode != tc.status {
				t.Fatalf("callback = %d; want %d\n%s", resp.StatusCode, tc.status, resp.body)
			}
			if !strings.Contains(resp.body, "<h1>") || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
				t.Errorf("callback answered no HTML page:\n%s", resp.body)
			}
			if b.sessionCookie() != "" {
				t.Error("a session cookie was set")
			}
			for _, c := range resp.Cookies() {
				if c.Name == "hubgate" && c.MaxAge >= 0 && c.Value != "" {
					t.Errorf("callback set a session cookie %q", c.Name)
				}
			}
			if got := b.upstreamHeaders("/x").Get(proxy.HeaderPerson); got != "" {
				t.Errorf("after a rejected callback the upstream sees person %q", got)
			}
			if strings.Contains(resp.body, "oidc:") || strings.Contains(resp.body, "zaikio:") {
				t.Errorf("error page leaks internal error text:\n%s", resp.body)
			}
		})
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestSpoofedIdentityHeadersNeverReachUpstream(t *testing.T) {
	spoof := []string{
		"X-Hubgate-User", "evil", "x-hubgate-roles", "7:admin", "X-HUBGATE-USER", "evil2",
		"X-Hubgate-User", "evil3", "X_Hubgate_User", "evil4", "x-hubgate-zaikio-person", "00000000-0000-0000-0000-000000000000",
		"X-Hubgate-Mode", "enforce", "X-Hubgate-Assertion", "forged", "Connection", "X-Hubgate-User",
	}
	check := func(t *testing.T, h map[string][]string, person string) {
		t.Helper()
		for k, vs := range h {
			lk := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
			if !strings.HasPrefix(lk, "x-hubgate-") {
				continue
			}
			for _, v := range vs {
				if strings.HasPrefix(v, "evil") || v == "7:admin" || v == "forged" || v == "00000000-0000-0000-0000-000000000000" {
					t.Errorf("upstream received spoofed %s: %q", k, v)
				}
			}
		}
		if got := h["X-Hubgate-Zaikio-Person"]; person != "" && !slices.Equal(got, []string{person}) {
			t.Errorf("upstream X-Hubgate-Zaikio-Person = %q; want exactly [%s]", got, person)
		}
		if got := h["X-Hubgate-Mode"]; !slices.Equal(got, []string{"passthrough"}) {
			t.Errorf("upstream X-Hubgate-Mode = %q; want [passthrough]", got)
		}
	}
	e := newEnv(t, nil)
	t.Run("without session", func(t *testing.T) {
		check(t, e.browser().upstreamHeaders("/x", spoof...), "")
	})
	t.Run("with session", func(t *testing.T) {
		b := e.browser()
		b.login(devhub.FrankID, "/")
		check(t, b.upstreamHeaders("/x", spoof...), devhub.FrankID)
	})
}

func TestExpiresInForms(t *testing.T) {
	for _, form := range []devhub.ExpiresIn{devhub.ExpiresInSeconds, devhub.ExpiresInISO8601} {
		t.Run(map[devhub.ExpiresIn]string{devhub.ExpiresInSeconds: "seconds", devhub.ExpiresInISO8601: "iso8601"}[form], func(t *testing.T) {
			e := newEnv(t, nil)
			e.hub.SetExpiresIn(form)
			b := e.browser()
			resp := b.login(devhub.ErikaID, "/x")
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/x" {
				t.Fatalf("callback = %d %q; want 302 /x\n%s", resp.StatusCode, resp.Header.Get("Location"), resp.body)
			}
			if got := b.upstreamHeaders("/x").Get(proxy.HeaderPerson); got != devhub.ErikaID {
				t.Errorf("upstream person = %q; want %s", got, devhub.ErikaID)
			}
		})
	}
}

func TestRevalidationRotatesRefreshToken(t *testing.T) {
	forProviders(t, testRevalidationRotatesRefreshToken)
}

func testRevalidationRotatesRefreshToken(t *testing.T, pv provider) {
	e := newEnvOf(t, pv, func(c *proxy.Config) { c.Revalidate = time.Minute })
	b := e.browser()
	b.login(e.frank, "/")
	cookie1 := b.sessionCookie()
	before := e.tokenCalls()
	e.clock.Advance(2 * time.Minute)
	h := b.upstreamHeaders("/x")
	if got := h.Get(proxy.HeaderPerson); got != e.pid(e.frank) {
		t.Fatalf("after revalidation upstream person = %q; want %s", got, e.pid(e.frank))
	}
	if got := e.tokenCalls() - before; got != 1 {
		t.Errorf("token endpoint calls during revalidation = %d; want 1 refresh", got)
	}
	if b.sessionCookie() == cookie1 {
		t.Error("session cookie not reissued after revalidation")
	}
	// The rotated refresh token is in use: a second revalidation works, which
	// it could not if the old (now spent) refresh token had been kept.
	e.clock.Advance(2 * time.Minute)
	if got := b.upstreamHeaders("/x").Get(proxy.HeaderPerson); got != e.pid(e.frank) {
		t.Fatalf("after second revalidation upstream person = %q; want %s", got, e.pid(e.frank))
	}
	if got := e.tokenCalls() - before; got != 2 {
		t.Errorf("token endpoint calls after two revalidations = %d; want 2", got)
	}
	// A request with the first cookie (an old tab) is within its cookie's
	// life but its revalidation is due: the store's newer state is used
	// instead of ending the session.
	old := e.browser()
	old.jar.SetCookies(mustURL(e.srv.URL), []*http.Cookie{{Name: "hubgate", Value: cookie1, Path: "/"}})
	if got := old.upstreamHeaders("/x").Get(proxy.HeaderPerson); got != e.pid(e.frank) {
		t.Errorf("old cookie after rotation: upstream person = %q; want %s (re-read from the store)", got, e.pid(e.frank))
	}
	if got := e.tokenCalls() - before; got != 2 {
		t.Errorf("token endpoint calls after the old tab = %d; want still 2 (no refresh with a spent token)", got)
	}
}

func TestFailedRefreshEndsSession(t *testing.T) { forProviders(t, testFailedRefreshEndsSession) }

func testFailedRefreshEndsSession(t *testing.T, pv provider) {
	e := newEnvOf(t, pv, func(c *proxy.Config) { c.Revalidate = time.Minute })
	b := e.browser()
	b.login(e.frank, "/")
	e.endRefresh(e.frank)
	e.clock.Advance(2 * time.Minute)
	resp := b.get("/x")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /x after failed refresh = %d; want 200 (passthrough without identity)", resp.StatusCode)
	}
	if got := e.up.last(t).Header.Get(proxy.HeaderPerson); got != "" {
		t.Errorf("upstream person after invalid_grant = %q; want none", got)
	}
	if b.sessionCookie() != "" {
		t.Error("session cookie still set after invalid_grant")
	}
	if me := b.get("/_hubgate/me"); me.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /_hubgate/me = %d; want 401", me.StatusCode)
	}
}

func TestHubOutageDuringRevalidationKeepsSessionForGrace(t *testing.T) {
	forProviders(t, testHubOutageDuringRevalidationKeepsSessionForGrace)
}

func testHubOutageDuringRevalidationKeepsSessionForGrace(t *testing.T, pv provider) {
	e := newEnvOf(t, pv, func(c *proxy.Config) { c.Revalidate = time.Minute; c.RevalidateGrace = 10 * time.Minute })
	b := e.browser()
	b.login(e.frank, "/")
	e.failTokenEndpoint(503, 100)
	e.clock.Advance(5 * time.Minute)
	if got := b.upstreamHeaders("/x").Get(proxy.HeaderPerson); got != e.pid(e.frank) {
		t.Errorf("within grace: upstream person = %q; want %s", got, e.pid(e.frank))
	}
	e.clock.Advance(10 * time.Minute)
	if got := b.upstreamHeaders("/x").Get(proxy.HeaderPerson); got != "" {
		t.Errorf("after grace: upstream person = %q; want none", got)
	}
}

// logout signs b out the way a person does: the sign-out page (GET
// /_hubgate/logout?rd=), then its form (POST with the form token and rd).
// Without a session the page is the answer.
func (b *browser) logout(rd string) *response {
	b.t.Helper()
	page := b.get("/_hubgate/logout?rd=" + url.QueryEscape(rd))
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, `action="/_hubgate/logout"`) {
		return page
	}
	form := url.Values{"csrf": {csrfOf(b.t, page.body)}}
	if m := regexp.MustCompile(`name="rd" value="([^"]*)"`).FindStringSubmatch(page.body); m != nil {
		form.Set("rd", html.UnescapeString(m[1]))
	}
	return b.post("/_hubgate/logout", form)
}

func TestLogoutRevokesAndKillsCopiedCookie(t *testing.T) {
	forProviders(t, testLogoutRevokesAndKillsCopiedCookie)
}

func testLogoutRevokesAndKillsCopiedCookie(t *testing.T, pv provider) {
	e := newEnvOf(t, pv, nil)
	b := e.browser()
	b.login(e.frank, "/")
	copied := b.sessionCookie()
	resp := b.logout("/bye")
	// At an OpenID Provider the sign-out goes on to the provider's
	// end_session (RP-initiated logout) instead of rd.
	if pv == zaikioHub && (resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/bye") {
		t.Fatalf("logout = %d %q; want 302 /bye", resp.StatusCode, resp.Header.Get("Location"))
	}
	if pv != zaikioHub && (resp.StatusCode != http.StatusFound || !e.isEndSession(resp.Header.Get("Location"))) {
		t.Fatalf("logout = %d %q; want 302 to the provider's end_session", resp.StatusCode, resp.Header.Get("Location"))
	}
	if b.sessionCookie() != "" {
		t.Error("session cookie survives logout")
	}
	if n := e.revokedTokens(); n != 1 {
		t.Errorf("hub revoked %d tokens; want 1", n)
	}
	thief := e.browser()
	thief.jar.SetCookies(mustURL(e.srv.URL), []*http.Cookie{{Name: "hubgate", Value: copied, Path: "/"}})
	if got := thief.upstreamHeaders("/x").Get(proxy.HeaderPerson); got != "" {
		t.Errorf("a copied cookie still works after logout: person %q", got)
	}
}

func TestOpenRedirectsFallBackToRoot(t *testing.T) { forProviders(t, testOpenRedirectsFallBackToRoot) }

func testOpenRedirectsFallBackToRoot(t *testing.T, pv provider) {
	payloads := []string{
		"//evil.com", "/\\evil.com", "\\/evil.com", "https://evil.com", "http://evil.com/x", "HTTPS://evil.com",
		"/\t/evil.com", "/\r\n/evil.com", "\t//evil.com", " //evil.com", "/%2fevil.com", "%2f%2fevil.com",
		"/%5cevil.com", "%252f%252fevil.com", "javascript:alert(1)", "data:text/html,x", "https:evil.com",
		"//evil.com/%2e%2e", "/\x00/evil.com", "https://app@evil.com", "///evil.com", "／／evil.com", "evil.com",
	}
	e := newEnvOf(t, pv, nil)
	b := e.browser()
	b.login(e.frank, "/")
	for _, p := range payloads {
		resp := b.get("/_hubgate/login?rd=" + url.QueryEscape(p))
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != "/" {
			t.Errorf("login?rd=%q = %d Location %q; want 302 to /", p, resp.StatusCode, loc)
		}
	}
	for _, ok := range []string{"/x", "/a/b?c=d#e", e.srv.URL + "/y"} {
		resp := b.get("/_hubgate/login?rd=" + url.QueryEscape(ok))
		if loc := resp.Header.Get("Location"); loc != ok {
			t.Errorf("login?rd=%q Location %q; want it kept", ok, loc)
		}
	}
}

// TestLogoutPageAfterSessionEndedElsewhere: the sign-out page names who is
// signed in only while the session lives; a cookie whose session an
// operator (or the provider's back-channel logout) ended, or that expired,
// gets the signed-out page and loses the cookie.
func TestLogoutPageAfterSessionEndedElsewhere(t *testing.T) {
	e := newEnv(t, nil)
	for name, end := range map[string]func(){
		"revoked": func() {
			e.clock.Advance(time.Second)
			now := e.clock.Now()
			if err := e.store.AddRevocation(context.Background(), session.Revocation{Kind: session.RevokePerson, Subject: devhub.FrankID, At: now, Until: now.Add(13 * time.Hour), Actor: "test"}); err != nil {
				t.Fatal(err)
			}
			e.px.Refresh(context.Background())
		},
		"expired": func() { e.clock.Advance(13 * time.Hour) },
	} {
		e.clock.Advance(time.Second)
		b := e.browser()
		b.login(devhub.FrankID, "/")
		if p := b.get("/_hubgate/logout"); !strings.Contains(p.body, `id="signout"`) && !strings.Contains(p.body, "Frank") {
			t.Fatalf("%s: the sign-out page of a live session does not offer to sign Frank out:\n%s", name, p.body)
		}
		end()
		p := b.get("/_hubgate/logout")
		if p.StatusCode != http.StatusOK || strings.Contains(p.body, "Frank") {
			t.Errorf("%s: sign-out page = %d, naming Frank; want the signed-out page:\n%s", name, p.StatusCode, p.body)
		}
		if b.sessionCookie() != "" {
			t.Errorf("%s: the dead session's cookie stays", name)
		}
	}
}
