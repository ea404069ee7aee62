package proxy

import (
	"net/http"
	"time"

	"github.com/hubgate/hubgate/migration"
)

// offerSkipTTL is how long "continue to the old login" is remembered.
const offerSkipTTL = 12 * time.Hour

// offerPage is the interstitial of offer mode in front of a legacy login
// page: sign in with Zaikio, claim your account, or continue to the old
// login.
func (s *Server) offerPage(w http.ResponseWriter, r *http.Request) {
	data := map[string]any{
		"LoginURL": "/_hubgate/login?rd=%2F",
		"Return":   r.URL.RequestURI(),
		"CSRF":     s.csrfToken(w, r, "continue-legacy"),
	}
	if s.cfg.Whoami != "" {
		data["ClaimURL"] = "/_hubgate/claim"
	}
	s.render(w, r, http.StatusOK, "offer", data)
}

// continueLegacy remembers the choice of the old login for this browser and
// goes back to it: POST /_hubgate/continue-legacy (rd). With then=claim
// (the "sign in the old way first" page) in offer mode it also marks the
// browser, so that the first page after the old sign-in is the claim
// confirmation (resumeClaim).
func (s *Server) continueLegacy() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.checkCSRF(r, "continue-legacy"); err != nil {
			s.fail(w, r, err)
			return
		}
		c := s.cookie(s.cookiePrefix+offerSkipCookie, "1", offerSkipTTL)
		http.SetCookie(w, c)
		if r.PostFormValue("then") == "claim" && s.Mode() == migration.Offer && s.cfg.Whoami != "" {
			http.SetCookie(w, s.cookie(s.cookiePrefix+claimNextCookie, "1", claimNextTTL))
		}
		rd := s.returnTo(r.PostFormValue("rd"))
		s.redirect(w, rd)
	}
}
