package admin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gorilla/securecookie"

	"github.com/hubgate/hubgate/internal/web"
)

// Browsers cannot send the admin bearer token, so the dashboard signs them
// in with a form: POST /login with the token sets a session cookie, sealed
// with keys derived from the token (rotating the token ends every session).
// State-changing forms are guarded by web.Forms (DESIGN §3): cross-origin
// posts are refused, and each form carries a token bound to this browser and
// the form's action.

const (
	// sessionCookie holds a sealed dashboardSession. Its name starts with
	// "hubgate_" so that the public listener strips it from requests to the
	// legacy app when both listeners share a host (cookies ignore ports).
	sessionCookie = "hubgate_admin"
	// csrfCookie holds the per-browser nonce of the form tokens.
	csrfCookie = "hubgate_admin_csrf"
	// dashboardTTL is how long a dashboard session lasts.
	dashboardTTL = 8 * time.Hour
	// maxForm bounds the body of a dashboard form.
	maxForm = 16 << 10
	// maxViewerName bounds the name an operator gives at sign-in.
	maxViewerName = 40
	// maxCookie bounds a session cookie we are willing to decode.
	maxCookie = 1024
)

// Login attempts per client address: a burst of loginBurst, then one per
// loginEvery. Only failed attempts count.
const (
	loginBurst = 5
	loginEvery = 30 * time.Second
)

// deriveKey derives a purpose-bound key from the admin token (HMAC-SHA256
// as a PRF), so that the cookie's keys are independent of each other and of
// the token's own hash.
func deriveKey(token, purpose string) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("hubgate admin dashboard " + purpose))
	return m.Sum(nil)
}

// validToken compares a presented admin token with the configured one in
// constant time: both are hashed first, so neither the comparison's duration
// nor the token's length leaks.
func (s *Server) validToken(tok string) bool {
	got := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(got[:], s.tokenHash[:]) == 1
}

// dashboardSession is the content of the session cookie.
type dashboardSession struct {
	ID      string `json:"id"`             // random; names the session in logs and the audit log
	Name    string `json:"name,omitempty"` // what the operator typed at sign-in; unverified
	Expires int64  `json:"exp"`            // Unix seconds, by the configured clock
}

// sessionCodec seals dashboard sessions like the proxy's cookies:
// securecookie with HMAC-SHA256 and AES-256 under keys derived from the
// admin token, JSON inside, refused when older than dashboardTTL (by the
// wall clock, a second bound besides Expires) or longer than maxCookie.
func sessionCodec(token string) *securecookie.SecureCookie {
	c := securecookie.New(deriveKey(token, "session mac"), deriveKey(token, "session enc"))
	c.SetSerializer(securecookie.JSONEncoder{})
	c.MaxAge(int(dashboardTTL / time.Second))
	c.MaxLength(maxCookie)
	return c
}

// dashboardCookie describes the session cookie: HttpOnly, SameSite=Strict,
// Secure when the admin listener serves TLS, Max-Age dashboardTTL.
var dashboardCookie = web.Cookie{Name: sessionCookie, SameSite: http.SameSiteStrictMode, MaxAge: dashboardTTL}

// sessionOf returns the request's valid, unexpired dashboard session.
func (s *Server) sessionOf(r *http.Request) (dashboardSession, bool) {
	for _, v := range dashboardCookie.Values(r) {
		var ds dashboardSession
		if err := s.sessions.Decode(sessionCookie, v, &ds); err != nil || ds.ID == "" || s.now().Unix() >= ds.Expires {
			continue
		}
		return ds, true
	}
	return dashboardSession{}, false
}

// setSessionCookie starts a dashboard session of dashboardTTL.
func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, ds dashboardSession) error {
	v, err := s.sessions.Encode(sessionCookie, ds)
	if err != nil {
		return fmt.Errorf("admin: seal dashboard session: %w", err)
	}
	http.SetCookie(w, dashboardCookie.New(r, v))
	return nil
}

func clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, dashboardCookie.Clear(r))
}

// viewer is who uses the dashboard: a cookie session or the bearer token.
type viewer struct {
	session *dashboardSession // nil with the bearer token
	addr    string            // client address
}

type viewerKey struct{}

func viewerOf(r *http.Request) viewer {
	v, _ := r.Context().Value(viewerKey{}).(viewer)
	return v
}

// name is how the page header names the viewer.
func (v viewer) name() string {
	switch {
	case v.session == nil:
		return "bearer token"
	case v.session.Name != "":
		return v.session.Name
	}
	return "session-" + v.session.ID
}

// actor names the viewer in the audit log: "dashboard:<name>@<address>",
// with the session id instead of a name when none was given, "bearer" for
// the token. Names are typed by whoever holds the token and only enrich the
// log, like the API's X-Hubgate-Actor.
func (v viewer) actor() string {
	who := "bearer"
	if v.session != nil {
		who = "session-" + v.session.ID
		if v.session.Name != "" {
			who = v.session.Name + " (session-" + v.session.ID + ")"
		}
	}
	return "dashboard:" + who + "@" + v.addr
}

// clientAddr is the host of the connection's remote address. The admin
// listener is private and sits behind no proxy we would trust.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// dashboardAuth lets a dashboard request through with a valid session
// cookie or the admin bearer token. Without either, a GET is sent to the
// sign-in form and anything else gets a 401 page.
func (s *Server) dashboardAuth(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewer{addr: clientAddr(r)}
		if tok, ok := bearer(r); ok {
			if !s.validToken(tok) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="hubgate-admin", error="invalid_token"`)
				s.failPage(w, r, &pageError{status: http.StatusUnauthorized, key: "unauthorized", err: errors.New("invalid bearer token")})
				return
			}
		} else if ds, ok := s.sessionOf(r); ok {
			v.session = &ds
		} else {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				pageHeaders(w)
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			s.failPage(w, r, &pageError{status: http.StatusUnauthorized, key: "unauthorized", err: errors.New("no dashboard session")})
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), viewerKey{}, v)))
	})
}

// newForms guards the dashboard's forms: posts from this listener's own
// origin (the Host it was reached by) only, with a token signed by the admin
// token; the nonce is a browser-session cookie, SameSite=Strict.
func newForms(token string) (*web.Forms, error) {
	return web.NewForms(web.FormsConfig{Cookie: web.Cookie{Name: csrfCookie}, Secrets: [][]byte{[]byte(token)}})
}

// csrfToken returns the form token for action.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request, action string) string {
	return s.forms.Token(w, r, action)
}

// checkCSRF accepts a form post for action only from the dashboard's own
// page in this browser (web.Forms.Check). The admin listener's origin is the
// Host it was reached by, scheme aside (a TLS-terminating proxy in front
// changes it); another port of the same host, such as the public listener,
// is another origin.
func (s *Server) checkCSRF(r *http.Request, action string) error {
	if err := s.forms.Check(r, action); err != nil {
		return &pageError{status: http.StatusForbidden, key: "csrf", err: err}
	}
	return nil
}

// newSessionID is 32 random bits in hex: enough to tell sessions apart in
// the audit log; it grants nothing (the cookie's signature does).
func newSessionID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// loginView is what the sign-in page shows.
type loginView struct {
	CSRF      string
	Error     string
	Name      string
	SignedOut bool
}

// loginForm shows the sign-in form; a browser with a session goes on to the
// dashboard.
func (s *Server) loginForm() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.sessionOf(r); ok {
			pageHeaders(w)
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		view := loginView{CSRF: s.csrfToken(w, r, "login"), SignedOut: r.URL.Query().Has("signed_out")}
		s.render(w, r, http.StatusOK, "login", view)
	}
}

// login checks the admin token of the sign-in form and starts a session.
// Failed attempts are rate-limited per client address; a wrong token gets
// the form again with a message, and nothing about why.
func (s *Server) login() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := s.checkCSRF(r, "login"); err != nil {
			s.failPage(w, r, err)
			return
		}
		loc := localeOf(r)
		name := viewerName(r.PostFormValue("name"))
		view := loginView{CSRF: s.csrfToken(w, r, "login"), Name: name}
		addr := clientAddr(r)
		// Reserve an attempt before comparing, so that parallel guesses
		// cannot outrun the limit; a right token gives it back.
		try := reserve(s.logins.Get(addr))
		if !try.allowed() {
			try.refund()
			s.log.Warn().Str("event", "dashboard.login_limited").Str("request_id", requestID(r)).Str("addr", addr).Send()
			view.Error = loc.T("login.limited")
			w.Header().Set("Retry-After", "60")
			s.render(w, r, http.StatusTooManyRequests, "login", view)
			return
		}
		if !s.validToken(r.PostFormValue("token")) {
			s.log.Warn().Str("event", "dashboard.login_failed").Str("request_id", requestID(r)).Str("addr", addr).Send()
			view.Error = loc.T("login.wrong")
			s.render(w, r, http.StatusUnauthorized, "login", view)
			return
		}
		try.refund()
		ds := dashboardSession{ID: newSessionID(), Name: name,
			Expires: s.now().Add(dashboardTTL).Unix()}
		if err := s.setSessionCookie(w, r, ds); err != nil {
			s.failPage(w, r, err)
			return
		}
		s.log.Info().Str("event", "dashboard.login").Str("request_id", requestID(r)).
			Str("actor", viewer{session: &ds, addr: addr}.actor()).Send()
		pageHeaders(w)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}
}

// logout ends the browser's dashboard session.
func (s *Server) logout() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := s.checkCSRF(r, "logout"); err != nil {
			s.failPage(w, r, err)
			return
		}
		if ds, ok := s.sessionOf(r); ok {
			s.log.Info().Str("event", "dashboard.logout").Str("request_id", requestID(r)).
				Str("actor", viewer{session: &ds, addr: clientAddr(r)}.actor()).Send()
		}
		clearSessionCookie(w, r)
		pageHeaders(w)
		http.Redirect(w, r, "/login?signed_out", http.StatusSeeOther)
	}
}

// viewerName keeps what an operator typed as their name to one line of
// printable text, at most maxViewerName characters.
func viewerName(v string) string {
	var b strings.Builder
	n := 0
	for _, c := range strings.Join(strings.Fields(v), " ") {
		if n == maxViewerName {
			break
		}
		if c == utf8.RuneError || !unicode.IsPrint(c) || strings.ContainsRune("@()<>\"'`", c) {
			continue
		}
		b.WriteRune(c)
		n++
	}
	return strings.TrimSpace(b.String())
}
