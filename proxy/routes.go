package proxy

import (
	"net/http"
	"time"
)

// routes lists every /_hubgate route (DESIGN §4). Everything outside
// /_hubgate/ belongs to the upstream and never reaches this mux.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_hubgate/login", s.login())
	mux.HandleFunc("GET /_hubgate/callback", s.callback())
	mux.HandleFunc("GET /_hubgate/logout", s.logoutPage())
	mux.HandleFunc("POST /_hubgate/logout", s.limitBody(s.logout()))
	mux.HandleFunc("GET /_hubgate/me", s.me())
	mux.HandleFunc("GET /_hubgate/healthz", s.healthz())
	mux.HandleFunc("GET /_hubgate/auth", s.forwardAuth())
	mux.HandleFunc("GET /_hubgate/jwks.json", s.jwks())
	mux.HandleFunc("POST /_hubgate/webhook", s.webhook())
	if s.caps.backchannel != nil {
		mux.HandleFunc("POST /_hubgate/backchannel-logout", s.backchannelLogout())
	}

	mux.HandleFunc("GET /_hubgate/claim", s.claimBySession())
	mux.HandleFunc("POST /_hubgate/claim", s.limitBody(s.startClaimBySession()))
	mux.HandleFunc("GET /_hubgate/claim/{token}", s.claimPage())
	mux.HandleFunc("POST /_hubgate/claim/{token}", s.limitBody(s.startClaim()))
	mux.HandleFunc("GET /_hubgate/claim-org", s.orgClaimPage())
	mux.HandleFunc("POST /_hubgate/claim-org", s.limitBody(s.startOrgClaim()))
	mux.HandleFunc("POST /_hubgate/claim-undo", s.limitBody(s.undoClaim()))
	mux.HandleFunc("GET /_hubgate/linked", s.linkedPage())
	mux.HandleFunc("GET /_hubgate/no-account", s.noAccountPage())
	mux.HandleFunc("POST /_hubgate/continue-legacy", s.limitBody(s.continueLegacy()))
	mux.HandleFunc("GET /_hubgate/resend", s.resendPage())
	mux.HandleFunc("POST /_hubgate/resend", s.limitBody(s.resend()))

	mux.HandleFunc("/_hubgate/", s.notFound())
	return mux
}

// maxFormBody bounds every form hubgate reads.
const maxFormBody = 16 << 10

// limitBody caps the request body of a handler that reads one, in size and
// in time (see bodyDeadline).
func (s *Server) limitBody(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.bodyDeadline(w)
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
		h(w, r)
	}
}

// bodyDeadline gives the client BodyTimeout to send the body of a request
// that hubgate itself reads (a form, a webhook): the server's
// ReadHeaderTimeout ends with the headers, so without it a client that
// trickles a few bytes a minute (slowloris on the body) would hold a
// connection and a goroutine for hours. The server resets the deadline
// before the connection's next request. Bodies forwarded to the upstream are
// not limited here: uploads may be slow and large.
func (s *Server) bodyDeadline(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout))
}

func (s *Server) notFound() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, &pageError{status: http.StatusNotFound, key: "not_found"})
	}
}
