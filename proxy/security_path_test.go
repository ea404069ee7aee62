package proxy_test

import (
	"fmt"
	"net/http"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/migration"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/zaikio/devhub"
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

// pathCase is one line of testdata/paths.txt.
type pathCase struct {
	target string
	want   pathOutcome
}

// pathCorpus reads the gate's path corpus, testdata/paths.txt (its header
// says the format); deploy's nginx test sends the same targets.
func pathCorpus(t *testing.T) []pathCase {
	t.Helper()
	raw, err := os.ReadFile("testdata/paths.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []pathCase
	for i, line := range strings.Split(string(raw), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, " ", 3)
		if len(f) < 2 {
			t.Fatalf("testdata/paths.txt:%d: want \"<outcome> <target>\"", i+1)
		}
		c := pathCase{target: f[1]}
		switch f[0] {
		case "public":
			c.want = forwarded
		case "gated":
			c.want = gated
		case "refused":
			c.want = refused
		default:
			t.Fatalf("testdata/paths.txt:%d: outcome %q", i+1, f[0])
		}
		out = append(out, c)
	}
	if len(out) < 80 {
		t.Fatalf("testdata/paths.txt: %d cases; want the whole corpus", len(out))
	}
	return out
}

// TestSecurityPathPublicRulesDecideOnForwardedPath sends raw request
// targets (no client normalisation) anonymously in enforce mode. A request
// is forwarded without a session only when the path the upstream receives,
// decoded and raw, lies under a public rule; dot segments in every disguise
// are resolved before the decision or refused; the query never counts.
func TestSecurityPathPublicRulesDecideOnForwardedPath(t *testing.T) {
	e := pathEnv(t)
	cases := pathCorpus(t)
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

// legacyLoginSpellings are the request targets of
// testdata/login-spellings.txt: spellings that some upstream framework
// routes to the legacy login "/login".
func legacyLoginSpellings(t *testing.T) []string {
	return loadCorpus(t, "login-spellings.txt", nil)
}

// TestSecurityPathLegacyLoginClosedInEveryForm: the legacy login cannot be
// reached under any spelling, with or without a session. In enforce mode
// GET and HEAD go to sign-in and every other method gets 403; in offer mode
// a browser without a session gets the interstitial. (It used to send no
// session: then every gated path answers like the login, so the test could
// not tell that "/Login" was no login path to the gate.)
func TestSecurityPathLegacyLoginClosedInEveryForm(t *testing.T) {
	for _, mode := range []migration.Mode{migration.Enforce, migration.Offer} {
		t.Run(string(mode), func(t *testing.T) {
			e := newEnv(t, func(c *proxy.Config) {
				c.Mode = mode
				c.PublicPaths = []string{"/assets/", "/docs"}
			})
			b := e.browser()
			b.login(devhub.FrankID, "/")
			session := "Cookie: hubgate=" + b.sessionCookie() + "\r\n"
			for _, target := range legacyLoginSpellings(t) {
				for _, cookie := range []string{"", session} {
					for _, method := range []string{"GET", "HEAD", "POST", "PUT"} {
						read := method == "GET" || method == "HEAD"
						if mode == migration.Offer && (cookie != "" || !read) {
							continue // forwarded by design in offer mode (DESIGN §2)
						}
						who := "anonymously"
						if cookie != "" {
							who = "with a session"
						}
						before := e.up.count()
						resp := rawResponse(t, e.addr(), fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n", method, target, e.addr(), cookie))
						if e.up.count() != before {
							t.Errorf("%s %s = %d reached the legacy login %s in %s mode", method, target, resp.StatusCode, who, mode)
							continue
						}
						loc := resp.Header.Get("Location")
						switch {
						case resp.StatusCode == http.StatusBadRequest: // refused spelling
						case mode == migration.Offer && resp.StatusCode == http.StatusOK: // the interstitial
						case mode == migration.Enforce && read && resp.StatusCode == http.StatusFound && strings.HasPrefix(loc, "/_hubgate/login?"):
						case mode == migration.Enforce && !read && resp.StatusCode == http.StatusForbidden:
						default:
							t.Errorf("%s %s %s in %s mode = %d (Location %q); want the closed legacy login", method, target, who, mode, resp.StatusCode, loc)
						}
					}
				}
			}
			// The rule closes no more than the login: neighbours still pass.
			for _, target := range []string{"/loginx", "/logins.json", "/login-help", "/x/login", "/login/x", "/blogin", "/log/in"} {
				before := e.up.count()
				resp := rawResponse(t, e.addr(), "POST "+target+" HTTP/1.1\r\nHost: "+e.addr()+"\r\n"+session+"Content-Length: 0\r\nConnection: close\r\n\r\n")
				if e.up.count() == before || resp.StatusCode != http.StatusOK {
					t.Errorf("POST %s with a session = %d, reached %v; want forwarded (not a login path)", target, resp.StatusCode, e.up.count() != before)
				}
			}
		})
	}
}

// TestSecurityPathForwardAuthDecidesLikeTheGate: the forward-auth endpoint
// judges X-Original-URI (from a trusted proxy) by the same rules as the
// gate, on the whole path corpus, in every mode, with and without a
// session: a path the gate forwards anonymously is approved anonymously; a
// gated one needs a session in enforce mode (401); a path the gate refuses
// (400) is refused in every mode (403, the status nginx passes on; it used
// to be 401 in enforce mode and 200 otherwise, which approved "..;" paths
// for anyone with a session). This test asks hubgate directly; whether
// nginx asks it about every path at all (location matching) is deploy's
// TestNginxExampleWithHubgate, which sends the same corpus through nginx.
func TestSecurityPathForwardAuthDecidesLikeTheGate(t *testing.T) {
	cases := pathCorpus(t)
	for _, tc := range []pathCase{
		{"assets/app.css", refused}, {"", gated}, // no URI named: the session alone decides
		{"http://evil.example/assets/app.css", forwarded}, // the path is what nginx serves, whatever the host
	} {
		cases = append(cases, tc)
	}
	for _, mode := range []migration.Mode{migration.Passthrough, migration.Offer, migration.Enforce} {
		t.Run(string(mode), func(t *testing.T) {
			e := newEnv(t, func(c *proxy.Config) {
				c.Mode = mode
				c.PublicPaths = []string{"/assets/", "/docs"}
				c.TrustedProxies = trustLoopback()
			})
			anon, signedIn := e.browser(), e.browser()
			signedIn.login(devhub.FrankID, "/")
			for _, tc := range cases {
				for _, b := range []*browser{anon, signedIn} {
					want := http.StatusOK
					switch {
					case tc.want == refused, strings.HasPrefix(tc.target, "/_hubgate/"):
						// The gate hands "/_hubgate/../admin" to its routes
						// (a redirect), never to the upstream.
						want = http.StatusForbidden
					case tc.want == gated && mode == migration.Enforce && b == anon:
						want = http.StatusUnauthorized
					}
					resp := b.get("/_hubgate/auth", "X-Original-URI", tc.target)
					if resp.StatusCode != want {
						t.Errorf("forward-auth for X-Original-URI %q (session %v) = %d; want %d", tc.target, b == signedIn, resp.StatusCode, want)
					}
				}
			}
		})
	}
}
