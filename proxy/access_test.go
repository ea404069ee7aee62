package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkAccessLog is the access log alone around a handler that answers
// 204: request id, recorder, metrics and the log line (to io.Discard at the
// deployed info level).
func BenchmarkAccessLog(b *testing.B) {
	s, _ := benchServer(b)
	s.log = s.log.Level(-1)
	h := s.accessLog(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	r := httptest.NewRequest("GET", "/reports", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		delete(r.Header, "X-Request-Id")
		h.ServeHTTP(w, r)
	}
}
