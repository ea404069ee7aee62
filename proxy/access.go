package proxy

import (
	"crypto/rand"
	"encoding/base32"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

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

// exchange is one request as the access log sees it: the response writer
// handed down the chain (recording status and size), and, for a request
// forwarded to the upstream, when it left and when the upstream's answer
// began. Exchanges are pooled, so that the hot path allocates nothing for
// them; and they read the clock as little as they can (a clock read costs
// as much as the rest of the access log on some virtual machines).
type exchange struct {
	web.Recorder
	start     time.Time // when the request arrived
	forwarded bool      // the request went to the upstream
	sent      time.Time // when it left for the upstream: start, unless it waited (for a slot, for its body)
	wrote     time.Time // when a forwarded request's status line was written: the upstream's response headers
}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

func newExchange(w http.ResponseWriter, start time.Time) *exchange {
	ex := exchanges.Get().(*exchange)
	*ex = exchange{Recorder: web.Recorder{ResponseWriter: w}, start: start}
	return ex
}

// release returns ex to the pool; ex must not be used afterwards.
func (ex *exchange) release() {
	*ex = exchange{}
	exchanges.Put(ex)
}

func (ex *exchange) WriteHeader(code int) {
	if ex.forwarded && ex.wrote.IsZero() && (code >= 200 || code == http.StatusSwitchingProtocols) {
		ex.wrote = time.Now()
	}
	ex.Recorder.WriteHeader(code)
}

func (ex *exchange) Write(b []byte) (int, error) {
	if ex.forwarded && ex.wrote.IsZero() {
		ex.wrote = time.Now()
	}
	return ex.Recorder.Write(b)
}

// forwarding notes that w's request goes to the upstream now: it is then
// of class upstream, and its upstream time starts here. waited says that
// time has passed since the request arrived that is not the gate's
// (microseconds): a wait for an upstream slot or for the body's first
// bytes; then the clock is read, else the arrival time is used.
func forwarding(w http.ResponseWriter, waited bool) {
	if ex, ok := w.(*exchange); ok {
		ex.forwarded, ex.sent = true, ex.start
		if waited {
			ex.sent = time.Now()
		}
	}
}

// probePattern is the route of the liveness probe, which is not logged
// unless Config.LogProbes says so.
const probePattern = "GET /_hubgate/healthz"

// Bounds on client-chosen values in a log line.
const (
	maxLogHost      = 256
	maxLogUserAgent = 256
)

// accessLog assigns each request an id (X-Request-Id, forwarded upstream and
// shown on error pages; a client's own id is replaced unless it comes from a
// trusted proxy), counts and times it in the metrics, traces it when
// tracing is on, and writes one log line per request (the liveness probe's
// only with Config.LogProbes): method, path (with claim tokens masked,
// without query), status, bytes, duration, the time to the upstream's
// response headers, host, user agent, and the person and legacy user the
// request was forwarded as.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.metrics.inFlight.Add(1)
		// Deferred: the reverse proxy ends a request whose body copy failed
		// by panicking with http.ErrAbortHandler.
		defer s.metrics.inFlight.Add(-1)
		if v := r.Header["X-Request-Id"]; len(v) != 1 || !validRequestID(v[0]) || !s.trusted(remoteIP(r)) {
			r.Header["X-Request-Id"] = []string{nextRequestID()}
		}
		ex := newExchange(w, start)
		var span trace.Span
		if s.tracer != nil {
			r, span = s.startSpan(r)
		}
		next.ServeHTTP(ex, r)
		status, dur := ex.Status(), time.Since(start)
		c := requestClass(r, ex)
		// A protocol switch (WebSocket) lasts as long as the connection: its
		// duration is no latency.
		if status != http.StatusSwitchingProtocols {
			s.metrics.observe(c, status, dur)
		}
		if r.Pattern == "" {
			s.metrics.countUpstream(status)
		} else {
			s.metrics.requests.WithLabelValues(r.Pattern, strconv.Itoa(status)).Inc()
		}
		if span != nil {
			s.endSpan(span, r, c, status)
		}
		if s.cfg.LogProbes || r.Pattern != probePattern {
			s.logRequest(r, ex, status, dur)
		}
		ex.release()
	})
}

// logRequest writes the access-log line of r.
func (s *Server) logRequest(r *http.Request, ex *exchange, status int, dur time.Duration) {
	e := s.log.Info()
	if !e.Enabled() {
		return
	}
	e.Str("event", "request").Str("method", r.Method).Str("path", logPath(r)).Int("status", status).
		Int64("bytes", ex.Bytes()).Dur("dur_ms", dur)
	if ex.forwarded && !ex.wrote.IsZero() {
		e.Dur("upstream_ms", ex.wrote.Sub(ex.sent))
	}
	e.Str("request_id", requestID(r)).Str("remote", s.clientIP(r)).Str("host", bounded(r.Host, maxLogHost))
	if ua := r.Header["User-Agent"]; len(ua) > 0 {
		e.Str("user_agent", bounded(ua[0], maxLogUserAgent))
	}
	// The identity the request was forwarded (or, for forward-auth,
	// answered) with: the gate set these after stripping the client's.
	h := r.Header
	if r.Pattern == "GET /_hubgate/auth" {
		h = ex.Header()
	}
	if v := h[HeaderPerson]; len(v) > 0 {
		e.Str("person", v[0])
	}
	if v := h[HeaderUser]; len(v) > 0 {
		e.Str("user", v[0])
	}
	e.Send()
}

// bounded is s cut to n bytes.
func bounded(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// requestClass is r's class in the duration histogram: forwarded, answered
// by the gate (a request for the upstream that was not forwarded), or the
// class of the hubgate route that answered it.
func requestClass(r *http.Request, ex *exchange) class {
	if r.Pattern == "" {
		if ex.forwarded {
			return classUpstream
		}
		return classGate
	}
	p := r.Pattern
	if i := strings.IndexByte(p, ' '); i >= 0 {
		p = p[i+1:]
	}
	switch p {
	case "/_hubgate/login", "/_hubgate/callback", "/_hubgate/logout", "/_hubgate/continue-legacy":
		return classSignin
	case "/_hubgate/claim", "/_hubgate/claim/{token}", "/_hubgate/claim-org", "/_hubgate/claim-undo", "/_hubgate/resend":
		return classClaim
	case "/_hubgate/auth":
		return classForwardAuth
	}
	return classOther
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
