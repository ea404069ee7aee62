package proxy_test

// The security regression suite. Every auth proxy before hubgate shipped the
// same bugs; each test here is named after the class it proves absent and
// runs against the real handler on real listeners (env_test.go):
//
//	security_redirect_test.go  open redirects through rd (corpus in testdata/open-redirects.txt)
//	security_path_test.go      public paths and the gate decide on the path that is forwarded
//	security_header_test.go    identity-header smuggling, own cookies, X-Forwarded-* trust
//	security_flow_test.go      state, PKCE, session rotation, logout, cookie bounds, probes
//	security_claim_test.go     no linking by email, claim-token strength and single use
//	security_surface_test.go   internal surfaces stay internal, reflected values are escaped
//
// faults_test.go and fuzz_test.go complete it; testdata/SECURITY.md says how
// to run everything.

import (
	"bufio"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// loadCorpus reads a payload file of testdata (see the header of
// testdata/open-redirects.txt for the format) and substitutes the
// placeholders in repl.
func loadCorpus(t *testing.T, name string, repl map[string]string) []string {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, line := range strings.Split(string(raw), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := line
		if strings.HasPrefix(line, `"`) {
			if p, err = strconv.Unquote(line); err != nil {
				t.Fatalf("%s:%d: %v", name, i+1, err)
			}
		}
		for k, v := range repl {
			p = strings.ReplaceAll(p, k, v)
		}
		out = append(out, p)
	}
	return out
}

var schemeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*):/*`)

// browserURL resolves a Location value against base the way a browser
// would, as far as it decides where the browser goes (WHATWG URL parsing):
// leading and trailing C0 controls and spaces are stripped, tabs and
// newlines are removed anywhere, "\" counts as "/", and a special scheme
// followed by any number of slashes introduces an authority. It errs on the
// side of "another host" wherever browsers differ.
func browserURL(base *url.URL, loc string) (*url.URL, error) {
	loc = strings.TrimFunc(loc, func(r rune) bool { return r <= 0x20 })
	loc = strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(loc)
	if m := schemeRE.FindStringSubmatch(loc); m != nil {
		switch scheme := strings.ToLower(m[1]); scheme {
		case "http", "https", "ws", "wss", "ftp", "file":
			loc = scheme + "://" + loc[len(m[0]):]
		}
	}
	ref, err := url.Parse(loc)
	if err != nil {
		return nil, err
	}
	return base.ResolveReference(ref), nil
}

// originCheck decides whether a URL stays where hubgate may send browsers:
// the public origin, or an allowed redirect host.
type originCheck struct {
	public  *url.URL
	allowed []string // as in proxy.Config.AllowedRedirectHosts
}

func (e *env) origin(allowed ...string) originCheck {
	return originCheck{public: mustURL(e.srv.URL), allowed: allowed}
}

// why returns "" when loc (a Location header or a link in a page) keeps the
// browser on our origin or an allowed host, else what is wrong with it.
func (o originCheck) why(loc string) string {
	for i := 0; i < len(loc); i++ {
		if c := loc[i]; c < 0x20 || c == 0x7f {
			return fmt.Sprintf("holds control character %#x", c)
		}
	}
	u, err := browserURL(o.public, loc)
	if err != nil {
		return "does not parse: " + err.Error()
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "scheme " + u.Scheme
	}
	if u.User != nil {
		return "carries userinfo"
	}
	// An origin is scheme, host and port (RFC 6454): the same host on
	// another port or scheme is another origin. (This check once compared
	// the Host header form only, scheme ignored, so https://{public}/
	// passed for an http public URL.)
	h, port := strings.ToLower(u.Hostname()), originPort(u)
	if u.Scheme == o.public.Scheme && h == strings.ToLower(o.public.Hostname()) && port == originPort(o.public) && port != "" {
		return ""
	}
	// Allowed hosts: https (http only when the public URL is http), on the
	// entry's port or, without one, the scheme's default port.
	if u.Scheme == "https" || o.public.Scheme == "http" {
		for _, a := range o.allowed {
			a = strings.ToLower(a)
			ap := defaultPort(u.Scheme)
			if i := strings.LastIndexByte(a, ':'); i >= 0 {
				a, ap = a[:i], a[i+1:]
			}
			if port != ap || port == "" {
				continue
			}
			if sub, ok := strings.CutPrefix(a, "."); ok {
				if h == sub || strings.HasSuffix(h, "."+sub) {
					return ""
				}
			} else if h == a {
				return ""
			}
		}
	}
	return "leaves the origin for " + u.Scheme + "://" + u.Host
}

// originPort is u's port the way a browser reads it: decimal, leading zeros
// allowed, the scheme's default when none is given; "" when a browser would
// not accept it.
func originPort(u *url.URL) string {
	p := u.Port()
	if p == "" {
		return defaultPort(u.Scheme)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 || strings.HasPrefix(p, "+") {
		return ""
	}
	return strconv.Itoa(n)
}

func defaultPort(scheme string) string {
	switch scheme {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

var linkRE = regexp.MustCompile(`(?i)\s(?:href|action|src|formaction)="([^"]*)"`)

// pageLinks returns every href, action and src of an HTML page, unescaped.
func pageLinks(body string) []string {
	var out []string
	for _, m := range linkRE.FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// rawResponse sends raw bytes to addr as one HTTP/1.1 request and reads
// the answer: for request targets and header spellings that http.Client
// would normalise.
func rawResponse(t *testing.T, addr, raw string) *http.Response {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response to %q: %v", raw, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// trustLoopback trusts the test clients as proxies.
func trustLoopback() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// addr is the public listener's host:port.
func (e *env) addr() string { return e.srv.Listener.Addr().String() }
