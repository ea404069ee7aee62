package proxy_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/roles"
	"github.com/hubgate/hubgate/store/bolt"
	"github.com/hubgate/hubgate/zaikio"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// newTLSEnv is newEnv with hubgate's public listener on TLS
// (httptest.NewTLSServer) and PublicURL https://127.0.0.1:port: the dev hub
// redirects back to that https URL, and browsers from tlsBrowser trust the
// test certificate. Everything else (dev hub, upstream, bbolt file) is as in
// newEnv.
func newTLSEnv(t *testing.T, mutate func(*proxy.Config)) *env {
	t.Helper()
	e := &env{t: t, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}, logs: &syncBuffer{}}
	e.up = newUpstream(t)
	var handler http.Handler = http.NotFoundHandler()
	e.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	if !strings.HasPrefix(e.srv.URL, "https://") {
		t.Fatalf("TLS server URL %q", e.srv.URL)
	}
	hub, err := devhub.New(devhub.Config{Seed: true, Now: e.clock.Now, Apps: []devhub.App{{
		ClientID: testClient, ClientSecret: testSecret, Name: testApp,
		RedirectURIs: []string{e.srv.URL + "/_hubgate/callback"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	e.hub = hub
	hubSrv := httptest.NewServer(hub)
	t.Cleanup(hubSrv.Close)
	e.hubURL = hubSrv.URL
	hc, err := zaikio.New(zaikio.Config{URL: hubSrv.URL, ClientID: testClient, ClientSecret: testSecret, AppName: testApp,
		RedirectURL: e.srv.URL + "/_hubgate/callback", Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(t.TempDir(), "hubgate.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.store = db
	e.claims = &claim.Service{Store: db, Now: e.clock.Now}
	rm, err := roles.New(map[string][]string{"owner": {"admin"}, "admin": {"admin"}, "member": {"user"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.spy = &spyHub{Client: hc}
	cfg := proxy.Config{
		PublicURL: e.srv.URL, Upstream: e.up.srv.URL, Hub: e.spy, Store: db, Claims: e.claims, Roles: rm,
		SessionSecrets: [][]byte{bytes.Repeat([]byte("s"), 32)}, Unlinked: proxy.UnlinkedPass,
		LoginPaths: []string{"/login"}, PublicPaths: []string{"/assets/"},
		Logger: zerolog.New(e.logs), Now: e.clock.Now,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	px, err := proxy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := px.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.px = px
	handler = px
	return e
}

// tlsBrowser is a browser that trusts the env's test certificate.
func (e *env) tlsBrowser() *browser {
	b := e.browser()
	tr := e.srv.Client().Transport.(*http.Transport).Clone()
	b.c.Transport = tr
	e.t.Cleanup(tr.CloseIdleConnections)
	return b
}

// setCookieLines returns the raw Set-Cookie lines of resp that set (or
// delete) a cookie called name.
func setCookieLines(resp *response, name string) []string {
	var out []string
	for _, l := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(l, name+"=") {
			out = append(out, l)
		}
	}
	return out
}

// checkHostCookie asserts what a __Host- cookie needs (RFC 6265bis §4.1.3.2:
// Secure, Path=/, no Domain; else browsers drop it) and what DESIGN §3 asks
// of hubgate's cookies: HttpOnly and the given SameSite.
func checkHostCookie(t *testing.T, what string, c *http.Cookie, raw string, sameSite http.SameSite) {
	t.Helper()
	if !strings.HasPrefix(c.Name, "__Host-") {
		t.Errorf("%s: name %q lacks the __Host- prefix", what, c.Name)
	}
	if !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" || c.SameSite != sameSite {
		t.Errorf("%s: Secure=%v HttpOnly=%v Path=%q Domain=%q SameSite=%v; want Secure, HttpOnly, Path=/, no Domain, SameSite %v\n%s",
			what, c.Secure, c.HttpOnly, c.Path, c.Domain, c.SameSite, sameSite, raw)
	}
	if regexp.MustCompile(`(?i);\s*domain=`).MatchString(raw) {
		t.Errorf("%s: Set-Cookie carries a Domain attribute: %s", what, raw)
	}
}

// TestCookiesOnHTTPSPublicURL signs in through a TLS listener with an
// https public URL and checks every cookie hubgate sets on the way: the flow
// cookie from /_hubgate/login, the session cookie from the callback (and
// the flow cookie's deletion), the CSRF nonce of a form page. All are
// __Host- cookies; no unprefixed hubgate cookie is set; the session works
// over https and its cookies never reach the upstream.
func TestCookiesOnHTTPSPublicURL(t *testing.T) {
	e := newTLSEnv(t, nil)
	e.linkDirect(claim.KindPerson, "1", devhub.FrankID)
	b := e.tlsBrowser()
	e.hub.AutoApprove(devhub.FrankID, "")
	defer e.hub.AutoApprove("", "")

	start := b.get("/_hubgate/login?rd=%2Freports")
	if start.StatusCode != http.StatusFound {
		t.Fatalf("GET /_hubgate/login = %d\n%s", start.StatusCode, start.body)
	}
	var flow *http.Cookie
	for _, c := range start.Cookies() {
		switch {
		case strings.HasPrefix(c.Name, "__Host-hubgate_flow_"):
			if flow != nil {
				t.Errorf("two flow cookies set by one login: %s, %s", flow.Name, c.Name)
			}
			flow = c
		case strings.Contains(c.Name, "hubgate"):
			t.Errorf("login sets unexpected cookie %q", c.Name)
		}
	}
	if flow == nil {
		t.Fatalf("login set no __Host-hubgate_flow_ cookie; Set-Cookie: %q", start.Header.Values("Set-Cookie"))
	}
	flowRaw := setCookieLines(start, flow.Name)[0]
	checkHostCookie(t, "flow cookie", flow, flowRaw, http.SameSiteLaxMode)
	if flow.MaxAge <= 0 || flow.MaxAge > 600 {
		t.Errorf("flow cookie Max-Age = %d; want 1..600 (10 min)", flow.MaxAge)
	}

	hubResp := b.get(start.Header.Get("Location"))
	if hubResp.StatusCode != http.StatusFound || !strings.HasPrefix(hubResp.Header.Get("Location"), e.srv.URL+"/_hubgate/callback") {
		t.Fatalf("hub authorize = %d to %q; want the https callback", hubResp.StatusCode, hubResp.Header.Get("Location"))
	}
	cb := b.get(hubResp.Header.Get("Location"))
	if cb.StatusCode != http.StatusFound || cb.Header.Get("Location") != "/reports" {
		t.Fatalf("callback = %d %q; want 302 to /reports\n%s", cb.StatusCode, cb.Header.Get("Location"), cb.body)
	}
	var sess *http.Cookie
	flowDeleted := false
	for _, c := range cb.Cookies() {
		switch {
		case c.Name == "__Host-hubgate":
			sess = c
		case c.Name == flow.Name:
			flowDeleted = c.MaxAge < 0
			// A deletion of a __Host- cookie is itself only accepted with
			// the same attributes.
			checkHostCookie(t, "flow cookie deletion", c, setCookieLines(cb, c.Name)[0], http.SameSiteLaxMode)
		case strings.Contains(c.Name, "hubgate"):
			t.Errorf("callback sets unexpected cookie %q", c.Name)
		}
	}
	if !flowDeleted {
		t.Errorf("callback does not delete the flow cookie %s; Set-Cookie: %q", flow.Name, cb.Header.Values("Set-Cookie"))
	}
	if sess == nil {
		t.Fatalf("callback set no __Host-hubgate session cookie; Set-Cookie: %q", cb.Header.Values("Set-Cookie"))
	}
	checkHostCookie(t, "session cookie", sess, setCookieLines(cb, sess.Name)[0], http.SameSiteLaxMode)
	if sess.MaxAge <= 0 || sess.MaxAge > int((12*time.Hour)/time.Second) {
		t.Errorf("session cookie Max-Age = %d; want 1..43200 (session ttl 12 h)", sess.MaxAge)
	}
	for _, l := range cb.Header.Values("Set-Cookie") {
		if strings.HasPrefix(l, "hubgate=") || strings.HasPrefix(l, "hubgate_") {
			t.Errorf("an unprefixed hubgate cookie is set on https: %s", l)
		}
	}

	// The session works over https, and neither cookie reaches the upstream.
	h := b.upstreamHeaders("/reports")
	if h.Get(proxy.HeaderUser) != "1" || h.Get(proxy.HeaderPerson) != devhub.FrankID {
		t.Errorf("upstream user %q person %q; want 1 and Frank", h.Get(proxy.HeaderUser), h.Get(proxy.HeaderPerson))
	}
	if ck := h.Get("Cookie"); strings.Contains(ck, "hubgate") {
		t.Errorf("upstream received hubgate cookies: %q", ck)
	}
	if got := h.Get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("upstream X-Forwarded-Proto = %q; want https", got)
	}

	// The CSRF nonce of a form page: __Host- too, and SameSite=Strict (the
	// code's choice for it), a browser-session cookie.
	is := e.issue(claim.KindPerson, "42", "")
	page := b.get("/_hubgate/claim/" + is.Token.Reveal())
	var csrf *http.Cookie
	for _, c := range page.Cookies() {
		if c.Name == "__Host-hubgate_csrf" {
			csrf = c
		}
	}
	if csrf == nil {
		t.Fatalf("claim page set no __Host-hubgate_csrf cookie; Set-Cookie: %q", page.Header.Values("Set-Cookie"))
	}
	checkHostCookie(t, "csrf cookie", csrf, setCookieLines(page, csrf.Name)[0], http.SameSiteStrictMode)
	if csrf.MaxAge != 0 || !csrf.Expires.IsZero() {
		t.Errorf("csrf cookie Max-Age %d Expires %v; want a browser-session cookie", csrf.MaxAge, csrf.Expires)
	}
	// The confirmation POST works with it (same origin, https).
	if r := b.post("/_hubgate/claim/"+is.Token.Reveal(), map[string][]string{"csrf": {csrfOf(t, page.body)}}); r.StatusCode != http.StatusFound {
		t.Errorf("claim confirmation over https = %d; want 302 to the hub\n%s", r.StatusCode, r.body)
	}

	// Logout deletes the session cookie with the same attributes.
	out := b.logout("")
	lines := setCookieLines(out, "__Host-hubgate")
	if len(lines) != 1 {
		t.Fatalf("logout Set-Cookie for the session: %q; want one deletion", out.Header.Values("Set-Cookie"))
	}
	for _, c := range out.Cookies() {
		if c.Name == "__Host-hubgate" {
			if c.MaxAge >= 0 {
				t.Errorf("logout session cookie Max-Age = %d; want deletion", c.MaxAge)
			}
			checkHostCookie(t, "session cookie deletion", c, lines[0], http.SameSiteLaxMode)
		}
	}
}

// TestCookiesOnHTTPPublicURL is the contrast: with an http public URL
// (the plain newEnv) the same cookies are unprefixed and not Secure — a
// __Host- or Secure cookie would be dropped by browsers on http.
func TestCookiesOnHTTPPublicURL(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	start := b.get("/_hubgate/login?rd=%2F")
	found := false
	for _, c := range start.Cookies() {
		if strings.HasPrefix(c.Name, "hubgate_flow_") {
			found = true
			if c.Secure || !c.HttpOnly || c.Path != "/" || c.SameSite != http.SameSiteLaxMode {
				t.Errorf("http flow cookie Secure=%v HttpOnly=%v Path=%q SameSite=%v", c.Secure, c.HttpOnly, c.Path, c.SameSite)
			}
		}
		if strings.HasPrefix(c.Name, "__Host-") {
			t.Errorf("http public URL sets %s", c.Name)
		}
	}
	if !found {
		t.Fatalf("no hubgate_flow_ cookie on http; Set-Cookie: %q", start.Header.Values("Set-Cookie"))
	}
	cb := b.login(devhub.FrankID, "/")
	for _, c := range cb.Cookies() {
		if c.Name == "hubgate" && (c.Secure || !c.HttpOnly || c.Path != "/" || c.SameSite != http.SameSiteLaxMode) {
			t.Errorf("http session cookie Secure=%v HttpOnly=%v Path=%q SameSite=%v", c.Secure, c.HttpOnly, c.Path, c.SameSite)
		}
	}
	if b.sessionCookie() == "" {
		t.Error("no hubgate session cookie on http")
	}
}

// TestOfferSkipCookieOnHTTPS: in offer mode, "continue to the old
// login" over https remembers the choice in a cookie that is Secure,
// HttpOnly, Path=/, SameSite=Lax and, like every hubgate cookie on an https
// public URL (DESIGN §3 "Cookies"), carries the __Host- prefix.
func TestOfferSkipCookieOnHTTPS(t *testing.T) {
	e := newTLSEnv(t, func(c *proxy.Config) { c.Mode = migration.Offer })
	b := e.tlsBrowser()
	page := b.get("/login")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, "Continue to the old login") {
		t.Fatalf("offer page = %d\n%s", page.StatusCode, page.body)
	}
	resp := b.post("/_hubgate/continue-legacy", map[string][]string{"csrf": {csrfOf(t, page.body)}, "rd": {"/login"}})
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/login" {
		t.Fatalf("continue-legacy = %d %q; want 302 to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
	var skip *http.Cookie
	for _, c := range resp.Cookies() {
		if strings.Contains(c.Name, "hubgate_offer_skip") {
			skip = c
		}
	}
	if skip == nil {
		t.Fatalf("continue-legacy set no offer cookie; Set-Cookie: %q", resp.Header.Values("Set-Cookie"))
	}
	if !skip.Secure || !skip.HttpOnly || skip.Path != "/" || skip.Domain != "" || skip.SameSite != http.SameSiteLaxMode {
		t.Errorf("offer cookie Secure=%v HttpOnly=%v Path=%q Domain=%q SameSite=%v", skip.Secure, skip.HttpOnly, skip.Path, skip.Domain, skip.SameSite)
	}
	before := e.up.count()
	if r := b.get("/login"); r.StatusCode != http.StatusOK || e.up.count() == before {
		t.Errorf("after continue, GET /login over https = %d, reached upstream %v; want forwarded", r.StatusCode, e.up.count() > before)
	}
	t.Run("prefix", func(t *testing.T) {
		if skip.Name != "__Host-hubgate_offer_skip" {
			t.Errorf("offer cookie on https is %q; want __Host-hubgate_offer_skip", skip.Name)
		}
	})
}
