package proxy

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hubgate/hubgate/claim"
)

// Auth says who authenticates the requests a route rule covers.
type Auth string

// Who authenticates a route.
const (
	// AuthPublic: nobody needs to; a session or bearer token still sends
	// its identity, in every mode.
	AuthPublic Auth = "public"
	// AuthLegacy: the upstream checks its own credentials (API keys).
	// hubgate forwards in every mode, with no identity headers, without
	// looking at the session or the Authorization header, and counts the
	// request (hubgate_legacy_auth_requests_total).
	AuthLegacy Auth = "legacy"
	// AuthZaikio: a session or a Zaikio bearer token; in enforce mode one
	// is required, and the rule's roles too. The default of every path no
	// rule covers.
	AuthZaikio Auth = "zaikio"
)

// Route is one route rule: who authenticates the requests for a path.
// Rules are matched on the gate's normalized path, in order; the first
// that matches decides. legacy.login_paths are decided before any rule
// (a rule cannot reopen a closed legacy login), and legacy.public_paths
// act as {Path, Auth: AuthPublic} rules after the configured ones.
//
// Opening rules (public, legacy) match as written, like public paths
// (paths.go): the exact path or under a prefix ending in "/", letter for
// letter, and only the methods they name, exactly; a request that asks for
// another method through X-HTTP-Method-Override (or X-HTTP-Method,
// X-Method-Override) matches no opening rule that names methods. In doubt
// they do not match, and the request falls to a later rule or to the
// default (zaikio). zaikio rules are closing rules: they match every
// spelling an upstream framework routes to their path (letter case,
// trailing slash, ";params", ".format", …, like legacy.login_paths), and
// their methods loosely (any letter case, HEAD as GET, and a POST or a
// method override as every method, since Rails and others route
// "POST … _method=DELETE" as a DELETE), so that a restriction cannot be
// dodged by spelling.
type Route struct {
	// Methods the rule covers, upper case. Zero: every method.
	Methods []string
	// Path is an absolute path outside /_hubgate: exact ("/api/status"),
	// or a prefix ending in "/" ("/api/", which covers "/api" too).
	Path string
	// Auth says who authenticates. Zero: AuthZaikio.
	Auth Auth
	// Roles (zaikio rules only) are local roles, one of which the identity
	// must hold for some organization ("<org>:<role>" in X-Hubgate-Roles),
	// else the request gets 403 before it reaches the upstream; enforced
	// in enforce mode. Zero: none needed.
	Roles []string
	// Scope (zaikio rules only) is what a bearer token must grant here:
	// "<scope>" of this app, or "<app>.<scope>", with the permission of
	// the method (zaikio.MethodPermission: r for GET, HEAD and OPTIONS, w
	// otherwise). Zero: Config.BearerScope.
	Scope string
	// CORS lets CORS preflights (OPTIONS with Origin and
	// Access-Control-Request-Method) for this rule pass to the upstream
	// without credentials and identity headers, in every mode, so that the
	// upstream answers them. The rule must match the path as written and
	// the method the preflight asks for. Zero: preflights are requests
	// like any other.
	CORS bool
}

// rule is a Route ready for matching.
type rule struct {
	Route
	paths   []string // {Path}, for closedBy and openedBy
	closing bool     // a zaikio rule: matched in every spelling
	label   string   // the metric label: "[METHODS ]path"
	// scopeR and scopeW are the scopes a bearer token needs for reads and
	// writes ("" when the rule takes the default).
	scopeR, scopeW string
	legacy         prometheus.Counter // AuthLegacy: requests counted
}

// validate checks a route rule; i is its index for the message.
func (rt Route) validate(i int) error {
	if err := rt.Check(); err != nil {
		return fmt.Errorf("proxy: route %d (%s): %w", i+1, rt.Path, err)
	}
	return nil
}

// Check reports what is wrong with a route rule, or nil.
func (rt Route) Check() error {
	if err := validRulePath(rt.Path); err != nil {
		return err
	}
	for _, m := range rt.Methods {
		if !validMethod(m) {
			return fmt.Errorf("method %q: want an upper-case method name such as GET or POST", m)
		}
	}
	switch rt.Auth {
	case AuthPublic, AuthLegacy:
		if len(rt.Roles) > 0 || rt.Scope != "" {
			return fmt.Errorf("roles and scope are for zaikio routes; %s routes authenticate no one", rt.Auth)
		}
	case AuthZaikio, "":
	default:
		return fmt.Errorf("auth %q: want public, legacy or zaikio", rt.Auth)
	}
	for _, r := range rt.Roles {
		if !claim.ValidLegacyID(r) || len(r) > 64 {
			return fmt.Errorf("role %q: want [A-Za-z0-9._@-]{1,64}", r)
		}
	}
	if rt.Scope != "" && !ValidScope(rt.Scope) {
		return fmt.Errorf("scope %q: want <scope> or <app>.<scope> (letters, digits, _ and -)", rt.Scope)
	}
	return nil
}

// validRulePath accepts the paths a rule can match: absolute, outside
// /_hubgate in any spelling, and already in the form normalizePath gives
// (no "//", dot segments, ";", "\", "%", "?", "#", spaces or control
// characters), so that the rule means what it says.
func validRulePath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("path %q: want an absolute path", p)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= 0x20 || c >= 0x7f || strings.IndexByte(";\\%?#", c) >= 0 {
			return fmt.Errorf("path %q: want printable ASCII without ; \\ %% ? # or spaces", p)
		}
	}
	if needsClean(p) || dotSegment(p) {
		return fmt.Errorf("path %q: want a clean path (no //, . or .. segments)", p)
	}
	if ownSpelling(p) {
		return fmt.Errorf("path %q: want a path outside /_hubgate", p)
	}
	return nil
}

// validMethod accepts an RFC 9110 method token in upper case.
func validMethod(m string) bool {
	if m == "" || len(m) > 32 {
		return false
	}
	for i := 0; i < len(m); i++ {
		if c := m[i]; (c < 'A' || c > 'Z') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// ValidScope reports whether s names a scope as route rules and
// Config.BearerScope do: "<scope>" or "<app>.<scope>".
func ValidScope(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) > 2 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 64 {
			return false
		}
		for i := 0; i < len(p); i++ {
			if c := p[i]; !isAlnum(c) && c != '_' && c != '-' {
				return false
			}
		}
	}
	return true
}

// ruleSet is the compiled route rules of a policy, in order.
type ruleSet struct {
	rules []rule
}

// compileRules turns the configured routes and the public paths (as
// public rules after them) into a ruleSet; legacy rules get their counter
// from m.
func compileRules(routes []Route, publicPaths []string, m *routeMetrics) ruleSet {
	var rs ruleSet
	add := func(rt Route) {
		if rt.Auth == "" {
			rt.Auth = AuthZaikio
		}
		r := rule{Route: rt, paths: []string{rt.Path}, closing: rt.Auth == AuthZaikio, label: rt.Path}
		if len(rt.Methods) > 0 {
			r.label = strings.Join(rt.Methods, ",") + " " + rt.Path
		}
		if rt.Scope != "" {
			r.scopeR, r.scopeW = rt.Scope+".r", rt.Scope+".w"
		}
		if rt.Auth == AuthLegacy {
			r.legacy = m.legacyCounter(r.label)
		}
		rs.rules = append(rs.rules, r)
	}
	for _, rt := range routes {
		add(rt)
	}
	for _, p := range publicPaths {
		add(Route{Path: p, Auth: AuthPublic})
	}
	return rs
}

// match returns the first rule that covers a request for the normalized
// path p with method, or nil (the default: zaikio).
func (rs *ruleSet) match(r *http.Request, u *url.URL, p, method string) *rule {
	for i := range rs.rules {
		rl := &rs.rules[i]
		if rl.closing {
			if rl.closesMethod(r, method) && closedBy(p, rl.paths) {
				return rl
			}
			continue
		}
		if rl.opensMethod(r, method) && openedBy(u, p, rl.paths) {
			return rl
		}
	}
	return nil
}

// opensMethod reports whether an opening rule covers method: exactly, and
// never for a request that overrides its method.
func (rl *rule) opensMethod(r *http.Request, method string) bool {
	if len(rl.Methods) == 0 {
		return true
	}
	return slices.Contains(rl.Methods, method) && !overridesMethod(r)
}

// closesMethod reports whether a closing rule covers method: in any letter
// case, HEAD as GET, and a POST or an overridden method as any method.
func (rl *rule) closesMethod(r *http.Request, method string) bool {
	if len(rl.Methods) == 0 || strings.EqualFold(method, http.MethodPost) || overridesMethod(r) {
		return true
	}
	for _, m := range rl.Methods {
		if strings.EqualFold(m, method) || (m == http.MethodGet && strings.EqualFold(method, http.MethodHead)) {
			return true
		}
	}
	return false
}

// overridesMethod reports whether r asks the upstream to take it for
// another method (Rack::MethodOverride, Spring's HiddenHttpMethodFilter
// and others read these headers, or the form field _method of a POST).
func overridesMethod(r *http.Request) bool {
	if r == nil {
		return false
	}
	h := r.Header
	return h["X-Http-Method-Override"] != nil || h["X-Http-Method"] != nil || h["X-Method-Override"] != nil
}

// preflight returns the rule that lets r, a CORS preflight, pass without
// credentials: the rule that covers the method the preflight asks about,
// when it says cors and matches the path as written. Nil otherwise (the
// preflight then is a request like any other).
func (rs *ruleSet) preflight(r *http.Request, u *url.URL, p string) *rule {
	m := r.Header.Get("Access-Control-Request-Method")
	if !validMethod(m) {
		return nil
	}
	rl := rs.match(r, u, p, m)
	if rl == nil || !rl.CORS || (rl.closing && !openedBy(u, p, rl.paths)) {
		return nil
	}
	return rl
}

// isPreflight reports whether r is a CORS preflight request (Fetch
// standard §3.2.2: OPTIONS with Origin and Access-Control-Request-Method).
func isPreflight(r *http.Request, method string) bool {
	return method == http.MethodOptions && r.Header["Origin"] != nil && r.Header["Access-Control-Request-Method"] != nil
}

// holdsRole reports whether roles, an X-Hubgate-Roles value
// ("<org>:<role>,…"), holds one of want for some organization. Neither
// legacy ids nor local roles contain ":" or ",", so the entries are
// unambiguous.
func holdsRole(roles string, want []string) bool {
	for roles != "" {
		var e string
		if i := strings.IndexByte(roles, ','); i >= 0 {
			e, roles = roles[:i], roles[i+1:]
		} else {
			e, roles = roles, ""
		}
		if i := strings.LastIndexByte(e, ':'); i >= 0 && slices.Contains(want, e[i+1:]) {
			return true
		}
	}
	return false
}

// routeMetrics count what the route rules decide.
type routeMetrics struct {
	legacy *prometheus.CounterVec // route
}

func newRouteMetrics(reg prometheus.Registerer) (*routeMetrics, error) {
	m := &routeMetrics{legacy: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "hubgate", Name: "legacy_auth_requests_total",
		Help: "Requests forwarded under a legacy route rule (the upstream checks its own credentials), by rule: what still depends on legacy credentials."},
		[]string{"route"})}
	if reg != nil {
		if err := reg.Register(m.legacy); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// legacyCounter is the counter of one legacy rule, resolved once so that
// counting a request is one atomic add.
func (m *routeMetrics) legacyCounter(label string) prometheus.Counter {
	return m.legacy.WithLabelValues(label)
}
