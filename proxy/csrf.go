package proxy

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// csrfCookie holds a random per-browser nonce; form tokens are HMACs of it and
// the form's action, so a token works only in the browser that loaded our
// page, and only for that action.
const csrfCookie = "hubgate_csrf"

var errCSRF = errors.New("proxy: csrf check failed")

// csrfToken returns the token for action, setting the nonce cookie if the
// browser has none.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request, action string) string {
	name := s.cookiePrefix + csrfCookie
	nonce := cookieValue(r, name)
	if len(nonce) != 43 {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			panic("proxy: crypto/rand failed: " + err.Error())
		}
		nonce = base64.RawURLEncoding.EncodeToString(b[:])
		c := s.cookie(name, nonce, 0)
		c.MaxAge = 0 // a browser-session cookie
		c.SameSite = http.SameSiteStrictMode
		http.SetCookie(w, c)
	}
	return s.csrfMAC(0, nonce, action)
}

func (s *Server) csrfMAC(secret int, nonce, action string) string {
	m := hmac.New(sha256.New, derive(s.cfg.SessionSecrets[secret], "hubgate csrf"))
	m.Write([]byte(nonce))
	m.Write([]byte{0})
	m.Write([]byte(action))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF accepts a state-changing POST only from our own pages: the Origin
// (when the browser sends one, as all current ones do for POST) must be the
// public origin, Sec-Fetch-Site must not be cross-site, and the form's csrf
// field must be the HMAC of this browser's nonce and the action.
func (s *Server) checkCSRF(r *http.Request, action string) error {
	if o := r.Header.Get("Origin"); o != "" && o != s.origin() {
		return &pageError{status: http.StatusForbidden, key: "csrf", err: fmt.Errorf("%w: origin %q", errCSRF, o)}
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return &pageError{status: http.StatusForbidden, key: "csrf", err: fmt.Errorf("%w: cross-site fetch", errCSRF)}
	}
	nonce := cookieValue(r, s.cookiePrefix+csrfCookie)
	tok := r.PostFormValue("csrf")
	if nonce == "" || tok == "" {
		return &pageError{status: http.StatusForbidden, key: "csrf", err: fmt.Errorf("%w: missing nonce or token", errCSRF)}
	}
	for i := range s.cfg.SessionSecrets {
		if hmac.Equal([]byte(tok), []byte(s.csrfMAC(i, nonce, action))) {
			return nil
		}
	}
	return &pageError{status: http.StatusForbidden, key: "csrf", err: fmt.Errorf("%w: token mismatch", errCSRF)}
}

// origin is the public origin, scheme://host[:port].
func (s *Server) origin() string {
	return s.public.Scheme + "://" + strings.ToLower(s.public.Host)
}
