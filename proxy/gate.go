package proxy

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/hubgate/hubgate/migration"
)

// modeHeaders are the X-Hubgate-Mode values, allocated once.
var modeHeaders = map[migration.Mode][]string{
	migration.Passthrough: {string(migration.Passthrough)},
	migration.Offer:       {string(migration.Offer)},
	migration.Enforce:     {string(migration.Enforce)},
}

// offerSkipCookie remembers "continue to the old login" for a browser.
const offerSkipCookie = "hubgate_offer_skip"

// serveUpstream applies the gate of the current mode to a request for the
// legacy app and forwards what passes.
func (s *Server) serveUpstream(w http.ResponseWriter, r *http.Request) {
	p, ok := normalizePath(r)
	if !ok {
		s.fail(w, r, &pageError{status: http.StatusBadRequest, key: "bad_path", err: fmt.Errorf("path %q does not normalize", r.URL.EscapedPath())})
		return
	}
	id := s.sessions.Authenticate(w, r)
	mode := s.Mode()
	pol := s.policy()
	login := matchPath(p, pol.LoginPaths)
	if login {
		s.metrics.legacyLogin(mode, r.Method)
	}
	switch mode {
	case migration.Offer:
		if login && (r.Method == http.MethodGet || r.Method == http.MethodHead) && cookieValue(r, s.cookiePrefix+offerSkipCookie) == "" && id == nil {
			s.offerPage(w, r)
			return
		}
	case migration.Enforce:
		if login {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				s.redirectToLogin(w, r, "/")
				return
			}
			s.fail(w, r, &pageError{status: http.StatusForbidden, key: "legacy_closed", data: s.claimHints(), err: fmt.Errorf("legacy login %s %s closed in enforce mode", r.Method, p)})
			return
		}
		if id == nil && !publicPath(r.URL, p, pol.PublicPaths) {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				s.redirectToLogin(w, r, r.URL.RequestURI())
				return
			}
			s.fail(w, r, &pageError{status: http.StatusUnauthorized, key: "signin_required", err: fmt.Errorf("no session for %s %s in enforce mode", r.Method, p)})
			return
		}
	}
	setIdentityHeaders(r.Header, id, mode)
	if id != nil && s.cfg.Assertion {
		if a := s.assertions.Header(id, string(mode)); a != nil {
			r.Header[HeaderAssertion] = a
		}
	}
	// Upgrades (WebSocket) live for long: they take no slot and their
	// streams are not guarded.
	if isUpgrade(r) {
		forwarding(w, false)
		s.proxy.ServeHTTP(w, r)
		return
	}
	if !s.guardBody(w, r) {
		return
	}
	// Wait for an upstream slot before the reverse proxy clones the
	// request: a waiting request then holds a shallow stack and no copy.
	if !s.takeSlot(w, r) {
		return
	}
	defer s.releaseSlot()
	s.forwardGuarded(w, r)
}

// forwardAuth is the forward-auth endpoint for nginx auth_request and
// Traefik forwardAuth: GET /_hubgate/auth. It decides like the gate, from
// the original request (X-Original-URI / X-Forwarded-Uri and
// X-Original-Method / X-Forwarded-Method, believed from trusted_proxies
// only): 200 with the identity headers when the request may pass; in
// enforce mode 401 without a session (unless the path is public), and for
// the legacy login paths 401 for GET/HEAD (the proxy sends the browser to
// sign in) and 403 for other methods (the legacy login is closed), session
// or not.
func (s *Server) forwardAuth() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := s.sessions.Authenticate(w, r)
		mode := s.Mode()
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		if mode == migration.Enforce {
			pol := s.policy()
			method, u, p, ok := s.original(r)
			login := ok && matchPath(p, pol.LoginPaths)
			if login {
				s.metrics.legacyLogin(mode, method)
			}
			switch {
			case login && method != http.MethodGet && method != http.MethodHead:
				s.authDenied(w, http.StatusForbidden, `{"error":"legacy_login_closed"}`)
				return
			case login:
				s.authDenied(w, http.StatusUnauthorized, `{"error":"signin_required","login_url":"/_hubgate/login"}`)
				return
			case id == nil && !(ok && publicPath(u, p, pol.PublicPaths)):
				s.authDenied(w, http.StatusUnauthorized, `{"error":"signin_required","login_url":"/_hubgate/login"}`)
				return
			}
		}
		setIdentityHeaders(h, id, mode)
		if id != nil && s.cfg.Assertion {
			if a := s.assertions.Header(id, string(mode)); a != nil {
				h[HeaderAssertion] = a
			}
		}
		w.WriteHeader(http.StatusOK)
	}
}

func (s *Server) authDenied(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h[HeaderMode] = modeHeaders[migration.Enforce]
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body + "\n"))
}

// original returns the method, URL and normalized path of the request a
// forward-auth subrequest asks about; ok is false when the peer is not a
// trusted proxy or names no valid URI. The method defaults to GET.
func (s *Server) original(r *http.Request) (method string, u *url.URL, p string, ok bool) {
	if !s.trusted(remoteIP(r)) {
		return "", nil, "", false
	}
	orig := r.Header.Get("X-Original-URI")
	if orig == "" {
		orig = r.Header.Get("X-Forwarded-Uri")
	}
	if orig == "" {
		return "", nil, "", false
	}
	u, err := url.ParseRequestURI(orig)
	if err != nil {
		return "", nil, "", false
	}
	probe := &http.Request{URL: u}
	p, ok = normalizePath(probe)
	if !ok {
		return "", nil, "", false
	}
	method = strings.ToUpper(r.Header.Get("X-Original-Method"))
	if method == "" {
		method = strings.ToUpper(r.Header.Get("X-Forwarded-Method"))
	}
	if method == "" {
		method = http.MethodGet
	}
	return method, probe.URL, p, true
}

// claimHints are the ways to claim an account that an error page can offer.
func (s *Server) claimHints() map[string]any {
	d := map[string]any{}
	if s.cfg.Mailer != nil {
		d["ResendURL"] = "/_hubgate/resend"
	}
	return d
}

// redirectToLogin sends the browser to /_hubgate/login with rd.
func (s *Server) redirectToLogin(w http.ResponseWriter, r *http.Request, rd string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", "/_hubgate/login?rd="+url.QueryEscape(rd))
	w.WriteHeader(http.StatusFound)
}

// matchPath reports whether p equals an entry, or starts with an entry that
// ends in "/". Matching is on the normalized path only, never the query.
func matchPath(p string, list []string) bool {
	for _, e := range list {
		if p == e || (strings.HasSuffix(e, "/") && strings.HasPrefix(p, e)) || (p+"/" == e) {
			return true
		}
	}
	return false
}

// publicPath reports whether the normalized path p matches a public rule.
// When the request keeps encoded slashes (RawPath set), the escaped form that
// the upstream receives must match too: "/assets%2Fsecret" decodes to
// "/assets/secret", but an upstream that routes on the raw path sees one
// segment "assets%2Fsecret", which is no file under /assets/ (and may well be
// a protected route such as "/:page"). Public rules never see the query.
func publicPath(u *url.URL, p string, list []string) bool {
	if !matchPath(p, list) {
		return false
	}
	return u.RawPath == "" || matchPath(u.EscapedPath(), list)
}

// normalizePath cleans r's path ("//", "/./", "/../") so that the gate
// decides on exactly the path the upstream receives, and rewrites r to
// forward that path. Encoded slashes stay encoded in what is forwarded but are
// decided on in their decoded form (see publicPath). It returns false when
// the path cannot be made sense of (fail closed): control characters, or a
// dot segment that only some servers see — "..;" (Tomcat and Spring drop
// ";params" before resolving dot segments), "..\" (IIS and others treat a
// backslash as a slash) or one more layer of percent-encoding ("%252e%252e",
// for upstreams that decode twice). Clean paths pay one byte scan.
func normalizePath(r *http.Request) (string, bool) {
	p := r.URL.Path
	if p == "" || p[0] != '/' {
		return "", false
	}
	if !needsClean(p) && r.URL.RawPath == "" {
		if hiddenTraversal(p) {
			return "", false
		}
		return p, true
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if hiddenTraversal(clean) {
		return "", false
	}
	if clean != p {
		r.URL.Path = clean
		r.URL.RawPath = ""
	}
	return clean, true
}

func needsClean(p string) bool {
	return strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
}

// hiddenTraversal reports whether the decoded path p holds a control
// character (NUL, CR, LF, …) or a dot segment that path.Clean does not see
// but some upstream might: a segment that is "." or ".." once split at "\"
// as well as "/" and cut at ";", with overlong UTF-8 read as ASCII, in p
// itself or in p decoded once more.
func hiddenTraversal(p string) bool {
	special, high := false, false
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c < 0x20 || c == 0x7f:
			return true
		case c == ';' || c == '\\' || c == '%':
			special = true
		case c == 0xc0 || c == 0xc1 || c == 0xe0:
			special, high = true, true
		}
	}
	if !special {
		return false
	}
	if dotSegment(p) || (high && dotSegment(overlong.Replace(p))) {
		return true
	}
	if strings.IndexByte(p, '%') < 0 {
		return false
	}
	dec, err := url.PathUnescape(p)
	if err != nil || dec == p {
		return false // a literal "%" (sent as %25): not an encoding of anything
	}
	for i := 0; i < len(dec); i++ {
		if c := dec[i]; c < 0x20 || c == 0x7f {
			return true
		}
	}
	return dotSegment(dec) || dotSegment(overlong.Replace(dec))
}

// overlong maps the overlong UTF-8 forms of ".", "/" and "\" to their
// ASCII selves: never valid UTF-8, but old decoders (IIS, early Tomcat)
// accepted them, so "%c0%ae%c0%ae" was ".." to them.
var overlong = strings.NewReplacer("\xc0\xae", ".", "\xe0\x80\xae", ".", "\xc0\xaf", "/", "\xe0\x80\xaf", "/", "\xc1\x9c", "\\", "\xe0\x81\x9c", "\\")

// dotSegment reports whether a segment of p, split at "/" and "\" and cut
// at ";", is "." or "..".
func dotSegment(p string) bool {
	for p != "" {
		var seg string
		if i := strings.IndexAny(p, "/\\"); i >= 0 {
			seg, p = p[:i], p[i+1:]
		} else {
			seg, p = p, ""
		}
		if i := strings.IndexByte(seg, ';'); i >= 0 {
			seg = seg[:i]
		}
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// isUpgrade reports whether r asks to switch protocols (WebSocket).
func isUpgrade(r *http.Request) bool {
	if r.Header.Get("Upgrade") == "" {
		return false
	}
	for _, v := range r.Header["Connection"] {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}
