package proxy

import (
	"net/url"
	"strings"
	"testing"
)

// TestReturnToOrigins: the return-path validator keeps an absolute URL only
// on the public origin (scheme, host, port; a default port written or not)
// or on an allowed host's port, for public URLs with and without a port.
func TestReturnToOrigins(t *testing.T) {
	allowed := []string{".partner.example", "ported.example:8443"}
	for _, tc := range []struct {
		public string
		rd     string
		kept   bool
	}{
		{"https://app.example.com", "https://app.example.com/x", true},
		{"https://app.example.com", "https://app.example.com:443/x", true},
		{"https://app.example.com", "https://APP.example.com/x", true},
		{"https://app.example.com", "https://app.example.com:/x", true},
		{"https://app.example.com", "https://app.example.com:9999/x", false},
		{"https://app.example.com", "https://app.example.com:0443/x", false},
		{"https://app.example.com", "http://app.example.com/", false},
		{"https://app.example.com", "http://app.example.com:443/", false},
		{"https://app.example.com", "https://app.example.com:80/", false},
		{"https://app.example.com:443", "https://app.example.com/x", true},
		{"https://app.example.com:8443", "https://app.example.com/x", false},
		{"https://app.example.com:8443", "https://app.example.com:8443/x", true},
		{"http://app.example.com", "http://app.example.com/x", true},
		{"http://app.example.com", "http://app.example.com:80/x", true},
		{"http://app.example.com", "https://app.example.com/x", false},
		{"http://app.example.com:8080", "http://app.example.com/x", false},
		{"https://app.example.com", "https://a.partner.example/", true},
		{"https://app.example.com", "https://a.partner.example:443/", true},
		{"https://app.example.com", "https://a.partner.example:8443/", false},
		{"https://app.example.com", "http://a.partner.example/", false},
		{"http://app.example.com", "http://a.partner.example/", true},
		{"http://app.example.com", "http://a.partner.example:443/", false},
		{"https://app.example.com", "https://ported.example:8443/", true},
		{"https://app.example.com", "https://ported.example/", false},
		{"https://app.example.com", "https://ported.example:65536/", false},
	} {
		pub, _ := url.Parse(tc.public)
		got := returnTo(tc.rd, pub, allowed)
		if tc.kept && got != tc.rd {
			t.Errorf("returnTo(%q) with public %s = %q; want it kept", tc.rd, tc.public, got)
		}
		if !tc.kept && got != "/" {
			t.Errorf("returnTo(%q) with public %s = %q; want /", tc.rd, tc.public, got)
		}
	}
}

func TestAllowedRedirectHostsValidated(t *testing.T) {
	for _, ok := range []string{"example.com", ".example.com", "example.com:8443", ".example.com:1", "[::1]:8443", "EXAMPLE.com"} {
		if err := validRedirectHosts([]string{ok}); err != nil {
			t.Errorf("validRedirectHosts(%q) = %v; want ok", ok, err)
		}
	}
	for _, bad := range []string{"", "https://example.com", "example.com/x", "example.com:", "example.com:0", "example.com:65536",
		"example.com:08443", "user@example.com", "exa mple.com", "example.com?x", ":8443"} {
		err := validRedirectHosts([]string{bad})
		if err == nil || !strings.Contains(err.Error(), "allowed redirect host") {
			t.Errorf("validRedirectHosts(%q) = %v; want an error naming the entry", bad, err)
		}
	}
}
