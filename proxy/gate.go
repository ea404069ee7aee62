package proxy

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// Mode is the migration stage (DESIGN §2).
type Mode string

// The three modes.
const (
	// ModePassthrough forwards everything; identity headers when a session exists.
	ModePassthrough Mode = "passthrough"
	// ModeOffer puts a "Sign in with Zaikio" page in front of the legacy login.
	ModeOffer Mode = "offer"
	// ModeEnforce closes the legacy login and requires a session everywhere
	// except public paths.
	ModeEnforce Mode = "enforce"
)

// ParseMode accepts the three mode names.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModePassthrough, ModeOffer, ModeEnforce:
		return m, nil
	}
	return "", fmt.Errorf("proxy: mode %q, want passthrough, offer or enforce", s)
}

// modeHeaders are the X-Hubgate-Mode values, allocated once.
var modeHeaders = map[Mode][]string{
	ModePassthrough: {string(ModePassthrough)},
	ModeOffer:       {string(ModeOffer)},
	ModeEnforce:     {string(ModeEnforce)},
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
	id := s.authenticate(w, r)
	mode := s.Mode()
	pol := s.policy()
	login := matchPath(p, pol.LoginPaths)
	switch mode {
	case ModeOffer:
		if login && (r.Method == http.MethodGet || r.Method == http.MethodHead) && cookieValue(r, offerSkipCookie) == "" && id == nil {
			s.offerPage(w, r)
			return
		}
	case ModeEnforce:
		if login {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				s.redirectToLogin(w, r, "/")
				return
			}
			s.fail(w, r, &pageError{status: http.StatusForbidden, key: "legacy_closed", data: s.claimHints(), err: fmt.Errorf("legacy login %s %s closed in enforce mode", r.Method, p)})
			return
		}
		if id == nil && !matchPath(p, pol.PublicPaths) {
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
		if a := s.assertionHeader(id, mode); a != nil {
			r.Header[HeaderAssertion] = a
		}
	}
	s.proxy.ServeHTTP(w, r)
}

// forwardAuth is the forward-auth endpoint for nginx auth_request and
// Traefik forwardAuth: GET /_hubgate/auth. It answers 200 with the identity
// headers when the request may pass, 401 when it needs a session: in
// enforce mode without a session, unless the original URI (X-Original-URI
// from nginx, X-Forwarded-Uri from Traefik, believed from trusted_proxies
// only) is a public path.
func (s *Server) forwardAuth() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := s.authenticate(w, r)
		mode := s.Mode()
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		if id == nil && mode == ModeEnforce && !s.publicOriginal(r) {
			h[HeaderMode] = modeHeaders[mode]
			h.Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"signin_required","login_url":"/_hubgate/login"}` + "\n"))
			return
		}
		setIdentityHeaders(h, id, mode)
		if id != nil && s.cfg.Assertion {
			if a := s.assertionHeader(id, mode); a != nil {
				h[HeaderAssertion] = a
			}
		}
		w.WriteHeader(http.StatusOK)
	}
}

// publicOriginal reports whether the original request of a forward-auth
// subrequest is for a public path (decided on the normalized path, never the
// query). The original URI is believed only from a trusted proxy: a client
// that reaches a forward-auth proxy which passes client headers through
// (Traefik does by default) must not be able to name a public path while
// requesting another.
func (s *Server) publicOriginal(r *http.Request) bool {
	if !s.trusted(remoteIP(r)) {
		return false
	}
	orig := r.Header.Get("X-Original-URI")
	if orig == "" {
		orig = r.Header.Get("X-Forwarded-Uri")
	}
	if orig == "" {
		return false
	}
	u, err := url.ParseRequestURI(orig)
	if err != nil {
		return false
	}
	probe := &http.Request{URL: u}
	p, ok := normalizePath(probe)
	return ok && matchPath(p, s.policy().PublicPaths)
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

// normalizePath cleans r's path ("//", "/./", "/../") so that the gate
// decides on exactly the path the upstream receives, and rewrites r to
// forward that path. Encoded slashes stay encoded in what is forwarded but are
// decided on in their decoded form. It returns false when the path cannot be
// made sense of (fail closed).
func normalizePath(r *http.Request) (string, bool) {
	p := r.URL.Path
	if p == "" || p[0] != '/' {
		return "", false
	}
	if !needsClean(p) && r.URL.RawPath == "" {
		return p, true
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", false
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
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
