package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/hubgate/hubgate/migration"
)

// Identity header names (DESIGN §4), canonical form.
const (
	HeaderUser      = "X-Hubgate-User"
	HeaderPerson    = "X-Hubgate-Zaikio-Person"
	HeaderEmail     = "X-Hubgate-Email"
	HeaderName      = "X-Hubgate-Name"
	HeaderOrgs      = "X-Hubgate-Orgs"
	HeaderRoles     = "X-Hubgate-Roles"
	HeaderMode      = "X-Hubgate-Mode"
	HeaderAssertion = "X-Hubgate-Assertion"
	// HeaderAuth says how the request was authenticated: session or
	// bearer (absent without an identity).
	HeaderAuth = "X-Hubgate-Auth"
)

// identityHeaderKeys are the headers hubgate sets upstream.
var identityHeaderKeys = [...]string{HeaderUser, HeaderPerson, HeaderEmail, HeaderName, HeaderOrgs, HeaderRoles, HeaderMode, HeaderAssertion, HeaderAuth}

// stripIdentityHeaders deletes every header in the X-Hubgate- namespace, in
// any letter case and with "_" (or any other separator) for "-" (some servers
// and CGI-style upstreams treat them alike), before anything else looks at
// the request.
func stripIdentityHeaders(h http.Header) {
	for k := range h {
		if len(k) >= 10 && isHubgateName(k) {
			delete(h, k)
		}
	}
}

// isHubgateName reports whether k starts with "x-hubgate-" ignoring case,
// with any byte that is not a letter or digit in place of each "-": CGI-style
// upstreams (Rack, PHP, WSGI) read "X_Hubgate_User" and "X.Hubgate.User" as
// HTTP_X_HUBGATE_USER, the same variable as ours.
func isHubgateName(k string) bool {
	return hasNamePrefix(k, "x-hubgate-")
}

// hasNamePrefix reports whether header name k starts with p (lower case,
// "-" as separator), ignoring case and accepting any non-alphanumeric byte
// where p has a "-".
func hasNamePrefix(k, p string) bool {
	if len(k) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := k[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if p[i] == '-' {
			if isAlnum(c) {
				return false
			}
			continue
		}
		if c != p[i] {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// forwardingName reports whether k names a header by which a proxy tells the
// upstream about the original request: Forwarded (RFC 7239), the whole
// X-Forwarded-* family (For, Host, Proto, Port, Prefix, Uri, Ssl, User, …),
// X-Real-Ip, and X-Original-Url/-Uri and X-Rewrite-Url (which some frameworks
// let override the request path: a public path on our side, another route on
// theirs). Spellings with "_" or another separator count too.
func forwardingName(k string) bool {
	if len(k) < 9 {
		return false
	}
	switch k[0] {
	case 'f', 'F':
		return len(k) == 9 && hasNamePrefix(k, "forwarded")
	case 'x', 'X':
		return hasNamePrefix(k, "x-forwarded-") || hasNamePrefix(k, "x-original-") ||
			(len(k) == 9 && hasNamePrefix(k, "x-real-ip")) || (len(k) == 13 && hasNamePrefix(k, "x-rewrite-url"))
	}
	return false
}

// dropForwarding deletes client-supplied forwarding headers from an
// upstream request. httputil.ReverseProxy (with Rewrite) removes only
// X-Forwarded-For, -Host and -Proto; every other member of the family would
// reach the upstream as the client wrote it. From a trusted proxy the
// canonical spellings are kept (they are its statements); spellings with
// "_" never come from a well-behaved proxy and are always dropped.
func dropForwarding(h http.Header, trusted bool) {
	for k := range h {
		if !forwardingName(k) {
			continue
		}
		if trusted && strings.IndexByte(k, '_') < 0 && strings.IndexByte(k, '.') < 0 {
			continue
		}
		delete(h, k)
	}
}

// setIdentityHeaders writes who's identity (none: only the mode), how it
// was authenticated, and the mode into h. The values are prepared slices
// shared by every request of the session (or bearer token).
func setIdentityHeaders(h http.Header, who principal, mode migration.Mode) {
	h[HeaderMode] = modeHeaders[mode]
	hv := who.hv
	if hv == nil {
		return
	}
	h[HeaderAuth] = who.auth
	set := func(k string, v []string) {
		if v != nil {
			h[k] = v
		}
	}
	set(HeaderUser, hv.User)
	set(HeaderPerson, hv.Person)
	set(HeaderEmail, hv.Email)
	set(HeaderName, hv.Name)
	set(HeaderOrgs, hv.Orgs)
	set(HeaderRoles, hv.Roles)
}

// newReverseProxy builds the forwarder: Rewrite (never Director, so that
// hop-by-hop and client X-Forwarded-* headers are dropped before our code
// runs), a pooled transport and buffer pool, and the error funnel.
func (s *Server) newReverseProxy() *httputil.ReverseProxy {
	tr := s.cfg.Transport
	if tr == nil {
		tr = newTransport(s.cfg.UpstreamTimeout)
	}
	return &httputil.ReverseProxy{
		Rewrite:        s.rewrite,
		Transport:      tr,
		BufferPool:     bufferPool{},
		ErrorHandler:   s.upstreamError,
		ModifyResponse: s.switched,
	}
}

// newTransport is tuned for one busy upstream: idle keep-alive connections
// kept up to the bound (Go's default keeps 2 per host, so most requests would
// dial; concurrency is bounded before forwarding, see forward in slots.go),
// bounded dial and header waits, and no transparent gzip (the client's
// Accept-Encoding is passed through untouched).
func newTransport(headerTimeout time.Duration) *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          2048,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: headerTimeout,
		ExpectContinueTimeout: time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		DisableCompression:    true,
	}
}

func (s *Server) rewrite(pr *httputil.ProxyRequest) {
	out, in := pr.Out, pr.In
	out.URL.Scheme = s.upstream.Scheme
	out.URL.Host = s.upstream.Host
	if s.upstream.Path != "" && s.upstream.Path != "/" {
		out.URL.Path = strings.TrimSuffix(s.upstream.Path, "/") + out.URL.Path
		out.URL.RawPath = ""
	}
	// The Host header is never the client's: a legacy app that builds
	// links from it (password reset mails, redirects) would otherwise
	// send people to a host of the client's choosing.
	out.Host = s.upstreamHost()

	// Forwarding headers: ReverseProxy removed the client's X-Forwarded-For,
	// -Host and -Proto before Rewrite, dropForwarding removes the rest of the
	// family; we believe them only from trusted proxies.
	ip := remoteIP(in)
	trusted := s.trusted(ip)
	dropForwarding(out.Header, trusted)
	if trusted {
		if prior := in.Header["X-Forwarded-For"]; len(prior) > 0 {
			out.Header["X-Forwarded-For"] = []string{strings.Join(prior, ", ") + ", " + ip}
		} else {
			out.Header["X-Forwarded-For"] = []string{ip}
		}
		copyHeader(out.Header, in.Header, "X-Forwarded-Proto")
		copyHeader(out.Header, in.Header, "X-Forwarded-Host")
	} else {
		out.Header["X-Forwarded-For"] = []string{ip}
	}
	if out.Header["X-Forwarded-Proto"] == nil {
		if in.TLS != nil {
			out.Header["X-Forwarded-Proto"] = protoHTTPS
		} else {
			out.Header["X-Forwarded-Proto"] = protoHTTP
		}
	}
	if out.Header["X-Forwarded-Host"] == nil {
		// The public host, never the client's Host: a trusted proxy's
		// statement (above) is the only other source.
		out.Header["X-Forwarded-Host"] = []string{s.public.Host}
	}
	// Trailers of a streamed (chunked) body are announced to the upstream
	// under the client's names: none of them may be an identity header.
	if out.Trailer != nil {
		stripIdentityHeaders(out.Trailer)
	}
	// Identity headers were set on the incoming request by the gate after
	// stripping; copy them again so that a client's "Connection: X-Hubgate-…"
	// cannot make the hop-by-hop pass drop ours.
	for _, k := range identityHeaderKeys {
		if v := in.Header[k]; v != nil {
			out.Header[k] = v
		}
	}
	if v := in.Header["X-Request-Id"]; v != nil {
		out.Header["X-Request-Id"] = v
	}
	s.stripOwnCookies(out.Header)
	s.scrubReferer(out.Header)
}

// upstreamHost is the Host header of upstream requests (Config.UpstreamHost):
// the public host (with its port, as browsers send it) by default, or the
// upstream's own.
func (s *Server) upstreamHost() string {
	if s.cfg.UpstreamHost == UpstreamHostUpstream {
		return s.upstream.Host
	}
	return s.public.Host
}

// scrubReferer keeps hubgate's own URLs out of the upstream: a request that
// follows a link on one of our pages (the claim page's "Cancel") carries
// that page's URL as Referer — for the claim page, the claim token. The
// pages send Referrer-Policy: same-origin (no-referrer would make browsers
// send "Origin: null" with our own forms), so the upstream gets the public
// origin instead: still same-origin for CSRF checks that read Referer.
func (s *Server) scrubReferer(h http.Header) {
	refs := h["Referer"]
	for _, ref := range refs {
		if indexFold(ref, "/_hubgate") >= 0 {
			h["Referer"] = s.originReferer
			return
		}
	}
}

// indexFold is strings.Index, ASCII case-insensitively for the lower-case
// needle, without allocating.
func indexFold(s, lower string) int {
	for i := 0; i+len(lower) <= len(s); i++ {
		j := 0
		for ; j < len(lower); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lower[j] {
				break
			}
		}
		if j == len(lower) {
			return i
		}
	}
	return -1
}

var (
	protoHTTP  = []string{"http"}
	protoHTTPS = []string{"https"}
)

func copyHeader(dst, src http.Header, k string) {
	if v := src[k]; v != nil {
		dst[k] = v
	}
}

// trusted reports whether ip is in the configured trusted proxy list.
func (s *Server) trusted(ip string) bool {
	if len(s.cfg.TrustedProxies) == 0 {
		return false
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// stripOwnCookies removes hubgate's cookies (session, flow, offer) from the
// upstream request: the legacy app has no business with them.
func (s *Server) stripOwnCookies(h http.Header) {
	lines := h["Cookie"]
	if len(lines) == 0 {
		return
	}
	found := false
	for _, l := range lines {
		if strings.Contains(l, "hubgate") {
			found = true
			break
		}
	}
	if !found {
		return
	}
	var b strings.Builder
	for _, l := range lines {
		for len(l) > 0 {
			var part string
			part, l, _ = strings.Cut(l, ";")
			part = strings.TrimSpace(part)
			if part == "" || s.ownCookie(part) {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(part)
		}
	}
	if b.Len() == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = []string{b.String()}
}

func (s *Server) ownCookie(part string) bool {
	name, _, _ := strings.Cut(part, "=")
	name = strings.TrimPrefix(name, "__Host-")
	return name == "hubgate" || strings.HasPrefix(name, "hubgate_")
}

// upstreamError is the ReverseProxy's error funnel: 504 for timeouts, 502
// for everything else, as safe pages.
func (s *Server) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away; nobody reads an answer.
		w.WriteHeader(499)
		return
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		s.fail(w, r, &pageError{status: http.StatusGatewayTimeout, key: "upstream_timeout", err: err})
		return
	}
	s.fail(w, r, &pageError{status: http.StatusBadGateway, key: "upstream_down", err: err})
}

// bufferPool recycles the 32 KiB copy buffers of the reverse proxy.
type bufferPool struct{}

const bufSize = 32 << 10

var buffers = sync.Pool{New: func() any { return new([bufSize]byte) }}

func (bufferPool) Get() []byte { return buffers.Get().(*[bufSize]byte)[:] }

func (bufferPool) Put(b []byte) {
	if cap(b) == bufSize {
		buffers.Put((*[bufSize]byte)(b[:bufSize]))
	}
}
