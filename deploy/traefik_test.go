package deploy

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// traefikConfig is the subset of Traefik's dynamic configuration the
// example uses (decoded strictly: a misspelt option fails).
type traefikConfig struct {
	HTTP struct {
		Routers map[string]struct {
			Rule        string   `yaml:"rule"`
			Priority    int      `yaml:"priority"`
			EntryPoints []string `yaml:"entryPoints"`
			Middlewares []string `yaml:"middlewares"`
			Service     string   `yaml:"service"`
			TLS         *struct {
				CertResolver string `yaml:"certResolver"`
			} `yaml:"tls"`
		} `yaml:"routers"`
		Middlewares map[string]struct {
			ForwardAuth *struct {
				Address                  string   `yaml:"address"`
				TrustForwardHeader       *bool    `yaml:"trustForwardHeader"`
				AuthResponseHeaders      []string `yaml:"authResponseHeaders"`
				AuthResponseHeadersRegex string   `yaml:"authResponseHeadersRegex"`
				AuthRequestHeaders       []string `yaml:"authRequestHeaders"`
				AddAuthCookiesToResponse []string `yaml:"addAuthCookiesToResponse"`
			} `yaml:"forwardAuth"`
			Errors *struct {
				Status         []string       `yaml:"status"`
				StatusRewrites map[string]int `yaml:"statusRewrites"`
				Service        string         `yaml:"service"`
				Query          string         `yaml:"query"`
			} `yaml:"errors"`
		} `yaml:"middlewares"`
		Services map[string]struct {
			LoadBalancer struct {
				Servers []struct {
					URL string `yaml:"url"`
				} `yaml:"servers"`
			} `yaml:"loadBalancer"`
		} `yaml:"services"`
	} `yaml:"http"`
}

// The Traefik example: forward auth that copies exactly hubgate's identity
// headers after stripping every client spelling, no trust in client
// X-Forwarded-*, the sign-in redirect, and consistent names.
func TestTraefikExample(t *testing.T) {
	path := filepath.Join(repoRoot(t), "deploy", "traefik", "hubgate.yml")
	docs := yamlDocs(t, path)
	if len(docs) != 1 {
		t.Fatalf("%d documents", len(docs))
	}
	var c traefikConfig
	if err := decodeStrict(docs[0], &c); err != nil {
		t.Fatalf("%s: %v", rel(t, path), err)
	}
	h := c.HTTP
	var fa, login string
	for name, m := range h.Middlewares {
		if m.ForwardAuth != nil {
			fa = name
		}
		if m.Errors != nil {
			login = name
		}
	}
	if fa == "" || login == "" {
		t.Fatalf("want a forwardAuth and an errors middleware")
	}
	f := h.Middlewares[fa].ForwardAuth
	if !strings.HasSuffix(f.Address, "/_hubgate/auth") {
		t.Errorf("forwardAuth address %q: want …/_hubgate/auth", f.Address)
	}
	if f.TrustForwardHeader == nil || *f.TrustForwardHeader {
		t.Errorf("forwardAuth trustForwardHeader: want false, stated")
	}
	if !slices.Contains(f.AuthRequestHeaders, "Cookie") {
		t.Errorf("authRequestHeaders %q: hubgate needs the Cookie header", f.AuthRequestHeaders)
	}
	for _, h := range f.AuthRequestHeaders {
		if l := strings.ToLower(h); strings.HasPrefix(l, "x-original-") || strings.HasPrefix(l, "x-forwarded-") || strings.HasPrefix(l, "x-hubgate-") {
			t.Errorf("authRequestHeaders passes the client's %s: hubgate would believe a spoofed original request", h)
		}
	}
	if len(f.AuthRequestHeaders) == 0 {
		t.Errorf("authRequestHeaders unset: Traefik forwards every client header, X-Original-URI included")
	}
	want := identityHeaders(t)
	if !slices.Equal(f.AuthResponseHeaders, want) {
		t.Errorf("authResponseHeaders = %q; want %q", f.AuthResponseHeaders, want)
	}
	re, err := regexp.Compile(f.AuthResponseHeadersRegex)
	if err != nil {
		t.Fatalf("authResponseHeadersRegex: %v", err) // Traefik uses Go's regexp too
	}
	for _, name := range append(want, "x-hubgate-user", "X_hubgate_user", "X-HUBGATE-EXTRA") {
		if !re.MatchString(name) {
			t.Errorf("authResponseHeadersRegex does not match %q: a client could send it", name)
		}
	}
	for _, name := range []string{"X-Hubgatex", "X-Forwarded-For", "Cookie"} {
		if re.MatchString(name) {
			t.Errorf("authResponseHeadersRegex matches %q", name)
		}
	}
	if !slices.Contains(f.AddAuthCookiesToResponse, "__Host-hubgate") {
		t.Errorf("addAuthCookiesToResponse: want __Host-hubgate (renewed sessions)")
	}
	e := h.Middlewares[login].Errors
	if !slices.Equal(e.Status, []string{"401"}) || e.StatusRewrites["401"] != 302 || e.Query != "/_hubgate/login?rd={url}" {
		t.Errorf("errors middleware: want status 401 → 302 to /_hubgate/login?rd={url}; got %+v", *e)
	}
	for name, r := range h.Routers {
		if _, ok := h.Services[r.Service]; !ok {
			t.Errorf("router %s: service %q undefined", name, r.Service)
		}
		for _, m := range r.Middlewares {
			if _, ok := h.Middlewares[m]; !ok {
				t.Errorf("router %s: middleware %q undefined", name, m)
			}
		}
		switch {
		case strings.Contains(r.Rule, "PathPrefix(`/_hubgate/`)"):
			if len(r.Middlewares) > 0 {
				t.Errorf("router %s: hubgate's own routes need no forward auth", name)
			}
			if r.Priority <= 100 {
				t.Errorf("router %s: priority %d must beat the legacy router", name, r.Priority)
			}
			checkOwnPathRegexp(t, name, r.Rule)
		default:
			if !slices.Equal(r.Middlewares, []string{login, fa}) {
				t.Errorf("router %s middlewares %q: want [%s %s] (errors outside forwardAuth)", name, r.Middlewares, login, fa)
			}
		}
	}
	if e.Service == "" || !strings.Contains(h.Services[e.Service].LoadBalancer.Servers[0].URL, strings.TrimSuffix(strings.TrimSuffix(f.Address, "/_hubgate/auth"), "/")) {
		t.Errorf("the errors middleware's service must be hubgate (%q)", e.Service)
	}
}

// checkOwnPathRegexp: the hubgate router takes every letter-case and
// ";params" spelling of /_hubgate (Traefik matches PathPrefix case-
// sensitively, so "/_Hubgate/claim/<token>" would otherwise go to the app
// through forward auth, which hubgate refuses with 403), and nothing of the
// app's. Traefik matches on the decoded, sanitized path and uses Go's
// regexp, so the paths below are what it would see.
func checkOwnPathRegexp(t *testing.T, router, rule string) {
	t.Helper()
	m := regexp.MustCompile("PathRegexp\\(`([^`]*)`\\)").FindStringSubmatch(rule)
	if m == nil {
		t.Errorf("router %s: want a PathRegexp for the other spellings of /_hubgate (PathPrefix is case-sensitive)", router)
		return
	}
	re, err := regexp.Compile(m[1])
	if err != nil {
		t.Fatalf("router %s: PathRegexp: %v", router, err)
	}
	for _, p := range []string{"/_hubgate/login", "/_hubgate", "/_Hubgate/claim/t0ken", "/_HUBGATE", "/_HUBGATE/", "/_hubGate/auth",
		"/_hubgate;x/claim/t0ken", "/_Hubgate;jsessionid=1/claim/t0ken", "/_hubgate\\claim\\t0ken"} {
		if !re.MatchString(p) {
			t.Errorf("router %s: %s goes to the app", router, p)
		}
	}
	for _, p := range []string{"/_hubgatex", "/x/_hubgate/", "/assets/_hubgate", "/hubgate", "/"} {
		if re.MatchString(p) {
			t.Errorf("router %s: takes the app's %s", router, p)
		}
	}
}
