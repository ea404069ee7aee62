package proxy

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// maxReturnLen bounds a return path.
const maxReturnLen = 2048

// returnTo validates a return path (rd) and returns it, or "/" when it is not
// safe. Safe means: a same-origin absolute path ("/x"), or an absolute
// http(s) URL of the public origin — the same scheme, host and port (RFC
// 6454 §4; a default port may be written or left out) — or of an allowed
// host (see allowedReturn). Everything a browser might read as another
// origin is refused: "//x", "/\x", "\/x", schemes, userinfo, control
// characters and whitespace, non-ASCII (full-width slashes and dots, IDN
// look-alikes), ports in any but their plain decimal form, and every
// percent-encoded (also doubly encoded) form of those. This closes the open
// redirect class (RFC 6749 §10.15, OWASP "Unvalidated Redirects"): another
// port or scheme of our own host is another origin, possibly another
// server.
func returnTo(rd string, public *url.URL, allowedHosts []string) string {
	if v, ok := validReturn(rd, public, allowedHosts); ok {
		return v
	}
	return "/"
}

func validReturn(rd string, public *url.URL, allowedHosts []string) (string, bool) {
	if rd == "" || len(rd) > maxReturnLen {
		return "", false
	}
	// Check the raw form and every percent-decoded layer (up to 3, enough
	// for double and triple encoding; a fourth layer is refused outright).
	layer := rd
	for i := 0; ; i++ {
		if !plainASCII(layer) {
			return "", false
		}
		if strings.HasPrefix(layer, "//") || strings.HasPrefix(layer, "/\\") {
			return "", false
		}
		if !strings.Contains(layer, "%") {
			break
		}
		if i == 3 {
			return "", false
		}
		dec, err := url.PathUnescape(layer)
		if err != nil {
			return "", false
		}
		if dec == layer {
			break
		}
		layer = dec
	}
	u, err := url.Parse(rd)
	if err != nil || u.User != nil || u.Opaque != "" {
		return "", false
	}
	if u.Scheme == "" && u.Host == "" {
		// A same-origin path: it must be rooted.
		if !strings.HasPrefix(rd, "/") {
			return "", false
		}
		return rd, true
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", false
	}
	// Only the exact lower-case scheme form, so that "HTTPS:" tricks and
	// odd parses do not pass.
	if !strings.HasPrefix(rd, u.Scheme+"://") {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	port, ok := portOf(u)
	if host == "" || !ok {
		return "", false
	}
	if publicPort, _ := portOf(public); u.Scheme == public.Scheme && host == strings.ToLower(public.Hostname()) && port == publicPort {
		return rd, true
	}
	if allowedReturn(u.Scheme, host, port, public.Scheme, allowedHosts) {
		return rd, true
	}
	return "", false
}

// portOf is u's port as a number, the scheme's default when none is written
// (or the authority ends in ":", which browsers read the same way). A port
// in any other form than plain decimal without leading zeros, or out of
// range, is not ok: browsers and Go's parser disagree on those.
func portOf(u *url.URL) (int, bool) {
	p := u.Port()
	if p == "" {
		switch u.Scheme {
		case "https":
			return 443, true
		case "http":
			return 80, true
		}
		return 0, false
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != p {
		return 0, false
	}
	return n, true
}

// allowedReturn matches an absolute return URL's scheme, host and port
// against the configured list. "example.com" matches exactly;
// ".example.com" matches example.com and any subdomain, on a dot boundary
// (so "evilexample.com" never matches). An entry with ":port" allows that
// port only; one without allows only the scheme's default port. The scheme
// is https, or http only when the public URL is http: a return never
// downgrades the browser to plain text.
func allowedReturn(scheme, host string, port int, publicScheme string, allowed []string) bool {
	if scheme != "https" && (scheme != "http" || publicScheme != "http") {
		return false
	}
	def := 443
	if scheme == "http" {
		def = 80
	}
	for _, a := range allowed {
		h, p, err := splitAllowed(a)
		if err != nil {
			continue
		}
		if p == 0 {
			p = def
		}
		if p == port && hostAllowed(host, h) {
			return true
		}
	}
	return false
}

// hostAllowed matches host against one allowed-host pattern (no port).
func hostAllowed(host, pattern string) bool {
	if sub, ok := strings.CutPrefix(pattern, "."); ok {
		return host == sub || strings.HasSuffix(host, "."+sub)
	}
	return host == pattern
}

// splitAllowed splits an allowed redirect host entry into its lower-case
// host pattern and its port (0: none given).
func splitAllowed(entry string) (string, int, error) {
	u, err := url.Parse("https://" + entry)
	if err != nil || entry == "" || u.Host != entry || u.User != nil || u.Hostname() == "" || !plainASCII(entry) {
		return "", 0, fmt.Errorf("proxy: allowed redirect host %q: want host, .domain or either with :port", entry)
	}
	if u.Port() == "" {
		if strings.HasSuffix(entry, ":") {
			return "", 0, fmt.Errorf("proxy: allowed redirect host %q: empty port", entry)
		}
		return strings.ToLower(u.Hostname()), 0, nil
	}
	n, ok := portOf(u)
	if !ok {
		return "", 0, fmt.Errorf("proxy: allowed redirect host %q: port: want 1 to 65535", entry)
	}
	return strings.ToLower(u.Hostname()), n, nil
}

// validRedirectHosts checks the configured allowed redirect hosts.
func validRedirectHosts(entries []string) error {
	for _, e := range entries {
		if _, _, err := splitAllowed(e); err != nil {
			return err
		}
	}
	return nil
}

// plainASCII reports whether s holds only printable ASCII without spaces and
// backslashes. Browsers strip tabs and newlines from URLs and treat "\" as
// "/", so both are refused rather than normalised.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}
