package proxy_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// flowCookies returns the browser's flow cookies.
func (b *browser) flowCookies() []*http.Cookie {
	var out []*http.Cookie
	for _, c := range b.jar.Cookies(mustURL(b.e.srv.URL)) {
		if strings.HasPrefix(c.Name, "hubgate_flow_") {
			out = append(out, c)
		}
	}
	return out
}

// setCookie puts a cookie into the browser's jar.
func (b *browser) setCookie(name, value string) {
	b.jar.SetCookies(mustURL(b.e.srv.URL), []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// authorizeAs starts a sign-in in b and returns the hub's callback URL for
// person (not yet visited).
func (b *browser) authorizeAs(person string) string {
	b.t.Helper()
	resp := b.get("/_hubgate/login?prompt=select_account&rd=/")
	if resp.StatusCode != http.StatusFound {
		b.t.Fatalf("GET /_hubgate/login = %d", resp.StatusCode)
	}
	return b.hubReturn(resp.Header.Get("Location"), person, "")
}

// identity asks /_hubgate/me who b is ("" when anonymous).
func (b *browser) identity() string {
	b.t.Helper()
	me := b.get("/_hubgate/me")
	if me.StatusCode != http.StatusOK {
		return ""
	}
	return me.body
}

// TestSecurityStateBoundToBrowserAndSingleUse adds to TestCallbackRejects:
// a flow cookie that is stale, tampered, moved to another state's name or
// signed with other secrets is refused; and a state whose flow cookie was
// copied to a second browser still works only once.
func TestSecurityStateBoundToBrowserAndSingleUse(t *testing.T) {
	forProviders(t, testSecurityStateBoundToBrowserAndSingleUse)
}

func testSecurityStateBoundToBrowserAndSingleUse(t *testing.T, pv provider) {
	cases := []struct {
		name string
		prep func(e *env, b *browser) string // returns the callback to hit with b
		want string                          // page text
	}{
		{"flow older than 10 minutes", func(e *env, b *browser) string {
			cb := b.authorizeAs(e.frank)
			e.clock.Advance(11 * time.Minute)
			return cb
		}, "took too long"},
		{"tampered flow cookie", func(e *env, b *browser) string {
			cb := b.authorizeAs(e.frank)
			c := b.flowCookies()[0]
			v := []byte(c.Value)
			v[len(v)/2] ^= 1
			b.setCookie(c.Name, string(v))
			return cb
		}, "took too long"},
		{"flow cookie under another state's name", func(e *env, b *browser) string {
			b.authorizeAs(e.frank)
			other := e.browser()
			cb := other.authorizeAs(e.frank)
			// b gets other's state in the callback but its own cookie value
			// under other's cookie name.
			b.setCookie(other.flowCookies()[0].Name, b.flowCookies()[0].Value)
			return cb
		}, "took too long"},
		{"flow cookie sealed with other secrets", func(e *env, b *browser) string {
			cb := b.authorizeAs(e.frank)
			foreign := newEnv(t, func(c *proxy.Config) { c.SessionSecrets = [][]byte{bytes.Repeat([]byte("z"), 32)} })
			fb := foreign.browser()
			fb.get("/_hubgate/login?rd=/")
			b.setCookie(b.flowCookies()[0].Name, fb.flowCookies()[0].Value)
			return cb
		}, "took too long"},
		{"state replayed from a copied flow cookie", func(e *env, b *browser) string {
			thief := e.browser()
			cb := thief.authorizeAs(e.frank)
			for _, c := range thief.flowCookies() {
				b.setCookie(c.Name, c.Value)
			}
			if r := thief.get(cb); r.StatusCode != http.StatusFound {
				t.Fatalf("first use of the callback = %d", r.StatusCode)
			}
			return cb
		}, "already used"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvOf(t, pv, nil)
			b := e.browser()
			cb := tc.prep(e, b)
			resp := b.get(cb)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.body, tc.want) {
				t.Fatalf("callback = %d; want 400 saying %q\n%s", resp.StatusCode, tc.want, resp.body)
			}
			if b.sessionCookie() != "" || b.identity() != "" {
				t.Error("a session was started")
			}
		})
	}
}

// TestSecurityPKCECodeInjection: an authorization code obtained in the
// attacker's own (unfinished) flow and injected into the victim's callback
// is refused by the hub, because it is redeemed with the victim's PKCE
// verifier (RFC 7636 §4.6; the state check alone would not stop it: the
// victim's state is genuine).
func TestSecurityPKCECodeInjection(t *testing.T) { forProviders(t, testSecurityPKCECodeInjection) }

func testSecurityPKCECodeInjection(t *testing.T, pv provider) {
	e := newEnvOf(t, pv, nil)
	attacker, victim := e.browser(), e.browser()
	stolen := mustURL(attacker.authorizeAs(e.erika)).Query().Get("code")
	cb := mustURL(victim.authorizeAs(e.frank))
	q := cb.Query()
	q.Set("code", stolen)
	cb.RawQuery = q.Encode()
	resp := victim.get(cb.String())
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.body, "did not accept") {
		t.Fatalf("callback with an injected code = %d; want 400 code rejected\n%s", resp.StatusCode, resp.body)
	}
	if victim.identity() != "" {
		t.Error("the victim was signed in with the attacker's code")
	}
	// The authorize request carries an S256 challenge, never the verifier.
	start := e.browser().get("/_hubgate/login?rd=/")
	aq := mustURL(start.Header.Get("Location")).Query()
	if aq.Get("code_challenge_method") != "S256" || aq.Get("code_verifier") != "" || aq.Get("code_challenge") == "" {
		t.Errorf("authorize query %v; want an S256 challenge and no verifier", aq)
	}
}

// TestSecuritySessionRotatedAtLogin: signing in again (another account, or
// the same) issues a new session id and retires the old one server-side: a
// copy of the old cookie stops working.
func TestSecuritySessionRotatedAtLogin(t *testing.T) {
	forProviders(t, testSecuritySessionRotatedAtLogin)
}

func testSecuritySessionRotatedAtLogin(t *testing.T, pv provider) {
	e := newEnvOf(t, pv, nil)
	b := e.browser()
	b.login(e.frank, "/")
	old := b.sessionCookie()
	for _, next := range []string{e.erika, e.erika} {
		if r := b.get(b.authorizeAs(next)); r.StatusCode != http.StatusFound {
			t.Fatalf("second sign-in = %d\n%s", r.StatusCode, r.body)
		}
		now := b.sessionCookie()
		if now == "" || now == old {
			t.Fatal("the session cookie was not reissued at sign-in")
		}
		if !strings.Contains(b.identity(), e.pid(next)) {
			t.Errorf("after signing in as %s, /me = %s", next, b.identity())
		}
		thief := e.browser()
		thief.setCookie("hubgate", old)
		if got := thief.identity(); got != "" {
			t.Errorf("the cookie of the previous session still works: %s", got)
		}
		old = now
	}
}

// TestSecuritySessionRotatedAtLink: a claim gives the browser a new session
// id and retires the one it had, so a cookie planted or copied before the
// link never carries the linked identity.
func TestSecuritySessionRotatedAtLink(t *testing.T) {
	forProviders(t, testSecuritySessionRotatedAtLink)
}

func testSecuritySessionRotatedAtLink(t *testing.T, pv provider) {
	e := newEnvOf(t, pv, func(c *proxy.Config) { c.Unlinked = proxy.UnlinkedPass })
	b := e.browser()
	b.login(e.frank, "/")
	before := b.sessionCookie()
	is := e.issue(claim.KindPerson, "42", "")
	if r := b.land(b.startClaim(is.Token, e.frank, "")); r.StatusCode != http.StatusOK {
		t.Fatalf("claim = %d\n%s", r.StatusCode, r.body)
	}
	after := b.sessionCookie()
	if after == "" || after == before {
		t.Fatal("the session cookie was not reissued at the link")
	}
	if got := b.upstreamHeaders("/x").Get(proxy.HeaderUser); got != "42" {
		t.Errorf("after the link upstream user = %q; want 42", got)
	}
	planted := e.browser()
	planted.setCookie("hubgate", before)
	if got := planted.upstreamHeaders("/x").Get(proxy.HeaderUser); got != "" {
		t.Errorf("the pre-link cookie carries user %q", got)
	}
	if got := planted.identity(); got != "" {
		t.Errorf("the pre-link cookie still signs in: %s", got)
	}
}

// TestSecurityLogoutKillsSessionOnEveryReplica: logout (the sign-out
// page's form, or a POST from a page of our origin) ends the server-side
// session; another replica on the same store refuses a copy of the cookie
// after its next poll.
func TestSecurityLogoutKillsSessionOnEveryReplica(t *testing.T) {
	forProviders(t, testSecurityLogoutKillsSessionOnEveryReplica)
}

func testSecurityLogoutKillsSessionOnEveryReplica(t *testing.T, pv provider) {
	for _, method := range []string{"form", "POST"} {
		t.Run(method, func(t *testing.T) {
			e := newEnvOf(t, pv, nil)
			replica, err := proxy.New(proxy.Config{
				PublicURL: e.srv.URL, Upstream: e.up.srv.URL, Hub: e.prov, Store: e.store, Claims: e.claims,
				SessionSecrets: [][]byte{bytes.Repeat([]byte("s"), 32)}, Unlinked: proxy.UnlinkedPass,
				Logger: zerolog.Nop(), Now: e.clock.Now,
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := replica.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			other := httptest.NewServer(replica)
			t.Cleanup(other.Close)
			b := e.browser()
			b.login(e.frank, "/")
			copied := b.sessionCookie()
			ask := func() int {
				req, _ := http.NewRequest(http.MethodGet, other.URL+"/_hubgate/me", nil)
				req.AddCookie(&http.Cookie{Name: "hubgate", Value: copied})
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if got := ask(); got != http.StatusOK {
				t.Fatalf("the other replica before logout = %d; want 200", got)
			}
			if method == "form" {
				b.logout("")
			} else {
				b.post("/_hubgate/logout", url.Values{})
			}
			if b.identity() != "" {
				t.Fatal("still signed in on this replica after logout")
			}
			replica.Refresh(context.Background()) // its poll
			if got := ask(); got != http.StatusUnauthorized {
				t.Errorf("the other replica after logout = %d; want 401", got)
			}
		})
	}
}

// TestSecuritySessionCookieBounded: hubgate uses one session cookie of at
// most 3900 bytes (no chunks). An identity too large for it fails with a
// page and no cookie; absurd Cookie headers are ignored, never a 5xx; and a
// browser never collects more than a handful of flow cookies.
func TestSecuritySessionCookieBounded(t *testing.T) {
	t.Run("too many organizations", func(t *testing.T) {
		e := newEnv(t, nil)
		e.linkDirect(claim.KindPerson, "1", devhub.FrankID)
		for i := 0; i < 40; i++ {
			o := e.hub.AddOrganization(devhub.Organization{Name: fmt.Sprintf("Org %d", i)})
			e.hub.SetRoles(devhub.FrankID, o.ID, "owner")
			e.linkDirect(claim.KindOrg, fmt.Sprintf("org-%03d-%s", i, strings.Repeat("x", 100)), o.ID)
		}
		b := e.browser()
		resp := b.login(devhub.FrankID, "/")
		if resp.StatusCode == http.StatusFound || !strings.Contains(resp.body, "too many organizations") {
			t.Fatalf("sign-in with an oversized identity = %d; want the cookie_too_large page\n%s", resp.StatusCode, resp.body)
		}
		for _, c := range resp.Cookies() {
			if c.Name == "hubgate" && c.MaxAge >= 0 {
				t.Errorf("a session cookie of %d bytes was set", len(c.Value))
			}
			if len(c.Value) > 3900 {
				t.Errorf("cookie %s has %d bytes; want ≤ 3900", c.Name, len(c.Value))
			}
		}
		if b.identity() != "" {
			t.Error("signed in without a cookie?")
		}
	})
	t.Run("absurd cookie headers", func(t *testing.T) {
		e := newEnv(t, func(c *proxy.Config) { c.Mode = migration.Enforce })
		good := e.browser()
		good.login(devhub.FrankID, "/")
		valid := good.sessionCookie()
		if len(valid) > 3900 {
			t.Errorf("session cookie has %d bytes; want ≤ 3900", len(valid))
		}
		huge := strings.Repeat("A", 5000)
		for name, cookie := range map[string]string{
			"oversized session":           "hubgate=" + huge,
			"oversized valid-looking":     "hubgate=" + valid + strings.Repeat("A", 4000),
			"hundreds of session cookies": strings.Repeat("hubgate=x; ", 500),
			"junk before the real one":    "hubgate=junk; hubgate=" + valid,
			"chunked style":               "hubgate_0=" + valid[:len(valid)/2] + "; hubgate_1=" + valid[len(valid)/2:],
			"quoted":                      `hubgate="` + huge + `"`,
			"60 KiB of cookies":           strings.Repeat("c=1234567890; ", 4300),
			"empty name":                  "=" + valid,
			"nul":                         "hubgate=\x00" + valid,
		} {
			raw := "GET /reports HTTP/1.1\r\nHost: " + e.addr() + "\r\nCookie: " + cookie + "\r\nConnection: close\r\n\r\n"
			before := e.up.count()
			resp := rawResponse(t, e.addr(), raw)
			if resp.StatusCode >= 500 {
				t.Errorf("%s: %d; want no 5xx", name, resp.StatusCode)
			}
			if e.up.count() != before {
				t.Errorf("%s: reached the upstream in enforce mode without a valid session", name)
			}
		}
		// The valid cookie alone still works.
		if got := good.upstreamHeaders("/reports").Get(proxy.HeaderPerson); got != devhub.FrankID {
			t.Errorf("valid session: person %q", got)
		}
	})
	t.Run("flow cookies", func(t *testing.T) {
		e := newEnv(t, nil)
		b := e.browser()
		var callbacks []string
		for i := 0; i < 30; i++ {
			callbacks = append(callbacks, b.authorizeAs(devhub.FrankID))
			n, size := 0, 0
			for _, c := range b.jar.Cookies(mustURL(e.srv.URL)) {
				size += len(c.Name) + len(c.Value) + 2
				if strings.HasPrefix(c.Name, "hubgate_flow_") {
					n++
				}
			}
			if n > 4 || size > 4096 {
				t.Fatalf("after %d sign-in starts the browser holds %d flow cookies, %d bytes; want ≤ 4 and ≤ 4 KiB", i+1, n, size)
			}
		}
		// The newest flow completes; the oldest fails cleanly.
		if r := b.get(callbacks[0]); r.StatusCode != http.StatusBadRequest {
			t.Errorf("callback of an expired flow = %d; want 400", r.StatusCode)
		}
		if r := b.get(callbacks[len(callbacks)-1]); r.StatusCode != http.StatusFound {
			t.Errorf("callback of the newest flow = %d; want 302\n%s", r.StatusCode, r.body)
		}
	})
}

// TestSecurityHealthChecksAndUserAgentsNeverSkipAuth: in enforce mode no
// user agent, probe path or probe header opens the upstream without a
// session; hubgate's own /_hubgate/healthz answers without reaching it.
func TestSecurityHealthChecksAndUserAgentsNeverSkipAuth(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.Mode = migration.Enforce })
	agents := []string{"kube-probe/1.30", "GoogleHC/1.0", "ELB-HealthChecker/2.0", "Consul Health Check", "Pingdom.com_bot_version_1.4",
		"UptimeRobot/2.0", "Googlebot/2.1", "curl/8.5.0", "Prometheus/2.51.0", "hubgate", "Go-http-client/1.1", "", "Mozilla/5.0"}
	paths := []string{"/healthz", "/health", "/healthcheck", "/_health", "/status", "/ping", "/readyz", "/livez", "/metrics",
		"/actuator/health", "/server-status", "/.well-known/health", "/robots.txt", "/favicon.ico", "/"}
	for _, ua := range agents {
		for _, p := range paths {
			for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
				req, _ := http.NewRequest(method, e.srv.URL+p, nil)
				req.Header["User-Agent"] = []string{ua}
				req.Header.Set("X-Health-Check", "1")
				req.Header.Set("X-Forwarded-For", "10.0.0.1")
				req.Header.Set("X-Real-Ip", "127.0.0.1")
				req.Header.Set("Sec-Purpose", "prefetch")
				before := e.up.count()
				resp := e.browser().do(req)
				if e.up.count() != before || resp.StatusCode == http.StatusOK {
					t.Errorf("%s %s as %q = %d, reached upstream %v; want gated", method, p, ua, resp.StatusCode, e.up.count() != before)
				}
			}
		}
	}
	before := e.up.count()
	if r := e.browser().get("/_hubgate/healthz", "User-Agent", "kube-probe/1.30"); r.StatusCode != http.StatusOK || e.up.count() != before {
		t.Errorf("/_hubgate/healthz = %d, reached upstream %v; want 200 from hubgate", r.StatusCode, e.up.count() != before)
	}
}

// TestSecurityLogoutOnlyByPostFromOurOrigin: signing out changes state, so
// a GET never does it (before, GET /_hubgate/logout signed out: any page
// could sign a visitor out with a link or an image), and a POST does it
// only from our sign-out page (its form token) or from a page of our own
// origin that the browser vouches for (Sec-Fetch-Site: same-origin, or
// Origin naming the public origin): never cross-site, never from another
// port of the same host, never when nothing proves the origin. A sign-out
// that goes through ends the session everywhere (the hub token revoked, a
// copied cookie refused).
func TestSecurityLogoutOnlyByPostFromOurOrigin(t *testing.T) {
	forProviders(t, testSecurityLogoutOnlyByPostFromOurOrigin)
}

func testSecurityLogoutOnlyByPostFromOurOrigin(t *testing.T, pv provider) {
	e := newEnvOf(t, pv, nil)
	b := e.browser()
	b.login(e.frank, "/")
	copied := b.sessionCookie()
	signedIn := func(what string) {
		t.Helper()
		if !strings.Contains(b.identity(), e.pid(e.frank)) {
			t.Fatalf("%s signed the browser out", what)
		}
		if n := e.revokedTokens(); n != 0 {
			t.Fatalf("%s revoked %d hub tokens", what, n)
		}
	}
	noSessionDeletion := func(what string, r *response) {
		t.Helper()
		for _, c := range r.Cookies() {
			if c.Name == "hubgate" {
				t.Errorf("%s sets the session cookie: %s", what, c)
			}
		}
	}

	// GET, from anywhere, in every form: the sign-out page at most.
	for _, hdr := range [][]string{
		nil,
		{"Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate"},
		{"Sec-Fetch-Site", "cross-site", "Sec-Fetch-Dest", "image"},
		{"Sec-Fetch-Site", "same-origin", "Origin", e.srv.URL},
	} {
		for _, target := range []string{"/_hubgate/logout", "/_hubgate/logout?rd=%2Fbye", "/_hubgate/logout?csrf=x"} {
			r := b.get(target, hdr...)
			what := fmt.Sprintf("GET %s %q", target, hdr)
			if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `<form method="post" action="/_hubgate/logout">`) {
				t.Errorf("%s = %d; want 200 and the sign-out button\n%s", what, r.StatusCode, r.body)
			}
			noSessionDeletion(what, r)
			signedIn(what)
		}
	}
	page := b.get("/_hubgate/logout?rd=%2Fbye")
	token := csrfOf(t, page.body)

	// POSTs that must change nothing.
	post := func(form url.Values, hdr ...string) *response {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/_hubgate/logout", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		return b.do(req)
	}
	otherPort := "http://" + mustURL(e.srv.URL).Hostname() + ":1"
	for _, tc := range []struct {
		name string
		form url.Values
		hdr  []string
	}{
		{"cross-site form", url.Values{}, []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}},
		{"cross-site form with a stolen token", url.Values{"csrf": {token}}, []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}},
		{"cross-site, old browser", url.Values{}, []string{"Origin", "https://evil.example"}},
		{"same site, other port", url.Values{}, []string{"Origin", otherPort, "Sec-Fetch-Site", "same-site"}},
		{"same site, other port, with a token", url.Values{"csrf": {token}}, []string{"Origin", otherPort, "Sec-Fetch-Site", "same-site"}},
		{"sandboxed page (Origin null)", url.Values{}, []string{"Origin", "null", "Sec-Fetch-Site", "cross-site"}},
		{"nothing proves the origin, no token", url.Values{}, nil},
		{"nothing proves the origin, wrong token", url.Values{"csrf": {"x" + token}}, nil},
		{"user-initiated but cross-site", url.Values{}, []string{"Sec-Fetch-Site", "none", "Origin", "https://evil.example"}},
	} {
		r := post(tc.form, tc.hdr...)
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("POST logout, %s = %d; want 403", tc.name, r.StatusCode)
		}
		noSessionDeletion("POST logout, "+tc.name, r)
		signedIn("POST logout, " + tc.name)
	}

	// Our sign-out page's form (no Origin, no Sec-Fetch-*: the token
	// alone) signs out and ends the session everywhere.
	// (At an OpenID Provider the sign-out goes on to the provider's
	// end_session, which returns to the configured post-logout URL, not to
	// rd.)
	r := post(url.Values{"csrf": {token}, "rd": {"/bye"}})
	if pv == zaikioHub && (r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/bye") {
		t.Fatalf("POST logout with our form token = %d to %q; want 302 to /bye\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	if pv != zaikioHub && (r.StatusCode != http.StatusFound || !e.isEndSession(r.Header.Get("Location"))) {
		t.Fatalf("POST logout with our form token = %d to %q; want 302 to the provider's end_session\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	if b.identity() != "" {
		t.Error("still signed in after the sign-out form")
	}
	if n := e.revokedTokens(); n != 1 {
		t.Errorf("hub revoked %d tokens; want 1", n)
	}
	thief := e.browser()
	thief.setCookie("hubgate", copied)
	if thief.identity() != "" {
		t.Error("a copy of the cookie still works after the sign-out")
	}

	// A page of the legacy app (same origin, no token of ours) signs out
	// with a form or fetch(): the browser vouches for the origin.
	for _, hdr := range [][]string{{"Sec-Fetch-Site", "same-origin"}, {"Origin", e.srv.URL}} {
		b.login(e.frank, "/")
		r := post(url.Values{}, hdr...)
		if pv == zaikioHub && (r.StatusCode != http.StatusOK || !strings.Contains(r.body, "You are signed out")) {
			t.Errorf("POST logout from our origin (%q) = %d; want 200, signed out\n%s", hdr, r.StatusCode, r.body)
		}
		if pv != zaikioHub && (r.StatusCode != http.StatusFound || !e.isEndSession(r.Header.Get("Location"))) {
			t.Errorf("POST logout from our origin (%q) = %d to %q; want 302 to the provider's end_session\n%s", hdr, r.StatusCode, r.Header.Get("Location"), r.body)
		}
		if b.identity() != "" {
			t.Errorf("still signed in after a POST from our origin (%q)", hdr)
		}
	}
}
