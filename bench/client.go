package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// rawConn is one persistent HTTP/1.1 client connection that sends the same
// prepared GET again and again and reads just enough of each response to
// know its status and where it ends. It allocates nothing per request, so
// that a load generator on one core spends its time on the wire, not in
// net/http's client (which costs a multiple of a Go server's per-request
// work and would make the generator the bottleneck).
type rawConn struct {
	addr string
	req  []byte   // the whole request, written as is
	c    net.Conn // used by the owning goroutine only
	br   *bufio.Reader
	// live is the open connection for abort, which other goroutines call.
	live atomic.Pointer[net.Conn]
}

var errMalformed = errors.New("malformed response")

// newRawConn prepares a GET for path on addr with extra header lines
// ("Name: value", no CRLF).
func newRawConn(addr, path string, headers ...string) *rawConn {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: hubgate-bench\r\nAccept: */*\r\n", path, addr)
	for _, h := range headers {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return &rawConn{addr: addr, req: b.Bytes()}
}

// dial opens the connection (closing an old one).
func (c *rawConn) dial(timeout time.Duration) error {
	c.close()
	nc, err := net.DialTimeout("tcp", c.addr, timeout)
	if err != nil {
		return err
	}
	c.c = nc
	c.live.Store(&nc)
	if c.br == nil {
		c.br = bufio.NewReaderSize(nc, 16<<10)
	} else {
		c.br.Reset(nc)
	}
	return nil
}

// abort closes the connection from another goroutine, which makes a
// blocked do return.
func (c *rawConn) abort() {
	if p := c.live.Load(); p != nil {
		(*p).Close()
	}
}

func (c *rawConn) close() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}

// do sends the request and reads the response. The connection is closed
// when the server asked for that or on any error; the next do redials.
func (c *rawConn) do() (status int, err error) {
	if c.c == nil {
		if err := c.dial(5 * time.Second); err != nil {
			return 0, err
		}
	}
	if _, err := c.c.Write(c.req); err != nil {
		c.close()
		return 0, err
	}
	status, keep, err := readResponse(c.br)
	if err != nil || !keep {
		c.close()
	}
	return status, err
}

// readResponse reads one HTTP/1.x response from br and discards its body.
// It understands Content-Length, chunked bodies and "Connection: close";
// a body without either is read until EOF.
func readResponse(br *bufio.Reader) (status int, keep bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, errMalformed
	}
	keep = line[7] == '1'
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return 0, false, errMalformed
		}
		status = status*10 + int(d-'0')
	}
	length, chunked := int64(-1), false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return status, false, err
		}
		if len(line) <= 2 { // the empty line ending the header
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return status, false, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "Content-Length"):
			length = 0
			for _, d := range value {
				if d < '0' || d > '9' {
					return status, false, errMalformed
				}
				length = length*10 + int64(d-'0')
			}
		case asciiEqualFold(name, "Transfer-Encoding"):
			chunked = asciiContainsFold(value, "chunked")
		case asciiEqualFold(name, "Connection"):
			if asciiContainsFold(value, "close") {
				keep = false
			}
		}
	}
	switch {
	case status/100 == 1 || status == 204 || status == 304:
		return status, keep, nil
	case chunked:
		return status, keep, discardChunked(br)
	case length >= 0:
		_, err = br.Discard(int(length))
		return status, keep, err
	}
	_, err = io.Copy(io.Discard, br)
	return status, false, err
}

// discardChunked skips a chunked body and its trailer (RFC 9112 §7.1).
func discardChunked(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		var n int64
		for _, d := range bytes.TrimSpace(line) {
			switch {
			case d >= '0' && d <= '9':
				n = n*16 + int64(d-'0')
			case d >= 'a' && d <= 'f':
				n = n*16 + int64(d-'a'+10)
			case d >= 'A' && d <= 'F':
				n = n*16 + int64(d-'A'+10)
			case d == ';':
				goto size
			default:
				return errMalformed
			}
		}
	size:
		if n == 0 {
			for { // trailer section, up to the empty line
				line, err := br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(line) <= 2 {
					return nil
				}
			}
		}
		if _, err := br.Discard(int(n) + 2); err != nil { // data and its CRLF
			return err
		}
	}
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func asciiContainsFold(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if asciiEqualFold(b[i:i+len(s)], s) {
			return true
		}
	}
	return false
}
