package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestPrefersJSON: what the Accept headers of browsers, libraries and
// API clients say about JSON over HTML.
func TestPrefersJSON(t *testing.T) {
	for _, tc := range []struct {
		accept string
		want   bool
	}{
		{"", false},
		{"*/*", false}, // curl, fetch() without an Accept
		{"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8", false}, // Chrome, Firefox navigations
		{"application/json", true},
		{"application/json, text/plain, */*", true},                             // axios
		{"application/json, text/javascript, */*; q=0.01", true},                // jQuery dataType json
		{"application/vnd.api+json", true},                                      // JSON:API
		{"application/problem+json, text/html;q=0.9", true},                     // problem details first
		{"text/html, application/json", false},                                  // both named at q=1: HTML wins ties
		{"application/json;q=0.5, text/html", false},                            // HTML ranked higher
		{"application/json;q=0, */*", false},                                    // JSON refused
		{"text/*, application/json;q=0.9", false},                               // HTML by text/* at 1
		{"APPLICATION/JSON", true},                                              // media types are case-insensitive
		{"application/json;q=abc", false},                                       // a q that does not parse is 0
		{"application/jsonx", false},                                            // not JSON
		{"application/*;q=0.9, text/html;q=0.5", true},                          // JSON by application/*
		{"text/html;level=1;q=0.2, application/json;charset=utf-8;q=0.4", true}, // parameters before q
		{"text/plain", false},                                                   // neither
		{"application/xhtml+xml, application/json;q=0.9", false},                // XHTML is HTML
		{"application/json, application/xml;q=0.9, */*;q=0.8", true},            // Spring's RestTemplate
		{"text/html;q=0.1, application/json;q=0.1, application/ld+json", true},  // the most specific match ranks
		{"text/html, application/json;q=1.0", false},                            // tie again
		{"application/json;q=1.5", false},                                       // out of range: 0
		{"application/json, text/html;q=0", true},                               // HTML refused
	} {
		if got := prefersJSON([]string{tc.accept}); got != tc.want {
			t.Errorf("prefersJSON(%q) = %v; want %v", tc.accept, got, tc.want)
		}
	}
}

// TestHoldsRole: "<org>:<role>" entries, for some organization.
func TestHoldsRole(t *testing.T) {
	for _, tc := range []struct {
		roles string
		want  []string
		ok    bool
	}{
		{"100:admin,200:user", []string{"admin"}, true},
		{"100:admin,200:user", []string{"user"}, true},
		{"100:admin,200:user", []string{"owner", "user"}, true},
		{"100:admin,200:user", []string{"adm"}, false},
		{"100:admin,200:user", []string{"100:admin"}, false},
		{"", []string{"admin"}, false},
		{"admin", []string{"admin"}, false}, // not an entry
		{"100:superadmin", []string{"admin"}, false},
	} {
		if got := holdsRole(tc.roles, tc.want); got != tc.ok {
			t.Errorf("holdsRole(%q, %q) = %v; want %v", tc.roles, tc.want, got, tc.ok)
		}
	}
}

// TestRuleMatchingDoesNotAllocate: the route rules cost no allocation on
// the request path for a clean path.
func TestRuleMatchingDoesNotAllocate(t *testing.T) {
	rs := compileRules([]Route{
		{Path: "/api/v1/", Auth: AuthLegacy},
		{Methods: []string{"GET"}, Path: "/status", Auth: AuthPublic},
		{Path: "/admin/", Roles: []string{"admin"}},
		{Methods: []string{"DELETE"}, Path: "/orders/", Roles: []string{"admin"}},
	}, []string{"/assets/"}, mustRouteMetrics(t))
	r := httptest.NewRequest(http.MethodGet, "/reports/2026/q1", nil)
	if n := testing.AllocsPerRun(100, func() {
		if rs.match(r, r.URL, r.URL.Path, r.Method) != nil {
			t.Fatal("a rule matched /reports/2026/q1")
		}
	}); n != 0 {
		t.Errorf("matching a clean path against the rules allocates %v times; want 0", n)
	}
}

func mustRouteMetrics(t *testing.T) *routeMetrics {
	t.Helper()
	m, err := newRouteMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
