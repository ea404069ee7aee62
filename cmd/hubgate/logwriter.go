package main

import (
	"bufio"
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Log timestamps carry milliseconds (RFC 3339), so that the lines of one
// second stay in order and match traces and the upstream's own logs.
// zerolog keeps the format in a package variable: it is set here, once,
// before anything logs, and holds for every logger of the process.
func init() { zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00" }

// logWriter buffers log lines and writes them out every flushEvery, or when
// 64 KiB have piled up. One access-log line per request then costs a copy
// under a mutex instead of a write system call, which at ten thousand
// requests a second is most of logging's price. zerolog hands over each
// event in one Write, so lines never interleave. Close flushes.
type logWriter struct {
	mu   sync.Mutex // guards buf
	buf  *bufio.Writer
	done chan struct{}
	wg   sync.WaitGroup
	// color: the console format may colour its lines, because a person
	// reads dst in a terminal and NO_COLOR (no-color.org) is not set. A
	// log file, a pipe or journald gets no escape codes.
	color bool
}

const flushEvery = 100 * time.Millisecond

func newLogWriter(dst io.Writer, getenv func(string) string) *logWriter {
	tty, _ := termOf(dst)
	w := &logWriter{buf: bufio.NewWriterSize(dst, 64<<10), done: make(chan struct{}), color: tty && getenv("NO_COLOR") == ""}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(flushEvery)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-t.C:
				w.Flush()
			}
		}
	}()
	return w
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// Flush writes out what is buffered.
func (w *logWriter) Flush() {
	w.mu.Lock()
	_ = w.buf.Flush()
	w.mu.Unlock()
}

// Close stops the flusher and flushes the rest.
func (w *logWriter) Close() error {
	close(w.done)
	w.wg.Wait()
	w.Flush()
	return nil
}

// colorful reports whether log lines written to w may carry colours: only
// through a logWriter whose destination a person reads in a terminal.
func colorful(w io.Writer) bool {
	lw, ok := w.(*logWriter)
	return ok && lw.color
}
