package proxy

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hubgate/hubgate/zaikio"
)

// The answer to a request that needs sign-in. A page navigation gets the
// redirect to /_hubgate/login; anything else — a script's fetch() or
// XMLHttpRequest, an API client — gets 401 with a challenge and a small
// JSON body that names the sign-in URL, so that the script can show a
// "sign in again" link instead of receiving the hub's HTML login page:
//
//	HTTP/1.1 401 Unauthorized
//	WWW-Authenticate: Bearer realm="hubgate"
//	Content-Type: application/json
//	Cache-Control: no-store
//
//	{"error":"signin_required","message":"Please sign in",
//	 "login_url":"/_hubgate/login?rd=%2Forders","request_id":"…"}
//
// login_url returns to the page the script runs on: the Referer's path
// when it is of the public origin, else "/" (validated like every return
// path). A refused bearer token gets the same body with its code as error
// (RFC 6750 §3.1 in WWW-Authenticate).

// realm names hubgate in WWW-Authenticate challenges.
const realm = "hubgate"

// navigation reports whether r is a page navigation, which may be sent to
// sign in: GET or HEAD, and not scripted (see scripted).
func navigation(r *http.Request, method string) bool {
	return (method == http.MethodGet || method == http.MethodHead) && !scripted(r)
}

// scripted reports whether r says it comes from a script or an API client:
// a Sec-Fetch-Mode other than navigate (fetch, XMLHttpRequest, …), the
// X-Requested-With: XMLHttpRequest of jQuery and Rails UJS, or an Accept
// header that prefers JSON over HTML.
func scripted(r *http.Request) bool {
	h := r.Header
	if v := h["Sec-Fetch-Mode"]; len(v) > 0 && v[0] != "navigate" {
		return true
	}
	if v := h["X-Requested-With"]; len(v) > 0 && strings.EqualFold(v[0], "XMLHttpRequest") {
		return true
	}
	return prefersJSON(h.Values("Accept"))
}

// prefersJSON reports whether the Accept values rank JSON (application/json
// or any application/*+json) above HTML (text/html,
// application/xhtml+xml), by RFC 9110 §12.5.1: each type's quality is that
// of the most specific range that matches it. At equal quality JSON wins
// only when it is named and HTML is reached by a wildcard alone
// ("application/json, */*" is a script's; a browser names text/html).
func prefersJSON(accept []string) bool {
	var jq, hq float64 = -1, -1 // quality; -1: not matched
	var js, hs int              // specificity of the match: 3 exact, 2 type/*, 1 */*
	for _, line := range accept {
		for part := range strings.SplitSeq(line, ",") {
			mt, q := mediaRange(part)
			if mt == "" {
				continue
			}
			typ, sub, _ := strings.Cut(mt, "/")
			switch {
			case mt == "*/*":
				if js < 1 {
					jq, js = q, 1
				}
				if hs < 1 {
					hq, hs = q, 1
				}
			case sub == "*":
				if typ == "application" && js < 2 {
					jq, js = q, 2
				}
				if typ == "text" && hs < 2 {
					hq, hs = q, 2
				}
			case mt == "application/json" || (typ == "application" && strings.HasSuffix(sub, "+json")):
				if js < 3 || q > jq {
					jq, js = q, 3
				}
			case mt == "text/html" || mt == "application/xhtml+xml":
				if hs < 3 || q > hq {
					hq, hs = q, 3
				}
			}
		}
	}
	if jq <= 0 {
		return false
	}
	return jq > max(hq, 0) || (jq == hq && js == 3 && hs < 3)
}

// mediaRange reads one Accept entry: its lower-case media range and its
// quality (1 when not given; 0 for a q that does not parse).
func mediaRange(part string) (string, float64) {
	mt, params, _ := strings.Cut(part, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	if !strings.Contains(mt, "/") {
		return "", 0
	}
	q := 1.0
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "q") {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 || f > 1 {
				f = 0
			}
			q = f
		}
	}
	return mt, q
}

// wantsPage reports whether an answer to r that is not a redirect should
// be an HTML page rather than JSON: a browser's own navigation (a form
// post), by its Sec-Fetch-Mode or its Accept header.
func wantsPage(r *http.Request) bool {
	if scripted(r) {
		return false
	}
	if v := r.Header["Sec-Fetch-Mode"]; len(v) > 0 {
		return v[0] == "navigate"
	}
	for _, line := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(line, ",") {
			if mt, q := mediaRange(part); q > 0 && (mt == "text/html" || mt == "application/xhtml+xml") {
				return true
			}
		}
	}
	return false
}

// scriptReturn is where sign-in should lead back to for a script's
// request: the page it runs on (the Referer, when it is of the public
// origin: scheme, host and port), else "/". The path is validated like
// every return path.
func (s *Server) scriptReturn(r *http.Request) string {
	ref := r.Header.Get("Referer")
	if ref == "" || len(ref) > maxReturnLen {
		return "/"
	}
	u, err := url.Parse(ref)
	if err != nil || u.Scheme != s.public.Scheme || !strings.EqualFold(u.Host, s.public.Host) || u.User != nil {
		return "/"
	}
	if port, ok := portOf(u); !ok {
		return "/"
	} else if pub, _ := portOf(s.public); port != pub {
		return "/"
	}
	rd := u.EscapedPath()
	if rd == "" {
		rd = "/"
	}
	if u.RawQuery != "" {
		rd += "?" + u.RawQuery
	}
	return returnTo(rd, s.public, nil)
}

// loginURL is the sign-in URL that leads back to rd.
func loginURL(rd string) string { return "/_hubgate/login?rd=" + url.QueryEscape(rd) }

// unauthorized answers a request that needs sign-in and is not a page
// navigation (see the top of this file): 401, the challenge, and JSON —
// or, for a browser's form post, the sign-in page with the same status.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, rd string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
	if wantsPage(r) {
		s.fail(w, r, &pageError{status: http.StatusUnauthorized, key: "signin_required", retry: true, err: errNoCredentials})
		return
	}
	s.log.Info().Str("event", "signin_required").Str("request_id", requestID(r)).Str("path", logPath(r)).Send()
	s.writeAuthJSON(w, r, http.StatusUnauthorized, "signin_required", rd, "")
}

var errNoCredentials = errors.New("no session or bearer token where one is required")

// refuseBearer answers a refused bearer token: its status, the RFC 6750
// challenge with the code, and the JSON body.
func (s *Server) refuseBearer(w http.ResponseWriter, r *http.Request, br *bearerRefusal, rd string) {
	h := w.Header()
	scope := ""
	switch {
	case br.be != nil:
		h.Set("WWW-Authenticate", br.be.Challenge(realm))
		scope = br.be.Scope
		if br.be.Code == zaikio.BearerUnavailable {
			h.Set("Retry-After", "5")
		}
	case br.store:
		h.Set("Retry-After", "5")
	}
	ev := s.log.Info()
	if br.status() >= 500 {
		ev = s.log.Warn()
	}
	ev = ev.Str("event", "bearer.refused").Str("code", br.code()).Str("request_id", requestID(r)).Str("path", logPath(r))
	if br.be != nil && br.be.Err != nil {
		ev = ev.Str("error", scrubSecrets(br.be.Err.Error()))
	}
	ev.Send()
	s.writeAuthJSON(w, r, br.status(), br.code(), rd, scope)
}

// writeAuthJSON writes the JSON body of a 401/403/503 about credentials;
// rd "" leaves login_url out.
func (s *Server) writeAuthJSON(w http.ResponseWriter, r *http.Request, status int, code, rd, scope string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	body := map[string]string{"error": code, "request_id": requestID(r)}
	if rd != "" {
		body["login_url"] = loginURL(rd)
	}
	if msg, ok := s.localeOf(r).raw("error." + code + ".title"); ok {
		body["message"] = msg
	}
	if scope != "" {
		body["scope"] = scope
	}
	_ = json.NewEncoder(w).Encode(body)
}
