package admin

import (
	"context"
	"net/http"
	"time"
)

// healthz says the process serves HTTP. It checks nothing else, so that an
// orchestrator does not restart hubgate for a database outage.
func (s *Server) healthz() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	}
}

// readyz says whether this replica can serve: Config.Ready, or the store's
// Ping, within 5 seconds. 503 names the reason.
func (s *Server) readyz() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		ready := s.cfg.Ready
		if ready == nil {
			ready = s.cfg.Store.Ping
		}
		if err := ready(ctx); err != nil {
			s.log.Warn().Err(err).Str("event", "admin.not_ready").Str("request_id", requestID(r)).Send()
			writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "not_ready", Message: err.Error()})
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ready\n"))
	}
}
