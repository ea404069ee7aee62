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

// serveUpstream applies the gate of the current mode and the route rules to
// a request for the legacy app and forwards what passes. Paths are decided
// on their normalized form: a path that does not normalize is refused (400)
// in every mode, a spelling of /_hubgate/ that the route mux did not take
// is not found (404) and never forwarded, the legacy login is matched in
// every spelling an upstream routes to it, opening rules (public paths,
// public and legacy routes) only as written (see paths.go, routes_rules.go).
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
	mode := s.Mode()
	if mode == migration.Offer && s.resumeClaim(w, r, p) {
		return // back to the claim confirmation after the old sign-in (legacy.go)
	}
	d := s.decide(w, r, gateInput{url: r.URL, path: p, method: r.Method, known: true}, mode, s.policy(), true)
	switch d.act {
	case actForward:
	case actBare:
		if d.preflight {
			// A preflight carries no credentials (Fetch §4.8); none that
			// a client adds reach the upstream either.
			delete(r.Header, "Cookie")
			delete(r.Header, "Authorization")
		}
	case actOffer:
		s.offerPage(w, r)
		return
	case actSignIn:
		s.redirectToLogin(w, r, d.rd)
		return
	case actUnauthorized:
		s.unauthorized(w, r, d.rd)
		return
	case actClosed:
		s.fail(w, r, &pageError{status: http.StatusForbidden, key: "legacy_closed", data: s.claimHints(), err: fmt.Errorf("legacy login %s %s closed in enforce mode", r.Method, maskPath(p))})
		return
	case actRefused:
		s.refuseBearer(w, r, d.refusal, d.rd)
		return
	case actForbidden:
		s.roleRequired(w, r, p, d.who)
		return
	}
	setIdentityHeaders(r.Header, d.who, mode)
	if d.who.id != nil && s.cfg.Assertion {
		if a := s.assertions.Header(d.who.id, string(mode)); a != nil {
			r.Header[HeaderAssertion] = a
		}
	}
	if d.login && d.who.none() && r.Method == http.MethodPost {
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

// gateInput is what the gate decides on: a request for the upstream, or
// for forward-auth the original request a proxy in front asks about.
type gateInput struct {
	url    *url.URL
	path   string // normalized
	method string
	// known is false for a forward-auth request without a usable original
	// request: no path rule applies, the credentials alone decide.
	known bool
}

// action is what the gate decided to do with a request.
type action uint8

const (
	actForward      action = iota // forward with the identity (forward-auth: 200)
	actBare                       // forward without identity (a legacy route, a CORS preflight)
	actOffer                      // the offer page (gate only)
	actSignIn                     // a navigation without identity: to sign-in
	actUnauthorized               // any other request without identity: 401 (unauthorized.go)
	actClosed                     // the legacy login is closed: 403
	actRefused                    // a bearer token was refused: 401, 403 or 503
	actForbidden                  // the identity lacks every role the route requires: 403
)

// decision is the gate's answer for one request.
type decision struct {
	act       action
	who       principal
	refusal   *bearerRefusal // actRefused
	rd        string         // actSignIn, actUnauthorized, actRefused: where sign-in returns
	preflight bool           // actBare for a CORS preflight
	login     bool           // the path is a legacy login path
}

// decide is the gate (DESIGN §2 and the route rules), shared by the proxy
// and forward-auth (gate false: no offer page, which is the proxy's).
//
//  1. A CORS preflight whose rule says cors, and any request under a
//     legacy rule, pass without identity, in every mode, without the
//     session or a bearer token being looked at.
//  2. In enforce mode the legacy login is closed (before any rule): GET and
//     HEAD go to sign-in, other methods get 403.
//  3. The credentials: a Zaikio bearer token, else the session
//     (authenticate). A bearer token that is refused is answered so in
//     every mode on every route but public ones (where it carries no
//     identity): it is never forwarded with an identity, not even a
//     session's.
//  4. Offer mode shows the offer page for the legacy login to a browser
//     without identity.
//  5. Enforce mode requires an identity except on public routes —
//     navigations are sent to sign in, everything else gets 401 — and the
//     rule's roles, if it names any.
func (s *Server) decide(w http.ResponseWriter, r *http.Request, in gateInput, mode migration.Mode, pol *Policy, gate bool) decision {
	var login bool
	var rl *rule
	if in.known {
		login = closedBy(in.path, pol.LoginPaths)
		if login && (gate || mode == migration.Enforce) {
			s.metrics.legacyLogin(mode, in.method)
		}
		if !login {
			if isPreflight(r, in.method) && pol.rules.preflight(r, in.url, in.path) != nil {
				return decision{act: actBare, preflight: true}
			}
			if rl = pol.rules.match(r, in.url, in.path, in.method); rl != nil && rl.Auth == AuthLegacy {
				rl.legacy.Inc()
				return decision{act: actBare}
			}
		}
	}
	getOrHead := in.method == http.MethodGet || in.method == http.MethodHead
	if mode == migration.Enforce && login {
		if getOrHead {
			return decision{act: actSignIn, rd: "/"}
		}
		return decision{act: actClosed}
	}
	who, refused, foreign := s.authenticate(w, r, in.method, rl)
	if rl != nil && rl.Auth == AuthPublic {
		return decision{act: actForward, who: who}
	}
	if refused != nil {
		return decision{act: actRefused, refusal: refused, rd: s.scriptReturn(r)}
	}
	switch mode {
	case migration.Offer:
		if gate && login && getOrHead && who.none() && cookieValue(r, s.cookiePrefix+offerSkipCookie) == "" {
			return decision{act: actOffer}
		}
	case migration.Enforce:
		switch {
		case !who.none():
		case foreign != nil:
			// The only credential was a token that is not Zaikio's: say
			// why it does not count.
			return decision{act: actRefused, refusal: foreign, rd: s.scriptReturn(r)}
		case navigation(r, in.method):
			rd := "/"
			if in.known {
				rd = in.url.RequestURI()
			}
			return decision{act: actSignIn, rd: rd}
		default:
			return decision{act: actUnauthorized, rd: s.scriptReturn(r)}
		}
		if rl != nil && len(rl.Roles) > 0 && !holdsRole(who.id.Roles, rl.Roles) {
			return decision{act: actForbidden, who: who}
		}
	}
	return decision{act: actForward, who: who, login: login}
}

// HeaderSignIn is on forward-auth's 401 for a page navigation: the sign-in
// URL (leading back to the page) the proxy in front redirects the browser
// to. Scripts' 401s lack it: the front answers them 401 (see
// deploy/nginx/hubgate-forward-auth.conf).
const HeaderSignIn = "X-Hubgate-Signin"

// forwardAuth is the forward-auth endpoint for nginx auth_request and
// Traefik forwardAuth: GET /_hubgate/auth. It decides like the gate
// (decide), from the original request (X-Original-URI / X-Forwarded-Uri and
// X-Original-Method / X-Forwarded-Method, believed from trusted_proxies
// only) and the subrequest's own headers (the session cookie, a bearer
// token, Sec-Fetch-Mode: the front copies the original request's), and
// answers 200 with the identity headers when the request may pass (without
// them for legacy routes and CORS preflights). Otherwise, in every mode:
// 403 for an original path that does not normalize (the gate's 400; nginx
// passes only 401 and 403 from an auth subrequest to the client and turns
// any other status into 500) and for any spelling of /_hubgate/ (the proxy
// in front routes those to hubgate, never to the app); 401, 403 or 503 for
// a refused bearer token. In enforce mode also: for the legacy login paths,
// in any spelling and session or not, 401 for GET/HEAD (the proxy sends the
// browser to sign in) and 403 for other methods (the legacy login is
// closed); 401 without an identity unless the path is public, with the
// body of unauthorized.go; 403 when a route's roles are missing. Without a
// usable original request (no header, or a peer that is not trusted) no
// path rule applies: the answer depends on the credentials alone.
func (s *Server) forwardAuth() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
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
		in := gateInput{url: orig.url, path: orig.path, method: orig.method, known: known}
		if !known {
			in.method = http.MethodGet
		}
		d := s.decide(w, r, in, mode, s.policy(), false)
		h[HeaderMode] = modeHeaders[mode]
		switch d.act {
		case actForward, actBare:
		case actSignIn, actUnauthorized:
			h.Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
			if d.act == actSignIn {
				// A page navigation: where the front sends the browser. A
				// script's 401 has none, so the front passes it on.
				h.Set(HeaderSignIn, loginURL(d.rd))
			}
			s.writeAuthJSON(w, r, http.StatusUnauthorized, "signin_required", d.rd, "")
			return
		case actClosed:
			s.authDenied(w, mode, http.StatusForbidden, `{"error":"legacy_login_closed"}`)
			return
		case actRefused:
			s.refuseBearer(w, r, d.refusal, d.rd)
			return
		default: // actForbidden
			s.writeAuthJSON(w, r, http.StatusForbidden, "role_required", "", "")
			return
		}
		setIdentityHeaders(h, d.who, mode)
		if d.who.id != nil && s.cfg.Assertion {
			if a := s.assertions.Header(d.who.id, string(mode)); a != nil {
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

// roleRequired answers a request whose identity lacks every role its route
// requires: 403, as a page for a browser's navigation with a session, else
// as JSON.
func (s *Server) roleRequired(w http.ResponseWriter, r *http.Request, p string, who principal) {
	err := fmt.Errorf("%s %s: the identity holds none of the route's roles", r.Method, maskPath(p))
	if !who.bearer() && (navigation(r, r.Method) || wantsPage(r)) {
		s.fail(w, r, &pageError{status: http.StatusForbidden, key: "role_required", err: err})
		return
	}
	s.log.Info().Str("event", "role_required").Str("request_id", requestID(r)).Str("path", logPath(r)).Send()
	s.writeAuthJSON(w, r, http.StatusForbidden, "role_required", "", "")
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
	w.Header().Set("Location", loginURL(rd))
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
