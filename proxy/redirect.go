package proxy

import (
	"net/url"
	"strings"
)

// maxReturnLen bounds a return path.
const maxReturnLen = 2048

// returnTo validates a return path (rd) and returns it, or "/" when it is not
// safe. Safe means: a same-origin absolute path ("/x"), or an absolute
// http(s) URL whose host is the public host or matches allowedHosts on a dot
// boundary. Everything a browser might read as another origin is refused:
// "//x", "/\x", "\/x", schemes, userinfo, control characters and whitespace,
// non-ASCII (full-width slashes and dots, IDN look-alikes), and every
// percent-encoded (also doubly encoded) form of those. This closes the open
// redirect class (RFC 6749 §10.15, OWASP "Unvalidated Redirects").
func returnTo(rd, publicHost string, allowedHosts []string) string {
	if v, ok := validReturn(rd, publicHost, allowedHosts); ok {
		return v
	}
	return "/"
}

func validReturn(rd, publicHost string, allowedHosts []string) (string, bool) {
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
	if host == "" {
		return "", false
	}
	if host == strings.ToLower(hostOnly(publicHost)) || hostAllowed(host, allowedHosts) {
		return rd, true
	}
	return "", false
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

// hostAllowed matches host against the configured list: "example.com"
// matches exactly; ".example.com" matches example.com and any subdomain, on
// a dot boundary (so "evilexample.com" never matches).
func hostAllowed(host string, allowed []string) bool {
	for _, a := range allowed {
		a = strings.ToLower(a)
		if sub, ok := strings.CutPrefix(a, "."); ok {
			if host == sub || strings.HasSuffix(host, "."+sub) {
				return true
			}
			continue
		}
		if host == a {
			return true
		}
	}
	return false
}

func hostOnly(hostport string) string {
	if u, err := url.Parse("http://" + hostport); err == nil {
		return u.Hostname()
	}
	return hostport
}
