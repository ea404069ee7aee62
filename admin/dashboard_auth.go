package admin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
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

// Browsers cannot send a bearer token, so the dashboard signs them in with a
// form: POST /login with any configured token sets a session cookie that
// names the token, sealed with keys derived from all tokens (changing any
// token ends every session). A read token's session sees the dashboard
// without its controls.
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

// deriveKey derives a purpose-bound key from the tokens' secret
// (tokenSecret; HMAC-SHA256 as a PRF), so that the cookie's keys are
// independent of each other and of the tokens' own hashes.
func deriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("hubgate admin dashboard " + purpose))
	return m.Sum(nil)
}

// dashboardSession is the content of the session cookie.
type dashboardSession struct {
	ID      string `json:"id"`             // random; names the session in logs and the audit log
	Token   string `json:"tok,omitempty"`  // the name of the token signed in with
	Name    string `json:"name,omitempty"` // what the operator typed at sign-in; unverified
	Expires int64  `json:"exp"`            // Unix seconds, by the configured clock
}

// sessionCodec seals dashboard sessions like the proxy's cookies:
// securecookie with HMAC-SHA256 and AES-256 under keys derived from the
// tokens (tokenSecret), JSON inside, refused when older than dashboardTTL (by the
// wall clock, a second bound besides Expires) or longer than maxCookie.
func sessionCodec(secret []byte) *securecookie.SecureCookie {
	c := securecookie.New(deriveKey(secret, "session mac"), deriveKey(secret, "session enc"))
	c.SetSerializer(securecookie.JSONEncoder{})
	c.MaxAge(int(dashboardTTL / time.Second))
	c.MaxLength(maxCookie)
	return c
}

// dashboardCookie describes the session cookie: HttpOnly, SameSite=Strict,
// Secure when the admin listener serves TLS, Max-Age dashboardTTL.
var dashboardCookie = web.Cookie{Name: sessionCookie, SameSite: http.SameSiteStrictMode, MaxAge: dashboardTTL}

// sessionOf returns the request's valid, unexpired dashboard session and
// the token it was signed in with. Sessions of earlier versions name no
// token: they were signed in with the legacy token.
func (s *Server) sessionOf(r *http.Request) (dashboardSession, *tokenEntry, bool) {
	for _, v := range dashboardCookie.Values(r) {
		var ds dashboardSession
		if err := s.sessions.Decode(sessionCookie, v, &ds); err != nil || ds.ID == "" || s.now().Unix() >= ds.Expires {
			continue
		}
		name := ds.Token
		if name == "" {
			name = LegacyTokenName
		}
		t, ok := s.tokenNamed(name)
		if !ok {
			continue
		}
		return ds, t, true
	}
	return dashboardSession{}, nil, false
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

// viewer is who uses the dashboard: a cookie session or a bearer token.
type viewer struct {
	session *dashboardSession // nil with a bearer token
	token   *tokenEntry       // the token signed in with
	addr    string            // client address
}

// readOnly reports whether the viewer may only look.
func (v viewer) readOnly() bool { return v.token == nil || v.token.readOnly() }

type viewerKey struct{}

func viewerOf(r *http.Request) viewer {
	v, _ := r.Context().Value(viewerKey{}).(viewer)
	return v
}

// name is how the page header names the viewer: the typed name or the
// session, and the token when it is a named one.
func (v viewer) name() string {
	var who string
	switch {
	case v.session == nil:
		who = "bearer token"
	case v.session.Name != "":
		who = v.session.Name
	default:
		who = "session-" + v.session.ID
	}
	if v.token != nil && !v.token.legacy {
		who += " · token " + v.token.name
	}
	return who
}

// actor names the viewer in the audit log. With the legacy token:
// "dashboard:<name>@<address>", with the session id instead of a name when
// none was given, "bearer" for the bearer token. With a named token, the
// token's name comes first: "dashboard:<token> (<name>, session-<id>)@…".
// Typed names come from whoever holds the token and only enrich the log,
// like the API's X-Hubgate-Actor.
func (v viewer) actor() string {
	var parts []string
	if v.session != nil {
		if v.session.Name != "" {
			parts = append(parts, v.session.Name)
		}
		parts = append(parts, "session-"+v.session.ID)
	}
	if v.token != nil && !v.token.legacy {
		who := v.token.name
		if len(parts) > 0 {
			who += " (" + strings.Join(parts, ", ") + ")"
		}
		return "dashboard:" + who + "@" + v.addr
	}
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
// cookie or a bearer token. Without either, a GET is sent to the sign-in
// form and anything else gets a 401 page. Whether a read token may do what
// it asks is the page's to decide (it shows read-only controls).
func (s *Server) dashboardAuth(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewer{addr: clientAddr(r)}
		if tok, ok := bearer(r); ok {
			t, ok := s.match(tok)
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="hubgate-admin", error="invalid_token"`)
				s.failPage(w, r, &pageError{status: http.StatusUnauthorized, key: "unauthorized", err: errors.New("invalid bearer token")})
				return
			}
			v.token = t
		} else if ds, t, ok := s.sessionOf(r); ok {
			v.session, v.token = &ds, t
		} else {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				pageHeaders(w)
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			s.failPage(w, r, &pageError{status: http.StatusUnauthorized, key: "unauthorized", err: errors.New("no dashboard session")})
			return
		}
		infoOf(r).token = v.token
		h(w, r.WithContext(context.WithValue(r.Context(), viewerKey{}, v)))
	})
}

// newForms guards the dashboard's forms: posts from this listener's own
// origin (the Host it was reached by) only, with a token signed with the
// tokens' secret; the nonce is a browser-session cookie, SameSite=Strict.
func newForms(secret []byte) (*web.Forms, error) {
	return web.NewForms(web.FormsConfig{Cookie: web.Cookie{Name: csrfCookie}, Secrets: [][]byte{deriveKey(secret, "forms")}})
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
		if _, _, ok := s.sessionOf(r); ok {
			pageHeaders(w)
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		view := loginView{CSRF: s.csrfToken(w, r, "login"), SignedOut: r.URL.Query().Has("signed_out")}
		s.render(w, r, http.StatusOK, "login", view)
	}
}

// login checks the token of the sign-in form (any configured token) and
// starts a session that names it.
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
		t, ok := s.match(r.PostFormValue("token"))
		if !ok {
			s.log.Warn().Str("event", "dashboard.login_failed").Str("request_id", requestID(r)).Str("addr", addr).Send()
			view.Error = loc.T("login.wrong")
			s.render(w, r, http.StatusUnauthorized, "login", view)
			return
		}
		try.refund()
		ds := dashboardSession{ID: newSessionID(), Token: t.name, Name: name,
			Expires: s.now().Add(dashboardTTL).Unix()}
		if err := s.setSessionCookie(w, r, ds); err != nil {
			s.failPage(w, r, err)
			return
		}
		s.log.Info().Str("event", "dashboard.login").Str("request_id", requestID(r)).
			Str("token", t.name).Str("actor", viewer{session: &ds, token: t, addr: addr}.actor()).Send()
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
		if ds, t, ok := s.sessionOf(r); ok {
			s.log.Info().Str("event", "dashboard.logout").Str("request_id", requestID(r)).
				Str("actor", viewer{session: &ds, token: t, addr: clientAddr(r)}.actor()).Send()
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
