package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Request bodies forwarded to the upstream are guarded against slow clients
// (slowloris on the body), which would otherwise hold an upstream slot — and
// with upstream_max_conns of them, lock everyone out — for as long as they
// care to trickle:
//
//   - The first preReadSize bytes are read before the request waits for an
//     upstream slot, so a small body (a form post, an API call: most bodies)
//     is complete before a slot is taken at all.
//   - Reading the body must keep an average of minUploadRate after a grace
//     of BodyTimeout: the connection's read deadline moves to
//     start + BodyTimeout + received/minUploadRate as data arrives. A large
//     upload at a normal speed is never cut; a trickle is, after BodyTimeout.
//   - At the end of the body the deadline is removed: the upstream may take
//     as long as it needs to answer (net/http's background read must not
//     time out meanwhile).
const (
	preReadSize   = 16 << 10
	minUploadRate = 16 << 10               // bytes per second
	extendStep    = 250 * time.Millisecond // move the deadline by at least this much
)

var errBodyTooSlow = errors.New("proxy: request body arrives too slowly")

var preReadBufs = sync.Pool{New: func() any { return new([preReadSize]byte) }}

// guardBody prepares r's body for forwarding (see above). It returns false
// when the client was too slow or went away, having answered.
func (s *Server) guardBody(w http.ResponseWriter, r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return true
	}
	rc := http.NewResponseController(w)
	gb := &guardedBody{body: r.Body, rc: rc, start: time.Now(), grace: s.cfg.BodyTimeout, set: s.cfg.BodyTimeout}
	if err := rc.SetReadDeadline(gb.start.Add(gb.grace)); err != nil {
		return true // not a real connection (tests with a recorder): nothing to guard
	}
	buf := preReadBufs.Get().(*[preReadSize]byte)
	defer preReadBufs.Put(buf)
	n, err := io.ReadFull(gb, buf[:])
	switch {
	case gb.done: // the whole body is in
		if n == 0 {
			r.Body, r.ContentLength, r.TransferEncoding = http.NoBody, 0, nil
		} else {
			r.Body = io.NopCloser(bytes.NewReader(bytes.Clone(buf[:n])))
			r.ContentLength, r.TransferEncoding = int64(n), nil
		}
		return true
	case err == nil: // the first preReadSize bytes are in; the rest streams
		r.Body = &prefixedBody{prefix: bytes.Clone(buf[:n]), rest: gb}
		return true
	case isTimeout(err):
		s.fail(w, r, &pageError{status: http.StatusRequestTimeout, key: "body_timeout", err: errBodyTooSlow})
	default:
		s.fail(w, r, &pageError{status: http.StatusBadRequest, key: "bad_body", err: err})
	}
	return false
}

// guardedBody moves the read deadline as the body arrives and removes it
// at the end.
type guardedBody struct {
	body  io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	grace time.Duration
	n     int64         // bytes read
	set   time.Duration // the deadline last set, after start
	done  bool          // the body ended
}

func (g *guardedBody) Read(p []byte) (int, error) {
	n, err := g.body.Read(p)
	g.n += int64(n)
	if err != nil {
		if errors.Is(err, io.EOF) {
			g.done = true
			_ = g.rc.SetReadDeadline(time.Time{})
		}
		return n, err
	}
	// Move the deadline when it has advanced by a quarter second or more
	// (at most a few times a second of allowance, not on every read).
	if allowed := g.grace + time.Duration(g.n)*time.Second/minUploadRate; allowed-g.set >= extendStep {
		g.set = allowed
		_ = g.rc.SetReadDeadline(g.start.Add(allowed))
	}
	return n, nil
}

func (g *guardedBody) Close() error { return g.body.Close() }

// prefixedBody is the pre-read part, then the rest of the body.
type prefixedBody struct {
	prefix []byte
	rest   io.ReadCloser
}

func (b *prefixedBody) Read(p []byte) (int, error) {
	if len(b.prefix) > 0 {
		n := copy(p, b.prefix)
		b.prefix = b.prefix[n:]
		return n, nil
	}
	return b.rest.Read(p)
}

func (b *prefixedBody) Close() error { return b.rest.Close() }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Responses are guarded the same way against clients that stop reading: a
// write that cannot hand its bytes to the client within BodyTimeout fails,
// which ends the request and frees its upstream slot. The deadline is set
// afresh before each write, so a response that streams slowly on purpose
// (server-sent events, long polling) is not cut; only a client that takes
// nothing for BodyTimeout is.

// guardedWriter sets the connection's write deadline before each write.
type guardedWriter struct {
	http.ResponseWriter
	rc   http.ResponseController
	idle time.Duration
}

func (g *guardedWriter) Write(p []byte) (int, error) {
	_ = g.rc.SetWriteDeadline(time.Now().Add(g.idle))
	return g.ResponseWriter.Write(p)
}

// FlushError is what http.ResponseController finds for the reverse proxy's
// flushes (streamed responses).
func (g *guardedWriter) FlushError() error {
	_ = g.rc.SetWriteDeadline(time.Now().Add(g.idle))
	return g.rc.Flush()
}

// Unwrap lets http.ResponseController reach the connection (deadlines,
// flushes).
func (g *guardedWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

var guardedWriters = sync.Pool{New: func() any { return new(guardedWriter) }}

// forwardGuarded forwards r with w guarded, then removes the deadline (the
// connection's next request must not inherit it).
func (s *Server) forwardGuarded(w http.ResponseWriter, r *http.Request) {
	g := guardedWriters.Get().(*guardedWriter)
	g.ResponseWriter, g.rc, g.idle = w, *http.NewResponseController(w), s.cfg.BodyTimeout
	defer func() {
		_ = g.rc.SetWriteDeadline(time.Time{})
		*g = guardedWriter{}
		guardedWriters.Put(g)
	}()
	s.proxy.ServeHTTP(g, r)
}
