package proxy

import (
	"crypto/rand"
	"encoding/base32"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hubgate/hubgate/internal/web"
)

// requestIDs makes request ids: a random per-process prefix and a counter,
// unique without a syscall per request.
var (
	idPrefix  = newIDPrefix()
	idCounter atomic.Uint64
)

func newIDPrefix() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

func nextRequestID() string {
	var buf [24]byte
	b := append(buf[:0], idPrefix...)
	b = append(b, '-')
	b = strconv.AppendUint(b, idCounter.Add(1), 36)
	return string(b)
}

// requestID returns the id assigned to r by accessLog.
func requestID(r *http.Request) string {
	if v := r.Header["X-Request-Id"]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// accessLog assigns each request an id (X-Request-Id, forwarded upstream and
// shown on error pages; a client's own id is replaced unless it comes from a
// trusted proxy) and writes one log line per request: method, path (with
// claim tokens masked, without query), status, bytes, duration, person.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if v := r.Header["X-Request-Id"]; len(v) != 1 || !validRequestID(v[0]) || !s.trusted(remoteIP(r)) {
			r.Header["X-Request-Id"] = []string{nextRequestID()}
		}
		rw := web.NewRecorder(w)
		next.ServeHTTP(rw, r)
		status := rw.Status()
		if r.Pattern == "" {
			s.metrics.countUpstream(status)
		} else {
			s.metrics.requests.WithLabelValues(r.Pattern, strconv.Itoa(status)).Inc()
		}
		if e := s.log.Info(); e.Enabled() {
			e.Str("event", "request").Str("method", r.Method).Str("path", logPath(r)).Int("status", status).
				Int64("bytes", rw.Bytes()).Dur("dur_ms", time.Since(start)).Str("request_id", requestID(r)).
				Str("remote", s.clientIP(r)).Send()
		}
		rw.Release()
	})
}

func validRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// logPath is the path as logged: claim tokens are masked (a token in a log is
// a usable secret), the query is left out (it may hold codes and states).
//
// Any spelling that can reach the claim route (or its redirect) is masked:
// "//_hubgate/claim/…", "/_hubgate/./claim/…", "/_hubgate/Claim/…".
func logPath(r *http.Request) string {
	p := r.URL.Path
	if strings.HasPrefix(p, "/_hubgate/claim/") {
		return "/_hubgate/claim/[token]"
	}
	if indexFold(p, "_hubgate") >= 0 {
		if i := indexFold(p, "claim/"); i >= 0 {
			return p[:min(i+len("claim/"), 256)] + "[token]"
		}
	}
	if len(p) > 256 {
		return p[:256] + "…"
	}
	return p
}
