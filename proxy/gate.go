package proxy

import (
	"errors"
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
// legacy app and forwards what passes. Paths are decided on their
// normalized form: a path that does not normalize is refused (400) in every
// mode, a spelling of /_hubgate/ that the route mux did not take is not
// found (404) and never forwarded, the legacy login is matched in every
// spelling an upstream routes to it, public paths only as written (see
// paths.go).
func (s *Server) serveUpstream(w http.ResponseWriter, r *http.Request) {
	p, ok := normalizePath(r)
	if !ok {
		s.fail(w, r, &pageError{status: http.StatusBadRequest, key: "bad_path", err: errBadPath})
		return
	}
	if ownSpelling(p) {
		s.fail(w, r, &pageError{status: http.StatusNotFound, key: "not_found", err: errOwnSpelling})
		return
	}
	id := s.sessions.Authenticate(w, r)
	mode := s.Mode()
	pol := s.policy()
	login := closedBy(p, pol.LoginPaths)
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
			s.fail(w, r, &pageError{status: http.StatusForbidden, key: "legacy_closed", data: s.claimHints(), err: fmt.Errorf("legacy login %s %s closed in enforce mode", r.Method, maskPath(p))})
			return
		}
		if id == nil && !openedBy(r.URL, p, pol.PublicPaths) {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				s.redirectToLogin(w, r, r.URL.RequestURI())
				return
			}
			s.fail(w, r, &pageError{status: http.StatusUnauthorized, key: "signin_required", err: fmt.Errorf("no session for %s %s in enforce mode", r.Method, maskPath(p))})
			return
		}
	}
	setIdentityHeaders(r.Header, id, mode)
	if id != nil && s.cfg.Assertion {
		if a := s.assertions.Header(id, string(mode)); a != nil {
			r.Header[HeaderAssertion] = a
		}
	}
	if login && id == nil && r.Method == http.MethodPost {
		s.forwardLegacyLogin(w, r) // records who signed in the old way (legacylogin.go)
		return
	}
	s.forward(w, r)
}

var (
	// The path is in the log line's (masked) path field; the error does
	// not repeat it, so that it cannot carry a claim token past the mask.
	errBadPath     = errors.New("path does not normalize")
	errOwnSpelling = errors.New("path spells /_hubgate/ otherwise than its routes: never forwarded")
)

// forwardAuth is the forward-auth endpoint for nginx auth_request and
// Traefik forwardAuth: GET /_hubgate/auth. It decides like the gate, from
// the original request (X-Original-URI / X-Forwarded-Uri and
// X-Original-Method / X-Forwarded-Method, believed from trusted_proxies
// only), and answers 200 with the identity headers when the request may
// pass. Otherwise, in every mode: 403 for an original path that does not
// normalize (the gate's 400; nginx passes only 401 and 403 from an auth
// subrequest to the client and turns any other status into 500) and for
// any spelling of /_hubgate/ (the proxy in front routes those to hubgate,
// never to the app). In enforce mode also: for the legacy login paths, in
// any spelling and session or not, 401 for GET/HEAD (the proxy sends the
// browser to sign in) and 403 for other methods (the legacy login is
// closed); 401 without a session unless the path is public. Without a
// usable original request (no header, or a peer that is not trusted) no
// path rule applies: the answer depends on the session alone.
func (s *Server) forwardAuth() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := s.sessions.Authenticate(w, r)
		mode := s.Mode()
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		orig, known := s.original(r)
		switch {
		case known && !orig.ok:
			s.authDenied(w, mode, http.StatusForbidden, `{"error":"bad_path"}`)
			return
		case known && (orig.own || ownSpelling(orig.path)):
			s.authDenied(w, mode, http.StatusForbidden, `{"error":"not_found"}`)
			return
		}
		if mode == migration.Enforce {
			pol := s.policy()
			login := known && closedBy(orig.path, pol.LoginPaths)
			if login {
				s.metrics.legacyLogin(mode, orig.method)
			}
			switch {
			case login && orig.method != http.MethodGet && orig.method != http.MethodHead:
				s.authDenied(w, mode, http.StatusForbidden, `{"error":"legacy_login_closed"}`)
				return
			case login:
				s.authDenied(w, mode, http.StatusUnauthorized, `{"error":"signin_required","login_url":"/_hubgate/login"}`)
				return
			case id == nil && !(known && openedBy(orig.url, orig.path, pol.PublicPaths)):
				s.authDenied(w, mode, http.StatusUnauthorized, `{"error":"signin_required","login_url":"/_hubgate/login"}`)
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

func (s *Server) authDenied(w http.ResponseWriter, mode migration.Mode, status int, body string) {
	h := w.Header()
	h[HeaderMode] = modeHeaders[mode]
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body + "\n"))
}

// originalRequest is the request a forward-auth subrequest asks about.
type originalRequest struct {
	method string   // upper case; GET when not named
	url    *url.URL // the original target, path normalized
	path   string   // the normalized path
	ok     bool     // false: the target does not parse or normalize
	// own: the target, before it is cleaned, is one of hubgate's paths,
	// which the gate hands to its routes and never forwards ("/_hubgate/../x"
	// is a redirect there, not the app's /x).
	own bool
}

// original reads the original request of a forward-auth subrequest; known
// is false when the peer is not a trusted proxy or names no URI.
func (s *Server) original(r *http.Request) (o originalRequest, known bool) {
	if !s.trusted(remoteIP(r)) {
		return o, false
	}
	orig := r.Header.Get("X-Original-URI")
	if orig == "" {
		orig = r.Header.Get("X-Forwarded-Uri")
	}
	if orig == "" {
		return o, false
	}
	u, err := url.ParseRequestURI(orig)
	if err != nil {
		return o, true
	}
	o.own = ours(u.Path)
	probe := &http.Request{URL: u}
	if o.path, o.ok = normalizePath(probe); !o.ok {
		return o, true
	}
	o.url = probe.URL
	o.method = strings.ToUpper(r.Header.Get("X-Original-Method"))
	if o.method == "" {
		o.method = strings.ToUpper(r.Header.Get("X-Forwarded-Method"))
	}
	if o.method == "" {
		o.method = http.MethodGet
	}
	return o, true
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

// normalizePath cleans r's path ("//", "/./", "/../") so that the gate
// decides on exactly the path the upstream receives, and rewrites r to
// forward that path. Encoded slashes stay encoded in what is forwarded but are
// decided on in their decoded form (see openedBy). It returns false when
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
