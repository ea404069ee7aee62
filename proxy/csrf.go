package proxy

import (
	"net/http"
	"strings"

	"github.com/hubgate/hubgate/internal/web"
)

// csrfCookie holds the browser's nonce of the form tokens (web.Forms): a
// token works only in the browser that loaded our page, and only for the
// form's action.
const csrfCookie = "hubgate_csrf"

// newForms guards hubgate's own form posts on the public listener: from our
// public origin only, with a token signed by the session secrets (the
// first signs, all verify). The nonce is a browser-session cookie,
// SameSite=Strict, __Host- on https.
func (s *Server) newForms() (*web.Forms, error) {
	return web.NewForms(web.FormsConfig{
		Cookie:  web.Cookie{Name: s.cookiePrefix + csrfCookie, Secure: s.secure, SameSite: http.SameSiteStrictMode},
		Secrets: s.cfg.SessionSecrets,
		Origin:  s.origin(),
	})
}

// csrfToken returns the token of the form with action (DESIGN §3).
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request, action string) string {
	return s.forms.Token(w, r, action)
}

// checkCSRF accepts a state-changing POST for action only from our own page
// in this browser (web.Forms.Check); anything else gets the "form expired"
// page.
func (s *Server) checkCSRF(r *http.Request, action string) error {
	if err := s.forms.Check(r, action); err != nil {
		return &pageError{status: http.StatusForbidden, key: "csrf", err: err}
	}
	return nil
}

// origin is the public origin, scheme://host[:port].
func (s *Server) origin() string {
	return s.public.Scheme + "://" + strings.ToLower(s.public.Host)
}
