package proxy_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// TestSecurityInternalSurfacesNotOnPublicListener: the admin API, metrics,
// readiness and debug handlers live on the admin listener only. On the
// public handler every such path, under /_hubgate/ or not, with or without
// an admin-looking token and whatever the method, is either hubgate's 404
// or the upstream's own answer (here: an upstream that has none of them).
func TestSecurityInternalSurfacesNotOnPublicListener(t *testing.T) {
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream: no such page", http.StatusNotFound)
	}))
	t.Cleanup(empty.Close)
	e := newEnv(t, func(c *proxy.Config) { c.Upstream = empty.URL })
	b := e.browser()
	b.login(devhub.FrankID, "/") // a signed-in browser gets no more than anyone
	internal := []string{"/metrics", "/api/v1/claims", "/api/v1/claims/import", "/api/v1/mode", "/api/v1/stats", "/api/v1/audit",
		"/api/v1/links/persons/1", "/api/v1/sessions/" + devhub.FrankID, "/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/heap",
		"/debug/vars", "/readyz", "/healthz", "/dashboard"}
	var paths []string
	for _, p := range internal {
		paths = append(paths, p)
		if p != "/healthz" { // /_hubgate/healthz is the public liveness route (DESIGN §4)
			paths = append(paths, "/_hubgate"+p)
		}
	}
	paths = append(paths, "/_hubgate/", "/_hubgate", "/_hubgate/admin", "/_hubgate/api/", "/_hubgate/%2e%2e/metrics")
	for _, p := range paths {
		for _, method := range []string{"GET", "POST", "PUT", "DELETE"} {
			req, _ := http.NewRequest(method, e.srv.URL+p, strings.NewReader("{}"))
			req.Header.Set("Authorization", "Bearer admin-token-of-sixteen-plus-chars")
			req.Header.Set("Content-Type", "application/json")
			resp := b.do(req)
			if resp.StatusCode == http.StatusMovedPermanently || resp.StatusCode == http.StatusTemporaryRedirect {
				continue // the route mux cleaning "/_hubgate/../x"; the target is checked as a path of its own
			}
			if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s on the public listener = %d; want 404\n%.200s", method, p, resp.StatusCode, resp.body)
			}
			for _, tell := range []string{"# HELP", "# TYPE", "go_goroutines", "hubgate_", "pprof", "goroutine profile", "claims_open", `"mode"`, "ready"} {
				if strings.Contains(resp.body, tell) {
					t.Errorf("%s %s on the public listener answers internal data (%q)", method, p, tell)
				}
			}
		}
	}
}

// xssPayloads are values that would run script if written unescaped.
var xssPayloads = []string{
	`<script>alert(1)</script>`,
	`"><img src=x onerror=alert(2)>`,
	`'><svg onload=alert(3)>`,
	`javascript:alert(4)`,
	"</code><script>alert(5)</script>",
}

// checkEscaped fails if body holds an active form of any payload.
func checkEscaped(t *testing.T, what, body string) {
	t.Helper()
	for _, bad := range []string{"<script>alert(", "<img src=x", "<svg onload", `href="javascript:`, `src="javascript:`, `action="javascript:`} {
		if strings.Contains(body, bad) {
			i := strings.Index(body, bad)
			t.Errorf("%s contains %q unescaped: …%s…", what, bad, body[max(0, i-60):min(len(body), i+60)])
		}
	}
}

// TestSecurityReflectedValuesEscaped: pages escape whatever they reflect —
// request paths and queries, names and emails from the hub and from the
// legacy directory, organization names, request ids from a trusted proxy,
// Referer — and carry a restrictive Content-Security-Policy; the identity
// headers never carry CR/LF from the hub.
func TestSecurityReflectedValuesEscaped(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) {
		c.Mode = migration.Offer
		c.Unlinked = proxy.UnlinkedDeny
		c.Limits.FailedClaims = -1
		c.TrustedProxies = trustLoopback()
	})
	o := e.origin()
	for i, x := range xssPayloads {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			pages := map[string]*response{}
			anon := e.browser()
			pages["404 under /_hubgate"] = anon.get("/_hubgate/" + url.PathEscape(x))
			pages["claim link"] = anon.get("/_hubgate/claim/" + url.PathEscape(x))
			pages["offer page"] = anon.get("/login?next="+url.QueryEscape(x), "Referer", x)
			pages["error with referer"] = anon.get("/_hubgate/callback?state=x&error="+url.QueryEscape(x)+"&error_description="+url.QueryEscape(x), "Referer", x)
			pages["trusted request id"] = anon.get("/_hubgate/nope", "X-Request-Id", x)
			pages["json /me"] = anon.get("/_hubgate/me", "Referer", x)

			// A hub person with a hostile name signs in unlinked (deny).
			p := e.hub.AddPerson(devhub.Person{FirstName: x, Name: x, Email: fmt.Sprintf("x%d@example.com", i)})
			nb := e.browser()
			pages["no-account page"] = nb.shown(nb.login(p.ID, "/"+x))

			// A legacy person with a hostile name opens a claim link, and
			// the claim succeeds for a hub person with a hostile name.
			legacy := fmt.Sprintf("xss%d", i)
			e.putPeople(claim.Person{ID: legacy, Name: x, Email: fmt.Sprintf("a%d@legacy.example", i)})
			is := e.issue(claim.KindPerson, legacy, "")
			cb := e.browser()
			pages["claim confirmation"] = cb.get("/_hubgate/claim/" + is.Token.Reveal())
			pages["claim success"] = cb.land(cb.startClaim(is.Token, p.ID, ""))

			// An organization with a hostile name is claimed by its owner.
			org := e.hub.AddOrganization(devhub.Organization{Name: x})
			e.hub.SetRoles(p.ID, org.ID, "owner")
			ois := e.issue(claim.KindOrg, legacy+"-org", legacy)
			orgPage := cb.get("/_hubgate/claim/" + ois.Token.Reveal())
			pages["org claim confirmation"] = orgPage
			start := cb.post("/_hubgate/claim/"+ois.Token.Reveal(), url.Values{"csrf": {csrfOf(t, orgPage.body)}})
			pages["org claim success"] = cb.land(cb.hubReturn(start.Header.Get("Location"), p.ID, org.ID))

			for what, r := range pages {
				checkEscaped(t, what, r.body)
				if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") {
					if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
						t.Errorf("%s: Content-Security-Policy %q; want default-src 'none' and no script source", what, csp)
					}
					for _, l := range pageLinks(r.body) {
						if why := o.why(l); why != "" && !strings.HasPrefix(l, e.hubURL) {
							t.Errorf("%s links %q: %s", what, l, why)
						}
					}
				}
				if r.StatusCode >= 500 {
					t.Errorf("%s = %d", what, r.StatusCode)
				}
			}
			if s := pages["org claim success"]; s.StatusCode != http.StatusOK {
				t.Errorf("org claim = %d; the hostile org name must not break it\n%s", s.StatusCode, s.body)
			}
			if got := cb.upstreamHeaders("/x").Get(proxy.HeaderName); strings.ContainsAny(got, "\r\n") {
				t.Errorf("upstream %s = %q", proxy.HeaderName, got)
			}
		})
	}
}

// TestSecurityHubValuesCannotSplitHeaders: a hub name with CR/LF reaches
// the upstream as one harmless header value; the request is not refused
// and no header is injected.
func TestSecurityHubValuesCannotSplitHeaders(t *testing.T) {
	e := newEnv(t, nil)
	p := e.hub.AddPerson(devhub.Person{FirstName: "Eve\r\nX-Hubgate-User: 1\r\n", Name: "Evil\nX-Injected: yes", Email: "eve@example.com"})
	b := e.browser()
	if r := b.login(p.ID, "/"); r.StatusCode != http.StatusFound {
		t.Fatalf("sign-in = %d", r.StatusCode)
	}
	h := b.upstreamHeaders("/x")
	if got := h.Get(proxy.HeaderUser); got != "" {
		t.Errorf("upstream %s = %q: injected through the name", proxy.HeaderUser, got)
	}
	if h.Get("X-Injected") != "" {
		t.Error("upstream got an injected header")
	}
	if got := h.Get(proxy.HeaderName); strings.ContainsAny(got, "\r\n") || !strings.Contains(got, "Eve") {
		t.Errorf("upstream %s = %q; want the name without CR/LF", proxy.HeaderName, got)
	}
	me := b.get("/_hubgate/me")
	if !strings.HasPrefix(me.Header.Get("Content-Type"), "application/json") {
		t.Errorf("/me Content-Type = %q", me.Header.Get("Content-Type"))
	}
}
