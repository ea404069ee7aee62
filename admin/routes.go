package admin

import (
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/hubgate/hubgate/claim"
)

// routes lists every admin route (DESIGN §4 "Admin API"). The API wants the
// bearer token (the probes and metrics excepted); so does every path no
// route names, so that an unauthenticated client learns nothing about the
// API's shape. The dashboard's pages take the bearer token or a session
// cookie from its sign-in form; the API never takes the cookie, so that no
// other site can make a browser call it (its JSON requests carry no CSRF
// token).
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	// Probes for load balancers and orchestrators: no token, no detail
	// beyond ready or not.
	mux.HandleFunc("GET /healthz", s.healthz())
	mux.HandleFunc("GET /readyz", s.readyz())
	if s.cfg.Metrics != nil {
		mux.Handle("GET /metrics", s.cfg.Metrics)
	}

	api := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.authorize(h)) }

	api("POST /api/v1/claims", s.limitBody(maxBody, s.issueClaim()))
	api("POST /api/v1/claims/import", s.limitBody(s.cfg.ImportLimit, s.importClaims()))
	api("GET /api/v1/claims", s.listClaims())
	api("GET /api/v1/claims/{id}", s.getClaim())
	api("DELETE /api/v1/claims/{id}", s.revokeClaim())

	api("GET /api/v1/links/persons", s.listLinks(claim.KindPerson))
	api("GET /api/v1/links/persons/{legacy_id}", s.getLink(claim.KindPerson))
	api("PUT /api/v1/links/persons/{legacy_id}", s.limitBody(maxBody, s.putLink(claim.KindPerson)))
	api("DELETE /api/v1/links/persons/{legacy_id}", s.deleteLink(claim.KindPerson))
	api("GET /api/v1/links/orgs", s.listLinks(claim.KindOrg))
	api("GET /api/v1/links/orgs/{legacy_id}", s.getLink(claim.KindOrg))
	api("PUT /api/v1/links/orgs/{legacy_id}", s.limitBody(maxBody, s.putLink(claim.KindOrg)))
	api("DELETE /api/v1/links/orgs/{legacy_id}", s.deleteLink(claim.KindOrg))

	api("GET /api/v1/mode", s.getMode())
	api("PUT /api/v1/mode", s.limitBody(maxBody, s.setMode()))
	api("GET /api/v1/stats", s.stats())
	api("GET /api/v1/readiness", s.getReadiness())
	api("POST /api/v1/readiness/mail", s.limitBody(maxBody, s.mailReadiness()))
	api("GET /api/v1/audit", s.audit())
	api("DELETE /api/v1/sessions/{zaikio_person}", s.revokeSessions())
	if s.cfg.Debug {
		// Profiles show the process's insides and cost CPU: operators only.
		debug := func(pattern string, h http.HandlerFunc) { api(pattern, s.operatorOnly(h)) }
		debug("GET /debug/pprof/", pprof.Index)
		debug("GET /debug/pprof/cmdline", pprof.Cmdline)
		debug("GET /debug/pprof/profile", pprof.Profile)
		debug("GET /debug/pprof/symbol", pprof.Symbol)
		debug("GET /debug/pprof/trace", pprof.Trace)
	}

	// The dashboard: HTML for browsers, signed in with the admin token
	// through a form (session cookie) or with the bearer token. Its forms
	// carry CSRF tokens; its stylesheet is inline, so it has no assets.
	mux.HandleFunc("GET /login", s.loginForm())
	mux.HandleFunc("POST /login", s.login())
	mux.HandleFunc("POST /logout", s.logout())
	page := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.dashboardAuth(h)) }
	page("GET /{$}", s.dashboard())
	page("GET /mode", s.modeConfirm())
	page("POST /mode", s.modeSwitch())
	page("GET /readiness/mail", s.readinessMailConfirm())
	page("POST /readiness/mail", s.readinessMailSend())

	// The catch-all must stay last in spirit (the mux prefers more
	// specific patterns whatever the order).
	api("/", s.noRoute(mux))
	return mux
}

// limitBody caps the request body of a handler that reads one; reading past
// the cap fails with *http.MaxBytesError, which the error funnel maps to 413.
func (s *Server) limitBody(n int64, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, n)
		h(w, r)
	}
}

// noRoute answers requests that no other pattern matches: 405 with Allow
// when the path exists for other methods, 404 otherwise, both as JSON (the
// mux's own answers are plain text).
func (s *Server) noRoute(mux *http.ServeMux) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
			probe := r.WithContext(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.fail(w, r, &apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed",
				msg: r.Method + " " + r.URL.Path + ": allowed: " + strings.Join(allow, ", ")})
			return
		}
		s.fail(w, r, &apiError{status: http.StatusNotFound, code: "not_found", msg: "no route " + r.URL.Path})
	}
}
