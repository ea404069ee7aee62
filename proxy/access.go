package proxy

import (
	"crypto/rand"
	"encoding/base32"
	"net/http"
	"net/url"
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

// logPath is r's path as logged: masked (maskPath), without the query
// (which may hold codes, states and the legacy app's secrets).
func logPath(r *http.Request) string { return maskPath(r.URL.Path) }

// maxLogPath bounds a logged path.
const maxLogPath = 256

// maskPath returns a path fit for a log line. A claim token in a log is a
// usable secret, so under hubgate's namespace only a route name is kept:
// "/_hubgate/claim/<token>" is logged as "/_hubgate/claim/[masked]". Any
// other spelling that mentions hubgate, in any letter case or under more
// layers of percent-encoding ("/_Hubgate/claim/…", "/x/..;/_hubgate/claim/…",
// "/%5fhubgate/…"), keeps only what comes before the segment that names
// it. Other paths are logged as they are, cut at maxLogPath bytes.
func maskPath(p string) string {
	if rest, ok := strings.CutPrefix(p, "/_hubgate/"); ok {
		name, tail, more := strings.Cut(rest, "/")
		switch {
		case !routeName(name):
			return "/_hubgate/[masked]"
		case more && tail != "":
			return "/_hubgate/" + name + "/[masked]"
		}
		return p
	}
	if i := indexFold(p, "hubgate"); i >= 0 {
		j := strings.IndexByte(p[i:], '/')
		if j < 0 {
			return p[:min(i, maxLogPath)] + "[masked]"
		}
		return p[:min(i+j, maxLogPath)] + "/[masked]"
	}
	d := p
	for range 3 {
		if strings.IndexByte(d, '%') < 0 {
			break
		}
		next, err := url.PathUnescape(d)
		if err != nil || next == d {
			break
		}
		if d = next; indexFold(d, "hubgate") >= 0 {
			return "/[masked]"
		}
	}
	if len(p) > maxLogPath {
		return p[:maxLogPath] + "…"
	}
	return p
}

// routeName reports whether seg may name one of hubgate's routes (short,
// lower-case letters, "-" and "."): a claim token (43 characters of
// base64url) never does.
func routeName(seg string) bool {
	if seg == "" || len(seg) > 20 {
		return false
	}
	for i := 0; i < len(seg); i++ {
		if c := seg[i]; (c < 'a' || c > 'z') && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// scrubSecrets masks what looks like a secret in free text bound for the
// log (an error's message): every run of 32 or more URL-safe base64
// characters — claim tokens, codes, states and session ids are 43 — unless
// it is a UUID (Zaikio ids, wanted in logs). It is the funnel's safety net:
// paths are masked where they are logged (maskPath), but an error's text is
// written by many hands.
func scrubSecrets(s string) string {
	var b strings.Builder
	start, n := 0, 0 // run start, run length
	flush := func(end int) {
		run := s[end-n : end]
		if n >= 32 && !isUUID(run) {
			b.WriteString(s[start : end-n])
			b.WriteString("[masked]")
			start = end
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlnum(c) || c == '-' || c == '_' {
			n++
			continue
		}
		flush(i)
		n = 0
	}
	flush(len(s))
	if start == 0 {
		return s
	}
	b.WriteString(s[start:])
	return b.String()
}

// isUUID reports whether s is a UUID in its 8-4-4-4-12 hex form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
