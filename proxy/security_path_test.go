package proxy_test

import (
	"fmt"
	"net/http"
	"path"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
)

// pathEnv: enforce mode, public paths "/assets/" (prefix) and "/docs"
// (exact), legacy login "/login".
func pathEnv(t *testing.T) *env {
	return newEnv(t, func(c *proxy.Config) {
		c.Mode = migration.Enforce
		c.PublicPaths = []string{"/assets/", "/docs"}
	})
}

// pathOutcome is what the gate did with an anonymous request.
type pathOutcome int

const (
	forwarded pathOutcome = iota // public: reached the upstream without a session
	gated                        // needs a session: 302 to sign-in (or 401)
	refused                      // malformed: 400, fail closed
)

func (o pathOutcome) String() string {
	return [...]string{"forwarded as public", "gated (sign-in)", "refused (400)"}[o]
}

// TestSecurityPathPublicRulesDecideOnForwardedPath sends raw request
// targets (no client normalisation) anonymously in enforce mode. A request
// is forwarded without a session only when the path the upstream receives,
// decoded and raw, lies under a public rule; dot segments in every disguise
// are resolved before the decision or refused; the query never counts.
func TestSecurityPathPublicRulesDecideOnForwardedPath(t *testing.T) {
	e := pathEnv(t)
	cases := []struct {
		target string
		want   pathOutcome
	}{
		{"/assets/app.css", forwarded},
		{"/assets", forwarded},
		{"/assets/a/b/c.js", forwarded},
		{"/docs", forwarded},
		{"/assets//app.css", forwarded},
		{"//assets/app.css", forwarded},
		{"/./assets/app.css", forwarded},
		{"/assets/./app.css", forwarded},
		{"/x/../assets/app.css", forwarded},
		{"/assets/a%2Fb.css", forwarded}, // encoded slash inside the public prefix
		{"/docs/.", forwarded},

		{"/admin", gated},
		{"/assets/../admin", gated},
		{"/assets/../../admin", gated},
		{"/assets/./../admin", gated},
		{"/assets/%2e%2e/admin", gated},
		{"/assets/%2E%2E/admin", gated},
		{"/assets/.%2e/admin", gated},
		{"/assets/%2e./admin", gated},
		{"/assets/%2e%2e%2fadmin", gated},
		{"/assets%2f..%2fadmin", gated},
		{"/assets/..%2fadmin", gated},
		{"/assets/..%2Fadmin", gated},
		{"/assets%2fsecret", gated}, // "/assets/secret" decoded, one segment raw
		{"/assets%2Fsecret", gated},
		{"/assets%2f", gated},
		{"/assets%23/x", gated},
		{"/assets/%23/../admin", forwarded}, // "#" is a segment, ".." removes it: the upstream gets /assets/admin
		{"/admin%23/assets/", gated},
		{"/admin?/assets/", gated},
		{"/admin?x=/assets/app.css", gated},
		{"/admin?%2Fassets%2F", gated},
		{"/assets;/../admin", gated},
		{"/assets;x/app.css", gated},
		{"/ASSETS/app.css", gated},
		{"/Assets/app.css", gated},
		{"/assetsx/app.css", gated},
		{"/asset/app.css", gated},
		{"/docs/", gated},
		{"/docs/x", gated},
		{"/docsx", gated},
		{"/docs;x", gated},
		{"/docs%2f", gated},
		{"/docs%2fx", gated},
		{"/x/assets/app.css", gated},
		{"http://evil.example/assets/../admin", gated},
		{"/%2e%2e/assets/app.css", forwarded}, // "/../assets" cleans to "/assets": still the public file
		{"/healthz", gated},
		{"/_hubgate/../admin", gated}, // not a hubgate route once cleaned

		{"/assets/..;/admin", refused},
		{"/assets/..;x=1/admin", refused},
		{"/assets/..%3b/admin", refused},
		{"/assets/..%3B/admin", refused},
		{"/assets/.;/app.css", refused},
		{"/assets/..%5cadmin", refused},
		{"/assets/%5c..%5cadmin", refused},
		{"/assets%5c..%5cadmin", refused},
		{"/assets/%252e%252e/admin", refused},
		{"/assets/%252E%252E%252Fadmin", refused},
		{"/assets/..%252fadmin", refused},
		{"/assets/%25%32%65%25%32%65/admin", refused},
		{"/assets/%2e%2e%5cadmin", refused},
		{"/assets/%c0%ae%c0%ae/admin", refused}, // overlong UTF-8 "..", decoded by old servers
		{"/assets/..%c0%afadmin", refused},
		{"/assets/%e0%80%ae%e0%80%ae/admin", refused},
		{"/assets/x%00", refused},
		{"/assets/x%00.css", refused},
		{"/assets/%0d%0aSet-Cookie:x", refused},
		{"/assets/%09/app.css", refused},
		{"/assets/%7f", refused},
		{"/assets/%2500", refused},
		{"/assets/%zz", refused},
		{"/assets/%", refused},
		{"/assets/%2", refused},
		{"/assets\\..\\admin", refused},
		{"*", refused},
	}
	for _, tc := range cases {
		t.Run(tc.target, func(t *testing.T) {
			before := e.up.count()
			resp := rawResponse(t, e.addr(), "GET "+tc.target+" HTTP/1.1\r\nHost: "+e.addr()+"\r\nConnection: close\r\n\r\n")
			reached := e.up.count() > before
			var got pathOutcome
			switch {
			case reached && resp.StatusCode == http.StatusOK:
				got = forwarded
			case !reached && (resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusUnauthorized):
				got = gated
			case !reached && resp.StatusCode == http.StatusBadRequest:
				got = refused
			case !reached && resp.StatusCode/100 == 3 && strings.HasPrefix(tc.target, "/_hubgate/"):
				// The route mux cleans the path and redirects to the clean
				// form, which is gated in turn.
				if loc := resp.Header.Get("Location"); loc != "/admin" {
					t.Fatalf("GET %s redirects to %q; want /admin", tc.target, loc)
				}
				return
			default:
				t.Fatalf("GET %s = %d, reached upstream %v: neither forwarded, gated nor refused", tc.target, resp.StatusCode, reached)
			}
			if got != tc.want {
				t.Fatalf("GET %s: %s (status %d); want %s", tc.target, got, resp.StatusCode, tc.want)
			}
			if got == gated && resp.StatusCode == http.StatusFound {
				loc := resp.Header.Get("Location")
				if !strings.HasPrefix(loc, "/_hubgate/login?rd=") {
					t.Errorf("GET %s redirects to %q; want /_hubgate/login", tc.target, loc)
				}
			}
			if !reached {
				return
			}
			// What the upstream received is clean and public in both forms.
			up := e.up.last(t)
			p := up.URL.Path
			if c := path.Clean(p); c != strings.TrimSuffix(p, "/") && c != p {
				t.Errorf("upstream got path %q, which is not clean (%q)", p, c)
			}
			for _, form := range []string{p, up.URL.EscapedPath()} {
				if !strings.HasPrefix(form+"/", "/assets/") && form != "/docs" {
					t.Errorf("GET %s forwarded anonymously as %q, which no public rule covers", tc.target, form)
				}
			}
			if up.URL.RawQuery != "" && !strings.Contains(tc.target, "?") {
				t.Errorf("upstream got query %q the request did not have", up.URL.RawQuery)
			}
		})
	}
}

// TestSecurityPathSessionlessRequestsNeverReachProtectedPaths sweeps
// combinations of prefixes, dot segments and encodings around a protected
// path: whatever the spelling, an anonymous request in enforce mode reaches
// the upstream only under a public rule.
func TestSecurityPathSessionlessRequestsNeverReachProtectedPaths(t *testing.T) {
	e := pathEnv(t)
	dots := []string{"..", "%2e%2e", "%2E%2E", ".%2e", "%2e.", "..;", "..%3b", "%252e%252e", "..%5c", "%c0%ae%c0%ae", "%u002e%u002e"}
	seps := []string{"/", "%2f", "%2F", "%5c", "\\", "//", "/./", "%252f", ";/"}
	prefixes := []string{"/assets", "/docs", "/assets/x", "", "/login"}
	n := 0
	for _, pre := range prefixes {
		for _, d := range dots {
			for _, s := range seps {
				target := pre + s + d + s + "admin"
				if !strings.HasPrefix(target, "/") {
					target = "/" + target
				}
				n++
				before := e.up.count()
				resp := rawResponse(t, e.addr(), "GET "+target+" HTTP/1.1\r\nHost: "+e.addr()+"\r\nConnection: close\r\n\r\n")
				if e.up.count() == before {
					continue
				}
				up := e.up.last(t)
				p, raw := up.URL.Path, up.URL.EscapedPath()
				public := (strings.HasPrefix(p+"/", "/assets/") && strings.HasPrefix(raw+"/", "/assets/")) || (p == "/docs" && raw == "/docs")
				if !public {
					t.Errorf("GET %s (%d) reached the upstream as %q (raw %q) without a session", target, resp.StatusCode, p, raw)
				}
				if strings.Contains(strings.ToLower(raw), "admin") && !strings.Contains(p, "..") {
					// A public path that still names admin must be a file
					// under /assets/, never a traversal out of it.
					for _, seg := range strings.FieldsFunc(strings.ToLower(p), func(r rune) bool { return r == '/' || r == '\\' || r == ';' }) {
						if seg == ".." || seg == "." {
							t.Errorf("GET %s forwarded with dot segment in %q", target, p)
						}
					}
				}
			}
		}
	}
	if n < 400 {
		t.Fatalf("swept %d spellings; want at least 400", n)
	}
}

// TestSecurityPathLegacyLoginClosedInEveryForm: in enforce mode the legacy
// login cannot be reached anonymously under another spelling.
func TestSecurityPathLegacyLoginClosedInEveryForm(t *testing.T) {
	e := pathEnv(t)
	for _, target := range []string{"/login", "//login", "/./login", "/x/../login", "/login/", "/LOGIN", "/Login", "/login;jsessionid=1",
		"/login%2f", "/%6cogin", "/login?x=/assets/", "/assets/../login", "/assets/%2e%2e/login", "/login/.", "/login%00", "/login..;/"} {
		for _, method := range []string{"GET", "POST", "HEAD"} {
			before := e.up.count()
			resp := rawResponse(t, e.addr(), fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", method, target, e.addr()))
			if e.up.count() != before {
				t.Errorf("%s %s = %d reached the upstream anonymously in enforce mode", method, target, resp.StatusCode)
			}
			if resp.StatusCode == http.StatusOK {
				t.Errorf("%s %s = 200 anonymously in enforce mode", method, target)
			}
		}
	}
}

// TestSecurityPathForwardAuthDecidesLikeTheGate: the forward-auth endpoint
// judges X-Original-URI (from a trusted proxy) by the same rules.
func TestSecurityPathForwardAuthDecidesLikeTheGate(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) {
		c.Mode = migration.Enforce
		c.PublicPaths = []string{"/assets/"}
		c.TrustedProxies = trustLoopback()
	})
	b := e.browser()
	for target, public := range map[string]bool{
		"/assets/app.css": true, "/assets//x.css": true, "/assets/a%2Fb.css": true,
		"/assets/../admin": false, "/assets/%2e%2e/admin": false, "/assets/..;/admin": false, "/assets%2fsecret": false,
		"/assets/..%5cadmin": false, "/assets/%252e%252e/admin": false, "/admin?/assets/": false, "/assets/x%00": false,
		"assets/app.css": false, "": false, "http://evil.example/assets/../admin": false,
		"http://evil.example/assets/app.css": true, // the path is what nginx serves, whatever the host
	} {
		resp := b.get("/_hubgate/auth", "X-Original-URI", target)
		want := http.StatusUnauthorized
		if public {
			want = http.StatusOK
		}
		if resp.StatusCode != want {
			t.Errorf("forward-auth for X-Original-URI %q = %d; want %d", target, resp.StatusCode, want)
		}
	}
}
