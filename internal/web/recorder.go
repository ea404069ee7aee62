package web

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// Recorder is the response writer of an access log: it passes everything on
// to the writer it wraps and remembers the status and the size of the
// answer. It unwraps to that writer, so that http.ResponseController still
// reaches the connection (flush, hijack for upgrades, deadlines), and it
// forwards Flush and Hijack for handlers that type-assert instead.
type Recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// recorders keeps the proxy's hot path free of an allocation per request.
var recorders = sync.Pool{New: func() any { return new(Recorder) }}

// NewRecorder returns a Recorder around w, from a pool. Call Release once
// the handler it was given to has returned.
func NewRecorder(w http.ResponseWriter) *Recorder {
	rw := recorders.Get().(*Recorder)
	rw.ResponseWriter, rw.status, rw.bytes = w, 0, 0
	return rw
}

// Release returns rw to the pool; rw must not be used afterwards.
func (rw *Recorder) Release() {
	rw.ResponseWriter = nil
	recorders.Put(rw)
}

// Status is the status of the answer: 200 when the handler wrote nothing,
// as net/http then sends.
func (rw *Recorder) Status() int {
	if rw.status == 0 {
		return http.StatusOK
	}
	return rw.status
}

// Bytes is the size of the body written so far.
func (rw *Recorder) Bytes() int64 { return rw.bytes }

// WriteHeader records the first final status. Informational answers (103
// Early Hints forwarded from an upstream) precede the real one, so they are
// passed on but not recorded; 101 Switching Protocols is final.
func (rw *Recorder) WriteHeader(code int) {
	if rw.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols || code < 100) {
		rw.status = code
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *Recorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	n, err := rw.ResponseWriter.Write(b)
	rw.bytes += int64(n)
	return n, err
}

// Unwrap is for http.ResponseController.
func (rw *Recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// Flush forwards to the wrapped writer when it can flush.
func (rw *Recorder) Flush() {
	_ = http.NewResponseController(rw.ResponseWriter).Flush()
}

// Hijack hands the connection over, for protocol upgrades.
func (rw *Recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(rw.ResponseWriter).Hijack()
}
