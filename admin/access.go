package admin

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/hubgate/hubgate/internal/web"
)

// requestID returns the id accessLog gave r.
func requestID(r *http.Request) string { return infoOf(r).id }

// accessLog gives each request an id (answered in X-Request-Id and named in
// internal errors) and logs one line per request (probes and scrapes only
// with Config.LogProbes): method, path, status, size, duration, token and
// actor. Admin paths and queries carry no secrets; bodies
// (which may) are never logged.
func (s *Server) accessLog(next http.Handler) http.Handler {
	prefix := newIDPrefix()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := prefix + strconv.FormatUint(s.requests.Add(1), 36)
		ri := &requestInfo{id: id}
		r = r.WithContext(withInfo(r.Context(), ri))
		w.Header().Set("X-Request-Id", id)
		rec := web.NewRecorder(w)
		next.ServeHTTP(rec, r)
		if !s.cfg.LogProbes && isProbe(r) {
			rec.Release()
			return
		}
		ev := s.log.Info().Str("event", "admin.request").Str("request_id", id)
		if ri.token != nil {
			ev = ev.Str("token", ri.token.name)
		}
		ev.Str("actor", s.actor(r)).
			Str("method", r.Method).Str("path", r.URL.Path).Int("status", rec.Status()).
			Int64("bytes", rec.Bytes()).Dur("dur_ms", time.Since(start)).Send()
		rec.Release()
	})
}

// isProbe reports whether r is a probe or a scrape: GET /healthz, /readyz
// or /metrics.
func isProbe(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	switch r.URL.Path {
	case "/healthz", "/readyz", "/metrics":
		return true
	}
	return false
}

func newIDPrefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "adm-" + hex.EncodeToString(b[:]) + "-"
}
