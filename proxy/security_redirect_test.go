package proxy_test

import (
	"context"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// Allowed redirect hosts of the redirect tests: one suffix rule, one exact,
// one exact with a port.
var testAllowedHosts = []string{".partner.example", "exact.example", "ported.example:8443"}

// redirectCorpus loads testdata/open-redirects.txt for e.
func redirectCorpus(t *testing.T, e *env) []string {
	t.Helper()
	host, port, err := net.SplitHostPort(e.addr())
	if err != nil {
		t.Fatal(err)
	}
	ps := loadCorpus(t, "open-redirects.txt", map[string]string{
		"{public}": e.addr(), "{host}": host, "{port}": port,
		"{allowed}": ".partner.example", "{allowed_bare}": "partner.example", "{ported_bare}": "ported.example",
	})
	if len(ps) < 300 {
		t.Fatalf("open-redirect corpus has %d payloads; want at least 300", len(ps))
	}
	return ps
}

// redirectEnvOf is the env of the redirect tests on provider pv.
func redirectEnvOf(t *testing.T, pv provider, mutate func(*proxy.Config)) *env {
	return newEnvOf(t, pv, func(c *proxy.Config) {
		c.AllowedRedirectHosts = testAllowedHosts
		c.Limits.FailedClaims = -1
		if mutate != nil {
			mutate(c)
		}
	})
}

// checkLocation fails the test if resp redirects off the origin or carries
// CR/LF in its Location.
func checkLocation(t *testing.T, o originCheck, what string, resp *response) {
	t.Helper()
	loc, ok := resp.Header["Location"]
	if !ok {
		return
	}
	if len(loc) != 1 {
		t.Errorf("%s: %d Location headers %q; want one", what, len(loc), loc)
	}
	for _, l := range loc {
		if strings.ContainsAny(l, "\r\n") {
			t.Errorf("%s: Location %q contains CR/LF", what, l)
		}
		if why := o.why(l); why != "" {
			t.Errorf("%s: Location %q %s", what, l, why)
		}
	}
}

// TestSecurityOpenRedirectLogin: the corpus as rd of /_hubgate/login, both
// for a browser that is signed in (answered at once) and through the whole
// sign-in flow (rd travels in the flow cookie and is used after the
// callback): no Location ever leaves the origin.
func TestSecurityOpenRedirectLogin(t *testing.T) { forProviders(t, testSecurityOpenRedirectLogin) }

func testSecurityOpenRedirectLogin(t *testing.T, pv provider) {
	e := redirectEnvOf(t, pv, nil)
	o := e.origin(testAllowedHosts...)
	payloads := redirectCorpus(t, e)
	signedIn := e.browser()
	signedIn.login(e.frank, "/")
	t.Run("signed in", func(t *testing.T) {
		for _, p := range payloads {
			resp := signedIn.get("/_hubgate/login?rd=" + url.QueryEscape(p))
			if resp.StatusCode != http.StatusFound {
				t.Errorf("login?rd=%q = %d; want 302", p, resp.StatusCode)
			}
			checkLocation(t, o, fmt.Sprintf("login?rd=%q", p), resp)
		}
	})
	t.Run("through the flow", func(t *testing.T) {
		for _, p := range payloads {
			b := e.browser()
			resp := b.login(e.erika, p)
			if resp.StatusCode != http.StatusFound {
				t.Errorf("callback after login?rd=%q = %d; want 302\n%s", p, resp.StatusCode, resp.body)
			}
			checkLocation(t, o, fmt.Sprintf("callback after login?rd=%q", p), resp)
		}
	})
	t.Run("kept when safe", func(t *testing.T) {
		for _, ok := range []string{"/x", "/a/b?c=d#e", e.srv.URL + "/y", "https://partner.example/x", "https://a.b.partner.example/x?y=1", "https://exact.example/"} {
			resp := signedIn.get("/_hubgate/login?rd=" + url.QueryEscape(ok))
			if got := resp.Header.Get("Location"); got != ok {
				t.Errorf("login?rd=%q Location %q; want it kept", ok, got)
			}
		}
	})
}

var rdFieldRE = regexp.MustCompile(`name="rd" value="([^"]*)"`)

// TestSecurityOpenRedirectLogout: the corpus as rd of GET and POST
// /_hubgate/logout. The sign-out page (GET, signed in) carries rd into its
// form and its "Cancel" link: both must stay on the origin, and the page
// never signs out. The POST redirects (signed in for the first payload,
// signed out after).
func TestSecurityOpenRedirectLogout(t *testing.T) { forProviders(t, testSecurityOpenRedirectLogout) }

func testSecurityOpenRedirectLogout(t *testing.T, pv provider) {
	e := redirectEnvOf(t, pv, nil)
	o := e.origin(testAllowedHosts...)
	asker, poster := e.browser(), e.browser()
	asker.login(e.frank, "/")
	poster.login(e.erika, "/")
	endSessions := 0
	for _, p := range redirectCorpus(t, e) {
		page := asker.get("/_hubgate/logout?rd=" + url.QueryEscape(p))
		if page.StatusCode != http.StatusOK {
			t.Errorf("GET logout?rd=%q = %d; want the sign-out page", p, page.StatusCode)
		}
		checkLocation(t, o, fmt.Sprintf("GET logout rd=%q", p), page)
		links := pageLinks(page.body)
		if m := rdFieldRE.FindStringSubmatch(page.body); m != nil {
			links = append(links, html.UnescapeString(m[1]))
		}
		for _, l := range links {
			if why := o.why(l); why != "" {
				t.Errorf("sign-out page for rd=%q carries %q: %s", p, l, why)
			}
		}
		resp := poster.post("/_hubgate/logout", url.Values{"rd": {p}})
		if resp.StatusCode >= 500 {
			t.Errorf("POST logout rd=%q = %d", p, resp.StatusCode)
		}
		// At an OpenID Provider the sign-out of a session goes on to the
		// provider's end_session (RP-initiated logout): allowed when it
		// returns to our configured post-logout URL, never to the payload.
		if e.op != nil && e.isEndSession(resp.Header.Get("Location")) {
			endSessions++
			continue
		}
		checkLocation(t, o, fmt.Sprintf("POST logout rd=%q", p), resp)
	}
	if e.op != nil && endSessions != 1 {
		t.Errorf("%d sign-outs went on to the provider's end_session; want 1 (the one that ended a session)", endSessions)
	}
	if !strings.Contains(asker.identity(), e.pid(e.frank)) {
		t.Error("the sign-out page signed the browser out")
	}
}

// TestSecurityRedirectKeepsSchemeHostAndPort: an absolute return URL keeps
// the public origin — scheme, host and port — or names an allowed host on
// its own port (the entry's, else the scheme's default) without
// downgrading to http; over http and https public URLs, through the real
// handler. Before, the host alone was compared: our host on any port, and
// with either scheme, was accepted. The corpus (and FuzzReturnTo) could not
// see it: no payload named our host with another port (the {public}
// placeholder always carries ours), and the corpus's origin check compared
// host:port but not the scheme. (redirect_test.go covers public URLs
// without a port, where :443 may be written or not.)
func TestSecurityRedirectKeepsSchemeHostAndPort(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[tls], func(t *testing.T) {
			mutate := func(c *proxy.Config) { c.AllowedRedirectHosts = testAllowedHosts }
			var e *env
			var b *browser
			if tls {
				e = newTLSEnv(t, mutate)
				b = e.tlsBrowser()
			} else {
				e = newEnv(t, mutate)
				b = e.browser()
			}
			e.hub.AutoApprove(devhub.FrankID, "")
			start := b.get("/_hubgate/login?rd=%2F")
			if done := b.get(b.get(start.Header.Get("Location")).Header.Get("Location")); done.StatusCode != http.StatusFound {
				t.Fatalf("sign-in = %d\n%s", done.StatusCode, done.body)
			}
			pub := mustURL(e.srv.URL)
			other := map[string]string{"http": "https", "https": "http"}[pub.Scheme]
			cases := []struct {
				rd   string
				kept bool
			}{
				{e.srv.URL + "/x", true},
				{other + "://" + pub.Host + "/x", false},
				{pub.Scheme + "://" + pub.Hostname() + ":1/x", false},
				{pub.Scheme + "://" + pub.Host + "0/x", false},
				{pub.Scheme + "://" + pub.Hostname() + "/x", false},
				{pub.Scheme + "://" + pub.Hostname() + ":" + pub.Port() + "/x", true},
				{pub.Scheme + "://" + pub.Hostname() + ":0" + pub.Port() + "/x", false}, // only the plain form
				{"https://partner.example/x", true},
				{"https://partner.example:443/x", true},
				{"https://partner.example:8443/x", false},
				{"https://ported.example:8443/x", true},
				{"https://ported.example/x", false},
				{"https://ported.example:9443/x", false},
				{"http://partner.example/x", !tls}, // never a downgrade
				{"http://ported.example:8443/x", !tls},
				{"http://partner.example:443/x", false},
			}
			for _, tc := range cases {
				resp := b.get("/_hubgate/login?rd=" + url.QueryEscape(tc.rd))
				got := resp.Header.Get("Location")
				if tc.kept && got != tc.rd {
					t.Errorf("login?rd=%q (public %s) Location %q; want it kept", tc.rd, e.srv.URL, got)
				}
				if !tc.kept && got != "/" {
					t.Errorf("login?rd=%q (public %s) Location %q; want / (another origin)", tc.rd, e.srv.URL, got)
				}
			}
		})
	}
}

// TestSecurityOpenRedirectContinueLegacy: the corpus as rd of the offer
// page's "continue to the old login" form.
func TestSecurityOpenRedirectContinueLegacy(t *testing.T) {
	forProviders(t, testSecurityOpenRedirectContinueLegacy)
}

func testSecurityOpenRedirectContinueLegacy(t *testing.T, pv provider) {
	e := redirectEnvOf(t, pv, func(c *proxy.Config) { c.Mode = migration.Offer })
	o := e.origin(testAllowedHosts...)
	b := e.browser()
	page := b.get("/login")
	tok := csrfOf(t, page.body)
	for _, p := range redirectCorpus(t, e) {
		resp := b.post("/_hubgate/continue-legacy", url.Values{"csrf": {tok}, "rd": {p}})
		if resp.StatusCode != http.StatusFound {
			t.Errorf("continue-legacy rd=%q = %d; want 302\n%s", p, resp.StatusCode, resp.body)
		}
		checkLocation(t, o, fmt.Sprintf("continue-legacy rd=%q", p), resp)
	}
	// The offer page reflects the login URL it interrupts into its form; a
	// payload in that URL's query stays inert.
	for _, p := range redirectCorpus(t, e)[:50] {
		page := e.browser().get("/login?next=" + url.QueryEscape(p))
		for _, l := range pageLinks(page.body) {
			if why := o.why(l); why != "" && !strings.HasPrefix(l, e.hubURL) {
				t.Errorf("offer page for next=%q links %q: %s", p, l, why)
			}
		}
	}
}

// TestSecurityOpenRedirectPostClaim: a claim flow ignores any return path a
// client adds (query or form) and its success page links only to our
// origin, whatever the payload.
func TestSecurityOpenRedirectPostClaim(t *testing.T) {
	forProviders(t, testSecurityOpenRedirectPostClaim)
}

func testSecurityOpenRedirectPostClaim(t *testing.T, pv provider) {
	e := redirectEnvOf(t, pv, nil)
	o := e.origin(testAllowedHosts...)
	for i, p := range redirectCorpus(t, e) {
		legacy := fmt.Sprintf("r%d", i)
		e.putPeople(claim.Person{ID: legacy, Email: legacy + "@legacy.example", Name: "Legacy " + legacy})
		is := e.issue(claim.KindPerson, legacy, "")
		// A new person at the Zaikio hub for each payload; the OpenID
		// Provider's people are fixed, so Frank claims each one there and
		// the link is undone after it (a person links one legacy account).
		person := e.frank
		if e.op == nil {
			person = e.hub.AddPerson(devhub.Person{FirstName: "R", Name: legacy, Email: legacy + "@zaikio.example"}).ID
		}
		b := e.browser()
		q := "?rd=" + url.QueryEscape(p) + "&return_to=" + url.QueryEscape(p)
		page := b.get("/_hubgate/claim/" + is.Token.Reveal() + q)
		if page.StatusCode != http.StatusOK {
			t.Fatalf("claim page for rd=%q = %d", p, page.StatusCode)
		}
		start := b.post("/_hubgate/claim/"+is.Token.Reveal()+q, url.Values{"csrf": {csrfOf(t, page.body)}, "rd": {p}, "return_to": {p}})
		if start.StatusCode != http.StatusFound || !strings.HasPrefix(start.Header.Get("Location"), e.authorizeURL()) {
			t.Fatalf("claim start for rd=%q = %d to %q; want 302 to the hub", p, start.StatusCode, start.Header.Get("Location"))
		}
		done := b.land(b.hubReturn(start.Header.Get("Location"), person, ""))
		if done.StatusCode != http.StatusOK {
			t.Errorf("claim callback for rd=%q = %d; want the success page", p, done.StatusCode)
		}
		checkLocation(t, o, fmt.Sprintf("claim callback for rd=%q", p), done)
		for _, l := range pageLinks(done.body) {
			if why := o.why(l); why != "" {
				t.Errorf("success page for rd=%q links %q: %s", p, l, why)
			}
		}
		if e.op != nil {
			if _, err := e.store.DeleteLink(context.Background(), claim.KindPerson, legacy, "test", e.clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestSecurityRedirectAllowedHostsDotBoundary: an allowed host list matches
// whole labels only: ".partner.example" admits partner.example and its
// subdomains, never evilpartner.example or partner.example.evil.com; an
// entry without a dot admits exactly that host.
func TestSecurityRedirectAllowedHostsDotBoundary(t *testing.T) {
	forProviders(t, testSecurityRedirectAllowedHostsDotBoundary)
}

func testSecurityRedirectAllowedHostsDotBoundary(t *testing.T, pv provider) {
	e := redirectEnvOf(t, pv, nil)
	b := e.browser()
	b.login(e.frank, "/")
	cases := []struct {
		rd   string
		kept bool
	}{
		{"https://partner.example/x", true},
		{"https://deep.sub.partner.example/x", true},
		{"http://partner.example/", true},
		{"https://PARTNER.example/x", true},
		{"https://exact.example/x", true},
		{"https://evilpartner.example/x", false},
		{"https://partner.example.evil.com/x", false},
		{"https://partner-example.com/", false},
		{"https://partner.exampl/", false},
		{"https://xpartner.example/", false},
		{"https://sub.exact.example/", false},
		{"https://exact.example.evil.com/", false},
		{"https://notexact.example/", false},
		{"https://partner.example@evil.com/", false},
		{"https://evil.com/.partner.example", false},
		{"https://evil.com?.partner.example", false},
		{"https://evil.com#.partner.example", false},
		{"https://partner.example%2eevil.com/", false},
		{"https://partner.example．evil.com/", false},
	}
	for _, tc := range cases {
		resp := b.get("/_hubgate/login?rd=" + url.QueryEscape(tc.rd))
		got := resp.Header.Get("Location")
		if tc.kept && got != tc.rd {
			t.Errorf("login?rd=%q Location %q; want it kept (allowed host)", tc.rd, got)
		}
		if !tc.kept && got != "/" {
			t.Errorf("login?rd=%q Location %q; want / (not an allowed host)", tc.rd, got)
		}
	}
}
