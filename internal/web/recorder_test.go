package web

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRecorderStatusAndBytes(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int
		bytes   int64
	}{
		{"nothing written", func(http.ResponseWriter, *http.Request) {}, 200, 0},
		{"body only", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") }, 200, 5},
		{"status and body", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, "gone")
			_, _ = io.WriteString(w, "!")
		}, 404, 5},
		{"second status ignored", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusCreated)
			w.WriteHeader(http.StatusInternalServerError)
		}, 201, 0},
		{"early hints before the answer", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusAccepted)
		}, 202, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec *Recorder
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec = NewRecorder(w)
				tt.handler(rec, r)
			}))
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rec.Status() != tt.status || rec.Bytes() != tt.bytes {
				t.Errorf("Recorder = status %d, %d bytes; want %d, %d", rec.Status(), rec.Bytes(), tt.status, tt.bytes)
			}
			if resp.StatusCode != tt.status || int64(len(body)) != tt.bytes {
				t.Errorf("client got %d, %d bytes; want what the recorder saw: %d, %d", resp.StatusCode, len(body), tt.status, tt.bytes)
			}
		})
	}
}

// TestRecorderFlush streams through a recorder: the client reads the first
// chunk while the handler still waits, which only a real flush allows.
func TestRecorderFlush(t *testing.T) {
	for _, how := range []string{"Flusher", "ResponseController"} {
		t.Run(how, func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec := NewRecorder(w)
				defer rec.Release()
				_, _ = io.WriteString(rec, "first\n")
				if how == "Flusher" {
					rec.Flush()
				} else if err := http.NewResponseController(rec).Flush(); err != nil {
					t.Errorf("ResponseController.Flush: %v", err)
				}
				<-release
				_, _ = io.WriteString(rec, "second\n")
			}))
			defer srv.Close()
			defer close(release)
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			line, err := bufio.NewReader(resp.Body).ReadString('\n')
			if err != nil || line != "first\n" {
				t.Fatalf("first line = %q, %v; want it before the handler returns", line, err)
			}
		})
	}
}

// TestRecorderHijack upgrades a connection through a recorder, both by type
// assertion (http.Hijacker) and through Unwrap (http.ResponseController).
func TestRecorderHijack(t *testing.T) {
	for _, how := range []string{"Hijacker", "ResponseController"} {
		t.Run(how, func(t *testing.T) {
			var rec *Recorder
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec = NewRecorder(w)
				rec.Header().Set("Upgrade", "echo")
				rec.Header().Set("Connection", "Upgrade")
				rec.WriteHeader(http.StatusSwitchingProtocols)
				var conn io.ReadWriteCloser
				var brw *bufio.ReadWriter
				var err error
				if how == "Hijacker" {
					conn, brw, err = http.Hijacker(rec).Hijack()
				} else {
					conn, brw, err = http.NewResponseController(rec).Hijack()
				}
				if err != nil {
					t.Errorf("Hijack: %v", err)
					return
				}
				defer conn.Close()
				line, _ := brw.ReadString('\n')
				_, _ = brw.WriteString("echo " + line)
				_ = brw.Flush()
			}))
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL, nil)
			req.Header.Set("Upgrade", "echo")
			req.Header.Set("Connection", "Upgrade")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			conn, ok := resp.Body.(io.ReadWriter)
			if resp.StatusCode != http.StatusSwitchingProtocols || !ok {
				t.Fatalf("upgrade = %d (body %T); want 101 and a writable body", resp.StatusCode, resp.Body)
			}
			_, _ = io.WriteString(conn, "ping\n")
			line, _ := bufio.NewReader(conn).ReadString('\n')
			if line != "echo ping\n" {
				t.Errorf("over the hijacked connection: %q; want %q", line, "echo ping\n")
			}
			if rec.Status() != http.StatusSwitchingProtocols {
				t.Errorf("Recorder.Status() = %d; want 101", rec.Status())
			}
		})
	}
}

// TestRecorderUnwrap: deadlines set through http.ResponseController reach
// the connection under the recorder.
func TestRecorderUnwrap(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := NewRecorder(w)
		defer rec.Release()
		if rec.Unwrap() != w {
			t.Errorf("Unwrap() is not the wrapped writer")
		}
		if err := http.NewResponseController(rec).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline through the recorder: %v", err)
		}
	}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// TestRecorderNoAllocs keeps the proxy's hot path free of allocations.
func TestRecorderNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	w := httptest.NewRecorder()
	body := []byte(strings.Repeat("x", 64))
	allocs := testing.AllocsPerRun(1000, func() {
		rec := NewRecorder(w)
		rec.WriteHeader(http.StatusOK)
		_, _ = rec.Write(body)
		_ = rec.Status()
		rec.Release()
		w.Body.Reset()
	})
	if allocs != 0 {
		t.Errorf("NewRecorder, WriteHeader, Write, Release: %v allocations; want 0", allocs)
	}
}

func BenchmarkRecorder(b *testing.B) {
	w := httptest.NewRecorder()
	body := []byte("hello")
	b.ReportAllocs()
	for b.Loop() {
		rec := NewRecorder(w)
		_, _ = rec.Write(body)
		_ = rec.Status()
		rec.Release()
		w.Body.Reset()
	}
}
